"""The AsyncAPI export of the example platform passes the official parser; the mapping."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from eventgen.emit import asyncapi
from eventgen.pipeline import load_project
from eventgen.schemas import Schemas

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "asyncapi-check"
MODULES = ROOT / ".cache" / "asyncapi" / "node_modules"
# Diagnostics that are not errors or warnings print but do not fail the checker; the only
# one seen is `asyncapi-latest-version` (info: 3.1.0 exists; we target 3.0.0 on purpose).
ALLOWED_WARNINGS: list[str] = []


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (MODULES / "@asyncapi" / "parser").is_dir():
        why = f"node={node}, parser under {MODULES} (run scripts/setup)"
        if os.environ.get("CI") == "true":
            pytest.fail("the AsyncAPI parser is missing in CI: " + why)
        pytest.skip(why)
    return node


def _check(*files: Path) -> tuple[int, str]:
    env = {**os.environ, "EVENTGEN_ASYNCAPI_ALLOW": ",".join(ALLOWED_WARNINGS)}
    done = subprocess.run(
        [_node(), str(CHECK), *map(str, files)],
        capture_output=True, text=True, timeout=300, check=False, env=env,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    project, found = load_project(ROOT / "specs")
    assert project is not None, found
    return asyncapi.emit(project, Schemas(project))


def test_every_document_passes_the_parser(exported: dict[str, bytes], tmp_path: Path) -> None:
    files = []
    for path, data in sorted(exported.items()):
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        files.append(target)
    assert len(files) == 5
    code, out = _check(*files)
    assert code == 0, out
    assert out.count(": ok") == 5, out


def test_the_checker_fails_on_a_broken_document(exported: dict[str, bytes], tmp_path: Path) -> None:
    doc: dict[str, Any] = yaml.safe_load(exported["asyncapi.yaml"])
    first = next(iter(doc["operations"].values()))
    first["action"] = "publish"  # AsyncAPI 2 word: not an action of 3.0
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(doc))
    code, out = _check(broken)
    assert code == 1, out
    assert "error" in out


def test_bindings_operations_and_messages(exported: dict[str, bytes]) -> None:
    doc: dict[str, Any] = yaml.safe_load(exported["asyncapi/payments.yaml"])
    channel = doc["channels"]["payments.payment-commands"]
    kafka = channel["bindings"]["kafka"]
    assert kafka["partitions"] == 6
    assert kafka["topicConfiguration"]["cleanup.policy"] == ["delete"]
    receive = doc["operations"][
        "payments.payment-command-handler.receive.payments.payment-commands"
    ]
    assert receive["action"] == "receive"
    group = receive["bindings"]["kafka"]["groupId"]
    assert group == {"type": "string", "enum": ["payments.payment-command-handler"]}
    message = doc["components"]["messages"]["payments.ChargeCard"]
    assert message["payload"]["schemaFormat"] == "application/vnd.apache.avro+json;version=1.9.0"
    assert message["correlationId"]["location"] == "$message.header#/correlation_id"
    assert len(message["headers"]["properties"]) == 6
    assert message["x-eventgen-message"]["kind"] == "command"
    assert "key" in message["bindings"]["kafka"]


def test_two_exports_are_equal_bytes(exported: dict[str, bytes]) -> None:
    project, _ = load_project(ROOT / "specs")
    assert project is not None
    assert asyncapi.emit(project, Schemas(project)) == exported


HOSTILE = ROOT / "tests" / "catalog" / "hostile" / "specs"


def test_hostile_docs_and_names_survive_the_yaml_and_the_parser(tmp_path: Path) -> None:
    """Docs with quotes, backslashes, pipes, `\"\"\"`, HTML and Unicode come back verbatim."""
    project, found = load_project(HOSTILE)
    assert project is not None, found
    docs = asyncapi.emit(project, Schemas(project))
    texts = []
    for path, data in sorted(docs.items()):
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        texts.append(yaml.safe_load(data.decode("utf-8")))
    code, out = _check(*sorted(tmp_path.rglob("*.yaml")))
    assert code == 0, out
    wanted = [t.doc for t in project.all_topics() if t.doc] + [
        m.doc for m in project.all_messages() if m.doc
    ]
    assert wanted, "the fixture must carry docs"
    seen = _strings(texts)
    for doc in wanted:
        assert doc.strip() in seen, doc


def _strings(value: Any) -> set[str]:
    """Every string value in parsed YAML, stripped (descriptions may drop a final newline)."""
    if isinstance(value, str):
        return {value.strip()}
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()
