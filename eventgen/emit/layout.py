"""Where schema and model files go, their headers, and IR lookups shared by the emitters.

Paths are relative to the output dir, POSIX separators:

- Python package: `<package>/` (put the output dir on sys.path); one module per context,
  `<package>/topics.py` with per-topic bindings, `<package>/_avro/<module>.py` with the Avro
  schemas the runtime parses lazily.
- Avro: `avro/<context>/<Name>.avsc` (current version), `avro/<context>/<Name>.v<N>.avsc` for
  each older version whose schema is reconstructible, `avro/keys/<kafka-topic>.avsc`.
- JSON Schema: `jsonschema/<context>/<Name>.json` and `.v<N>.json` likewise.
Named types get files too (same directories), so tools can validate them alone.
- Services (contexts with consumers or an outbox): `<package>/<context>_app.py` with the
  publisher, one app per consumer, the outbox writer and relay; `<package>/_upcast/<module>.py`
  with the upcaster chain of a context whose messages have `upcast:` steps;
  `sql/<context>/<table>.<dialect>.sql` for the tables the runtime uses there;
  `connect/<context>-outbox.json` (Kafka Connect config) for `relay: debezium`.
- Topics: `topics/<env>.json` per environment (`default` = no --env); `resolved-spec.json`,
  `eventgen-manifest.json` and `schemas-history/<subject>/<n>.avsc|.json` at the top.

`claims()` lists every file each emitter writes, from the IR alone (nothing is rendered): the
rules refuse specs where two claims meet (eventgen/rules/checks_output.py), and the build
checks each emitter's files against its claims (eventgen/emit/registry.py), so an emitter
that adds a file must say so here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

from eventgen.diagnostics import Loc
from eventgen.ir import naming, scalars
from eventgen.ir.model import (
    Context,
    EnumType,
    Field,
    ListOf,
    MapOf,
    Message,
    Named,
    Project,
    RecordType,
    Scalar,
    Topic,
    TypeRef,
)
from eventgen.ir.resolve.messages import MAX_VERSION

NamedType = RecordType | EnumType


def avro_path(context: str, name: str, version: int | None = None) -> str:
    return f"avro/{context}/{name}{_suffix(version)}.avsc"


def jsonschema_path(context: str, name: str, version: int | None = None) -> str:
    return f"jsonschema/{context}/{name}{_suffix(version)}.json"


def key_schema_path(topic: Topic) -> str:
    return f"avro/{naming.KEYS_FOLDER}/{topic.kafka_name}.avsc"


def _suffix(version: int | None) -> str:
    return "" if version is None else version_suffix(version)


def version_suffix(version: int) -> str:
    return f".v{version}"


# The longest a message's schema file name grows past its name: `.v1000.avsc` (E0707 bounds
# versions at MAX_VERSION; `.json` is as long as `.avsc`).
VERSION_SUFFIX_MAX = len(version_suffix(MAX_VERSION) + ".avsc")


def python_module_path(project: Project, context: str) -> str:
    return f"{project.package}/{naming.py_module(context)}.py"


def schema_module_path(project: Project, context: str) -> str:
    return f"{project.package}/{naming.SCHEMAS_PACKAGE}/{naming.py_module(context)}.py"


def topics_module_path(project: Project) -> str:
    return f"{project.package}/{naming.TOPICS_MODULE}.py"


def package_init_paths(project: Project) -> tuple[str, str, str]:
    """The package's `__init__.py`, its schema package's `__init__.py`, and `py.typed`."""
    package = project.package
    return (
        f"{package}/__init__.py",
        f"{package}/{naming.SCHEMAS_PACKAGE}/__init__.py",
        f"{package}/py.typed",
    )


UPCAST_PACKAGE = "_upcast"  # <package>/_upcast/: generated upcaster chains, one module a context


def upcast_module_path(project: Project, context: str) -> str:
    return f"{project.package}/{UPCAST_PACKAGE}/{naming.py_module(context)}.py"


def upcast_init_path(project: Project) -> str:
    return f"{project.package}/{UPCAST_PACKAGE}/__init__.py"


def upcast_module(project: Project, context: str) -> str:
    """Import path of a context's upcaster module (the messages' `UPCASTS`)."""
    return f"{project.package}.{UPCAST_PACKAGE}.{naming.py_module(context)}"


def has_upcasts(ctx: Context) -> bool:
    return any(m.upcasts for m in ctx.messages)


def has_services(ctx: Context) -> bool:
    """A context gets a service module when it has consumers, an outbox, aggregates or
    projections (the event-sourcing modules import its publisher and outbox)."""
    return (
        bool(ctx.consumers)
        or ctx.outbox is not None
        or has_aggregates(ctx)
        or has_projections(ctx)
        or bool(ctx.sagas)
        or bool(ctx.choreographies)
    )


def has_sagas(ctx: Context) -> bool:
    return bool(ctx.sagas)


def sagas_module_path(project: Project, context: str) -> str:
    return f"{project.package}/{naming.sagas_module(context)}.py"


def sagas_module(project: Project, context: str) -> str:
    return f"{project.package}.{naming.sagas_module(context)}"


def saga_tables(ctx: Context) -> tuple[str, str, str]:
    """(instances, log, timers) tables of a context's sagas (all its sagas share them)."""
    base = naming.py_module(ctx.name).rstrip("_")
    return f"{base}_saga_instances", f"{base}_saga_log", f"{base}_saga_timers"


