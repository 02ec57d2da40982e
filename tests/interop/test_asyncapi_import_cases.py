"""Each import golden case (tests/interop/import_cases) gives its expected transcript again."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.interop.import_golden import CASES, EVENTGEN, run_case

NAMES = sorted(p.parent.name for p in CASES.glob("*/input.*"))


def test_there_are_cases() -> None:
    assert len(NAMES) >= 17
    assert sorted(p.parent.name for p in CASES.glob("*/expected.txt")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_case(name: str, tmp_path: Path) -> None:
    case = CASES / name
    expected = (case / "expected.txt").read_text("utf-8")
    assert run_case(case, tmp_path) == expected, f"`python -m tests.interop.import_golden {name}`"


def test_failing_cases_exit_1_with_a_positioned_finding() -> None:
    for name in NAMES:
        text = (CASES / name / "expected.txt").read_text("utf-8")
        if text.startswith("exit 1"):
            assert ": error E09" in text or "error E01" in text, name


SUCCEEDING = [
    n for n in NAMES if (CASES / n / "expected.txt").read_text("utf-8").startswith("exit 0")
]


def test_some_cases_succeed() -> None:
    assert SUCCEEDING == ["force-overwrites", "json-schema-mapping"]


@pytest.mark.parametrize("name", SUCCEEDING)
def test_succeeding_case_builds(name: str, tmp_path: Path) -> None:
    run_case(CASES / name, tmp_path)
    built = subprocess.run(
        [
            str(EVENTGEN),
            "build",
            str(tmp_path / "specs"),
            "-o",
            str(tmp_path / "out"),
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert "error E" not in built.stdout + built.stderr  # warnings only, if anything


def test_remote_ref_is_never_fetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With every socket refused, the remote-ref case still ends in E0954 (and the official
    schema's own `$ref`s resolve from the vendored files, not from asyncapi.com)."""
    import socket

    from eventgen.cli import main

    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network used")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.chdir(CASES / "remote-ref")
    code = main(["import", "asyncapi", "input.json", "-o", str(tmp_path / "specs")])
    assert code == 1
    assert "error E0954:" in capsys.readouterr().out
    assert attempts == []
    assert not (tmp_path / "specs").exists()
