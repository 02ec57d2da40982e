"""Rules as data, suppression applied once for every phase, one finding type, bounded messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eventgen import pipeline
from eventgen.compat import check as compat_check
from eventgen.diagnostics import MAX_MESSAGE, Diagnostic, Loc, Severity, error, warning
from eventgen.evolution.findings import finding
from eventgen.interop.asyncapi import codes as asyncapi_import
from eventgen.ir import naming
from eventgen.render import github_line, render_diagnostics, render_diff, text_lines
from eventgen.rules import (
    catalog,
    checks_aggregates,
    checks_choreography,
    checks_depth,
    checks_es,
    checks_flows,
    checks_names,
    checks_output,
    checks_protobuf,
    checks_runtime,
    checks_saga_runtime,
    checks_sagas,
    checks_topics,
    checks_types,
)
from eventgen.rules import registry as rules_registry
from eventgen.rules.listing import list_rules
from eventgen.rules.registry import PHASES, checks_of, declare, validate_ruleset
from eventgen.spec import project as spec_project

PROJECT = "eventgen: 1\nproject: demo\npackage: demo_events\n"


def _specs(tmp_path: Path, body: str) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "eventgen.yaml").write_text(PROJECT, encoding="utf-8")
    (specs / "orders.yaml").write_text(body, encoding="utf-8")
    return specs


def _codes(found: list[Diagnostic]) -> list[str]:
    return [d.code for d in found]


# --- the ruleset ---------------------------------------------------------------------------


def test_ruleset_is_one_ordered_tuple_of_unique_codes() -> None:
    codes = [r.code for r in catalog.RULES]
    assert isinstance(catalog.RULES, tuple)
    assert len(codes) == len(set(codes))
    assert all(r.phase in PHASES for r in catalog.RULES)
    # Composed from the check modules' own records, in that order, after the loader's codes.
    tail = (
        checks_aggregates.RULES
        + checks_depth.RULES
        + checks_flows.RULES
        + checks_names.RULES
        + checks_output.RULES
        + checks_runtime.RULES
        + checks_es.RULES
        + checks_sagas.RULES
        + checks_topics.RULES
        + checks_types.RULES
        + checks_saga_runtime.RULES
        + checks_choreography.RULES
        + checks_protobuf.RULES
        + asyncapi_import.RULES
    )
    assert catalog.RULES[len(catalog.RULES) - len(tail) :] == tail


def test_no_registration_by_import_side_effect() -> None:
    # The old module-level registries filled at import are gone.
    for name in ("CODES", "CHECKS", "describe", "check"):
        assert not hasattr(rules_registry, name), name


def test_every_rule_phase_code_has_a_check_and_only_those() -> None:
    for r in catalog.RULES:
        has_check = r.check is not None
        assert has_check == (r.phase in ("rule", "kafka")), r.code
    # Twenty-seven checks, each run once however many codes share it.
    assert len(checks_of(catalog.RULES)) == 28


def test_ruleset_refuses_duplicates_and_wrong_letters() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        validate_ruleset(
            [declare("E0001", "error", "load", "a"), declare("E0001", "error", "load", "b")]
        )
    with pytest.raises(ValueError, match="is a warning"):
        validate_ruleset([declare("E0002", "warning", "load", "a")])


def test_listing_reads_the_ruleset() -> None:
    listed = json.loads(list_rules("json"))["diagnostics"]
    assert [d["code"] for d in listed] == sorted(r.code for r in catalog.RULES)
    assert {d["code"]: d["phase"] for d in listed}["E0707"] == "resolve"


# --- suppression, once, for every phase ------------------------------------------------------

DECIMAL_AND_PAST_TENSE = """\
eventgen: 1
context: orders
topics:
  orders: {partitions: 3, replication_factor: 1}
events:
  OrderPlaced:
    topic: orders
    key: order_id
    fields: {order_id: uuid, total: decimal}
    suppress: [W0501]
  PlaceOrders:
    topic: orders
    key: order_id
    fields: {order_id: uuid, price: decimal}
    suppress: [W0901]
  ShipOrder:
    topic: orders
    key: order_id
    fields: {order_id: uuid, amount: decimal}
