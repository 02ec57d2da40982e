"""Semantic checks of topics: passthrough configs by key and value, and cross-field rules."""

from __future__ import annotations

from functools import partial

from eventgen.diagnostics import Diagnostic, Loc, error, warning
from eventgen.ir.model import Project, Topic
from eventgen.kafka.configdefs import (
    BROKER_SYNONYMS,
    CONFIG_DEFS,
    NOT_TOPIC_CONFIGS,
    REMOVED,
    TYPED_KEYS,
    normalize,
)
from eventgen.kafka.desired import topic_configs, typed_configs
from eventgen.kafka.values import check_value, did_you_mean, parse_number

CONFIG_RULES: tuple[tuple[str, str, str], ...] = (
    ("E0620", "error", "topic config key is not a Kafka 4.x topic config"),
    ("E0621", "error", "topic config key was removed in Kafka 4.0"),
    ("E0622", "error", "topic config value has the wrong type"),
    ("E0623", "error", "topic config value is out of its valid range"),
    ("E0624", "error", "topic config value is not one of the allowed values"),
    ("E0625", "error", "config passthrough contradicts a typed topic attribute"),
    ("W0625", "warning", "config passthrough repeats a typed topic attribute"),
    ("E0626", "error", "min.compaction.lag.ms is greater than max.compaction.lag.ms"),
    ("E0627", "error", "config min.insync.replicas is greater than the replication factor"),
    ("W0627", "warning", "config min.insync.replicas equals the replication factor"),
    ("W0628", "warning", "segment.ms is longer than retention.ms, so data outlives retention"),
    ("E0628", "error", "tiered-storage configs contradict each other"),
    ("E0629", "error", "a typed topic attribute maps to a value Kafka rejects"),
)


def _locs(topic: Topic) -> dict[str, Loc]:
    return dict(topic.config_locs)


def _at(topic: Topic, *keys: str) -> Loc:
    """Position of the first of `keys` written under `config:`, else of the topic."""
    locs = _locs(topic)
    return next((locs[k] for k in keys if k in locs), topic.loc)


def _check_passthrough(topic: Topic) -> list[Diagnostic]:
    """Every `config:` key is a live Kafka topic config, with a valid value."""
    out: list[Diagnostic] = []
    locs, typed = _locs(topic), typed_configs(topic)
    for key, value in topic.config:
        loc = locs.get(key, topic.loc)
        if key in REMOVED:
            out.append(error("E0621", loc, f"`{key}` is {REMOVED[key]}"))
        elif key in NOT_TOPIC_CONFIGS:
            out.append(
                error("E0620", loc, f"`{key}` is not a topic config", NOT_TOPIC_CONFIGS[key])
            )
        elif key in BROKER_SYNONYMS:
            msg, synonym = f"`{key}` is a broker config, not a topic config", BROKER_SYNONYMS[key]
            out.append(error("E0620", loc, msg, f"the topic-level name is `{synonym}`"))
        elif key not in CONFIG_DEFS:
            msg = f"unknown topic config `{key}`"
            out.append(error("E0620", loc, msg, did_you_mean(key, sorted(CONFIG_DEFS))))
        elif problem := check_value(key, value):
            out.append(error(problem[0], loc, problem[1], problem[2]))
        elif key in TYPED_KEYS:
            attr = TYPED_KEYS[key]
            hint = f"set `{attr}:` on the topic and drop `{key}` from `config:`"
            if key not in typed:
                # Two places for one setting invite edits to the wrong one; one place only.
                msg = f"`{key}` belongs in the typed attribute `{attr}:`"
                out.append(warning("W0625", loc, msg, hint))
            elif normalize(key, typed[key]) == normalize(key, value):
                out.append(warning("W0625", loc, f"`{key}` repeats `{attr}:`", hint))
            else:
                msg = f"`{key}: {value}` contradicts `{attr}:` (= {typed[key]} in Kafka terms)"
                out.append(error("E0625", loc, msg, hint))
    for key, value in typed.items():
        if problem := check_value(key, value):
            msg = f"topic attribute `{TYPED_KEYS[key]}:` gives Kafka an invalid value: {problem[1]}"
            out.append(error("E0629", topic.at(TYPED_KEYS[key]), msg))
    return out


