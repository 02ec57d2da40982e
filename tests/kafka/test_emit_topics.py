"""The topic file: one per environment, every topic incl. DLQs, deterministic bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eventgen.emit.topics import emit
from tests.kafka.factory import project, topic


def _projects() -> dict[str, object]:
    events = topic(
        "order-events",
        partitions=12,
        retention_ms=-1,
        compression="zstd",
        dlq=2592000000,
        config={"segment.bytes": "536870912", "max.message.bytes": "2097152"},
    )
    state = topic(
        "state", "inventory", cleanup=("compact",), min_insync_replicas=1, file="inv.yaml"
    )
    prod = topic("order-events", partitions=12, replication_factor=3, min_insync_replicas=2)
    return {"default": project(events, state), "prod": project(prod, env="prod")}


def test_one_file_per_environment_with_every_topic() -> None:
    files = emit(_projects())  # type: ignore[arg-type]
    assert sorted(files) == ["topics/default.json", "topics/prod.json"]
    doc = json.loads(files["topics/default.json"].data)
    assert doc["environment"] == "default" and doc["format"] == 1
    assert sorted(doc["topics"]) == [
        "inventory.state",
        "orders.order-events",
        "orders.order-events.dlq",
    ]
    assert doc["topics"]["orders.order-events"] == {
        "kind": "topic",
        "owner": "orders.order-events",
        "partitions": 12,
        "replication_factor": 1,
        "configs": {
            "cleanup.policy": "delete",
            "compression.type": "zstd",
            "max.message.bytes": "2097152",
            "retention.ms": "-1",
            "segment.bytes": "536870912",
        },
        "source": "orders.yaml",
    }
    # the DLQ keeps durability and size limits, never compacts, has its own retention
    assert doc["topics"]["orders.order-events.dlq"]["configs"] == {
        "cleanup.policy": "delete",
        "compression.type": "zstd",
        "max.message.bytes": "2097152",
        "retention.ms": "2592000000",
    }
    assert doc["topics"]["inventory.state"]["configs"]["cleanup.policy"] == "compact"
    prod = json.loads(files["topics/prod.json"].data)
    assert prod["topics"]["orders.order-events"]["replication_factor"] == 3


def test_bytes_are_sorted_and_end_with_newline() -> None:
    data = emit(_projects())["topics/default.json"].data  # type: ignore[arg-type]
    assert data.endswith(b"}\n")
    assert data == (json.dumps(json.loads(data), indent=2, sort_keys=True) + "\n").encode()


def test_identical_bytes_under_any_hash_seed() -> None:
    code = (
        "import hashlib, sys; sys.path.insert(0, '.');"
        "from tests.kafka.test_emit_topics import _projects; from eventgen.emit.topics import emit;"
        "f = emit(_projects()); print(hashlib.sha256(b''.join(f[k].data for k in sorted(f))).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
        ).stdout
        for seed in ("0", "1", "12345")
    }
    assert len(digests) == 1


def test_unsafe_environment_name_is_refused() -> None:
    with pytest.raises(ValueError, match="file name"):
        emit({"../x": project(topic())})
