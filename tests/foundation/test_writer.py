"""The writer: stale files it made are removed, foreign files are never touched, failures are atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventgen.cli import main

REPO = Path(__file__).resolve().parents[2]
CASE = REPO / "tests" / "cases" / "minimal_ok" / "specs"


def _tree(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
    }


def test_check_reports_drift_and_build_repairs_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["build", str(CASE), "-o", str(out)]) == 0
    assert main(["build", str(CASE), "-o", str(out), "--check"]) == 0
    (out / "resolved-spec.json").write_text("{}")
    (out / "eventgen-manifest.json").read_text()
    capsys.readouterr()
    assert main(["build", str(CASE), "-o", str(out), "--check"]) == 1
    assert "resolved-spec.json: changed" in capsys.readouterr().out
    assert main(["build", str(CASE), "-o", str(out)]) == 0
    assert main(["build", str(CASE), "-o", str(out), "--check"]) == 0


def test_stale_files_removed_foreign_files_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    specs = tmp_path / "specs"
    specs.mkdir()
    for src in CASE.iterdir():
        (specs / src.name).write_bytes(src.read_bytes())
    assert main(["build", str(specs), "-o", str(out)]) == 0
    (out / "notes.txt").write_text("mine")
    before = _tree(out)
    text = (specs / "orders.yaml").read_text()
    (specs / "orders.yaml").write_text(
        text.replace("  order-commands: {partitions: 6, retention: 1d}\n", "").replace(
            "    topic: order-commands\n", "    topic: order-events\n"
        )
    )
    assert main(["build", str(specs), "-o", str(out)]) == 0
    after = _tree(out)
    assert after["notes.txt"] == b"mine"
    assert after != before


def test_refuses_to_overwrite_foreign_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "resolved-spec.json").write_text("hand written")
    assert main(["build", str(CASE), "-o", str(out)]) == 1
    assert _tree(out) == {"resolved-spec.json": b"hand written"}


def test_failed_write_leaves_output_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["build", str(CASE), "-o", str(out), "--no-cache"]) == 0
    (out / "resolved-spec.json").write_text("{}")
    (out / "topics" / "default.json").write_text("{}")
    # A directory where the writer stages one of the two files makes that staging fail
    # after the other file was staged: neither may change.
    (out / "topics" / ".default.json.eventgen-tmp").mkdir()
    before = _tree(out)
    assert main(["build", str(CASE), "-o", str(out), "--no-cache"]) == 2
    assert _tree(out) == before
    assert not (out / ".resolved-spec.json.eventgen-tmp").exists()


def test_paths_outside_the_output_are_refused(tmp_path: Path) -> None:
    from eventgen.writer import plan

    for bad in ("../escape.txt", "/etc/passwd", "a/../../b"):
        with pytest.raises(RuntimeError):
            plan(tmp_path, {bad: b""})


def test_failed_validation_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["build", str(REPO / "tests" / "cases" / "values" / "specs"), "-o", str(out)]) == 1
    assert not out.exists()


def test_no_change_fast_path_with_the_declared_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    for src in CASE.iterdir():
        (specs / src.name).write_bytes(src.read_bytes())
    assert main(["build", str(specs)]) == 0  # `output: ../out` in the project file
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["build", str(specs), "--check"]) == 0
    assert "inputs unchanged" in capsys.readouterr().err
    (out / "resolved-spec.json").write_text("{}")
    assert main(["build", str(specs), "--check"]) == 1  # a tampered file defeats the fast path
    assert "resolved-spec.json: changed" in capsys.readouterr().out
    (specs / "orders.yaml").write_text((specs / "orders.yaml").read_text() + "\n# edited\n")
    assert main(["build", str(specs)]) == 0
    assert main(["build", str(specs), "--check"]) == 0
