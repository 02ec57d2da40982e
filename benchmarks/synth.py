"""Generate a synthetic, valid eventgen spec directory for benchmarks.

    python benchmarks/synth.py OUTDIR [--events 200] [--contexts 10] [--fields 12] [--seed 1]
                               [--versions] [--mutate K OUTDIR2] [--changes-json PATH]

Writes OUTDIR/eventgen.yaml plus one file per context. Every event has `fields` fields
mixing scalars, decimals, nullables, lists, maps, enums and nested named types; each
context has a few record types (one nesting another), an events topic keyed by a uuid
field, a commands topic, some commands with replies and consumers that subscribe across
contexts. The output depends only on the arguments (same seed -> same bytes).

`--versions` gives one event in five (spread over all contexts) version 2 with an upcast from version 1.
`--mutate K OUTDIR2` also writes a variant of the platform to OUTDIR2 in which K events
changed (field added with a default, field removed, type promoted, ...), for schema-diff
benchmarks; the list of changes goes to stdout or to --changes-json.

Stdlib plus PyYAML only (PyYAML is an eventgen dependency).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]
Platform = dict[str, Doc]  # file name -> document

CONTEXT_NAMES = [
    "accounts",
    "billing",
    "catalog",
    "checkout",
    "customers",
    "fulfilment",
    "invoicing",
    "loyalty",
    "marketing",
    "notifications",
    "pricing",
    "procurement",
    "returns",
    "reviews",
    "search",
    "subscriptions",
    "support",
    "tax",
    "warehouse",
    "wishlists",
]
NOUNS = [
    "Account",
    "Invoice",
    "Basket",
    "Coupon",
    "Parcel",
    "Refund",
    "Voucher",
    "Ticket",
    "Listing",
    "Quote",
    "Contract",
    "Booking",
    "Claim",
    "Review",
    "Badge",
    "Budget",
    "Campaign",
    "Delivery",
    "Device",
    "Document",
    "Feed",
    "Label",
    "Ledger",
    "Member",
    "Offer",
    "Pallet",
    "Plan",
    "Profile",
    "Receipt",
    "Route",
]
PAST_VERBS = [
    "Created",
    "Updated",
    "Approved",
    "Rejected",
    "Cancelled",
    "Archived",
    "Submitted",
    "Assigned",
    "Closed",
    "Reopened",
    "Expired",
    "Renewed",
    "Verified",
    "Suspended",
    "Published",
    "Withdrawn",
    "Merged",
    "Scheduled",
    "Completed",
    "Flagged",
]
IMPERATIVES = [
    "Create",
    "Update",
    "Approve",
    "Reject",
    "Cancel",
    "Archive",
    "Submit",
    "Assign",
    "Close",
    "Reopen",
    "Renew",
    "Verify",
    "Suspend",
    "Publish",
    "Withdraw",
    "Schedule",
]
# field kind -> candidate names (all safe, snake_case, not reserved words or type names)
FIELD_NAMES = {
    "string": ["reference", "label", "description", "region_code", "source_ref", "comment"],
    "int": ["quantity", "priority", "attempts", "rating", "level", "sequence_no"],
    "long": ["size_bytes", "duration_ms", "counter", "offset_hint", "visits"],
    "double": ["latitude", "longitude", "score", "ratio"],
    "float": ["weight_kg", "discount_rate", "confidence"],
    "boolean": ["is_active", "is_test", "flagged", "gift"],
    "timestamp": ["happened_at", "expires_at", "updated_at", "valid_until"],
    "date": ["due_on", "starts_on", "ends_on", "billing_day"],
    "time": ["opens_at", "closes_at", "cutoff_time"],
    "bytes": ["checksum", "signature", "blob"],
    "decimal": ["amount", "fee", "tax", "balance", "unit_price"],
    "nullable": ["note", "external_id", "parent_id", "retries_left"],
    "list": ["tags", "aliases", "codes"],
    "map": ["counts", "attributes_by_key", "limits"],
    "enum": ["status", "tier", "state"],
    "record": ["detail", "info", "summary_block"],
    "record_list": ["items", "entries", "parts"],
    "uuid": ["owner_id", "actor_id", "batch_id", "tenant_id"],
}
KINDS = list(FIELD_NAMES)
DELIVERIES = ["at-least-once", "at-most-once", "exactly-once"]
MUTATIONS = [
    "add_field_with_default",
    "remove_field",
    "promote_type",
    "make_nullable",
    "add_required_field",
    "change_constraint",
]


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def context_name(i: int) -> str:
    return CONTEXT_NAMES[i] if i < len(CONTEXT_NAMES) else f"context_{i:02d}"


def event_name(i: int) -> str:
    noun = NOUNS[i % len(NOUNS)]
    verb = PAST_VERBS[(i // len(NOUNS)) % len(PAST_VERBS)]
    lap = i // (len(NOUNS) * len(PAST_VERBS))
    return f"{noun}{lap + 1 if lap else ''}{verb}"


def command_name(i: int) -> str:
    verb = IMPERATIVES[i % len(IMPERATIVES)]
    noun = NOUNS[(i // len(IMPERATIVES)) % len(NOUNS)]
    lap = i // (len(NOUNS) * len(IMPERATIVES))
    return f"{verb}{noun}{lap + 1 if lap else ''}"


def context_types(ctx: str) -> tuple[Doc, dict[str, str]]:
    """A few named types per context: two records (one nesting the other), a list holder, enums."""
    p = pascal(ctx)
    names = {"leaf": f"{p}Item", "nested": f"{p}Detail", "enum": f"{p}Status", "enum2": f"{p}Tier"}
    types: Doc = {
        names["leaf"]: {
            "doc": f"A line item of the {ctx} context.",
            "fields": {
                "code": {"type": "string", "min_length": 1, "max_length": 32},
                "quantity": {"type": "int", "minimum": 0, "maximum": 100000},
                "price": {"type": "decimal", "precision": 12, "scale": 2},
            },
        },
        names["nested"]: {
            "doc": f"Details attached to {ctx} events; nests {names['leaf']}.",
            "fields": {
                "title": {"type": "string", "max_length": 200},
                "primary": names["leaf"],
                "extras": {"type": f"list[{names['leaf']}]", "default": []},
                "remark": "string?",
            },
        },
        names["enum"]: {
            "doc": f"Lifecycle state in {ctx}.",
            "enum": ["UNKNOWN", "ACTIVE", "SUSPENDED", "CLOSED"],
            "default": "UNKNOWN",
        },
        names["enum2"]: {"doc": "Service tier.", "enum": ["BASIC", "PLUS", "PREMIUM"]},
    }
    return types, names


class _Names:
    """Hands out unique field names per message."""

    def __init__(self) -> None:
        self.used: set[str] = {"entity_id"}

    def take(self, kind: str, rng: random.Random) -> str:
        pool = FIELD_NAMES[kind]
        start = rng.randrange(len(pool))
        for k in range(len(pool)):
            name = pool[(start + k) % len(pool)]
            if name not in self.used:
                self.used.add(name)
                return name
        n = 2
        while f"{pool[start]}_{n}" in self.used:
            n += 1
        name = f"{pool[start]}_{n}"
        self.used.add(name)
        return name


def field_spec(kind: str, names: dict[str, str], rng: random.Random) -> Any:
    """The spec value of one field of the given kind."""
    if kind == "string":
        return {
            "type": "string",
            "min_length": 1,
            "max_length": rng.choice([32, 64, 255]),
            "pattern": "^[A-Za-z0-9 _.-]+$",
        }
    if kind == "int":
        return {"type": "int", "minimum": 0, "maximum": rng.choice([10, 1000, 100000])}
    if kind == "decimal":
        return {"type": "decimal", "precision": rng.choice([12, 18]), "scale": rng.choice([2, 4])}
    if kind == "nullable":
        return rng.choice(["string?", "uuid?", "int?", "timestamp?"])
    if kind == "list":
        return {"type": "list[string]", "default": []}
    if kind == "map":
        return {"type": "map[long]", "default": {}}
    if kind == "enum":
        return (
            {"type": names["enum"], "default": "UNKNOWN"} if rng.random() < 0.5 else names["enum2"]
        )
    if kind == "record":
        return rng.choice([names["nested"], names["leaf"], names["nested"] + "?"])
    if kind == "record_list":
        return {"type": f"list[{names['leaf']}]", "default": []}
    if kind == "boolean":
        return {"type": "boolean", "default": False}
    return kind  # long, double, float, timestamp, date, time, bytes, uuid


def make_fields(n: int, names: dict[str, str], rng: random.Random) -> Doc:
    fields: Doc = {"entity_id": {"type": "uuid", "doc": "Partition key."}}
    taken = _Names()
    kinds = KINDS[:]
    rng.shuffle(kinds)
    for j in range(max(0, n - 1)):
        kind = kinds[j % len(kinds)]
        fields[taken.take(kind, rng)] = field_spec(kind, names, rng)
    return fields


def _upcast(fields: Doc) -> list[Doc]:
    """v1 -> v2: a field was renamed, a boolean added with a literal, a column dropped."""
    names = [f for f in fields if f != "entity_id"]
    ops: list[Doc] = []
    if names:
        ops.append({"rename": {f"legacy_{names[0]}": names[0]}})
    for f in names[1:]:
        spec = fields[f]
        if isinstance(spec, dict) and spec.get("type") == "boolean":
            ops.append({"add": {f: False}})
            break
    ops.append({"remove": {"obsolete_flag": "boolean"}})  # typed: v1 stays reconstructable
    return [{"from": 1, "ops": ops}]


def generate(
    events: int = 200, contexts: int = 10, fields: int = 12, seed: int = 1, versions: bool = False
) -> Platform:
    """Build the platform as {file name: document}; pure and deterministic."""
    rng = random.Random(seed)
    contexts = max(1, contexts)
    ctx_names = [context_name(i) for i in range(contexts)]
    platform: Platform = {
        "eventgen.yaml": {
            "eventgen": 1,
            "project": "synth",
            "package": "synth_events",
            "output": "../generated",
            "defaults": {
                "serialization": "avro",
                "compatibility": "BACKWARD",
                "delivery": "at-least-once",
                "timeout": "30s",
                "retry": {
                    "max_attempts": 5,
                    "initial": "200ms",
                    "multiplier": 2.0,
                    "max_interval": "30s",
                    "jitter": "full",
                },
                "topic": {
                    "partitions": 6,
                    "replication_factor": 3,
                    "min_insync_replicas": 2,
                    "retention": "7d",
                },
            },
            "environments": {
                "local": {
                    "defaults": {"topic": {"replication_factor": 1, "min_insync_replicas": 1}}
                },
                "prod": {},
            },
        }
    }
    docs: dict[str, Doc] = {}
    type_names: dict[str, dict[str, str]] = {}
    for c in ctx_names:
        types, names = context_types(c)
        type_names[c] = names
        docs[c] = {
            "eventgen": 1,
            "context": c,
            "doc": f"Synthetic context {c}.",
            "types": types,
            "topics": {
                f"{c}-events": {
                    "doc": f"Facts of {c}.",
                    "partitions": rng.choice([3, 6, 12]),
                    "retention": rng.choice(["7d", "14d", "30d"]),
                    "cleanup": "delete",
                    "compression": rng.choice(["zstd", "lz4", "snappy"]),
                    "key": "uuid",
                    "dlq": True,
                },
                f"{c}-commands": {
                    "doc": f"Commands for {c}.",
                    "retention": "3d",
                    "cleanup": "delete",
                    "key": "uuid",
                    "dlq": True,
                },
            },
            "events": {},
            "commands": {},
            "consumers": {},
        }
    # events, round-robin over contexts
    for i in range(events):
        c = ctx_names[i % contexts]
        name = event_name(i)
        ev: Doc = {
            "doc": f"Synthetic event {i} of {c}.",
            "kind": "integration" if i % 3 else "domain",
            "pattern": "state-transfer" if i % 2 else "notification",
            "topic": f"{c}-events",
            "key": "entity_id",
            "fields": make_fields(fields, type_names[c], rng),
        }
        if versions and (i + i // contexts) % 5 == 0:
            ev["version"] = 2
            ev["upcast"] = _upcast(ev["fields"])
            ev = {
                k: ev[k]
                for k in ("doc", "kind", "pattern", "version", "topic", "key", "fields", "upcast")
            }
        docs[c]["events"][name] = ev
    # commands: about one per five events, replies with an event of the same context
    n_commands = 0
    for c in ctx_names:
        own = list(docs[c]["events"])
        for j in range(max(1, len(own) // 5) if own else 0):
            name = command_name(n_commands)
            n_commands += 1
            docs[c]["commands"][name] = {
                "doc": f"Synthetic command {n_commands} of {c}.",
                "topic": f"{c}-commands",
                "key": "entity_id",
                "fields": {
                    "entity_id": "uuid",
                    "reason": {"type": "string", "max_length": 200, "default": ""},
                    "amount": {"type": "decimal", "precision": 12, "scale": 2},
                    "requested_by": "uuid?",
                },
                "replies": {"success": [own[j % len(own)]]},
            }
    # consumers: a command handler, and a cross-context subscriber
    for k, c in enumerate(ctx_names):
        cons = docs[c]["consumers"]
        if docs[c]["commands"]:
            cons[f"{c}-command-handler"] = {
                "group": f"{c}.{c}-command-handler",
                "subscribe": [f"{c}-commands"],
                "handles": list(docs[c]["commands"]),
                "delivery": "at-least-once",
                "processing": "stream",
                "retry": {"max_attempts": 5, "initial": "100ms", "multiplier": 2.0},
                "dlq": True,
                # At least as long as any topic keeps messages (W0822): 30d.
                "idempotency": {"store": "sqlite", "retention": "30d"},
            }
        other = ctx_names[(k + 1) % contexts]
        handles = list(docs[c]["events"])[:2]
        subscribe = [f"{c}-events"] if handles else []
        if other != c and docs[other]["events"]:
            subscribe.append(f"{other}.{other}-events")
            handles += [f"{other}.{e}" for e in list(docs[other]["events"])[:3]]
        if not handles:
            continue
        delivery = DELIVERIES[k % len(DELIVERIES)]
        consumer: Doc = {
            "group": f"{c}.{c}-reactor",
            "subscribe": subscribe,
            "handles": handles,
            "delivery": delivery,
            "processing": "stream"
            if k % 2
            else {"batch": {"max_records": 500, "max_wait": "200ms"}},
        }
        # Every delivery dead-letters: exactly-once needs it (E0821).
        consumer["dlq"] = True
        if delivery == "at-least-once":
            consumer["retry"] = {"max_attempts": 3, "initial": "100ms", "multiplier": 2.0}
            consumer["idempotency"] = {
                "store": "postgres" if k % 4 else "sqlite",
                "retention": "30d",
            }
        else:
            consumer["idempotency"] = {"store": "none"}
        cons[f"{c}-reactor"] = consumer
    for c in ctx_names:
        doc = docs[c]
        for section in ("commands", "consumers"):
            if not doc[section]:
                del doc[section]
        if not doc["events"]:
            del doc["events"]
        platform[f"{c}.yaml"] = doc
    return platform


def _field_type(spec: Any) -> str:
    return spec if isinstance(spec, str) else str(spec.get("type", ""))


def mutate(platform: Platform, k: int, seed: int = 1) -> tuple[Platform, list[Doc]]:
    """Return a copy of the platform in which k events changed, and the list of changes."""
    rng = random.Random(seed * 7919 + k)
    out = copy.deepcopy(platform)
    all_events = [
        (f, name) for f, doc in sorted(out.items()) for name in sorted(doc.get("events", {}))
    ]
    chosen = sorted(rng.sample(all_events, min(k, len(all_events))))
    changes: list[Doc] = []
    for n, (fname, ev_name) in enumerate(chosen):
        doc = out[fname]
        ev = doc["events"][ev_name]
        fields: Doc = ev["fields"]
        protected = {ev["key"]}
        for step in ev.get("upcast", []):
            for op in step["ops"]:
                for v in op.values():
                    if isinstance(v, dict):
                        protected.update(str(x) for x in v.values() if isinstance(x, str))
                        protected.update(v)
        free = [f for f in fields if f not in protected]
        kind = MUTATIONS[n % len(MUTATIONS)]
        field = ""
        if kind == "promote_type":
            promotable = {"int": "long", "float": "double", "long": "double"}
            cands = [f for f in free if _field_type(fields[f]) in promotable]
            if cands:
                field = cands[0]
                spec = fields[field]
                new = promotable[_field_type(spec)]
                if isinstance(spec, dict):
                    spec["type"] = new
                else:
                    fields[field] = new
            else:
                kind = "add_field_with_default"
        if kind == "remove_field" or kind == "make_nullable" or kind == "change_constraint":
            if kind == "change_constraint":
                cands = [
                    f
                    for f in free
                    if isinstance(fields[f], dict)
                    and ("max_length" in fields[f] or "maximum" in fields[f])
                ]
            elif kind == "make_nullable":
                cands = [
                    f
                    for f in free
                    if not _field_type(fields[f]).endswith("?") and isinstance(fields[f], str)
                ]
            else:
                cands = free
            if not cands:
                kind = "add_field_with_default"
            else:
                field = cands[-1]
                if kind == "remove_field":
                    del fields[field]
                elif kind == "make_nullable":
                    fields[field] = fields[field] + "?"
                else:
                    spec = fields[field]
                    bound = "max_length" if "max_length" in spec else "maximum"
                    spec[bound] = max(1, int(spec[bound]) // 2)
        if kind == "add_field_with_default":
            field = f"added_note_{n}"
            fields[field] = {"type": "string", "default": "", "doc": "Added by mutation."}
        elif kind == "add_required_field":
            field = f"added_code_{n}"
            fields[field] = {"type": "string", "doc": "Added by mutation, no default."}
        changes.append(
            {"context": doc["context"], "event": ev_name, "change": kind, "field": field}
        )
    return out, changes


def dump(doc: Doc) -> str:
    return yaml.safe_dump(
        doc, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100
    )


def write(platform: Platform, outdir: Path) -> None:
    """Write the platform; removes nothing, overwrites the files it owns."""
    outdir.mkdir(parents=True, exist_ok=True)
    for fname, doc in sorted(platform.items()):
        (outdir / fname).write_text(dump(doc), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--contexts", type=int, default=10)
    ap.add_argument("--fields", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--versions", action="store_true", help="one event in five gets version 2 with an upcast"
    )
    ap.add_argument(
        "--mutate",
        nargs=2,
        metavar=("K", "OUTDIR2"),
        help="also write a variant with K changed events to OUTDIR2",
    )
    ap.add_argument("--changes-json", type=Path, help="write the mutation list here")
    args = ap.parse_args(argv)
    if args.events < 0 or args.contexts < 1 or args.fields < 1:
        ap.error("--events >= 0, --contexts >= 1 and --fields >= 1")
    platform = generate(args.events, args.contexts, args.fields, args.seed, args.versions)
    write(platform, args.outdir)
    if args.mutate:
        k = int(args.mutate[0])
        variant, changes = mutate(platform, k, args.seed)
        write(variant, Path(args.mutate[1]))
        text = json.dumps(changes, indent=2, sort_keys=True) + "\n"
        if args.changes_json:
            args.changes_json.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
