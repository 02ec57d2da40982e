"""`eventgen projections list|rebuild`: the manifest's projections, and rebuilding one.

`rebuild NAME` finds the projection in the build's manifest (its `python` path) and hands it to
the runtime's own command (`python -m eventgen.runtime projections rebuild MODULE:ATTR`), so the
flags, the progress output and the exit codes are the runtime's and a service without the
generator gets the same command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

DEFAULT_MANIFEST = Path("generated") / "eventgen-manifest.json"
# Every argument after NAME goes to the runtime's parser unchanged.
_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def projections() -> None:
    """Read models: list the build's projections, rebuild one without downtime."""


def _manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path}: cannot read the build manifest ({exc})") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"{path}: not a build manifest")
    return data


def _entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    found = manifest.get("projections")
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


@projections.command("list")
@click.option("--manifest", type=click.Path(path_type=Path), default=DEFAULT_MANIFEST,
              show_default=True, help="The build's eventgen-manifest.json.")  # fmt: skip
def list_(manifest: Path) -> None:
    """Every projection of the build: name, table, python path and sources."""
    for entry in _entries(_manifest(manifest)):
        sources = entry.get("sources") or {}
        where = (["store"] if sources.get("store") else []) + list(sources.get("topics") or [])
        click.echo(f"{entry['qualified']}\t{entry['table']}\t{entry['python']}\t{', '.join(where)}")


@projections.command(context_settings=_PASS_THROUGH)
@click.argument("name")
@click.option("--manifest", type=click.Path(path_type=Path), default=DEFAULT_MANIFEST,
              show_default=True, help="The build's eventgen-manifest.json.")  # fmt: skip
@click.pass_context
def rebuild(ctx: click.Context, name: str, manifest: Path) -> None:
    """Rebuild projection NAME (`OrderSummary` or `orders.OrderSummary`) into a shadow table
    while the live one keeps serving, then swap; further options go to the runtime
    (`python -m eventgen.runtime projections rebuild --help`)."""
    entries = _entries(_manifest(manifest))
    matches = [e for e in entries if name in (e.get("qualified"), e.get("name"))]
    if len(matches) != 1:
        known = ", ".join(sorted(str(e.get("qualified")) for e in entries)) or "none"
        what = "is ambiguous" if matches else "is not a projection of this build"
        raise click.ClickException(f"{name} {what} (projections: {known})")
    # The generated package sits next to the manifest.
    sys.path.insert(0, str(manifest.resolve().parent))
    from eventgen.runtime.runner import main

    ctx.exit(main(["projections", "rebuild", str(matches[0]["python"]), *ctx.args]))
