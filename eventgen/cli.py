"""Command line: click only, thin. Exit 0 ok, 1 findings (or drift), 2 usage/internal error."""

from __future__ import annotations

import importlib
import json
import signal
import sys
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

import click

from eventgen import __version__

FORMATS = click.Choice(["text", "json", "github", "markdown"])
SPECS = click.Path(exists=True, file_okay=False, path_type=Path)


# Commands of other packages load on first use, so `eventgen build` never pays for importing
# the Kafka admin client or the registry client. The short help is kept here because click's
# `--help` asks every listed command for it, which would import all of them.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "topics": (
        "eventgen.kafka.cli:topics",
        "Plan and apply the specs' Kafka topics (incl. DLQs) against a live cluster.",
    ),
    "diff": (
        "eventgen.evolution.cli:diff",
        "Report breaking changes of SPECS against REF (schemas, keys, topics, versions).",
    ),
    "registry": (
        "eventgen.evolution.registry_cli:registry",
        "Check or register the project's subjects against a Confluent-compatible registry.",
    ),
    "dlq": (
        "eventgen.dlq_cli:dlq",
        "Dead-letter topics: replay chosen dead letters to their original topics.",
    ),
    "projections": (
        "eventgen.projections_cli:projections",
        "Read models: list the build's projections, rebuild one without downtime.",
    ),
    "import": (
        "eventgen.interop.asyncapi.cli:import_",
        "Write eventgen specs from an AsyncAPI 2.6/3.0 document (`import asyncapi`).",
    ),
}


class LazyGroup(click.Group):
    """A click group whose extra commands are imported only when named (not for `--help`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target[0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        return command if isinstance(command, click.Command) else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Click's own listing (same width and truncation), lazy commands from the table."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        rows = []
        for name in names:
            lazy = LAZY_COMMANDS.get(name)
            # A stand-in carrying only the help text: click shortens it exactly as its own.
            command = click.Command(name, help=lazy[1]) if lazy else super().get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="eventgen")
def cli() -> None:
    """Validate YAML specs of an event-driven platform and generate code, schemas and topics."""


@cli.command()
@click.argument("specs", type=SPECS)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output directory whose field-number lock is checked (default: `output:`).",
)
@click.option("--env", "env", default=None, help="Environment to overlay (see `environments:`).")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
def validate(specs: Path, output: Path | None, env: str | None, fmt: str) -> None:
    """Check SPECS and report every finding, sorted, with file:line:col."""
    from eventgen.diagnostics import has_errors
    from eventgen.pipeline import load_project_envs

    # Every environment, as `build` resolves them: an overlay that breaks only a topic of
    # another environment must fail validate too, or validate and build would disagree.
    project, _by_env, found = load_project_envs(specs, env)
    if project is not None and not has_errors(found):
        from eventgen.diagnostics import normalize
        from eventgen.emit.protobuf.lock_file import read_lock

        # The committed field-number lock, read as `build` reads it (same findings); `-o`
        # names the same output directory `build -o` would write.
        out = output if output is not None else specs / project.output
        found = normalize([*found, *read_lock(specs, out)[1]])
    _report(found, fmt, specs)
    if project is not None and fmt == "text" and not has_errors(found):
        click.echo(
            f"ok: {len(project.spec_files)} spec files, {len(project.contexts)} contexts, "
            f"{len(project.all_messages())} messages, {len(project.all_topics())} topics",
            err=True,
        )
    sys.exit(1 if has_errors(found) else 0)


@cli.command()
@click.argument("specs", type=SPECS)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output directory (default: `output:` of the project file).",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when generated files drift.")
@click.option("--env", "env", default=None, help="Environment to overlay (see `environments:`).")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option(
    "--no-cache",
    is_flag=True,
    envvar="EVENTGEN_NO_CACHE",
    help="Always rebuild, even when the manifest shows the same inputs (for eventgen developers).",
)
def build(
    specs: Path, output: Path | None, check: bool, env: str | None, fmt: str, no_cache: bool
) -> None:
    """Validate SPECS and generate every output into the output directory."""
    from eventgen.build import run_build

    sys.exit(run_build(specs, output, check=check, env=env, fmt=fmt, use_cache=not no_cache))


@cli.command()
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of spec files, for editors."""
    from eventgen.spec.schema import spec_schema

    click.echo(json.dumps(spec_schema(), indent=2, sort_keys=True))


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
def rules(fmt: str) -> None:
    """List every diagnostic code and compatibility rule with its purpose."""
    from eventgen.rules.listing import list_rules

    click.echo(list_rules(fmt), nl=False)


def _report(found: list[Any], fmt: str, specs: Path) -> None:
    from eventgen.diagnostics import render

    text = render(found, fmt, specs=specs)
    if text:
        click.echo(text, nl=False, err=fmt == "text")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; internal errors are exit 2 with a short report.

    Every subcommand's code reaches the caller: a command ends with `sys.exit(code)`,
    `ctx.exit(code)` (which click, outside standalone mode, *returns* rather than raises) or a
    domain error that carries its own exit code.
    """
    received: list[int] = []
    previous: Any = None
    try:
        previous = _sigterm_as_interrupt(received)
        code = cli.main(args=argv, prog_name="eventgen", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return 2
    except (click.exceptions.Abort, KeyboardInterrupt):
        # Ctrl-C or SIGTERM outside the writer (which reports its own state): nothing was
        # written. The shell's convention, 128 + the signal, as the writer returns.
        signum = received[-1] if received else signal.SIGINT
        click.echo(f"eventgen: interrupted by {signal.Signals(signum).name}", err=True)
        return 128 + signum
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except Exception as exc:  # noqa: BLE001 - an internal bug must never look like a spec finding
        return _domain_error(exc)
    finally:
        if previous is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, previous)
    return code if isinstance(code, int) else 0


def _sigterm_as_interrupt(received: list[int]) -> Any:
    """Make SIGTERM interrupt like Ctrl-C (Python's default kills without a word or an exit
    code of ours); an ignored SIGTERM stays ignored. Returns the handler it replaced."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    try:
        previous = signal.getsignal(signal.SIGTERM)
        if previous is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (an embedding caller): leave signals alone
        return None
    return previous


def _domain_error(exc: Exception) -> int:
    """Translate a domain error into its message and exit code; anything else is a bug."""
    # Imported here: the errors module is tiny, but `eventgen --help` should import nothing else.
    from eventgen.evolution.errors import InputError

    if isinstance(exc, InputError):
        click.echo(f"Error: {exc.message}", err=True)
        return exc.exit_code
    click.echo("eventgen: internal error (this is a bug in eventgen, not in your specs):", err=True)
    click.echo("".join(traceback.format_exception(exc)), err=True)
    return 2