def saga_group(ctx: Context, saga: str) -> str:
    """The Kafka group of a saga's worker (`orders.place-order-saga`)."""
    return f"{ctx.name}.{naming.snake(saga).replace('_', '-')}"


def saga_attr(name: str) -> str:
    """The saga app object (`PlaceOrderSaga` -> `place_order_saga`)."""
    return naming.py_item_attr(name)


def reaction_contexts(project: Project) -> frozenset[str]:
    """Contexts with a `<context>_reactions.py`: a reaction's service, or a choreography's
    owner (its flow tracker)."""
    names = {ch.context for ch in project.all_choreographies()}
    names |= {r.service for ch in project.all_choreographies() for r in ch.reactions}
    return frozenset(names)


def has_reactions(project: Project, ctx: Context) -> bool:
    return ctx.name in reaction_contexts(project)


def reactions_module_path(project: Project, context: str) -> str:
    return f"{project.package}/{naming.reactions_module(context)}.py"


def reactions_module(project: Project, context: str) -> str:
    return f"{project.package}.{naming.reactions_module(context)}"


def flows_table(ctx: Context) -> str:
    """The flow-tracker table of a context's choreographies."""
    return f"{naming.py_module(ctx.name).rstrip('_')}_flows"


def flow_tracker_group(ctx: Context, choreography: str) -> str:
    return f"{ctx.name}.{naming.snake(choreography).replace('_', '-')}-tracker"


# Diagrams (eventgen/emit/diagrams.py): Markdown with Mermaid blocks, GitHub renders them.
DOCS_FOLDER = "docs"


def saga_doc_path(saga: str) -> str:
    return f"{DOCS_FOLDER}/sagas/{saga}.md"


def choreography_doc_path(choreography: str) -> str:
    return f"{DOCS_FOLDER}/choreographies/{choreography}.md"


def has_aggregates(ctx: Context) -> bool:
    return bool(ctx.aggregates)


def has_projections(ctx: Context) -> bool:
    """Projections or queries: both live in `<context>_projections.py`."""
    return bool(ctx.projections) or any(m.kind == "query" for m in ctx.messages)


def aggregates_module_path(project: Project, context: str) -> str:
    return f"{project.package}/{naming.aggregates_module(context)}.py"


def aggregates_module(project: Project, context: str) -> str:
    return f"{project.package}.{naming.aggregates_module(context)}"


def projections_module_path(project: Project, context: str) -> str:
    return f"{project.package}/{naming.projections_module(context)}.py"


def projections_module(project: Project, context: str) -> str:
    return f"{project.package}.{naming.projections_module(context)}"


def event_store_tables(ctx: Context) -> tuple[str, str]:
    """(events table, snapshots table) of a context's event store."""
    base = naming.py_module(ctx.name).rstrip("_")
    return f"{base}_events", f"{base}_snapshots"


def event_store_kind(ctx: Context) -> Literal["sqlite", "postgres"]:
    """The event store's database (eventgen.ir.model.Context.event_store_kind)."""
    return ctx.event_store_kind()