"""


def test_suppression_in_the_resolve_phase(tmp_path: Path) -> None:
    # W0501 comes from the resolver: silenced on OrderPlaced only, kept on the other two.
    _, found = pipeline.load_project(_specs(tmp_path, DECIMAL_AND_PAST_TENSE))
    w0501 = [d.loc.line for d in found if d.code == "W0501"]
    assert w0501 == [14, 19]


def test_suppression_in_the_rule_phase(tmp_path: Path) -> None:
    # W0901 comes from a rule check: silenced on PlaceOrders, kept on ShipOrder.
    _, found = pipeline.load_project(_specs(tmp_path, DECIMAL_AND_PAST_TENSE))
    assert [d.loc.line for d in found if d.code == "W0901"] == [16]


def test_suppression_of_field_warnings(tmp_path: Path) -> None:
    body = """\
eventgen: 1
context: orders
events:
  OrderPlaced:
    fields: {order_id: uuid, class: string}
    suppress: [W0407]
  OrderShipped:
    fields: {order_id: uuid, class: string}
"""
    _, found = pipeline.load_project(_specs(tmp_path, body))
    assert [(d.code, d.loc.line) for d in found if d.code == "W0407"] == [("W0407", 8)]


def test_suppression_in_the_load_phase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No loader warning exists today; one that does must go through the same filter.
    specs = _specs(tmp_path, DECIMAL_AND_PAST_TENSE)
    real = spec_project.read_specs

    def read_with_load_warnings(path: Path) -> tuple[spec_project.SpecSet, list[Diagnostic]]:
        base, found = real(path)
        inside = warning("W0501", Loc("orders.yaml", 9, 5), "from the loader, inside OrderPlaced")
        outside = warning("W0501", Loc("orders.yaml", 3, 1), "from the loader, outside")
        return base, found + [inside, outside]

    monkeypatch.setattr(pipeline, "read_specs", read_with_load_warnings)
    _, found = pipeline.load_project(specs)
    messages = [d.message for d in found if d.message.startswith("from the loader")]
    assert messages == ["from the loader, outside"]
    _, _by_env, found_envs = pipeline.load_project_envs(specs)
    assert [d.message for d in found_envs if d.message.startswith("from the loader")] == messages


def test_suppression_never_silences_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = _specs(tmp_path, DECIMAL_AND_PAST_TENSE)
    real = spec_project.read_specs

    def read_with_error(path: Path) -> tuple[spec_project.SpecSet, list[Diagnostic]]:
        base, found = real(path)
        return base, found + [error("W0501", Loc("orders.yaml", 9, 5), "an error, never silenced")]

    monkeypatch.setattr(pipeline, "read_specs", read_with_error)
    _, found = pipeline.load_project(specs)
    assert [d.message for d in found if d.severity is Severity.ERROR] == [
        "an error, never silenced"
    ]


# --- one finding type, one renderer -------------------------------------------------------------


def test_message_size_is_bounded_in_the_constructor() -> None:
    d = error("E0701", Loc("a.yaml", 1, 1), "x" * 10_000, hint="h" * 5000)
    assert len(d.message) < MAX_MESSAGE + 40
    assert d.message.endswith(f"… ({10_000 - MAX_MESSAGE} more characters)")
    assert d.hint is not None and d.hint.endswith(f"… ({5000 - MAX_MESSAGE} more characters)")
    short = error("E0701", Loc("a.yaml", 1, 1), "y" * MAX_MESSAGE)
    assert short.message == "y" * MAX_MESSAGE
    diff = finding("D0101", Loc("a.yaml", 2, 1), "z" * 3000, details=("d" * 3000,))
    assert len(diff.message) < MAX_MESSAGE + 40 and len(diff.details[0]) < MAX_MESSAGE + 40


def test_diff_findings_are_the_one_finding_type() -> None:
    f = finding(
        "D0301", Loc("a.yaml", 3, 5), "partitions changed", old_loc=Loc("HEAD:a.yaml", 3, 5)
    )
    assert isinstance(f, Diagnostic)
    assert (f.code, f.severity) == ("D0301", Severity.BREAKING)
    assert github_line(f, title="D0301 breaking") == (
        "::error file=a.yaml,line=3,col=5,title=D0301 breaking::partitions changed "
        "(was at HEAD:a.yaml:3:5)"
    )
    assert render_diff([f], "text", against="HEAD").splitlines() == [
        "a.yaml:3:5: breaking D0301: partitions changed",
        "  was at: HEAD:a.yaml:3:5",
        "against HEAD: 1 breaking, 0 warning, 0 info",
    ]


def test_compat_results_convert_to_the_one_finding_type() -> None:
    old = {"type": "record", "name": "A", "fields": []}
    new = {"type": "record", "name": "A", "fields": [{"name": "x", "type": "int"}]}
    result = compat_check("avro", old, new, "BACKWARD")
    assert not result
    (d,) = result.diagnostics(Loc("orders.yaml", 4, 3), subject="orders-value")
    (raw,) = result.findings
    assert (d.code, d.severity, d.message, d.subject) == (
        raw.rule,
        Severity.ERROR,
        raw.message,
        "orders-value",
    )
    assert d.details == (f"{raw.rule} at {raw.path} (backward)", raw.code)
    text = render_diagnostics([d], "text").splitlines()
    assert text[0] == f"orders.yaml:4:3: error {raw.rule}: {raw.message}"
    assert text[-1] == "1 error(s), 0 warning(s)"


def test_validation_renders_markdown_too() -> None:
    found = [warning("W0901", Loc("a.yaml", 2, 3), "a | b", hint="rename it")]
    lines = render_diagnostics(found, "markdown").splitlines()
    assert lines[:3] == ["### eventgen findings", "", "0 error(s), 1 warning(s)"]
    assert "| 🟡 | W0901 | `a.yaml:2:3` | a \\| b |" in lines
    assert "  - hint: rename it" in lines


def test_writer_refusal_goes_through_the_renderer() -> None:
    d = error(
        "E0120", Loc("out/x.py"), "exists and was not made by eventgen; refusing to overwrite"
    )
    assert text_lines(d) == [
        "out/x.py: error E0120: exists and was not made by eventgen; refusing to overwrite"
    ]


# --- version bounds -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["20240101", "12345678901234567890", "1001"])
def test_huge_versions_are_one_bounded_error(tmp_path: Path, version: str) -> None:
    body = f"eventgen: 1\ncontext: orders\nevents:\n  OrderPlaced:\n    version: {version}\n    fields: {{id: uuid}}\n"
    _, found = pipeline.load_project(_specs(tmp_path, body))
    assert _codes(found) == ["E0707"]
    assert (found[0].loc.line, found[0].loc.col) == (5, 14)
    assert len(found[0].message) < 200


# The saga check reuses the behaviour check's assignment and path checker for saga targets.
SHARED_CODES = {"check_sagas": {"E0801", "E0802"}}


def test_each_check_reports_only_the_codes_its_rules_declare() -> None:
    from eventgen.ir.resolve.builder import build_project
    from eventgen.spec.project import read_specs

    declared: dict[str, set[str]] = {}
    for r in catalog.RULES:
        if r.check is not None:
            declared.setdefault(r.check.__name__, set()).add(r.code)
    cases = Path(__file__).resolve().parents[1] / "cases"
    reported: dict[str, set[str]] = {}
    for specs in sorted(cases.glob("*/specs")):
        base, _ = read_specs(specs)
        if base.project is None:
            continue
        project, _ = build_project(base, None)
        for func in checks_of(catalog.RULES):
            reported.setdefault(func.__name__, set()).update(d.code for d in func(project))
    for name, codes in reported.items():
        assert codes <= declared[name] | SHARED_CODES.get(name, set()), name
    # The cases exercise most checks; a check reporting nothing anywhere would hide a mismatch.
    assert sum(1 for codes in reported.values() if codes) >= 8


# --- the runtime checks (checks_runtime) -----------------------------------------------------

RUNTIME_TOPICS = """eventgen: 1
context: orders
topics:
  order-events: {key: uuid, retention: 30d, cleanup: [compact, delete]}
