"""What happens when a record fails: retries, dead letters, per-key parking and DLQ replay.

- `retry`: backoff delays, `retry_on` matching, the per-record `RetryState` the loop keeps;
- `dlq`: the `eventgen-dlq-*` headers of a dead letter, written and read back;
- `parking`: `ParkedKeys`, the keys of a `park-key` consumer that go to the DLQ until replayed;
- `replay`: re-publish chosen dead letters to their original topics (`eventgen dlq replay`);
  import the function as `from eventgen.runtime.failures.replay import replay`.

Names load on first use (PEP 562): importing this package imports no Kafka client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventgen.runtime.failures.dlq import (
        DLQ_HEADERS,
        REASONS,
        REPLAY_HEADER,
        REPLAY_ID_HEADER,
        DeadLetterInfo,
        dead_letter_record,
        dlq_headers,
        read_dlq_headers,
    )
    from eventgen.runtime.failures.parking import ParkedKey, ParkedKeys
    from eventgen.runtime.failures.replay import ReplayError, ReplayReport
    from eventgen.runtime.failures.retry import RetryState, RetryStates, backoff_ms, retryable

_HOMES = {
    "DLQ_HEADERS": "dlq",
    "DeadLetterInfo": "dlq",
    "ParkedKey": "parking",
    "ParkedKeys": "parking",
    "REASONS": "dlq",
    "REPLAY_HEADER": "dlq",
    "REPLAY_ID_HEADER": "dlq",
    "ReplayError": "replay",
    "ReplayReport": "replay",
    "RetryState": "retry",
    "RetryStates": "retry",
    "backoff_ms": "retry",
    "dead_letter_record": "dlq",
    "dlq_headers": "dlq",
    "read_dlq_headers": "dlq",
    "retryable": "retry",
}


def __getattr__(name: str) -> Any:
    if name == "replay":
        # The function shares its name with the submodule, and importing a submodule sets
        # the package attribute to the module: `failures.replay` is the module once it was
        # imported. Import the function from `eventgen.runtime.failures.replay`; this lookup
        # serves only callers that ask before the submodule was imported.
        from eventgen.runtime.failures.replay import replay

        return replay
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"eventgen.runtime.failures.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DLQ_HEADERS",
    "REASONS",
    "REPLAY_HEADER",
    "REPLAY_ID_HEADER",
    "DeadLetterInfo",
    "ParkedKey",
    "ParkedKeys",
    "ReplayError",
    "ReplayReport",
    "RetryState",
    "RetryStates",
    "backoff_ms",
    "dead_letter_record",
    "dlq_headers",
    "read_dlq_headers",
    "retryable",
]