def projection_table(name: str) -> str:
    """The read-model table of a projection (`OrderSummary` -> `order_summary`)."""
    return naming.snake(name)


def projector_group(ctx: Context, name: str) -> str:
    """The Kafka group of a projector's topic sources (offsets live in the database)."""
    return f"{ctx.name}.{naming.snake(name).replace('_', '-')}-projector"


def aggregate_command_consumers(project: Project, ctx: Context) -> dict[str, str]:
    """{consumer: aggregate} of the consumers whose handlers the aggregates module registers
    (eventgen.ir.model.Context.aggregate_command_consumers)."""
    return ctx.aggregate_command_consumers()


def aggregate_attr(name: str) -> str:
    """The repository object of an aggregate in the aggregates module (`Order` -> `order`)."""
    return naming.aggregate_attr(name)


def projector_attr(name: str) -> str:
    """The projector object of a projection (`OrderSummary` -> `order_summary`)."""
    return naming.py_item_attr(name)


def query_attr(name: str) -> str:
    """The function answering a query (`GetOrderSummary` -> `get_order_summary`)."""
    return naming.py_item_attr(name)


# Attribute names of the event-sourcing modules (the rest come from eventgen.ir.naming).
EVENT_STORE_ATTR = "event_store"
EVENT_STORE_SPEC = "EVENT_STORE_SPEC"


def app_module_path(project: Project, context: str) -> str:
    return f"{project.package}/{naming.app_module(context)}.py"


def app_module(project: Project, context: str) -> str:
    return f"{project.package}.{naming.app_module(context)}"


def sql_path(context: str, table: str, dialect: str) -> str:
    return f"sql/{context}/{table}.{dialect}.sql"


def connector_path(context: str) -> str:
    return f"connect/{context}-outbox.json"


# Names in the service module, from the one naming authority plus the fixed ones of this module.
PUBLISHER_ATTR = "publisher"
OUTBOX_ATTR = "outbox"
RELAY_ATTR = "relay"
PUBLISHER_SPEC = "PUBLISHER_SPEC"
OUTBOX_SPEC = "OUTBOX_SPEC"


def app_class(consumer: str) -> str:
    """The generated ConsumerApp subclass of a consumer (`reserve-stock` -> `ReserveStockApp`)."""
    return naming.pascal(consumer) + "App"


def app_context_alias(consumer: str) -> str:
    """The type alias of a consumer's handler context (`ReserveStockContext`)."""
    return naming.pascal(consumer) + "Context"


def app_batch_alias(consumer: str) -> str:
    """The type alias of a batch consumer's handler argument (`StockLedgerBatch`)."""
    return naming.pascal(consumer) + "Batch"


def route_constant(topic: Topic) -> str:
    """`ROUTE_<CONTEXT>_<TOPIC>`: the Route of a topic in a service module."""
    return "ROUTE_" + topic.qualified.replace(".", "_").replace("-", "_").upper()


# The runtime's default table names (eventgen.runtime.spec INBOX_TABLE, PARKED_TABLE), spelled
# here because claims() runs in every validate, which must not import pydantic through the
# runtime; tests/emit_services/test_layout.py keeps the two equal.
INBOX_TABLE = "eventgen_inbox"
PARKED_TABLE = "eventgen_parked_keys"


Dialect = Literal["sqlite", "postgres"]
TableKind = Literal[
    "outbox",
    "inbox",
    "parked",
    "events",
    "snapshots",
    "checkpoints",
    "saga_instances",
    "saga_log",
    "saga_timers",
    "flows",
]
CHECKPOINT_TABLE = "eventgen_checkpoints"  # eventgen.runtime.es.spec.CHECKPOINT_TABLE