events:
  OrderPlaced: {topic: order-events, key: order_id, fields: {order_id: uuid}}
consumers:
"""


def test_runtime_keys_resolve_with_their_defaults(tmp_path: Path) -> None:
    body = RUNTIME_TOPICS + (
        "  plain: {subscribe: [order-events], handles: [OrderPlaced], suppress: [W0820]}\n"
        "  parking:\n"
        "    subscribe: [order-events]\n"
        "    handles: [OrderPlaced]\n"
        "    dlq: true\n"
        "    idempotency: {store: postgres, retention: 30d}\n"
        "    on_failure: park-key\n"
        "outbox: {store: postgres, retention: 2h}\n"
    )
    project, found = pipeline.load_project(_specs(tmp_path, body))
    assert project is not None and _codes(found) == []
    ctx = project.context("orders")
    by_name = {c.name: c for c in ctx.consumers}
    plain, parking = by_name["plain"], by_name["parking"]
    assert (plain.on_failure, plain.suppress) == ("dead-letter", ("W0820",))
    assert parking.on_failure == "park-key"
    assert parking.at("on_failure").line == 14
    assert ctx.outbox is not None
    assert (ctx.outbox.store, ctx.outbox.retention_ms) == ("postgres", 2 * 3600 * 1000)


def test_outbox_defaults_and_retention_zero(tmp_path: Path) -> None:
    cases = (("{}", ("sqlite", 0)), ("{retention: 0}", ("sqlite", 0)))
    for i, (outbox, expected) in enumerate(cases):
        specs = tmp_path / str(i)
        specs.mkdir()
        body = "eventgen: 1\ncontext: orders\noutbox: " + outbox + "\n"
        project, found = pipeline.load_project(_specs(specs, body))
        assert project is not None and _codes(found) == [], outbox
        box = project.context("orders").outbox
        assert box is not None and (box.store, box.retention_ms) == expected


def test_inbox_retention_equal_to_the_topic_is_clean_shorter_warns(tmp_path: Path) -> None:
    # [compact, delete] deletes by retention, so 30d is the topic's; 29d is one day short.
    for days, codes in ((30, []), (29, ["W0822"])):
        body = RUNTIME_TOPICS + (
            "  projector:\n"
            "    subscribe: [order-events]\n"
            "    handles: [OrderPlaced]\n"
            f"    idempotency: {{store: sqlite, retention: {days}d}}\n"
        )
        specs = tmp_path / str(days)
        specs.mkdir()
        _, found = pipeline.load_project(_specs(specs, body))
        assert _codes(found) == codes, days


def test_consumer_suppress_silences_its_own_warnings_never_errors(tmp_path: Path) -> None:
    body = RUNTIME_TOPICS + (
        "  quiet:\n"
        "    subscribe: [order-events]\n"
        "    handles: [OrderPlaced]\n"
        "    on_failure: park-key\n"
        "    suppress: [W0820, W0828]\n"
        "  loud: {subscribe: [order-events], handles: [OrderPlaced]}\n"
    )
    _, found = pipeline.load_project(_specs(tmp_path, body))
    # quiet's W0820 and W0828 are silenced, its E0824 (park-key without a DLQ) is not; loud
    # still warns.
    assert sorted((d.code, d.loc.line) for d in found) == [("E0824", 11), ("W0820", 13)]


def test_app_attribute_names_follow_the_naming_authority() -> None:
    assert naming.py_app_attr("reserve-stock") == "reserve_stock"
    assert [naming.py_app_attr(n) for n in ("class", "match", "print", "type")] == [
        "class_",
        "match_",
        "print_",
        "type_",
    ]
    # The fixed names are refused by E0825, not escaped.
    assert {naming.py_app_attr(n) for n in naming.APP_FIXED_NAMES} == naming.APP_FIXED_NAMES
    assert naming.app_module("order-mgmt") == "order_mgmt_app"


def test_outbox_table_rule_is_the_runtimes() -> None:
    # The generator imports no runtime; its spelling of the runtime's table rules must agree.
    from eventgen.runtime import spec as runtime_spec
    from eventgen.runtime import sql as runtime_sql

    assert naming.RUNTIME_TABLES == {runtime_spec.INBOX_TABLE, runtime_spec.PARKED_TABLE}
    names = ["outbox", "_x", "a" * 48, "a" * 49, "Outbox", "9box", "o-box", "o box", "o;x", ""]
    for name in names:
        ours = bool(naming.SQL_TABLE.fullmatch(name)) and len(name) <= naming.SQL_TABLE_MAX
        try:
            runtime_sql.quote(name)
            theirs = True
        except runtime_sql.SqlNameError:
            theirs = False
        assert ours == theirs, name
