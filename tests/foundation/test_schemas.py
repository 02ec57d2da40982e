"""One schema builder per build: each record built once, shared; files carry their sources."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from eventgen.build import history_stage
from eventgen.emit import layout, registry
from eventgen.emit.files import GeneratedFile
from eventgen.evolution.subjects import subjects
from eventgen.ir import naming
from eventgen.pipeline import load_project_envs
from eventgen.schemas import Schemas, builder
from eventgen.schemas.avro import record_schema

REPO = Path(__file__).resolve().parents[2]


def test_every_record_is_built_once_per_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project, by_env, found = load_project_envs(REPO / "specs")
    assert project is not None, found
    built: Counter[tuple[str, str, frozenset[str]]] = Counter()
    real = record_schema

    def spy(index: Any, qualified: str, fields: Any, doc: Any, elsewhere: Any = frozenset()) -> Any:
        built[(qualified, repr(fields), frozenset(elsewhere))] += 1
        return real(index, qualified, fields, doc, elsewhere)

    monkeypatch.setattr(builder, "record_schema", spy)
    schemas = Schemas(project)
    files = registry.emit_all(project, by_env, schemas)
    history = history_stage(project, tmp_path, schemas)  # an empty output: every subject new
    assert history and files
    # Standalone records (no `elsewhere`): one per message version, shared by the .avsc
    # files, the history and the `_avro` modules of messages without named types.
    standalone = sum(n for k, n in built.items() if not k[2])
    assert standalone == sum(len(layout.versions(m)) for m in project.all_messages())
    assert [k for k, n in built.items() if n > 1] == []


def test_subjects_share_the_emitted_records() -> None:
    project, _, found = load_project_envs(REPO / "specs")
    assert project is not None, found
    schemas = Schemas(project)
    found_subjects = subjects(project, schemas=schemas)
    shared = 0
    for message in project.all_messages():
        record = schemas.avro_record(message)
        assert schemas.avro_record(message) is record  # memo: same object
        topic = project.topic(message.topic) if message.topic else None
        if topic is None:
            continue
        subject = found_subjects[naming.subject(topic.kafka_name, "value")]
        branches = subject.schema if isinstance(subject.schema, list) else [subject.schema]
        shared += any(b is record for b in branches)
    assert shared >= 1
    # Building subjects changes nothing the emitters read: a second builder agrees.
    assert {n: s.schema for n, s in subjects(project).items()} == {
        n: s.schema for n, s in found_subjects.items()
    }


def test_files_carry_kind_and_sources_from_the_ir() -> None:
    project, by_env, found = load_project_envs(REPO / "specs")
    assert project is not None, found
    files = registry.emit_all(project, by_env)
    assert all(isinstance(f, GeneratedFile) and f.path == p for p, f in files.items())
    project_file = "eventgen.yaml"
    for ctx in project.contexts:
        expected = tuple(sorted({*ctx.files, project_file}))
        for path in (
            f"avro/{ctx.name}/{ctx.messages[0].name}.avsc",
            f"jsonschema/{ctx.name}/{ctx.messages[0].name}.json",
            f"{project.package}/{naming.py_module(ctx.name)}.py",
        ):
            assert files[path].sources == expected, path
    assert files["resolved-spec.json"].sources == project.spec_files
    assert Counter(f.kind for f in files.values()).keys() == {
        "json",
        "avro",
        "jsonschema",
        "python",
        "topics",
        "sql",
        "docs",
        "connect",
        "asyncapi",
        "protobuf",
    }
