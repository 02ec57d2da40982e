"""`eventgen import asyncapi FILE -o DIR`: eventgen specs from an AsyncAPI 2.6/3.0 document."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from eventgen.diagnostics import Diagnostic, has_errors, normalize, render


@click.group("import")
def import_() -> None:
    """Write eventgen specs from documents of other tools."""


@import_.command("asyncapi")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Specs directory to write (created if missing).",
)
@click.option("--force", is_flag=True, help="Overwrite spec files that exist.")
@click.option(
    "--partial",
    is_flag=True,
    help="Write what could be mapped even when something could not (still exits 1).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="Diagnostics format.",
)
def asyncapi(file: Path, out: Path, force: bool, partial: bool, fmt: str) -> None:
    """Import the AsyncAPI document FILE (YAML or JSON) into the specs directory OUT."""
    from eventgen.interop.asyncapi.document import open_document
    from eventgen.interop.asyncapi.mapping import import_document
    from eventgen.interop.asyncapi.writer import planned_files, write

    doc, found = open_document(file)
    if doc is None:
        _fail(found, fmt)
    assert doc is not None
    result = import_document(doc)
    found = list(result.found)
    if has_errors(found) and not partial:
        _fail(found, fmt)
    found += write(planned_files(result, out, file.name), force)
    if has_errors(found):
        _fail(found, fmt)
    click.echo(f"imported {file} into {out}", err=True)


def _fail(found: list[Diagnostic], fmt: str) -> None:
    text = render(normalize(found), fmt)
    if text:
        click.echo(text)
    sys.exit(1)
