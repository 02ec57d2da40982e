"""`eventgen dlq replay`: the generator's door to the runtime's DLQ replay.

Thin on purpose: the flags, the checks and the exit codes are the runtime's
(`eventgen.runtime.failures.replay.main`, also `python -m eventgen.runtime dlq replay`), so a
service without the generator installed gets exactly the same command.
"""

from __future__ import annotations

import click

# Every argument, --help included, goes to the runtime's parser unchanged.
_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def dlq() -> None:
    """Dead-letter topics: replay chosen dead letters to their original topics."""


@dlq.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def replay(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Re-publish dead letters (by reason, key, time, offsets) to their topics; see --help.

    Exit 0: records replayed (or listed with --dry-run); 1: no record matched; 2: bad usage,
    or Kafka could not be read or did not acknowledge.
    """
    from eventgen.runtime.failures.replay import main

    ctx.exit(main(list(args), prog="eventgen dlq replay"))
