"""`eventgen topics plan|apply`: reconcile a live Kafka cluster with the specs' topics.

Exit codes (docs/topics.md): 0 in sync / applied; 1 spec findings, or changes pending under
`plan --detailed-exitcode`; 2 refused changes, broker rejections, an unreachable cluster, usage.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from eventgen.diagnostics import Diagnostic, Severity, render
from eventgen.ir.model import Project
from eventgen.kafka.desired import DesiredTopic, desired_topics
from eventgen.kafka.plan import Plan, compute_plan
from eventgen.kafka.report import apply_dict, apply_text, dumps, plan_dict, plan_text

if TYPE_CHECKING:
    from eventgen.kafka.admin import Admin

# 1 is shared by "the specs have findings" and "changes pending": both mean "look at this",
# as `eventgen validate` and `build --check` use it; 2 is "the tool could not do its job".
EXIT_OK, EXIT_PENDING, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 1, 2


def _options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options plan and apply share."""
    decorators = [
        click.argument("specs", type=click.Path(exists=True, file_okay=False, path_type=Path)),
        click.option(
            "--bootstrap-servers",
            envvar="KAFKA_BOOTSTRAP_SERVERS",
            required=True,
            help="host:port[,host:port...] (env KAFKA_BOOTSTRAP_SERVERS)",
        ),
        click.option("--env", "env", default=None, help="environment of the specs to use"),
        click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text"),
        click.option(
            "--allow-destructive",
            is_flag=True,
            help="allow changes that delete records (cleanup policy, shrinking retention)",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(0.5, 300),
            default=10.0,
            show_default=True,
            help="seconds to wait for the cluster per request",
        ),
        click.option("--show-unmanaged", is_flag=True, help="list topics the specs do not manage"),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


LoadProject = Callable[[Path, str | None], tuple[Project | None, list[Diagnostic]]]


def _load_project() -> LoadProject:
    """The spec pipeline's entry point, imported late and by name.

    Late: keeps `eventgen topics --help` fast. By name: this package type-checks on its own,
    without following mypy into the whole spec pipeline.
    """
    return cast(LoadProject, importlib.import_module("eventgen.pipeline").load_project)


def _desired(specs: Path, env: str | None, fmt: str) -> tuple[DesiredTopic, ...] | None:
    """Load and check the specs; print findings to stderr; None when they have errors."""
    project, found = _load_project()(specs, env)
    shown = found if project is None else [d for d in found if d.severity is Severity.ERROR]
    if shown:
        text = render(shown, "json" if fmt == "json" else "text", specs=specs)
        click.echo(text, err=True, nl=False)
    return None if project is None else desired_topics(project)


def _plan(ctx: click.Context, opts: dict[str, Any]) -> tuple[Admin, Plan]:
    desired = _desired(opts["specs"], opts["env"], opts["fmt"])
    if desired is None:
        click.echo("error: the specs have errors; nothing was planned", err=True)
        ctx.exit(EXIT_FINDINGS)
    assert desired is not None
    # Late: confluent-kafka's import costs more than the rest of `topics --help` together.
    from eventgen.kafka.admin import Admin, AdminError

    admin = Admin(opts["bootstrap_servers"], opts["timeout"])
    try:
        actual, names = admin.snapshot(t.name for t in desired)
    except AdminError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(EXIT_ERROR)
    plan = compute_plan(
        desired, actual, cluster_topics=names, allow_destructive=opts["allow_destructive"]
    )
    return admin, plan


@click.group("topics")
def topics() -> None:
    """Plan and apply the specs' Kafka topics (incl. DLQs) against a live cluster."""


@topics.command("plan")
@_options
@click.option(
    "--detailed-exitcode", is_flag=True, help="exit 1 when changes are pending (0 = in sync)"
)
@click.pass_context
def plan_cmd(ctx: click.Context, /, detailed_exitcode: bool, **opts: Any) -> None:
    """Show what `apply` would change; never changes the cluster."""
    _, plan = _plan(ctx, opts)
    if opts["fmt"] == "json":
        click.echo(dumps(plan_dict(plan)), nl=False)
    else:
        click.echo(plan_text(plan, show_unmanaged=opts["show_unmanaged"]), nl=False)
    if plan.refusals:
        ctx.exit(EXIT_ERROR)
    ctx.exit(EXIT_PENDING if detailed_exitcode and plan.has_changes else EXIT_OK)


@topics.command("apply")
@_options
@click.pass_context
def apply_cmd(ctx: click.Context, /, **opts: Any) -> None:
    """Create topics, alter configs, add partitions; all-or-nothing up to the brokers' commit."""
    from eventgen.kafka.admin import AdminError
    from eventgen.kafka.apply import apply_plan

    admin, plan = _plan(ctx, opts)
    try:
        report = apply_plan(admin, plan)
    except AdminError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(EXIT_ERROR)
    if opts["fmt"] == "json":
        click.echo(dumps({"plan": plan_dict(plan), "apply": apply_dict(report)}), nl=False)
    else:
        click.echo(plan_text(plan, show_unmanaged=opts["show_unmanaged"]), nl=False)
        click.echo(apply_text(report), nl=False)
    ctx.exit(EXIT_OK if report.ok else EXIT_ERROR)


def main(argv: list[str] | None = None) -> int:
    """Run `topics` standalone (tests, `python -m eventgen.kafka.cli`); returns the exit code."""
    try:
        # Without standalone mode click returns ctx.exit's code instead of raising SystemExit.
        code = topics.main(args=argv, prog_name="eventgen topics", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR
    except click.exceptions.Abort:
        return EXIT_ERROR
    return code if isinstance(code, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
