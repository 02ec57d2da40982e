"""Checks of what the aggregates module generates, and the failure-reply filling rules.

A command with `replies.failure` gets a generated `reject_<aggregate>_<command>(command,
rejection, meta)` that builds its first failure message when the guard is false. Its fields
are filled by these rules, in this order (`failure_reply_fill` is the one implementation the
emitter and the check share):

1. a string field named `reason`: the rejection's text (`str(rejection)`: aggregate, id,
   command, guard and the state values), cut to the field's `max_length`;
2. a field of the same name on the command whose type can be stored in it: copied;
3. a timestamp field that is required (no default, not nullable): `meta.occurred_at`, when the
   rejected command was issued;
4. any other field with a default or a nullable type: left to its default (None).

A required field none of these fill is E0830: the reply could never be built. E0831 refuses
two names of one `<context>_aggregates.py` that would meet (an aggregate's repository and a
re-exported command consumer, two deciders); E0832 an aggregate's command consumer that
processes batches (the module registers one handler per command with `app.on`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from eventgen.diagnostics import Diagnostic, error
from eventgen.ir import naming
from eventgen.ir.model import AggregateCommand, Context, Field, Message, Project, Scalar
from eventgen.ir.types import non_null
from eventgen.rules.checks_types import assign_problem, optional
from eventgen.rules.registry import Rule, declare

Source = Literal["reason", "command", "occurred_at", "default"]


@dataclass(frozen=True)
class Fill:
    field: Field  # of the failure reply
    source: Source
    command_field: Field | None = None  # source == "command"


def failure_reply_fill(command: Message, reply: Message) -> tuple[list[Fill], list[Field]]:
    """(how each reply field is filled, the required fields nothing fills)."""
    by_name = {f.name: f for f in command.fields}
    fills: list[Fill] = []
    missing: list[Field] = []
    for f in reply.fields:
        base = non_null(f.type)
        same = by_name.get(f.name)
        if f.name == "reason" and isinstance(base, Scalar) and base.name == "string":
            fills.append(Fill(f, "reason"))
        elif same is not None and assign_problem(same.type, f.type) is None:
            fills.append(Fill(f, "command", same))
        elif not optional(f) and isinstance(base, Scalar) and base.name == "timestamp":
            fills.append(Fill(f, "occurred_at"))
        elif optional(f):
            fills.append(Fill(f, "default"))
        else:
            missing.append(f)
    return fills, missing


def failure_reply_of(project: Project, cmd: AggregateCommand) -> Message | None:
    """The message `reject_...` builds: the command's first `replies.failure`, if any."""
    command = project.messages_by_name.get(cmd.command)
    if command is None or not command.replies_failure:
        return None
    return project.messages_by_name.get(command.replies_failure[0])


def check_aggregates(project: Project) -> Iterator[Diagnostic]:
    for ctx in project.contexts:
        for agg in ctx.aggregates:
            for cmd in agg.commands:
                command = project.messages_by_name.get(cmd.command)
                reply = failure_reply_of(project, cmd)
                if command is None or reply is None:
                    continue
                _, missing = failure_reply_fill(command, reply)
                if missing:
                    names = ", ".join(f"`{f.name}`" for f in missing)
                    yield error(
                        "E0830",
                        cmd.loc,
                        f"aggregate {agg.name}: the failure reply {reply.name} of {command.name} "
                        f"cannot be built when the guard rejects it: nothing fills {names}",
                        "give the command a field of the same name and type, give the reply "
                        "field a default or make it nullable (a string `reason` gets the "
                        "rejection text, a required timestamp when the command was issued)",
                    )


def module_names(project: Project, ctx: Context) -> list[tuple[str, str]]:
    """(name, what it is) of every module-level name `<context>_aggregates.py` defines or
    re-exports, in generation order (the emitter defines exactly these)."""
    names = [(n, "a fixed name of the module") for n in sorted(naming.AGGREGATES_FIXED_NAMES)]
    for agg in ctx.aggregates:
        what = f"of aggregate {agg.name}"
        names += [
            (naming.aggregate_state_class(agg.name), f"the state model {what}"),
            (naming.aggregate_function("apply", agg.name), f"the apply function {what}"),
            (naming.aggregate_constant(agg.name), f"the definition {what}"),
            (naming.aggregate_attr(agg.name), f"the repository {what}"),
        ]
        for cmd in agg.commands:
            local = cmd.command.rsplit(".", 1)[-1]
            names.append(
                (naming.aggregate_function("decide", agg.name, local), f"the decider of {local}")
            )
            if failure_reply_of(project, cmd) is not None:
                names.append(
                    (
                        naming.aggregate_function("reject", agg.name, local),
                        f"the failure reply of {local}",
                    )
                )
    for consumer in sorted(ctx.aggregate_command_consumers()):
        names.append((naming.py_app_attr(consumer), f"the re-exported consumer {consumer}"))
    return names


def check_aggregate_module(project: Project) -> Iterator[Diagnostic]:
    for ctx in project.contexts:
        if not ctx.aggregates:
            continue
        seen: dict[str, str] = {}
        for name, what in module_names(project, ctx):
            if name in seen:
                yield error(
                    "E0831",
                    ctx.aggregates[0].loc,
                    f"`{naming.aggregates_module(ctx.name)}.py` would define `{name}` twice: "
                    f"{seen[name]} and {what}",
                    "rename the aggregate, the command or the consumer",
                )
            else:
                seen[name] = what
        generated = ctx.aggregate_command_consumers()
        for consumer in ctx.consumers:
            if consumer.name in generated and consumer.processing == "batch":
                yield error(
                    "E0832",
                    consumer.loc,
                    f"consumer `{consumer.name}` handles the commands of aggregate "
                    f"`{generated[consumer.name]}` but processes batches: the generated "
                    "handlers decide one command at a time",
                    "remove `processing: batch` from the consumer",
                )


# The codes these checks report, composed into the ruleset by eventgen.rules.catalog.
RULES: tuple[Rule, ...] = (
    declare(
        "E0830",
        "error",
        "rule",
        "a command's failure reply has a required field the rejection cannot fill",
        check_aggregates,
    ),
    declare(
        "E0831",
        "error",
        "rule",
        "two names of a context's generated aggregates module would be the same",
        check_aggregate_module,
    ),
    declare(
        "E0832",
        "error",
        "rule",
        "an aggregate's command consumer processes batches",
        check_aggregate_module,
    ),
)
