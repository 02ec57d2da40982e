"""Checks on topics: Kafka names, replication settings, partition keys, config passthrough."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from eventgen.diagnostics import Diagnostic, Loc, error, warning
from eventgen.ir import naming, scalars
from eventgen.ir.model import Message, Project, Scalar, Topic, TypeRef
from eventgen.ir.paths import field_path_type
from eventgen.kafka.validate import CONFIG_RULES, check_topic_configs
from eventgen.rules.registry import Rule, declare


def _topic_names(topic: Topic) -> list[tuple[str, Loc]]:
    """Each Kafka name the topic claims, at the line that sets it (`name:`, `dlq:`)."""
    dlq = [(topic.dlq.topic, topic.at("dlq"))] if topic.dlq else []
    return [(topic.kafka_name, topic.at("name"))] + dlq


def check_topic_names(project: Project) -> Iterator[Diagnostic]:
    seen: dict[str, tuple[str, Topic]] = {}
    for topic in project.all_topics():
        for name, loc in _topic_names(topic):
            if name.startswith("__"):
                yield error(
                    "E0605",
                    loc,
                    f"`{name}`: names starting with `__` are Kafka's internal topics",
                )
            elif name in (".", "..") or not naming.KAFKA_TOPIC.fullmatch(name):
                yield error(
                    "E0604",
                    loc,
                    f"`{name}` is not a legal Kafka topic name",
                    "use only letters, digits, `.`, `_` and `-`; not `.` or `..`",
                )
            elif len(name) > naming.KAFKA_TOPIC_MAX:
                yield error(
                    "E0604",
                    loc,
                    f"topic name is {len(name)} characters; Kafka allows {naming.KAFKA_TOPIC_MAX}",
                )
            key = naming.topic_collision_key(name)
            if key in seen and seen[key][0] != name:
                yield error(
                    "E0606",
                    loc,
                    f"`{name}` collides with `{seen[key][0]}`: Kafka treats `.` and `_` alike",
                    f"the other is defined at {seen[key][1].loc}",
                )
            elif key in seen:
                yield error(
                    "E0606",
                    loc,
                    f"two topics are both named `{name}`",
                    f"the other is at {seen[key][1].loc}",
                )
            seen.setdefault(key, (name, topic))


def check_replication(project: Project) -> Iterator[Diagnostic]:
    for topic in project.all_topics():
        mir, rf = topic.min_insync_replicas, topic.replication_factor
        if mir is None:
            continue
        if mir > rf:
            yield error(
                "E0607",
                topic.at("min_insync_replicas"),
                f"min_insync_replicas {mir} exceeds replication_factor {rf}: producers with acks=all could never write",
            )
        elif mir == rf and rf > 1:
            yield warning(
                "W0608",
                topic.at("min_insync_replicas"),
                f"min_insync_replicas equals replication_factor ({rf}): one broker down blocks acks=all writes",
                f"use min_insync_replicas {rf - 1}",
            )


def _key_type(project: Project, message: Message) -> TypeRef | None:
    assert message.key is not None
    return field_path_type(message.fields, message.key, project.types_by_name.get)


def _keyable(ref: TypeRef) -> bool:
    return isinstance(ref, Scalar) and scalars.keyable(ref)


def check_partition_keys(project: Project) -> Iterator[Diagnostic]:
    by_topic: dict[str, list[tuple[Message, TypeRef]]] = {}
    for message in project.all_messages():
        if message.topic is None:
            continue
        if message.key is None:
            yield error(
                "E0603",
                message.loc,
                f"{message.name} is on topic `{message.topic}` but states no `key`",
                "every message on a topic names its partition key field, e.g. `key: order_id`",
            )
            continue
        ref = _key_type(project, message)
        if ref is None:
            yield error(
                "E0601",
                message.at_key(),
                f"key `{'.'.join(message.key)}` is not a field path of {message.name}",
            )
            continue
        if not _keyable(ref):
            yield error(
                "E0602",
                message.at_key(),
                f"key `{'.'.join(message.key)}` has type `{ref}`, which cannot be a partition key",
                "use a non-null string, uuid, int, long or bytes field",
            )
            continue
        by_topic.setdefault(message.topic, []).append((message, ref))
    for topic_name, entries in sorted(by_topic.items()):
        yield from _same_key(project.topic(topic_name), entries)


def _same_key(topic: Topic, entries: list[tuple[Message, TypeRef]]) -> Iterator[Diagnostic]:
    """One key type and one key path per topic: a topic's messages of one entity must land in
    one partition, in order, so they must all be keyed by the same field (E0610)."""
    first, first_ref = entries[0]
    # Paths are compared with the one most messages use (the first such on a tie), so the
    # odd one out is reported, not the majority.
    counts = Counter(m.key for m, _ in entries)  # one pass: a topic may carry 30,000 messages
    usual = max(counts, key=lambda path: counts[path])  # first counted wins a tie
    keyed = next(m for m, _ in entries if m.key == usual)
    for message, ref in entries:
        assert message.key is not None
        if topic.key_type is not None and str(ref) != str(topic.key_type):
            yield error(
                "E0609",
                message.at_key(),
                f"{message.name}'s key is `{ref}` but topic `{topic.local_name}` declares key `{topic.key_type}`",
            )
        elif topic.key_type is None and str(ref) != str(first_ref):
            yield error(
                "E0610",
                message.at_key(),
                f"{message.name}'s key is `{ref}` but {first.name} on the same topic uses `{first_ref}`",
            )
        elif message.key != usual:
            assert message.key is not None and usual is not None
            path, usual_path = ".".join(message.key), ".".join(usual)
            yield error(
                "E0610",
                message.at_key(),
                f"{message.name} is keyed by `{path}` but {keyed.name} on the same topic by `{usual_path}`",
                "key every message of a topic by the same field path, so one entity's messages"
                " share a partition and stay in order",
            )


def check_kafka_configs(project: Project) -> Iterator[Diagnostic]:
    yield from check_topic_configs(project)


# The codes these checks report, composed into the ruleset by eventgen.rules.catalog.
RULES: tuple[Rule, ...] = (
    declare("E0604", "error", "rule", "illegal Kafka topic name", check_topic_names),
    declare(
        "E0605",
        "error",
        "rule",
        "topic name reserved for Kafka's internal topics",
        check_topic_names,
    ),
    declare(
        "E0606",
        "error",
        "rule",
        "topic names collide when `.` and `_` are treated alike",
        check_topic_names,
    ),
    declare(
        "E0607",
        "error",
        "rule",
        "min_insync_replicas exceeds replication_factor",
        check_replication,
    ),
    declare(
        "W0608",
        "warning",
        "rule",
        "min_insync_replicas equals replication_factor (one broker down blocks writes)",
        check_replication,
    ),
    declare(
        "E0601",
        "error",
        "rule",
        "partition key is not a field path of the message",
        check_partition_keys,
    ),
    declare(
        "E0602",
        "error",
        "rule",
        "partition key field has a type that cannot be a key",
        check_partition_keys,
    ),
    declare(
        "E0603", "error", "rule", "message on a topic states no partition key", check_partition_keys
    ),
    declare(
        "E0609",
        "error",
        "rule",
        "key field type differs from the topic's key type",
        check_partition_keys,
    ),
    declare(
        "E0610",
        "error",
        "rule",
        "messages on one topic use different key paths or types",
        check_partition_keys,
    ),
    *(
        declare(code, severity, "kafka", purpose, check_kafka_configs)
        for code, severity, purpose in CONFIG_RULES
    ),
)
