"""eventgen.emit.connect without services: the connector config's shape, names and rules.

The end-to-end behaviour (bytes, headers, restart) is in test_debezium.py against a real
Connect worker; these pin what that test cannot see cheaply (name limits, refusals).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from eventgen.emit.connect import (
    ENVELOPE_HEADERS,
    PG_NAME_MAX,
    ConnectConfigError,
    connector_config,
    pg_name,
    publication_name,
    slot_name,
)
from eventgen.ir.model import Context, Outbox, Project
from eventgen.pipeline import load_project
from eventgen.runtime.headers import HEADER_FIELDS
from tests.runtime.test_debezium import write_spec

SLOT_NAME = re.compile(r"[a-z0-9_]{1,63}")  # PostgreSQL's rule for replication slot names


@pytest.fixture
def project(tmp_path: Path) -> Project:
    loaded, findings = load_project(write_spec(tmp_path, "payments", "payment_outbox"))
    assert loaded is not None, [str(f) for f in findings]
    return loaded


def test_the_file_is_the_post_body_with_the_name_inside_too(project: Project) -> None:
    emitted = connector_config(project, project.context("payments"))
    assert set(emitted) == {"name", "config"}
    assert emitted["name"] == "eventgen-dbz-payments-outbox"
    assert emitted["config"]["name"] == emitted["name"]
    # Connect wants every config value as a string.
    assert all(isinstance(v, str) for v in emitted["config"].values())
    assert json.loads(json.dumps(emitted)) == emitted


def test_connection_settings_are_env_placeholders_only(project: Project) -> None:
    config = connector_config(project, project.context("payments"))["config"]
    database = {k: v for k, v in config.items() if k.startswith("database.")}
    assert database == {
        "database.hostname": "${env:EVENTGEN_PG_HOST}",
        "database.port": "${env:EVENTGEN_PG_PORT}",
        "database.user": "${env:EVENTGEN_PG_USER}",
        "database.password": "${env:EVENTGEN_PG_PASSWORD}",
        "database.dbname": "${env:EVENTGEN_PG_DATABASE}",
    }
    # The worker's allowlist (scripts/connect/worker.properties) admits exactly these names.
    worker = (Path(__file__).parents[2] / "scripts" / "connect" / "worker.properties").read_text()
    (pattern,) = re.findall(
        r"^config\.providers\.env\.param\.allowlist\.pattern=(.*)$", worker, re.MULTILINE
    )
    for value in database.values():
        assert re.fullmatch(pattern, value.removeprefix("${env:").removesuffix("}"))


def test_routing_bytes_and_headers(project: Project) -> None:
    config = connector_config(project, project.context("payments"))["config"]
    assert config["transforms.outbox.route.by.field"] == "aggregatetype"
    assert config["transforms.outbox.route.topic.replacement"] == "${routedByValue}"
    assert config["transforms.outbox.table.field.event.key"] == "key"
    assert config["transforms.outbox.table.field.event.payload"] == "payload"
    for side in ("key", "value"):
        assert config[f"{side}.converter"].endswith(".ByteArrayConverter")
    placement = config["transforms.outbox.table.fields.additional.placement"].split(",")
    headers = [p.split(":") for p in placement]
    assert all(where == "header" for _, where, _ in headers)
    # The header names are the runtime's envelope header names, in the publisher's order.
    assert tuple(name for _, _, name in headers) == HEADER_FIELDS
    assert tuple((column, name) for column, _, name in headers) == ENVELOPE_HEADERS
    assert config["extended.headers.enabled"] == "false"
    assert config["transforms.dropid.headers"] == "id"
    assert config["tombstones.on.delete"] == "false"
    assert config["snapshot.mode"] == "no_data"
    assert config["publication.autocreate.mode"] == "filtered"
    assert config["plugin.name"] == "pgoutput"


def test_table_include_list_matches_only_the_outbox_table(project: Project) -> None:
    config = connector_config(project, project.context("payments"))["config"]
    pattern = config["table.include.list"]
    assert re.fullmatch(pattern, "public.payment_outbox")
    assert not re.fullmatch(pattern, "public.payment_outbox2")
    assert not re.fullmatch(pattern, "publicXpayment_outbox")


def test_slot_and_publication_names_are_valid_and_per_context(project: Project) -> None:
    context = project.context("payments")
    assert slot_name(project, context) == "eventgen_dbz_payments_outbox"
    assert publication_name(project, context) == slot_name(project, context)
    other = replace(context, name="billing-eu")
    assert slot_name(project, other) == "eventgen_dbz_billing_eu_outbox"
    assert SLOT_NAME.fullmatch(slot_name(project, other))


def test_long_names_are_cut_with_a_hash_and_stay_distinct() -> None:
    long_a = pg_name("eventgen", "p" * 40, "context_with_a_long_name_a", "outbox")
    long_b = pg_name("eventgen", "p" * 40, "context_with_a_long_name_b", "outbox")
    assert len(long_a) == len(long_b) == PG_NAME_MAX
    assert SLOT_NAME.fullmatch(long_a) and SLOT_NAME.fullmatch(long_b)
    assert long_a != long_b
    assert pg_name("Shop-Events", "x.y") == "shop_events_x_y"


def test_refused_without_a_debezium_outbox(project: Project) -> None:
    context = project.context("payments")
    assert context.outbox is not None
    polling: Context = replace(context, outbox=replace(context.outbox, relay="polling"))
    with pytest.raises(ConnectConfigError, match="relay: debezium"):
        connector_config(project, polling)
    with pytest.raises(ConnectConfigError):
        connector_config(project, replace(context, outbox=None))


def test_deterministic(project: Project) -> None:
    context = project.context("payments")
    assert isinstance(context.outbox, Outbox)
    first = json.dumps(connector_config(project, context))
    assert first == json.dumps(connector_config(project, context))
