"""Checks of what a saga's generated worker needs at run time (`<context>_sagas.py`).

- E0833: a saga in a context without `outbox:`. The worker adds every command to the
  context's outbox in the transaction that saves the instance (and its inbox row lives in
  the outbox's store), so a saga without one could neither send nor dedupe.
- E0834: a `local` step whose command no aggregate of the saga's context handles: the worker
  runs a local command through that aggregate's repository, in the saga's transaction.
- E0835: a `local` step's command has a required field (no default, not nullable) that no
  same-named saga data field of an assignable type fills (`local_fill` below is the one rule the emitter and this check share; a nullable data field into a
  required one is allowed and checked when the command is built).
- E0837: a message the saga sends (a step's or a compensation's command), waits for (every
  `expect` reply) or starts on (`started_by`) that has no `topic:`: the worker subscribes to
  the replies' topics and its outbox routes the commands by topic.
- E0838: a required data field (no default, not nullable) that `init` does not set: the data
  model is built from the `started_by` event alone, so the saga could never start (a field a
  later `save` sets must be nullable).
- E0839: a step that expects one message twice (as success and failure, or twice among a
  compensation's successes): its transition table would have two rows for one (status, step,
  message), which the engine refuses.
"""

from __future__ import annotations

from collections.abc import Iterator

from eventgen.diagnostics import Diagnostic, Loc, error
from eventgen.ir.model import Context, Field, Project, Saga, SagaStep
from eventgen.rules.checks_types import NULLABLE, assign_problem, optional
from eventgen.rules.registry import Rule, declare


def local_repositories(ctx: Context) -> dict[str, str]:
    """{qualified command: aggregate name} of the context's aggregates."""
    return {cmd.command: agg.name for agg in ctx.aggregates for cmd in agg.commands}


def local_fill(
    project: Project, saga: Saga, step: SagaStep
) -> tuple[list[tuple[Field, Field]], list[Field]]:
    """A local step's command fields filled from the saga data: (command field, data field)
    pairs for every same-named data field of an assignable type (a nullable one into a
    required field is checked when the command is built: `_present`), and the required
    command fields nothing fills (E0835). The emitter and the check share this one rule."""
    command = project.messages_by_name.get(step.command)
    if command is None:
        return [], []
    data = {f.name: f for f in saga.data}
    pairs: list[tuple[Field, Field]] = []
    missing: list[Field] = []
    for f in command.fields:
        source = data.get(f.name)
        problem = None if source is None else assign_problem(source.type, f.type)
        if source is not None and problem in (None, NULLABLE):
            pairs.append((f, source))
        elif not optional(f):
            missing.append(f)
    return pairs, missing


def check_saga_runtime(project: Project) -> Iterator[Diagnostic]:
    for ctx in project.contexts:
        for saga in ctx.sagas:
            yield from _outbox(ctx, saga)
            yield from _local_steps(project, ctx, saga)
            yield from _topics(project, saga)
            yield from _init(saga)
            yield from _expects(saga)


def _outbox(ctx: Context, saga: Saga) -> Iterator[Diagnostic]:
    if ctx.outbox is None:
        yield error(
            "E0833",
            saga.loc,
            f"saga {saga.name} is in context `{ctx.name}`, which has no `outbox:`; the saga's "
            "commands go through the context's outbox",
            "add `outbox: {table: "
            f"{ctx.name.replace('-', '_')}_outbox, relay: polling}}` to context `{ctx.name}`",
        )


def _local_steps(project: Project, ctx: Context, saga: Saga) -> Iterator[Diagnostic]:
    owners = local_repositories(ctx)
    for step in saga.steps:
        if step.kind != "local" or step.command not in project.messages_by_name:
            continue  # an unknown command is E0303
        short = step.command.rsplit(".", 1)[-1]
        if step.command not in owners:
            aggs = ", ".join(a.name for a in ctx.aggregates)
            yield error(
                "E0834",
                step.loc,
                f"local step `{step.name}` runs {short}, which no aggregate of context "
                f"`{ctx.name}` handles",
                f"add {short} to the `commands:` of one of its aggregates ({aggs})"
                if aggs
                else f"a local step runs a command of an aggregate of `{ctx.name}`; "
                "use `send:` for another service's command",
            )
            continue
        _, missing = local_fill(project, saga, step)
        for f in missing:
            yield error(
                "E0835",
                step.loc,
                f"local step `{step.name}`: {short}'s required field `{f.name}` has no "
                f"same-named field in saga {saga.name}'s data that can fill it",
                f"add `{f.name}: {f.type}` to the saga's `data:` (set by `init` or a `save`), "
                "or give the command field a default",
            )


