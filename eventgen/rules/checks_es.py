"""Checks on what the generated event-sourcing code needs from the spec.

An aggregate's command consumer writes the inbox row, the events and the outbox rows in one
transaction, so its idempotency store must be the event store's database; every table the
context's generated code creates needs its own plain SQL name; a query answered from a
projection filters on the projection's columns.
"""

from __future__ import annotations

from collections.abc import Iterator

from eventgen.diagnostics import Diagnostic, error
from eventgen.ir import naming
from eventgen.ir.model import Context, Project
from eventgen.ir.types import non_null
from eventgen.rules.registry import Rule, declare


def check_command_stores(project: Project) -> Iterator[Diagnostic]:
    """The command consumer's inbox lives in the event store's database."""
    for ctx in project.contexts:
        generated = ctx.aggregate_command_consumers()
        store = ctx.event_store_kind()
        for consumer in ctx.consumers:
            if consumer.name not in generated or consumer.idempotency_store == store:
                continue
            have = consumer.idempotency_store
            yield error(
                "E0850",
                consumer.loc,
                f"consumer `{consumer.name}` handles the commands of aggregate "
                f"`{generated[consumer.name]}` with idempotency store `{have}`, but the event "
                f"store of `{ctx.name}` is in {store}: "
                + (
                    "a redelivered command would be decided twice"
                    if have == "none"
                    else "the inbox row and the events would commit in separate transactions"
                ),
                f"set `idempotency: {{store: {store}}}` on the consumer"
                + ("" if ctx.outbox is None else f" (the outbox's store is {store})"),
            )


def _tables(ctx: Context) -> dict[str, str]:
    """The tables the context's generated code creates besides projections: {table: what}."""
    base = naming.py_module(ctx.name).rstrip("_")
    tables = {table: "a table the runtime keeps" for table in naming.RUNTIME_TABLES}
    if ctx.outbox is not None:
        tables[ctx.outbox.table] = "the outbox table"
    if ctx.aggregates:
        tables[f"{base}_events"] = "the event store's events table"
        tables[f"{base}_snapshots"] = "the event store's snapshots table"
    tables["eventgen_checkpoints"] = "the projections' checkpoint table"
    return tables


def check_projection_tables(project: Project) -> Iterator[Diagnostic]:
    """Every read-model table has a plain name of its own."""
    for ctx in project.contexts:
        taken = _tables(ctx)
        for proj in ctx.projections:
            table = naming.snake(proj.name)
            if not naming.SQL_TABLE.fullmatch(table) or len(table) > naming.SQL_TABLE_MAX:
                yield error(
                    "E0851",
                    proj.loc,
                    f"projection `{proj.name}` would get table `{table}`, which is not a plain SQL "
                    f"name of at most {naming.SQL_TABLE_MAX} characters",
                    "choose a shorter projection name",
                )
            elif table in taken:
                yield error(
                    "E0851",
                    proj.loc,
                    f"projection `{proj.name}` would get table `{table}`, which is {taken[table]}",
                    "rename the projection",
                )
            else:
                taken[table] = f"the table of projection `{proj.name}`"


def check_query_params(project: Project) -> Iterator[Diagnostic]:
    """A query that returns a projection filters on columns of the same type."""
    for ctx in project.contexts:
        projections = {p.qualified: p for p in ctx.projections}
        for query in ctx.messages:
            if query.kind != "query" or not query.returns:
                continue
            returns = query.returns if "." in query.returns else f"{ctx.name}.{query.returns}"
            proj = projections.get(returns)
            if proj is None:
                continue
            columns = {f.name: f for f in proj.fields}
            for param in query.fields:
                column = columns.get(param.name)
                if column is None:
                    yield error(
                        "E0852",
                        query.loc,
                        f"query `{query.name}` returns projection `{proj.name}`, which has no "
                        f"column `{param.name}` to filter on",
                        f"its columns: {', '.join(sorted(columns))}",
                    )
                elif non_null(column.type) != non_null(param.type):
                    yield error(
                        "E0852",
                        query.loc,
                        f"query `{query.name}`: parameter `{param.name}` is `{param.type}`, the "
                        f"column of `{proj.name}` is `{column.type}`",
                        "give the parameter the column's type",
                    )


RULES: tuple[Rule, ...] = (
    declare(
        "E0850",
        "error",
        "rule",
        "an aggregate's command consumer whose idempotency store is not the event store's "
        "database (or none)",
        check_command_stores,
    ),
    declare(
        "E0851",
        "error",
        "rule",
        "a projection's table name is not a plain SQL name, or is another table of its context",
        check_projection_tables,
    ),
    declare(
        "E0852",
        "error",
        "rule",
        "a query returning a projection has a parameter that is not a column of the same type",
        check_query_params,
    ),
)