def service_tables(ctx: Context) -> list[tuple[Dialect, TableKind, str]]:
    """(dialect, kind, table) of every table the runtime uses in a context, sorted.

    The outbox table; the inbox table when a consumer has an idempotency store; the parked-key
    table when a consumer has a store or parks keys (a park-key consumer without a store keeps
    them in the embedded SQLite file). Each in both dialects, as the contract lists them: the
    store a deployment uses may differ from the spec's (a SQLite laptop, a PostgreSQL cluster),
    and a DBA reviews the DDL of both.
    """
    used: set[tuple[TableKind, str]] = set()
    if ctx.outbox is not None:
        used.add(("outbox", ctx.outbox.table))
    for consumer in ctx.consumers:
        if consumer.idempotency_store != "none":
            used.add(("inbox", INBOX_TABLE))
        if consumer.idempotency_store != "none" or consumer.on_failure == "park-key":
            used.add(("parked", PARKED_TABLE))
    if has_aggregates(ctx):
        events, snapshots = event_store_tables(ctx)
        used |= {("events", events), ("snapshots", snapshots)}
    if ctx.projections:
        used.add(("checkpoints", CHECKPOINT_TABLE))
    if ctx.sagas:
        instances, saga_log, timers = saga_tables(ctx)
        used |= {("saga_instances", instances), ("saga_log", saga_log), ("saga_timers", timers)}
    if ctx.choreographies:
        used.add(("flows", flows_table(ctx)))
    dialects: tuple[Dialect, ...] = ("postgres", "sqlite")
    return sorted((dialect, kind, table) for kind, table in used for dialect in dialects)


def topics_file_path(env: str) -> str:
    return f"topics/{env}.json"


def python_import(project: Project, message: Message) -> str:
    """`package.module:Class` of a message's generated model."""
    module = naming.py_module(message.context)
    return f"{project.package}.{module}:{naming.py_class(message.name)}"


def schema_module(project: Project, context: str) -> str:
    """Import path of the module holding a context's Avro schemas for the runtime."""
    return f"{project.package}.{naming.SCHEMAS_PACKAGE}.{naming.py_module(context)}"


def versions(message: Message) -> list[tuple[int, tuple[Field, ...]]]:
    """(version, fields) of every reconstructible version, oldest first, current last."""
    found = {v.version: v.fields for v in message.versions if v.complete}
    found[message.version] = message.fields
    return sorted(found.items())


def schema_files(project: Project, message: Message) -> dict[str, list[str]]:
    """Format -> paths of the schema files of all versions of a message."""
    avro, jsonschema = [], []
    for version, _ in versions(message):
        suffix = None if version == message.version else version
        avro.append(avro_path(message.context, message.name, suffix))
        jsonschema.append(jsonschema_path(message.context, message.name, suffix))
    return {"avro": avro, "jsonschema": jsonschema}


def header(sources: list[str] | tuple[str, ...]) -> str:
    """The provenance line of generated text files."""
    return f"Generated by eventgen from {', '.join(sorted(sources))}. Do not edit."


