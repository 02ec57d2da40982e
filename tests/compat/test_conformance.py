"""Conformance of eventgen.compat against the shared schema-compat corpus."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from eventgen.compat import conformance
from eventgen.compat.conformance import KNOWN_MISSES, Outcome

# Known-miss ids for parametrize; the corpus itself is checked by the fixture below.
_MISS_IDS = sorted(KNOWN_MISSES)


@pytest.fixture(autouse=True, scope="module")
def _corpus() -> Iterator[None]:
    """The corpus lives outside the repository: skip without it, but fail in CI (CI=true)."""
    try:
        conformance.corpus_dir()
    except FileNotFoundError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"schema-compat corpus missing in CI: {exc}")
        pytest.skip("schema-compat corpus not available")
    yield


def _report(name: str, outcomes: list[Outcome]) -> float:
    hits = sum(o.ok for o in outcomes)
    share = 100.0 * hits / len(outcomes)
    print(f"{name}: {hits}/{len(outcomes)} = {share:.1f}%")
    for o in outcomes:
        if not o.ok:
            print(f"  MISS {o.case} [{o.label}] expected={o.expected} got={o.got}")
    return share


def _unexpected(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not o.ok and o.case not in KNOWN_MISSES]


def test_avro_cases_match_java_exactly() -> None:
    outcomes = conformance.score_avro()
    assert _report("avro_cases", outcomes) == 100.0
    assert len(outcomes) == 221


def test_confluent_mode_cases_all_pass() -> None:
    outcomes = conformance.score_modes()
    assert _report("confluent_mode_cases", outcomes) == 100.0


@pytest.mark.parametrize(
    "label", ["backward_compatible", "backward_compatible_lenient", "forward_compatible"]
)
def test_jsonschema_cases_at_least_97_percent(label: str) -> None:
    outcomes = [o for o in conformance.score_json() if o.label == label]
    assert outcomes
    assert _report(f"jsonschema_cases[{label}]", outcomes) >= 97.0
    assert not _unexpected(outcomes)


def test_avro_decoding_cases_decode_to_expected() -> None:
    outcomes = conformance.score_decoding()
    _report("avro_decoding_cases", outcomes)
    assert not _unexpected(outcomes)


@pytest.mark.parametrize("case_id", _MISS_IDS)
def test_known_misses_are_still_misses(case_id: str) -> None:
    """Each listed miss is xfailed with its own reason, and must not silently pass."""
    outcomes = [o for suite in conformance.SUITES.values() for o in suite() if o.case == case_id]
    assert outcomes, f"{case_id} is not in the corpus"
    if all(o.ok for o in outcomes):
        pytest.fail(f"{case_id} now passes: remove it from KNOWN_MISSES")
    pytest.xfail(KNOWN_MISSES[case_id])


def test_decoding_agrees_with_checker_where_compatible() -> None:
    """Whenever the checker says compatible, fastavro decodes the datum without error."""
    for case in conformance.load("avro_decoding_cases.jsonl"):
        verdict = conformance._verdict("avro", case["reader"], case["writer"])
        if verdict is True:
            conformance.decode(case["writer"], case["reader"], case["datum"])
