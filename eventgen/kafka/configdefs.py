"""Every topic-level config of Kafka 4.x (LogConfig, 4.3) as data: type, default, valid range."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ConfigType = Literal["int", "long", "double", "boolean", "string", "list"]

INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1
LONG_MIN = -(2**63)


@dataclass(frozen=True)
class ConfigDef:
    """One topic config: its Kafka type, default as Kafka prints it, and what it accepts."""

    key: str
    type: ConfigType
    default: str
    minimum: int | float | None = None
    maximum: int | float | None = None
    choices: tuple[str, ...] = ()  # strings: the value; lists: each item
    also: tuple[int, ...] = ()  # allowed outside [minimum, maximum], e.g. gzip level -1
    server_default: str | None = None  # broker property supplying the default


_d = ConfigDef  # short alias keeps the table one definition per line


COMPRESSION_TYPES = ("gzip", "lz4", "producer", "snappy", "uncompressed", "zstd")

# From notes/kafka-topic-configs.md section 1 (Apache Kafka 4.3, same keys in 4.0 to 4.4).
CONFIG_DEFS: dict[str, ConfigDef] = {
    d.key: d
    for d in (
        _d("cleanup.policy", "list", "delete", choices=("compact", "delete"),
           server_default="log.cleanup.policy"),
        _d("compression.type", "string", "producer", choices=COMPRESSION_TYPES,
           server_default="compression.type"),
        _d("compression.gzip.level", "int", "-1", 1, 9, also=(-1,)),
        _d("compression.lz4.level", "int", "9", 1, 17),
        _d("compression.zstd.level", "int", "3", -131072, 22),
        _d("delete.retention.ms", "long", "86400000", 0,
           server_default="log.cleaner.delete.retention.ms"),
        _d("file.delete.delay.ms", "long", "60000", 0,
           server_default="log.segment.delete.delay.ms"),
        _d("flush.messages", "long", str(LONG_MAX), 1,
           server_default="log.flush.interval.messages"),
        _d("flush.ms", "long", str(LONG_MAX), 0, server_default="log.flush.interval.ms"),
        _d("follower.replication.throttled.replicas", "list", ""),
        _d("index.interval.bytes", "int", "4096", 0, server_default="log.index.interval.bytes"),
        _d("leader.replication.throttled.replicas", "list", ""),
        _d("local.retention.bytes", "long", "-2", -2, server_default="log.local.retention.bytes"),
        _d("local.retention.ms", "long", "-2", -2, server_default="log.local.retention.ms"),
        _d("max.compaction.lag.ms", "long", str(LONG_MAX), 1,
           server_default="log.cleaner.max.compaction.lag.ms"),
        _d("max.message.bytes", "int", "1048588", 0, server_default="message.max.bytes"),
        _d("message.timestamp.after.max.ms", "long", "3600000", 0,
           server_default="log.message.timestamp.after.max.ms"),
        _d("message.timestamp.before.max.ms", "long", str(LONG_MAX), 0,
           server_default="log.message.timestamp.before.max.ms"),
        _d("message.timestamp.type", "string", "CreateTime",
           choices=("CreateTime", "LogAppendTime"), server_default="log.message.timestamp.type"),
        _d("min.cleanable.dirty.ratio", "double", "0.5", 0, 1,
           server_default="log.cleaner.min.cleanable.ratio"),
        _d("min.compaction.lag.ms", "long", "0", 0,
           server_default="log.cleaner.min.compaction.lag.ms"),
        _d("min.insync.replicas", "int", "1", 1, server_default="min.insync.replicas"),
        _d("preallocate", "boolean", "false", server_default="log.preallocate"),
        _d("remote.log.copy.disable", "boolean", "false"),
        _d("remote.log.delete.on.disable", "boolean", "false"),
        _d("remote.storage.enable", "boolean", "false"),
        _d("retention.bytes", "long", "-1", server_default="log.retention.bytes"),
        _d("retention.ms", "long", "604800000", -1, server_default="log.retention.ms"),
        _d("segment.bytes", "int", "1073741824", 1048576, server_default="log.segment.bytes"),
        _d("segment.index.bytes", "int", "10485760", 4,
           server_default="log.index.size.max.bytes"),
        _d("segment.jitter.ms", "long", "0", 0, server_default="log.roll.jitter.ms"),
        _d("segment.ms", "long", "604800000", 1, server_default="log.roll.ms"),
        _d("unclean.leader.election.enable", "boolean", "false",
           server_default="unclean.leader.election.enable"),
    )
}  # fmt: skip

# Keys Kafka 4.0 removed; LogConfig rejects them as unknown, so say why instead.
REMOVED: dict[str, str] = {
    "message.format.version": "removed in Kafka 4.0 (only the v2 record format remains)",
    "message.timestamp.difference.max.ms": (
        "removed in Kafka 4.0; use message.timestamp.before.max.ms and "
        "message.timestamp.after.max.ms"
    ),
    "message.downconversion.enable": "removed in Kafka 4.0 (down-conversion no longer exists)",
}

# Spec attributes that own a Kafka config: the passthrough must not set these keys too.
TYPED_KEYS: dict[str, str] = {
    "retention.ms": "retention",
    "retention.bytes": "retention_bytes",
    "cleanup.policy": "cleanup",
    "compression.type": "compression",
    "min.insync.replicas": "min_insync_replicas",
}

# Names people write that are not topic configs, with where the setting lives instead.
NOT_TOPIC_CONFIGS: dict[str, str] = {
    "partitions": "use the topic attribute `partitions:`",
    "num.partitions": "use the topic attribute `partitions:` (num.partitions is a broker config)",
    "replication.factor": "use the topic attribute `replication_factor:`",
    "default.replication.factor": "use the topic attribute `replication_factor:`",
}
BROKER_SYNONYMS: dict[str, str] = {
    d.server_default: d.key
    for d in CONFIG_DEFS.values()
    if d.server_default and d.server_default != d.key
}
BROKER_SYNONYMS.update({"log.retention.hours": "retention.ms", "log.retention.minutes": "retention.ms",
                        "log.roll.hours": "segment.ms"})  # fmt: skip


def normalize(key: str, value: str) -> str:
    """Canonical text of a config value, so `compact,delete` equals `delete,compact`."""
    cdef = CONFIG_DEFS.get(key)
    if cdef is None:
        return value
    if cdef.type == "list":
        return ",".join(sorted(item.strip() for item in value.split(",") if item.strip()))
    if cdef.type == "double":
        try:
            return repr(float(value))
        except ValueError:
            return value
    if cdef.type in ("int", "long"):
        try:
            return str(int(value.strip()))
        except ValueError:
            return value
    if cdef.type == "boolean":
        return value.strip().lower()
    return value