class TypeIndex:
    """Named types by qualified name, and the order they must be defined in."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.types: dict[str, NamedType] = {t.qualified: t for t in project.all_types()}

    def __getitem__(self, qualified: str) -> NamedType:
        return self.types[qualified]

    def referenced(self, fields: tuple[Field, ...]) -> list[NamedType]:
        """Named types reachable from `fields`, dependencies first, each once."""
        seen: dict[str, NamedType] = {}
        for f in fields:
            self._visit(f.type, seen)
        return list(seen.values())

    def _visit(self, ref: TypeRef, seen: dict[str, NamedType]) -> None:
        match ref:
            case ListOf(item) | MapOf(item):
                self._visit(item, seen)
            case Named(name) if name not in seen:
                named = self.types[name]
                if isinstance(named, RecordType):
                    for f in named.fields:
                        self._visit(f.type, seen)
                seen[name] = named
            case _:
                pass  # scalars, and named types already seen

    def context_order(self, context: str) -> list[NamedType]:
        """The types of one context, each after the same-context types it uses."""
        ctx = self.project.context(context)
        order = self.referenced(tuple(_as_field(t) for t in ctx.types))
        return [t for t in order if t.context == context]


def _as_field(named: NamedType) -> Field:
    return Field(name="_", type=Named(named.qualified))


def typed_value(ref: TypeRef, value: Any, index: TypeIndex) -> Any:
    """A JSON-like spec value (a default) as the Python value the models hold.

    Scalars go through the runtime's wire validators (the scalar table), so defaults mean what
    payloads mean; validate checked them with the same validators.
    """
    if value is None:
        return None
    match ref:
        case ListOf(item):
            return tuple(typed_value(item, v, index) for v in value)
        case MapOf(item):
            return {k: typed_value(item, v, index) for k, v in sorted(value.items())}
        case Named(name):
            named = index[name]
            if isinstance(named, EnumType):
                return value
            return {f.name: typed_value(f.type, v, index) for f, v in record_items(named, value)}
        case Scalar():
            return scalars.wire_value(ref, value)


def record_items(record: RecordType, value: Any) -> Iterator[tuple[Field, Any]]:
    """(field, value) of a record literal in field order, filling in field defaults."""
    for f in record.fields:
        if f.name in value:
            yield f, value[f.name]
        elif f.has_default:
            yield f, f.default


class Claim(NamedTuple):
    """One file an emitter writes (or, ending in `/`, a folder), and the spec item behind it.

    A tuple, not a frozen dataclass: a 10,000-event platform has about 28,000 of them.
    """

    path: str
    emitter: str  # the registry's emitter name; "history" and "manifest" are written after
    owner: str  # the item whose name shapes the path: `context.Name`, a topic, `env:<name>`
    what: str  # how a finding names the item
    loc: Loc


def claims(project: Project) -> list[Claim]:
    """Every output path of the build, by emitter, computed from the IR alone."""
    from eventgen.emit.resolved import PATH as RESOLVED
    from eventgen.writer import MANIFEST

    locs = dict(project.project_locs)
    here = locs.get("project", Loc(project_file(project)))
    found = [
        Claim(RESOLVED, "resolved", "", "the resolved spec", here),
        Claim(MANIFEST, "manifest", "", "the manifest", here),
    ]
    found += _schema_claims(project)
    found += _python_claims(project, locs.get("package", here))
    found += _service_claims(project, locs.get("package", here))
    found += _example_test_claims(project)
    found += _docs_claims(project)
    found += _asyncapi_claims(project)
    found += _protobuf_claims(project, locs.get("package", here))
    found += _catalog_claims(project)
    found.append(Claim(topics_file_path("default"), "topics", "", "the default topic file", here))
    for env, loc in project.environment_locs:
        found.append(
            Claim(topics_file_path(env), "topics", f"env:{env}", f"environment `{env}`", loc)
        )
    found += _history_claims(project)
    return found


def project_file(project: Project) -> str:
    return next((f for f in project.spec_files if f.startswith("eventgen.y")), "eventgen.yaml")


def _schema_claims(project: Project) -> Iterator[Claim]:
    for ctx in project.contexts:
        for named in ctx.types:
            what = f"type `{named.qualified}`"
            yield Claim(avro_path(ctx.name, named.name), "avro", named.qualified, what, named.loc)
            path = jsonschema_path(ctx.name, named.name)
            yield Claim(path, "jsonschema", named.qualified, what, named.loc)
        for message in ctx.messages:
            for version, _ in versions(message):
                suffix = None if version == message.version else version
                what = f"{message.kind} `{message.qualified}` v{version}"
                for emitter, path in (
                    ("avro", avro_path(ctx.name, message.name, suffix)),
                    ("jsonschema", jsonschema_path(ctx.name, message.name, suffix)),
                ):
                    yield Claim(path, emitter, message.qualified, what, message.loc)
    for topic in project.all_topics():
        if topic.key_type is not None:
            what = f"the key schema of topic `{topic.kafka_name}`"
            yield Claim(key_schema_path(topic), "avro", topic.qualified, what, topic.loc)


def _python_claims(project: Project, package_loc: Loc) -> Iterator[Claim]:
    what = f"package `{project.package}`"
    for path in package_init_paths(project):
        yield Claim(path, "python", "", what, package_loc)
    for ctx in project.contexts:
        what = f"the module of context `{ctx.name}`"
        yield Claim(python_module_path(project, ctx.name), "python", ctx.name, what, ctx.loc)
        path = schema_module_path(project, ctx.name)
        yield Claim(path, "python", ctx.name, f"the schema module of context `{ctx.name}`", ctx.loc)
    topics = {t.qualified for t in project.all_topics()}
    if any(m.topic in topics for m in project.all_messages()):
        yield Claim(topics_module_path(project), "python", "", "the topic bindings", package_loc)


def _service_claims(project: Project, package_loc: Loc) -> Iterator[Claim]:
    if any(has_upcasts(ctx) for ctx in project.contexts):
        what = "the upcaster package"
        yield Claim(upcast_init_path(project), "services", "", what, package_loc)
    for ctx in project.contexts:
        if has_upcasts(ctx):
            what = f"the upcaster module of context `{ctx.name}`"
            yield Claim(upcast_module_path(project, ctx.name), "services", ctx.name, what, ctx.loc)
        if not has_services(ctx):
            continue
        what = f"the service module of context `{ctx.name}`"
        yield Claim(app_module_path(project, ctx.name), "services", ctx.name, what, ctx.loc)
        if has_aggregates(ctx):
            what = f"the aggregates module of context `{ctx.name}`"
            path = aggregates_module_path(project, ctx.name)
            yield Claim(path, "services", ctx.name, what, ctx.loc)
        if has_projections(ctx):
            what = f"the projections module of context `{ctx.name}`"
            path = projections_module_path(project, ctx.name)
            yield Claim(path, "services", ctx.name, what, ctx.loc)
        if has_sagas(ctx):
            what = f"the saga module of context `{ctx.name}`"
            yield Claim(sagas_module_path(project, ctx.name), "services", ctx.name, what, ctx.loc)
        if has_reactions(project, ctx):
            what = f"the choreography module of context `{ctx.name}`"
            path = reactions_module_path(project, ctx.name)
            yield Claim(path, "services", ctx.name, what, ctx.loc)
        for proj in ctx.projections:  # emit/services/projections.py projection_sql
            table = projection_table(proj.name)
            for dialect in ("postgres", "sqlite"):
                what = f"the read-model table `{table}` ({dialect}) of projection `{proj.name}`"
                path = sql_path(ctx.name, table, dialect)
                yield Claim(path, "sql", proj.qualified, what, proj.loc)
        for dialect, kind, table in service_tables(ctx):
            what = f"the {kind} table `{table}` ({dialect}) of context `{ctx.name}`"
            yield Claim(sql_path(ctx.name, table, dialect), "sql", ctx.name, what, ctx.loc)
        if ctx.outbox is not None and ctx.outbox.relay == "debezium":
            what = f"the Debezium connector of context `{ctx.name}`"
            loc = ctx.outbox.loc
            yield Claim(connector_path(ctx.name), "connect", ctx.name, what, loc)


def _docs_claims(project: Project) -> Iterator[Claim]:
    for ctx in project.contexts:
        for saga in ctx.sagas:
            what = f"the diagram of saga `{saga.name}`"
            yield Claim(saga_doc_path(saga.name), "docs", saga.qualified, what, saga.loc)
        for ch in ctx.choreographies:
            what = f"the diagram of choreography `{ch.name}`"
            yield Claim(choreography_doc_path(ch.name), "docs", ch.qualified, what, ch.loc)


# Interop (issue 12). AsyncAPI 3.0: one document per context plus the platform document.
ASYNCAPI_PLATFORM = "asyncapi.yaml"
# Protobuf: one proto3 file per context (package `<project package>.<context module>`), and
# the committed field-number lock, which the build reads back from the output directory.
PROTO_FOLDER = "protobuf"
PROTO_LOCK = f"{PROTO_FOLDER}/field-numbers.lock.json"
# Event catalog: Markdown pages under docs/ beside the saga and choreography diagrams.
CATALOG_INDEX = "docs/index.md"
CATALOG_HISTORY = "docs/schema-history.md"  # written by the history stage (it reads the disk)


def asyncapi_path(context: str) -> str:
    return f"asyncapi/{context}.yaml"


def proto_path(context: str) -> str:
    """`protobuf/<context module>.proto`: also its import path (protoc -I <output>/protobuf)."""
    return f"{PROTO_FOLDER}/{naming.py_module(context)}.proto"


def proto_import(context: str) -> str:
    return f"{naming.py_module(context)}.proto"


def proto_package(project: Project, context: str) -> str:
    return f"{project.package}.{naming.py_module(context)}"


def uses_protobuf(project: Project) -> bool:
    return project.defaults.serialization == "protobuf"


def proto_module_path(project: Project, context: str) -> str:
    """`<package>/_proto/<module>.py`: the context's descriptor for the runtime codec."""
    return f"{project.package}/{naming.PROTO_PACKAGE}/{naming.py_module(context)}.py"