def _topics(project: Project, saga: Saga) -> Iterator[Diagnostic]:
    of = f"saga {saga.name}"
    found: list[tuple[str, str, Loc]] = [(saga.started_by, f"starts {of}", saga.loc)]
    for step in saga.steps:
        at = f"step `{step.name}` of {of}"
        if step.kind == "send":
            found.append((step.command, f"is sent by {at}", step.loc))
            for reply in (*step.success, *step.failure):
                found.append((reply.message, f"answers {at}", step.loc))
        if step.compensate is not None:
            comp = step.compensate
            found.append((comp.command, f"compensates {at}", step.loc))
            for name in comp.expect_success:
                found.append((name, f"answers the compensation of {at}", step.loc))
    seen: set[tuple[str, Loc]] = set()
    for name, role, loc in found:
        message = project.messages_by_name.get(name)
        if message is None or message.topic or (name, loc) in seen:
            continue  # unknown: E0303
        seen.add((name, loc))
        yield error(
            "E0837",
            loc,
            f"{message.name} {role} but has no `topic:`",
            f"give {message.name} a `topic:` (and a `key:`) in context `{message.context}`",
        )


def _init(saga: Saga) -> Iterator[Diagnostic]:
    given = {name for name, _ in saga.init}
    missing = [f.name for f in saga.data if f.name not in given and not optional(f)]
    if missing:
        names = ", ".join(f"`{m}`" for m in missing)
        yield error(
            "E0838",
            saga.loc,
            f"saga {saga.name}'s `init` does not set its required data field(s) {names}: the "
            "data is built from the event that starts the saga",
            "set them in `init`, or make them nullable (`uuid?`) when a later `save` sets them",
        )


def _expects(saga: Saga) -> Iterator[Diagnostic]:
    for step in saga.steps:
        if step.kind != "send":
            continue
        seen: set[str] = set()
        for reply in (*step.success, *step.failure):
            if reply.message in seen:
                yield error(
                    "E0839",
                    step.loc,
                    f"step `{step.name}` of saga {saga.name} expects "
                    f"{reply.message.rsplit('.', 1)[-1]} twice: as success and as failure",
                    "a reply means one outcome; give the other outcome its own message",
                )
            seen.add(reply.message)
        if step.compensate is not None:
            names = step.compensate.expect_success
            for name in sorted({n for n in names if names.count(n) > 1}):
                yield error(
                    "E0839",
                    step.loc,
                    f"the compensation of step `{step.name}` of saga {saga.name} lists "
                    f"{name.rsplit('.', 1)[-1]} twice in `expect.success`",
                    "list each reply once",
                )


# The codes these checks report, composed into the ruleset by eventgen.rules.catalog.
RULES: tuple[Rule, ...] = (
    declare("E0833", "error", "rule", "saga in a context without `outbox:`", check_saga_runtime),
    declare(
        "E0834",
        "error",
        "rule",
        "saga `local` step whose command no aggregate of the saga's context handles",
        check_saga_runtime,
    ),
    declare(
        "E0835",
        "error",
        "rule",
        "saga `local` step's command has a required field no same-named data field fills",
        check_saga_runtime,
    ),
    declare(
        "E0837",
        "error",
        "rule",
        "message a saga sends, waits for or starts on has no topic",
        check_saga_runtime,
    ),
    declare(
        "E0838",
        "error",
        "rule",
        "saga `init` does not set a required data field",
        check_saga_runtime,
    ),
    declare(
        "E0839",
        "error",
        "rule",
        "saga step expects one message twice (success and failure, or a repeated compensation "
        "reply)",
        check_saga_runtime,
    ),
)
