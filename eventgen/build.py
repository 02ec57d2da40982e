"""`eventgen build`: validate, emit every output in memory, then write or check."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eventgen import __version__
from eventgen.canonical import dumps
from eventgen.diagnostics import (
    Diagnostic,
    Loc,
    Severity,
    error,
    has_errors,
    normalize,
    render,
)
from eventgen.emit.files import GeneratedFile, project_sources
from eventgen.fingerprint import inputs_fingerprint
from eventgen.ir.model import Project
from eventgen.pipeline import load_project_envs
from eventgen.render import text_lines
from eventgen.spec.project import DEFAULT_OUTPUT, PROJECT_FILES
from eventgen.spec.yamlload import load_yaml
from eventgen.writer import (
    MANIFEST,
    STAGING,
    Interrupted,
    Plan,
    SafeReader,
    WriteError,
    locked,
    plan,
    recover,
    sha256,
    write,
)

if TYPE_CHECKING:
    from eventgen.schemas import Schemas


def manifest(
    project: Project,
    files: Mapping[str, GeneratedFile],
    inputs: str,
    found: list[Diagnostic],
) -> bytes:
    """The manifest: every file with kind, sources and sha256, the message index, and the
    service sections (`publishers`, `consumers`, `outbox`, `sql`: eventgen/emit/services/).

    Kind and sources are what each emitter said of its file. The manifest also records the
    inputs' fingerprint and the build's warnings, so an unchanged project can be confirmed
    (and its warnings shown) without rebuilding.
    """
    from eventgen.emit.services.manifest import service_sections

    entries = [
        {
            "path": p,
            "kind": files[p].kind,
            "sources": list(files[p].sources),
            "sha256": sha256(files[p].data),
        }
        for p in sorted(files)
    ]
    return dumps(
        {
            "generated_by": "eventgen; do not edit",
            "generator": {"name": "eventgen", "version": __version__},
            "project": project.name,
            "package": project.package,
            "environment": project.environment,
            "files": entries,
            "messages": message_index(project),
            **service_sections(project),
            "inputs_sha256": inputs,
            "diagnostics": json.loads(render(found, "json")),
        }
    )


def history_stage(
    project: Project, out: Path, schemas: Schemas, proto_lock: Any = None
) -> dict[str, GeneratedFile]:
    """The schema history, after the pure emitters: the one output that reads the disk.

    It gets the history files already in `out` and returns all of them plus any new version
    (eventgen.evolution.history.emit); old versions come back unchanged, so the writer never
    rewrites or removes them.
    """
    from eventgen.emit import catalog, layout
    from eventgen.evolution import history

    files = history.emit(project, history.read(out), schemas, proto_lock)
    sources = project_sources(project)  # a subject spans every message on its topic
    found = {p: GeneratedFile(p, data, history.KIND, sources) for p, data in files.items()}
    page = catalog.history_page(project, files)  # the catalog's view of the same history
    found[layout.CATALOG_HISTORY] = GeneratedFile(
        layout.CATALOG_HISTORY, page, catalog.KIND, sources
    )
    return found


def message_index(project: Project) -> list[dict[str, object]]:
    from eventgen.emit import layout

    index = []
    for m in project.all_messages():
        topic = project.topic(m.topic) if m.topic else None
        index.append(
            {
                "qualified": m.qualified,
                "kind": m.kind,
                "version": m.version,
                "versions": [v.version for v in m.versions],
                "python": layout.python_import(project, m),
                "schemas": layout.schema_files(project, m),
                "topic": topic.kafka_name if topic else None,
                "key": ".".join(m.key) if m.key else None,
            }
        )
    return sorted(index, key=lambda e: str(e["qualified"]))


def _unchanged(out: Path, inputs: str) -> list[Diagnostic] | None:
    """The recorded warnings when `out` provably holds this exact build's output, else None."""
    try:
        reader = SafeReader(out)  # a symlinked file must not pass for ours (full path: E0121)
        recorded = json.loads(reader.read(MANIFEST) or b"")
        if recorded.get("inputs_sha256") != inputs:
            return None
        for entry in recorded["files"]:
            data = reader.read(entry["path"])
            if data is None or sha256(data) != entry["sha256"]:
                return None
        return [
            Diagnostic(
                d["code"],
                Severity(d["severity"]),
                Loc(d["file"], d["line"], d["col"]),
                d["message"],
                d["hint"],
            )
            for d in recorded["diagnostics"]
        ]
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None


def _recovered(out: Path) -> bool:
    """Finish or undo an interrupted write before the fast path reads `out` (False: it could
    not be done here; the full path retries and reports).

    Without a staging directory no write is pending or running, so the lock is not needed:
    a write that starts meanwhile renames the manifest last, and a half-applied tree never
    matches the manifest it reads.
    """
    if not os.path.lexists(out / STAGING):
        return True
    try:
        with locked(out, create=False, on_wait=lambda: _waiting(out)):
            recover(out)
        return True
    except (OSError, WriteError):
        return False


def _declared_output(specs: Path) -> Path | None:
    """The project file's `output:` (read alone, so a no-change build need not load every spec).

    Environments cannot override `output`, so this is the directory every build writes to.
    """
    for name in PROJECT_FILES:
        path = specs / name
        if path.is_file():
            root, _ = load_yaml(path.read_bytes(), name)
            value = root.get("output", DEFAULT_OUTPUT) if root is not None else None
            return specs / value if isinstance(value, str) else None
    return None


