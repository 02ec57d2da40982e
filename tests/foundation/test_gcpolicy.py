"""`eventgen build` runs the cyclic GC rarely and leaves the process's GC settings as it found them."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventgen import gcpolicy
from eventgen.cli import main
from eventgen.emit import registry

SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.fixture
def gc_state() -> Iterator[None]:
    saved, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.set_threshold(*saved)
    gc.enable() if enabled else gc.disable()


def _spy(monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> list[tuple[Any, ...]]:
    seen: list[tuple[Any, ...]] = []
    real = registry.emit_all

    def emit_all(*args: Any) -> Any:
        seen.append((gc.get_threshold(), gc.isenabled()))
        if fail:
            raise RuntimeError("boom")
        return real(*args)

    monkeypatch.setattr(registry, "emit_all", emit_all)
    return seen


@pytest.mark.parametrize("enabled", [True, False])
def test_build_raises_thresholds_and_restores_them(
    gc_state: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, enabled: bool
) -> None:
    gc.set_threshold(1234, 7, 9)
    gc.enable() if enabled else gc.disable()
    seen = _spy(monkeypatch)
    assert main(["build", str(SPECS), "-o", str(tmp_path / "out"), "--no-cache"]) == 0
    assert seen == [(gcpolicy.BUILD_THRESHOLDS, enabled)]
    assert gc.get_threshold() == (1234, 7, 9)
    assert gc.isenabled() is enabled


def test_settings_come_back_when_the_build_fails(
    gc_state: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = (gc.get_threshold(), gc.isenabled())
    seen = _spy(monkeypatch, fail=True)
    assert main(["build", str(SPECS), "-o", str(tmp_path / "out"), "--no-cache"]) == 2
    assert len(seen) == 1 and seen[0][0] == gcpolicy.BUILD_THRESHOLDS
    assert (gc.get_threshold(), gc.isenabled()) == before
