"""A plain (non-editable) install carries everything a build needs, templates included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_install_builds_the_example(tmp_path: Path) -> None:
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(wheels.glob("eventgen-*.whl"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import eventgen, eventgen.templates; print(eventgen.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(target)), where
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "eventgen", "build", str(REPO / "specs"), "-o", str(out)],
        check=False,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    reference = tmp_path / "reference"
    subprocess.run(
        [sys.executable, "-m", "eventgen", "build", str(REPO / "specs"), "-o", str(reference)],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=300,
    )
    produced = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert produced == sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file())
    for rel in produced:
        assert (out / rel).read_bytes() == (reference / rel).read_bytes(), rel
