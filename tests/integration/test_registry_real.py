"""`eventgen registry check|push` against a REAL Schema Registry server (not the stub of
tests/evolution): Apicurio Registry's Confluent-compatible API, started by scripts/registry.

The session fixture (tests/services.py `registry_url`) reuses $EVENTGEN_REGISTRY_URL if set (as printed by `scripts/registry
start`), else starts a private registry and stops it at the end. That registry must be a
throwaway one: the test deletes the example's subjects before it starts.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from eventgen.evolution import history
from eventgen.evolution.diff import require_project
from eventgen.evolution.registry_cli import registry
from eventgen.evolution.subjects import canonical, subjects
from tests.registry_http import http, versions

REPO_DIR = Path(__file__).resolve().parents[2]
# The whole test, registry start excluded (it takes about 5 s against a local registry).
TEST_BUDGET_S = 120

# A new required field without a default in a record of orders.order-events-value (BACKWARD):
# the new schema cannot read data written with the old one. A timestamp, so that the Order
# aggregate can still fill its failure reply OrderRejected (with the rejection's time; E0830).
ANCHOR = (
    "      reason: {type: string, min_length: 1, max_length: 500}\n      rejected_at: timestamp\n"
)
INCOMPATIBLE = ("orders.yaml", ANCHOR, ANCHOR + "      rejected_by: timestamp\n")
# The same field optional (a union with null, default null): compatible.
COMPATIBLE = ("orders.yaml", ANCHOR, ANCHOR + '      rejected_by: "timestamp?"\n')
CHANGED_SUBJECT = "orders.order-events-value"


def compatibility(url: str, subject: str) -> str | None:
    status, body = http("GET", f"{url}/config/{urllib.parse.quote(subject)}")
    return body.get("compatibilityLevel") if status == 200 else None


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(registry, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def example_copy(root: Path, edit: tuple[str, str, str] | None = None) -> Path:
    """specs/ and the committed schema history (specs/../generated/schemas-history), copied;
    `edit` is (file, old text, new text) and must match once."""
    specs = root / "specs"
    shutil.copytree(REPO_DIR / "specs", specs)
    shutil.copytree(
        REPO_DIR / "generated" / "schemas-history", root / "generated" / "schemas-history"
    )
    if edit:
        file, old, new = edit
        text = (specs / file).read_text()
        assert text.count(old) == 1, f"{old!r} must occur once in {file}"
        (specs / file).write_text(text.replace(old, new))
    return specs


def outcomes(out: str) -> dict[str, str]:
    """subject -> status of a `--format json` run."""
    return {s["subject"]: s["status"] for s in json.loads(out)["subjects"]}


def test_push_check_and_rejection_against_a_real_registry(
    registry_url: str, tmp_path: Path
) -> None:
    began = time.monotonic()
    url = registry_url
    specs = example_copy(tmp_path / "same")
    project = require_project(specs, None)
    expected = subjects(project)
    modes = {name: s.compatibility for name, s in expected.items()}
    # push replays the committed history, then the current schema if it differs from the last.
    past = history.parse(history.read(specs / project.output), source="schema history")
    registered = {}
    for name, subject in expected.items():
        replayed = [canonical(v) for v in past.get(name, [])]
        if not replayed or replayed[-1] != canonical(subject.schema):
            replayed.append(canonical(subject.schema))
        registered[name] = list(range(1, len(replayed) + 1))
    assert len(expected) >= 20 and {"BACKWARD", "FULL", "BACKWARD_TRANSITIVE"} <= set(
        modes.values()
    )
    for name in expected:  # a reused registry: start from no such subject
        q = urllib.parse.quote(name)
        http("DELETE", f"{url}/subjects/{q}")
        http("DELETE", f"{url}/subjects/{q}?permanent=true")
        assert versions(url, name) == []

    # Nothing registered yet: check passes. Apicurio 2.6 answers a compatibility test on a
    # missing subject with 40402 (eventgen reports "new"), Apicurio 3.x with is_compatible
    # true (eventgen reports "ok").
    code, out = invoke("check", str(specs), "--url", url, "--format", "json")
    assert code == 0, out
    found = outcomes(out)
    assert set(found) == set(expected)
    assert set(found.values()) in ({"new"}, {"ok"}), found

    # The first push registers every subject once, with the spec's compatibility mode.
    code, out = invoke("push", str(specs), "--url", url, "--format", "json")
    assert code == 0, out
    assert outcomes(out) == dict.fromkeys(expected, "ok")
    _, listed = http("GET", f"{url}/subjects")
    assert set(expected) <= set(listed)
    assert {name: versions(url, name) for name in expected} == registered
    assert {name: compatibility(url, name) for name in expected} == modes

    # A second push registers nothing new.
    code, out = invoke("push", str(specs), "--url", url)
    assert code == 0, out
    assert {name: versions(url, name) for name in expected} == registered

    # check passes, under the modes push set.
    code, out = invoke("check", str(specs), "--url", url)
    assert code == 0, out
    assert f"{CHANGED_SUBJECT}: ok: compatible under the registry's BACKWARD" in out
    transitive = "payments.payment-events-value: ok: compatible under the registry's "
    assert transitive + "BACKWARD_TRANSITIVE" in out

    # A new required field without default in a BACKWARD subject: check exits 1 on exactly that
    # subject, and push refuses it (HTTP 409) without registering anything.
    changed = example_copy(tmp_path / "incompatible", INCOMPATIBLE)
    code, out = invoke("check", str(changed), "--url", url, "--format", "json")
    assert code == 1, out
    assert outcomes(out) == {**dict.fromkeys(expected, "ok"), CHANGED_SUBJECT: "incompatible"}
    code, out = invoke("check", str(changed), "--url", url)
    assert f"{CHANGED_SUBJECT}: incompatible: rejected under BACKWARD" in out
    code, out = invoke("push", str(changed), "--url", url)
    assert code == 1, out
    assert f"{CHANGED_SUBJECT}: incompatible: " in out
    assert "409" in out
    assert versions(url, CHANGED_SUBJECT) == registered[CHANGED_SUBJECT]

    # The same field as optional is compatible: check passes, push registers one more version
    # of that subject only.
    compatible = example_copy(tmp_path / "compatible", COMPATIBLE)
    code, out = invoke("check", str(compatible), "--url", url)
    assert code == 0, out
    code, out = invoke("push", str(compatible), "--url", url)
    assert code == 0, out
    after = {name: versions(url, name) for name in expected}
    assert after == {
        **registered,
        CHANGED_SUBJECT: [*registered[CHANGED_SUBJECT], len(registered[CHANGED_SUBJECT]) + 1],
    }

    assert time.monotonic() - began < TEST_BUDGET_S