def proto_module(project: Project, context: str) -> str:
    return f"{project.package}.{naming.PROTO_PACKAGE}.{naming.py_module(context)}"


def proto_init_path(project: Project) -> str:
    return f"{project.package}/{naming.PROTO_PACKAGE}/__init__.py"


def catalog_context_path(context: str) -> str:
    return f"docs/contexts/{context}.md"


def _asyncapi_claims(project: Project) -> Iterator[Claim]:
    here = dict(project.project_locs).get("project", Loc(project_file(project)))
    yield Claim(ASYNCAPI_PLATFORM, "asyncapi", "", "the platform AsyncAPI document", here)
    for ctx in project.contexts:
        what = f"the AsyncAPI document of context `{ctx.name}`"
        yield Claim(asyncapi_path(ctx.name), "asyncapi", ctx.name, what, ctx.loc)


def _protobuf_claims(project: Project, package_loc: Loc) -> Iterator[Claim]:
    here = dict(project.project_locs).get("project", Loc(project_file(project)))
    yield Claim(PROTO_LOCK, "protobuf", "", "the protobuf field-number lock", here)
    for ctx in project.contexts:
        what = f"the .proto file of context `{ctx.name}`"
        yield Claim(proto_path(ctx.name), "protobuf", ctx.name, what, ctx.loc)
    if not uses_protobuf(project):
        return
    yield Claim(
        proto_init_path(project), "protobuf_python", "", "the protobuf package", package_loc
    )
    for ctx in project.contexts:
        what = f"the protobuf descriptor module of context `{ctx.name}`"
        path = proto_module_path(project, ctx.name)
        yield Claim(path, "protobuf_python", ctx.name, what, ctx.loc)


