"""Without the conformance corpus the compat tests skip locally but fail in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _run(ci: bool, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["EVENTGEN_SHARED_DIR"] = str(tmp_path / "no-such-shared")
    if ci:
        env["CI"] = "true"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    cmd += [str(HERE / "test_conformance.py"), "-k", "avro_cases or mode_cases"]
    return subprocess.run(
        cmd, check=False, env=env, cwd=HERE.parents[1], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("ci", [True, False], ids=["ci", "local"])
def test_missing_corpus(ci: bool, tmp_path: Path) -> None:
    proc = _run(ci, tmp_path)
    out = proc.stdout + proc.stderr
    if ci:
        assert proc.returncode == 1, out
        assert "2 errors" in out and "schema-compat corpus missing in CI" in out, out
    else:
        assert proc.returncode == 0, out
        assert "2 skipped" in out, out