def run_build(
    specs: Path,
    output: Path | None,
    *,
    check: bool,
    env: str | None,
    fmt: str,
    use_cache: bool = True,
) -> int:
    """`eventgen build`, with the cyclic GC running rarely meanwhile (see eventgen/gcpolicy.py)."""
    from eventgen.gcpolicy import fewer_collections

    with fewer_collections():
        return _run_build(specs, output, check=check, env=env, fmt=fmt, use_cache=use_cache)


def _run_build(
    specs: Path,
    output: Path | None,
    *,
    check: bool,
    env: str | None,
    fmt: str,
    use_cache: bool = True,
) -> int:
    inputs = inputs_fingerprint(specs, env)
    declared = output if output is not None else _declared_output(specs)
    if (
        use_cache
        and declared is not None
        and (output is not None or not declared.is_symlink())
        and _recovered(declared)
        and (recorded := _unchanged(declared, inputs)) is not None
    ):
        return _report_unchanged(recorded, declared, fmt, specs)
    project, by_env, found = load_project_envs(specs, env)
    out = output if output is not None else (specs / project.output) if project else None
    proto_lock = None
    if project is not None and out is not None and not has_errors(found):
        from eventgen.emit.protobuf.lock_file import read_lock

        # The committed field numbers: a lock broken by hand stops the build like a spec error.
        proto_lock, lock_found = read_lock(specs, out)
        found = normalize([*found, *lock_found])
    text = render(found, fmt, specs=specs)  # the manifest keeps spec-relative files
    if text:
        click.echo(text, nl=False, err=fmt == "text")
    if project is None or out is None or has_errors(found):
        click.echo("build stopped: nothing was written", err=True)
        return 1
    # Emitters (templates, runtime helpers) load only when something is generated, so the
    # no-change fast path above stays cheap.
    from eventgen.emit.registry import emit_all
    from eventgen.schemas import Schemas

    # One schema builder for the build: the emitters and the history share its records.
    schemas = Schemas(project)
    generated = emit_all(project, by_env, schemas, proto_lock)
    generated.update(history_stage(project, out, schemas, proto_lock))
    del schemas  # its records are in the files now; the writer needs the memory more
    files = {path: f.data for path, f in generated.items()}
    files[MANIFEST] = manifest(project, generated, inputs, found)
    del generated
    return _commit(specs, out, files, check=check, trusted_root=output is not None)


def _commit(
    specs: Path, out: Path, files: dict[str, bytes], *, check: bool, trusted_root: bool
) -> int:
    """Plan, then check or write, under the output lock (see eventgen/writer/).

    A root given with `-o` is the user's choice and may be a symlink; a root that only the
    project file declares (committed content) may not, like any symlink below it.
    """
    if not trusted_root and out.is_symlink():
        click.echo(f"{out}: error E0121: {_SYMLINK}", err=True)
        return 1
    try:
        with locked(out, create=not check, on_wait=lambda: _waiting(out)):
            recover(out)
            changes = plan(out, files)
            if changes.symlinks or changes.foreign:
                for rel in changes.symlinks:
                    click.echo(f"{out / rel}: error E0121: {_SYMLINK}", err=True)
                for rel in changes.foreign:
                    foreign = error(
                        "E0120",
                        Loc(str(out / rel)),
                        "exists and was not made by eventgen; refusing to overwrite",
                    )
                    click.echo("\n".join(text_lines(foreign)), err=True)
                return 1
            if check:
                return _report_drift(specs, out, files, changes)
            write(out, files, changes)
    except Interrupted as exc:
        state = "has the new build" if exc.completed else "was left as it was"
        click.echo(
            f"eventgen: interrupted by {signal.Signals(exc.signum).name}; {out} {state}", err=True
        )
        return 128 + exc.signum
    except WriteError as exc:
        click.echo(f"eventgen: {exc}", err=True)
        return 2
    except OSError as exc:
        click.echo(f"eventgen: cannot write {out}: {exc}; nothing was changed", err=True)
        return 2
    click.echo(
        f"wrote {out}: {len(changes.create)} created, {len(changes.update)} updated, "
        f"{len(changes.delete)} removed, {changes.unchanged} unchanged",
        err=True,
    )
    return 0


_SYMLINK = (
    "is a symbolic link; eventgen never writes, reads or deletes through one in its output "
    "(remove the link and build again)"
)


def _waiting(out: Path) -> None:
    click.echo(f"eventgen: waiting for another eventgen build writing {out}", err=True)


def _report_drift(specs: Path, out: Path, files: dict[str, bytes], changes: Plan) -> int:
    for rel in changes.drift:
        state = (
            "missing" if rel in changes.create else "stale" if rel in changes.delete else "changed"
        )
        click.echo(f"{out / rel}: {state}")
    if changes.drift:
        click.echo(
            f"{len(changes.drift)} generated file(s) drifted; run `eventgen build {specs}`",
            err=True,
        )
        return 1
    click.echo(f"up to date: {len(files)} file(s) in {out}", err=True)
    return 0


def _report_unchanged(recorded: list[Diagnostic], out: Path, fmt: str, specs: Path) -> int:
    text = render(recorded, fmt, specs=specs)
    if text:
        click.echo(text, nl=False, err=fmt == "text")
    click.echo(
        f"up to date: inputs unchanged since the last build, every file in {out} verified", err=True
    )
    return 0