def _catalog_claims(project: Project) -> Iterator[Claim]:
    here = dict(project.project_locs).get("project", Loc(project_file(project)))
    yield Claim(CATALOG_INDEX, "catalog", "", "the event catalog index", here)
    yield Claim(CATALOG_HISTORY, "history", "", "the schema history page", here)
    for ctx in project.contexts:
        what = f"the catalog page of context `{ctx.name}`"
        yield Claim(catalog_context_path(ctx.name), "catalog", ctx.name, what, ctx.loc)


# Generated example tests (eventgen/emit/services/example_tests.py): pytest modules beside the
# package, `<output>/tests/test_<context>_examples.py`, and a conftest.py that makes the output
# directory importable wherever pytest is started.
EXAMPLE_TESTS_FOLDER = "tests"


def has_example_tests(ctx: Context) -> bool:
    return any(m.examples for m in ctx.messages)


def example_tests_path(context: str) -> str:
    return f"{EXAMPLE_TESTS_FOLDER}/test_{naming.py_module(context)}_examples.py"


def example_tests_conftest_path() -> str:
    return f"{EXAMPLE_TESTS_FOLDER}/conftest.py"


def _example_test_claims(project: Project) -> Iterator[Claim]:
    with_examples = [ctx for ctx in project.contexts if has_example_tests(ctx)]
    if with_examples:
        what = "the conftest.py of the generated example tests"
        loc = with_examples[0].loc
        yield Claim(example_tests_conftest_path(), "example_tests", "", what, loc)
    for ctx in with_examples:
        what = f"the example tests of context `{ctx.name}`"
        yield Claim(example_tests_path(ctx.name), "example_tests", ctx.name, what, ctx.loc)


def _history_claims(project: Project) -> Iterator[Claim]:
    """A folder per subject under TopicNameStrategy (as eventgen.evolution.subjects): a key
    subject for a keyed topic, a value subject for a topic that messages travel on."""
    carried = {m.topic for m in project.all_messages()}
    for topic in project.all_topics():
        parts = ("key",) if topic.key_type is not None else ()
        for part in (*parts, "value") if topic.qualified in carried else parts:
            path = f"{naming.HISTORY_FOLDER}/{naming.subject(topic.kafka_name, part)}/"
            what = f"the {part} subject of topic `{topic.kafka_name}`"
            yield Claim(path, "history", topic.qualified, what, topic.loc)
