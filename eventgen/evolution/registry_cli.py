"""`eventgen registry check|push SPECS --url URL`: exit 0 ok, 1 rejected, 2 unreachable/bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import cast

import click

from eventgen.evolution.cli import input_errors
from eventgen.evolution.subjects import STRATEGIES, Strategy

SPECS = click.Path(exists=True, file_okay=False, path_type=Path)


def _options(func: click.decorators.FC) -> click.decorators.FC:
    for decorator in reversed(
        (
            click.argument("specs", type=SPECS),
            click.option("--url", required=True, help="Schema Registry base URL."),
            click.option("--env", "env", default=None, help="Environment to overlay."),
            click.option(
                "--subject-strategy",
                "strategy",
                type=click.Choice(STRATEGIES),
                default="topic",
                show_default=True,
            ),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(("text", "json")),
                default="text",
                show_default=True,
            ),
        )
    ):
        func = decorator(func)
    return func


@click.group()
def registry() -> None:
    """Check or register the project's subjects against a Confluent-compatible registry."""


@registry.command()
@_options
def check(specs: Path, url: str, env: str | None, strategy: str, fmt: str) -> None:
    """Ask the registry whether every subject's current schema is compatible."""
    with input_errors():
        _run("check", specs, url, env, strategy, fmt)


@registry.command()
@_options
def push(specs: Path, url: str, env: str | None, strategy: str, fmt: str) -> None:
    """Set each subject's compatibility from the spec and register its schema versions."""
    with input_errors():
        _run("push", specs, url, env, strategy, fmt)


def _run(action: str, specs: Path, url: str, env: str | None, strategy: str, fmt: str) -> None:
    from eventgen.evolution import history
    from eventgen.evolution import registry as reg
    from eventgen.evolution.diff import disk_lock, require_project
    from eventgen.evolution.errors import InputError
    from eventgen.evolution.subjects import subjects

    project = require_project(specs, env)
    # The committed field numbers: the registry must get the very `.proto` the build wrote.
    lock = disk_lock(project, specs / project.output)
    found = subjects(project, cast(Strategy, strategy), proto_lock=lock)
    client = reg.client(url)
    try:
        if action == "check":
            outcomes = reg.check(client, found.values())
        else:
            past = history.parse(history.read(specs / project.output), source="schema history")
            if strategy != "topic":
                past = {}  # the committed history is kept per TopicNameStrategy subject
            outcomes = reg.push(client, found.values(), past)
    except reg.RegistryUnavailable as exc:
        raise InputError(f"registry at {url} unavailable: {exc}") from exc
    if fmt == "json":
        rows = [o.__dict__ for o in outcomes]
        click.echo(json.dumps({"url": url, "action": action, "subjects": rows}, indent=2))
    else:
        for o in outcomes:
            mode = ""
            if o.registry_mode and o.spec_mode and o.registry_mode != o.spec_mode:
                mode = f" (registry mode {o.registry_mode}, spec says {o.spec_mode})"
            click.echo(f"{o.subject}: {o.status}: {o.message}{mode}")
        bad = sum(o.status in ("incompatible", "failed") for o in outcomes)
        click.echo(f"{action} {url}: {len(outcomes)} subject(s), {bad} rejected", err=True)
    sys.exit(1 if any(o.status in ("incompatible", "failed") for o in outcomes) else 0)
