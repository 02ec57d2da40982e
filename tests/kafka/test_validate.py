"""Each topic-config rule: exact code, severity and position."""

from __future__ import annotations

import pytest

from eventgen.diagnostics import Diagnostic
from eventgen.kafka.configdefs import CONFIG_DEFS
from eventgen.kafka.validate import CONFIG_RULES, check_topic_configs
from tests.kafka.factory import project, topic


def findings(*topics: object, **kw: object) -> list[tuple[str, str]]:
    """(code, position) pairs, sorted."""
    diags: list[Diagnostic] = check_topic_configs(project(*topics, **kw))  # type: ignore[arg-type]
    return sorted((d.code, str(d.loc)) for d in diags)


def only(t: object) -> Diagnostic:
    diags = check_topic_configs(project(t))  # type: ignore[arg-type]
    assert len(diags) == 1, diags
    return diags[0]


def test_clean_topic_has_no_findings() -> None:
    config = {"segment.bytes": "536870912", "message.timestamp.type": "CreateTime"}
    assert findings(topic(config=config, retention_ms=-1, compression="zstd", dlq=True)) == []


def test_unknown_key_with_did_you_mean() -> None:
    d = only(topic(config={"segment.msx": "1000"}))
    assert (d.code, str(d.loc)) == ("E0620", "orders.yaml:11:14")
    assert d.hint == "did you mean `segment.ms`?"


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        (
            "num.partitions",
            "use the topic attribute `partitions:` (num.partitions is a broker config)",
        ),
        ("log.retention.ms", "the topic-level name is `retention.ms`"),
        ("log.roll.hours", "the topic-level name is `segment.ms`"),
    ],
)
def test_non_topic_keys_point_to_the_right_place(key: str, hint: str) -> None:
    d = only(topic(config={key: "1"}))
    assert (d.code, d.hint) == ("E0620", hint)


@pytest.mark.parametrize(
    "key",
    [
        "message.format.version",
        "message.timestamp.difference.max.ms",
        "message.downconversion.enable",
    ],
)
def test_removed_keys_say_removed_in_4_0(key: str) -> None:
    d = only(topic(config={"segment.ms": "1000", key: "3.0"}))
    assert (d.code, str(d.loc)) == ("E0621", "orders.yaml:12:14")
    assert "removed in Kafka 4.0" in d.message


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("segment.ms", "1h", "E0622"),
        ("segment.ms", "1.5", "E0622"),
        ("max.message.bytes", "4294967296", "E0622"),  # does not fit an int
        ("preallocate", "yes", "E0622"),
        ("min.cleanable.dirty.ratio", "half", "E0622"),
        ("segment.bytes", "1000", "E0623"),  # 4.1+: at least 1 MiB
        ("segment.ms", "0", "E0623"),
        ("min.cleanable.dirty.ratio", "1.5", "E0623"),
        ("compression.gzip.level", "0", "E0623"),
        ("compression.zstd.level", "23", "E0623"),
        ("local.retention.ms", "-3", "E0623"),
        ("message.timestamp.type", "createtime", "E0624"),
        ("cleanup.policy", "compact,compact", "E0624"),
        ("leader.replication.throttled.replicas", "all", "E0624"),
    ],
)
def test_bad_values(key: str, value: str, code: str) -> None:
    d = only(topic(config={key: value}))
    assert (d.code, str(d.loc)) == (code, "orders.yaml:11:14")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("compression.gzip.level", "-1"),
        ("retention.bytes", "-5"),  # no validator in Kafka
        ("flush.messages", "9223372036854775807"),
        ("leader.replication.throttled.replicas", "0:1,1:2"),
        ("follower.replication.throttled.replicas", "*"),
        ("preallocate", "TRUE"),
        ("segment.bytes", "1048576"),
    ],
)
def test_good_edge_values(key: str, value: str) -> None:
    # W0625 only says retention.bytes belongs in `retention_bytes:`; the value itself is fine
    assert [c for c, _ in findings(topic(config={key: value})) if c != "W0625"] == []


def test_enum_value_has_hint() -> None:
    d = only(topic(config={"message.timestamp.type": "LogAppendtime"}))
    assert d.hint == "did you mean `LogAppendTime`?"


def test_every_definition_default_is_valid() -> None:
    from eventgen.kafka.values import check_value

    assert [k for k, c in CONFIG_DEFS.items() if check_value(k, c.default)] == []


def test_passthrough_contradicting_typed_attribute_is_an_error() -> None:
    d = only(topic(config={"retention.ms": "1000"}, retention_ms=86400000))
    assert (d.code, str(d.loc)) == ("E0625", "orders.yaml:11:14")


def test_passthrough_repeating_typed_attribute_is_a_warning() -> None:
    d = only(topic(config={"retention.ms": "86400000"}, retention_ms=86400000))
    assert (d.code, d.severity.value) == ("W0625", "warning")
    d = only(topic(config={"retention.bytes": "100"}))
    assert d.code == "W0625" and "belongs in the typed attribute `retention_bytes:`" in d.message


def test_cleanup_order_does_not_matter_for_duplicates() -> None:
    d = only(topic(config={"cleanup.policy": "delete,compact"}, cleanup=("compact", "delete")))
    assert d.code == "W0625"


def test_min_compaction_lag_above_max() -> None:
    config = {"max.compaction.lag.ms": "1000", "min.compaction.lag.ms": "2000"}
    assert findings(topic(config=config)) == [("E0626", "orders.yaml:12:14")]


def test_min_insync_replicas_from_passthrough_vs_replication_factor() -> None:
    assert findings(topic(config={"min.insync.replicas": "3"}, replication_factor=2)) == [
        ("E0627", "orders.yaml:11:14"),
        ("W0625", "orders.yaml:11:14"),
    ]
    assert [
        c for c, _ in findings(topic(config={"min.insync.replicas": "3"}, replication_factor=3))
    ] == [
        "W0625",
        "W0627",
    ]
    # the typed attribute is the rules package's job (E0607/W0608): not reported twice here
    assert findings(topic(min_insync_replicas=3, replication_factor=2)) == []
    assert findings(topic(min_insync_replicas=1, replication_factor=1)) == []


def test_segment_longer_than_retention_warns() -> None:
    t = topic(config={"segment.ms": "604800000"}, retention_ms=3600000)
    assert findings(t) == [("W0628", "orders.yaml:11:14")]
    assert findings(topic(config={"segment.ms": "604800000"}, retention_ms=-1)) == []


def test_tiered_storage_rules() -> None:
    config = {"remote.storage.enable": "true", "local.retention.ms": "7200000"}
    t = topic(config=config, retention_ms=3600000, cleanup=("compact",))
    assert findings(t) == [("E0628", "orders.yaml:11:14"), ("E0628", "orders.yaml:12:14")]


def test_typed_attribute_with_kafka_invalid_value() -> None:
    assert findings(topic(compression="none")) == [("E0629", "orders.yaml:10:3")]


def test_rules_table_lists_every_code_once() -> None:
    codes = [c for c, _, _ in CONFIG_RULES]
    assert len(codes) == len(set(codes))
    assert all(620 <= int(c[1:]) <= 649 for c in codes)
    assert all(sev == ("error" if c[0] == "E" else "warning") for c, sev, _ in CONFIG_RULES)
