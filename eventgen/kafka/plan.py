"""Desired vs actual topics -> a plan; a pure function on two snapshots, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from eventgen.kafka.configdefs import CONFIG_DEFS, normalize
from eventgen.kafka.desired import DesiredTopic

INFINITE = float("inf")


@dataclass(frozen=True)
class ActualTopic:
    """A topic as the cluster reports it.

    `configs` holds every value the broker reports (normalized); `overrides` names the keys set
    on the topic itself (source DYNAMIC_TOPIC_CONFIG). Everything else is a broker default,
    which the plan never touches: only values we set, or that differ from ours, matter.
    """

    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)
    overrides: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ConfigChange:
    """Set `key` to `new`, or reset it to the broker default when `new` is None."""

    key: str
    old: str | None
    new: str | None
    destructive: str | None = None  # why existing records would be deleted


@dataclass(frozen=True)
class TopicUpdate:
    name: str
    configs: tuple[ConfigChange, ...] = ()
    partitions: tuple[int, int] | None = None  # (actual, desired), only increases

    @property
    def destructive(self) -> tuple[ConfigChange, ...]:
        return tuple(c for c in self.configs if c.destructive)


@dataclass(frozen=True)
class Refusal:
    name: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """What apply would do; `refusals` non-empty means apply does nothing at all."""

    creates: tuple[DesiredTopic, ...] = ()
    updates: tuple[TopicUpdate, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    warnings: tuple[tuple[str, str], ...] = ()  # (topic, text)
    unchanged: tuple[str, ...] = ()
    unmanaged: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        return bool(self.creates or self.updates)


def _limit(value: str | None) -> float:
    """A retention value as a number, with -1 (or any negative) meaning unlimited."""
    try:
        number = int(value) if value is not None else -1
    except ValueError:
        return INFINITE
    return INFINITE if number < 0 else number


def _destructive(key: str, old: str | None, new: str | None, policy: str) -> str | None:
    """Why changing `key` from old to new deletes existing records, or None if it does not."""
    if key == "cleanup.policy":
        added = set((new or "").split(",")) - set((old or "").split(",")) - {""}
        if "compact" in added:
            return "compaction keeps only the latest record per key; older values are deleted"
        if "delete" in added:
            return "records older than retention.ms/retention.bytes will be deleted"
    deletes = "delete" in policy.split(",")  # retention only deletes under `delete`
    if key in ("retention.ms", "retention.bytes") and deletes and _limit(new) < _limit(old):
        return f"shrinking {key} from {old} to {new} deletes the records beyond it"
    return None


def _config_changes(want: DesiredTopic, have: ActualTopic) -> list[ConfigChange]:
    desired = {k: normalize(k, v) for k, v in want.configs}
    actual = {k: normalize(k, v) for k, v in have.configs.items()}
    changes: list[tuple[str, str | None, str | None]] = []
    for key, value in desired.items():
        if actual.get(key) != value:
            changes.append((key, actual.get(key), value))
    for key in sorted(have.overrides - desired.keys()):
        # Set on the cluster but not in the spec: the spec is the truth, so go back to the
        # default. Assume Kafka's default for the destructive check (the broker may differ).
        default = CONFIG_DEFS[key].default if key in CONFIG_DEFS else None
        if actual.get(key) != default:
            changes.append((key, actual.get(key), None))
    policy = desired.get("cleanup.policy", actual.get("cleanup.policy", "delete"))
    out = []
    for key, old, new in sorted(changes):
        cdef = CONFIG_DEFS.get(key)
        effective = new if new is not None else (cdef.default if cdef else None)
        out.append(ConfigChange(key, old, new, _destructive(key, old, effective, policy)))
    return out


def _compare(
    want: DesiredTopic, have: ActualTopic, allow_destructive: bool
) -> tuple[TopicUpdate | None, list[Refusal], list[tuple[str, str]]]:
    refusals: list[Refusal] = []
    warnings: list[tuple[str, str]] = []
    if want.partitions < have.partitions:
        reason = (
            f"partitions {have.partitions} -> {want.partitions}: Kafka cannot remove partitions; "
            f"keep {have.partitions}, or create a new topic and migrate"
        )
        refusals.append(Refusal(want.name, reason))
    if want.replication_factor != have.replication_factor:
        reason = (
            f"replication factor {have.replication_factor} -> {want.replication_factor}: needs "
            "a partition reassignment (kafka-reassign-partitions), which eventgen does not run"
        )
        refusals.append(Refusal(want.name, reason))
    partitions = None
    if want.partitions > have.partitions:
        partitions = (have.partitions, want.partitions)
        text = (
            f"partitions {have.partitions} -> {want.partitions} remaps keys: new records of a "
            "key may go to another partition, so per-key order across the change is lost"
        )
        warnings.append((want.name, text))
    configs = tuple(_config_changes(want, have))
    for change in configs:
        if change.destructive and not allow_destructive:
            reason = f"{change.key} {change.old} -> {change.new or '(default)'}: "
            refusals.append(
                Refusal(want.name, reason + change.destructive + " (needs --allow-destructive)")
            )
        elif change.destructive:
            warnings.append((want.name, f"{change.key}: {change.destructive}"))
    if not configs and partitions is None:
        return None, refusals, warnings
    return TopicUpdate(want.name, configs, partitions), refusals, warnings


def compute_plan(
    desired: Iterable[DesiredTopic],
    actual: Mapping[str, ActualTopic],
    *,
    cluster_topics: Iterable[str] = (),
    allow_destructive: bool = False,
) -> Plan:
    """Compare snapshots. `cluster_topics` are all names on the cluster (for unmanaged)."""
    creates, updates, unchanged = [], [], []
    refusals: list[Refusal] = []
    warnings: list[tuple[str, str]] = []
    wanted = sorted(desired, key=lambda t: t.name)
    for want in wanted:
        have = actual.get(want.name)
        if want.name.startswith("__"):  # the rules reject these too; never touch internals
            refusals.append(Refusal(want.name, "names starting with `__` are Kafka-internal"))
        elif have is None:
            creates.append(want)
        if have is None or want.name.startswith("__"):
            continue
        update, refused, warned = _compare(want, have, allow_destructive)
        refusals += refused
        warnings += warned
        if update is None:
            unchanged.append(want.name)
        else:
            updates.append(update)
    names = {t.name for t in wanted}
    unmanaged = sorted(
        n for n in {*cluster_topics, *actual} if n not in names and not n.startswith("__")
    )
    return Plan(
        tuple(creates), tuple(updates), tuple(refusals), tuple(warnings),
        tuple(unchanged), tuple(unmanaged),
    )  # fmt: skip