def _number(configs: dict[str, str], key: str) -> int | float | None:
    return parse_number(CONFIG_DEFS[key], configs[key]) if key in configs else None


def _check_cross(topic: Topic) -> list[Diagnostic]:
    """Rules across keys that Kafka enforces late (or never) but that break a platform."""
    out: list[Diagnostic] = []
    configs, locs = topic_configs(topic), _locs(topic)
    at = partial(_at, topic)
    lo, hi = _number(configs, "min.compaction.lag.ms"), _number(configs, "max.compaction.lag.ms")
    if lo is not None and hi is not None and lo > hi:
        msg = f"min.compaction.lag.ms ({lo}) is greater than max.compaction.lag.ms ({hi})"
        out.append(error("E0626", at("min.compaction.lag.ms", "max.compaction.lag.ms"), msg))
    # The typed `min_insync_replicas:` is checked by the rules package (E0607/W0608); this
    # covers a value that only the passthrough sets, so no finding is reported twice.
    isr, rf = _number(dict(topic.config), "min.insync.replicas"), topic.replication_factor
    if topic.min_insync_replicas is not None:
        isr = None
    if isr is not None and isr > rf:
        msg = f"min.insync.replicas ({isr}) is greater than the replication factor ({rf})"
        hint = "Kafka accepts it, but every acks=all write then fails with NOT_ENOUGH_REPLICAS"
        out.append(error("E0627", at("min.insync.replicas"), msg, hint))
    elif isr is not None and isr == rf > 1:
        msg = f"min.insync.replicas equals the replication factor ({rf})"
        hint = f"one broker down stops acks=all writes; use min.insync.replicas={rf - 1}"
        out.append(warning("W0627", at("min.insync.replicas"), msg, hint))
    retention, segment = _number(configs, "retention.ms"), _number(configs, "segment.ms")
    # retention.ms -1 means infinite: nothing outlives it.
    if (
        "segment.ms" in locs
        and segment is not None
        and retention is not None
        and 0 <= retention < segment
    ):
        msg = f"segment.ms ({segment}) is longer than retention.ms ({retention})"
        hint = "Kafka deletes whole closed segments: records live until their segment rolls"
        out.append(warning("W0628", locs["segment.ms"], msg, hint))
    out.extend(_check_tiered(topic, configs))
    return out


def _check_tiered(topic: Topic, configs: dict[str, str]) -> list[Diagnostic]:
    """Kafka's tiered-storage rules, which apply only with remote.storage.enable=true."""
    if configs.get("remote.storage.enable", "false").lower() != "true":
        return []
    at = partial(_at, topic)
    out: list[Diagnostic] = []
    if "compact" in configs.get("cleanup.policy", ""):
        msg = "remote.storage.enable=true needs cleanup.policy delete (compaction is local only)"
        out.append(error("E0628", at("remote.storage.enable"), msg))
    for kind in ("ms", "bytes"):
        local, total = f"local.retention.{kind}", f"retention.{kind}"
        lv, tv = _number(configs, local), _number(configs, total)
        if lv is not None and tv is not None and tv > -1 and lv != -2 and (lv == -1 or lv > tv):
            msg = f"{local} ({lv}) must be -2 or at most {total} ({tv})"
            out.append(error("E0628", at(local), msg))
    return out


def check_topic_configs(project: Project) -> list[Diagnostic]:
    """All topic and topic-config findings of the project (registered as one rule set)."""
    out: list[Diagnostic] = []
    for topic in project.all_topics():
        out.extend(_check_passthrough(topic))
        out.extend(_check_cross(topic))
    return out
