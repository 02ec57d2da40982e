"""Consumer apps: handler registration, the delivery loops, retries, DLQ and idempotency.

`ConsumerApp(spec, messages)` is what a generated `<context>_app.py` instantiates per
consumer; docs/consumers.md describes the guarantees as implemented.
"""

from eventgen.runtime.app.consumer import ConsumerApp
from eventgen.runtime.app.context import Context
from eventgen.runtime.app.startup import StartupError
from eventgen.runtime.app.stats import RunStats

__all__ = ["ConsumerApp", "Context", "RunStats", "StartupError"]
