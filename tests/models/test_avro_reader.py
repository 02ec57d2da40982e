"""The Avro decode hot path: fastavro's direct entry point, checked, with the public fallback."""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pytest

from eventgen import runtime as rt
from eventgen.runtime import avro
from tests.models import fixtures as fx


@pytest.fixture(scope="module")
def alpha(tmp_path_factory: pytest.TempPathFactory) -> Any:
    project = fx.fixture_project("fx_reader")
    return fx.import_package(project, tmp_path_factory.mktemp("reader"))["alpha"]


def test_the_direct_reader_is_used_with_this_fastavro() -> None:
    """The probe accepts the installed fastavro; if this fails, decode silently got slower."""
    assert avro._DIRECT is not None


def _decode_both_ways(alpha: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, Any]:
    msg = fx.sample_happened(alpha)
    data = rt.encode_avro(msg)
    avro._current.pop(type(msg), None)
    fast = rt.decode_avro(type(msg), data)
    assert avro._current[type(msg)][2] is avro._DIRECT
    with monkeypatch.context() as m:
        m.setattr(avro, "_DIRECT", None)
        avro._current.pop(type(msg), None)
        public = rt.decode_avro(type(msg), data)
        assert avro._current[type(msg)][2] is fastavro.schemaless_reader
    avro._current.pop(type(msg), None)
    return msg, fast, public


def test_direct_and_public_readers_decode_alike(
    alpha: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    msg, fast, public = _decode_both_ways(alpha, monkeypatch)
    assert fast == public == msg
    raw = fastavro.schemaless_reader(io.BytesIO(rt.encode_avro(msg)), rt.avro_schema(type(msg)))
    assert avro.validate_payload(type(msg), raw) == fast


@pytest.mark.parametrize("direct", [True, False])
def test_garbage_is_a_decode_error_on_both_paths(
    alpha: Any, monkeypatch: pytest.MonkeyPatch, direct: bool
) -> None:
    msg = fx.sample_happened(alpha)
    data = rt.encode_avro(msg)
    if not direct:
        monkeypatch.setattr(avro, "_DIRECT", None)
    avro._current.pop(type(msg), None)
    try:
        for bad, why in ((data + b"\x00", "trailing bytes"), (data[:-3], "")):
            with pytest.raises(rt.DecodeError) as caught:
                rt.decode_avro(type(msg), bad)
            assert caught.value.reason == "corrupt_payload"
            assert why in str(caught.value)
    finally:
        avro._current.pop(type(msg), None)


def test_a_reader_that_disagrees_with_the_public_one_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fastavro._read as compiled

    monkeypatch.setattr(compiled, "_read_data", lambda *args: {"u": "wrong"}, raising=False)
    assert avro._direct_reader() is None
    monkeypatch.setattr(compiled, "_read_data", lambda *args: 1 / 0, raising=False)
    assert avro._direct_reader() is None
