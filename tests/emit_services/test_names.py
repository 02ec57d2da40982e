"""Service modules stay valid when spec names meet the names they use themselves.

Messages named like the runtime's classes and the module's typing helpers, consumers named like
builtins, a consumer handling one message and one handling many: the generated modules must pass
ruff and mypy --strict, and their objects must be the right ones.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from eventgen.emit.format import LINE_LENGTH, ruff_bin
from tests.emit_services.helpers import build, import_fresh, run_mypy, write_specs

PROJECT = """\
eventgen: 1
project: clash
package: clash_events
output: ../out
defaults:
  topic: {partitions: 1, replication_factor: 1}
"""

NAMES = [
    "Route",
    "Callable",
    "Any",
    "Context",
    "ConsumerApp",
    "PublisherSpec",
    "Message",
    "GreeterApp",
]

CONTEXT = (
    """\
eventgen: 1
context: clash
topics:
  events: {key: uuid, dlq: true}
events:
"""
    + "".join(
        f"  {name}:\n    topic: events\n    key: id\n    fields: {{id: uuid}}\n" for name in NAMES
    )
    + """\
consumers:
  print:
    group: "clash \\"print\\""
    subscribe: [events]
    handles: [Route]
    idempotency: {store: sqlite}
  greeter:
    group: clash.greeter
    subscribe: [events]
    handles: [Route, Callable, Any, Context, ConsumerApp, PublisherSpec, Message, GreeterApp]
    idempotency: {store: postgres}
    processing: {batch: {max_records: 10, max_wait: 50ms}}
outbox:
  table: clash_outbox
"""
)


def test_clashing_names(tmp_path: Path) -> None:
    specs = write_specs(tmp_path / "specs", {"eventgen.yaml": PROJECT, "clash.yaml": CONTEXT})
    out = tmp_path / "out"
    build(specs, out)
    checks = [
        [ruff_bin(), "check", "--isolated", f"--line-length={LINE_LENGTH}", "clash_events"],
        [ruff_bin(), "format", "--isolated", f"--line-length={LINE_LENGTH}", "--check", "clash_events"],
    ]  # fmt: skip
    for argv in checks:
        done = subprocess.run(argv, cwd=out, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    done = run_mypy(out, "-p", "clash_events")
    assert done.returncode == 0, done.stdout + done.stderr
    module = import_fresh(out, "clash_events", "clash_app")
    models = import_fresh(out, "clash_events", "clash")
    module = import_fresh(out, "clash_events", "clash_app")
    assert module.print_.spec.group == 'clash "print"'
    assert module.print_.spec.handles == ("clash.Route",)
    assert module.greeter.spec.processing == "batch"
    assert module.greeter.spec.batch_max_records == 10
    handled = {cls.TYPE for cls in module.greeter.messages.values()}
    assert handled == {f"clash.{n}" for n in NAMES}
    assert all(cls.__module__ == "clash_events.clash" for cls in module.greeter.messages.values())
    assert models.Route.TYPE == "clash.Route"


def test_golden_services_package_is_clean(tmp_path: Path) -> None:
    """The services_ok golden output (every module shape) passes the quality gates too."""
    import shutil

    case = Path(__file__).resolve().parents[1] / "cases" / "services_ok" / "expected"
    out = tmp_path / "out"
    shutil.copytree(case, out)
    rules = "--select=E,F,W,I,B,UP,SIM,C4,RUF"
    data = "--per-file-ignores=*/_avro/*.py:E501"  # as tests/models/test_quality.py
    argv = [ruff_bin(), "check", "--isolated", f"--line-length={LINE_LENGTH}", rules, data]
    argv.append("svc_events")
    done = subprocess.run(argv, cwd=out, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    done = run_mypy(out, "-p", "svc_events")
    assert done.returncode == 0, done.stdout + done.stderr
