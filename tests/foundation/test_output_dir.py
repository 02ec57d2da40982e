"""A committed `output:` cannot send the build's writes outside the project (E0414)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventgen.cli import main

ORDERS = "eventgen: 1\ncontext: orders\nevents:\n  OrderPlaced:\n    fields: {order_id: uuid}\n"


def _specs(root: Path, output: str) -> Path:
    specs = root / "project" / "specs"
    specs.mkdir(parents=True)
    (specs / "eventgen.yaml").write_text(
        f"eventgen: 1\nproject: demo\npackage: demo_events\noutput: '{output}'\n"
    )
    (specs / "orders.yaml").write_text(ORDERS)
    return specs


@pytest.mark.parametrize(
    "output", ["/etc", "/", "../../elsewhere", "..", ".", "sub/../..", "C:/x", "..\\\\x"]
)
def test_escaping_output_is_refused(
    tmp_path: Path, output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = _specs(tmp_path, output)
    assert main(["validate", str(specs)]) == 1
    assert "E0414" in capsys.readouterr().err
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["build", str(specs), "--no-cache"]) == 1
    assert "E0414" in capsys.readouterr().err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("output", ["../generated", "gen", "../out/deeper", "./../generated"])
def test_output_inside_the_project_builds(
    tmp_path: Path, output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = _specs(tmp_path, output)
    assert main(["validate", str(specs)]) == 0
    assert main(["build", str(specs), "--no-cache"]) == 0
    capsys.readouterr()
    assert (specs / output / "eventgen-manifest.json").is_file()


def test_dash_o_is_the_users_choice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    specs = _specs(tmp_path, "../generated")
    outside = tmp_path / "outside"
    assert main(["build", str(specs), "-o", str(outside), "--no-cache"]) == 0
    capsys.readouterr()
    assert (outside / "eventgen-manifest.json").is_file()
