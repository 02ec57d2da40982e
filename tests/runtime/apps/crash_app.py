"""The app the crash tests run as a real process and kill -9 (the user's handler module).

`python -m eventgen.runtime run tests.runtime.apps.crash_app:app --idle-exit 5`, configured by
environment variables (read at import, as a user's module would read its own settings):
EGT_MODE (alo | amo | eos), EGT_TOPIC, EGT_GROUP, EGT_TABLE (the effects table the test
created), EGT_OUTPUT (eos: the output topic), EGT_DELAY_MS (per-message work, so a kill lands
mid-stream). Effects: one row per message id (`seq`) with a count of handler calls.
"""

from __future__ import annotations

import os
import time
from typing import Any

from eventgen.runtime.app import Context
from tests.runtime.apps.shop import Billed, Placed, make_app

MODE = os.environ.get("EGT_MODE", "alo")
TABLE = os.environ.get("EGT_TABLE", "effects")
DELAY_S = int(os.environ.get("EGT_DELAY_MS", "0")) / 1000

app = make_app(
    os.environ.get("EGT_TOPIC", "t"),
    os.environ.get("EGT_GROUP", "g"),
    output=os.environ.get("EGT_OUTPUT") or None,
    delivery={"alo": "at-least-once", "amo": "at-most-once", "eos": "exactly-once"}[MODE],
    idempotency="postgres" if MODE == "alo" else "none",
    inbox_table=f"{TABLE}_inbox",
)

_own: Any = None


def _connection() -> Any:
    """amo/eos: the handler's own autocommit connection (there is no idempotency store)."""
    global _own
    if _own is None:
        import psycopg

        _own = psycopg.connect(os.environ["EVENTGEN_POSTGRES_DSN"], autocommit=True)
    return _own


@app.on(Placed)
def handle(event: Placed, ctx: Context[Placed]) -> None:
    if DELAY_S:
        time.sleep(DELAY_S)
    conn = ctx.db if ctx.db is not None else _connection()
    if MODE == "alo":
        # Per-key order: within the inbox's transaction, the key's last seq must be lower.
        row = conn.execute(
            f"SELECT last_seq FROM {TABLE}_keys WHERE k = %s FOR UPDATE", (event.order,)
        ).fetchone()
        if row is not None and row[0] >= event.seq:
            conn.execute(
                f"INSERT INTO {TABLE}_violations (k, seq, after) VALUES (%s, %s, %s)",
                (event.order, event.seq, row[0]),
            )
        conn.execute(
            f"INSERT INTO {TABLE}_keys (k, last_seq) VALUES (%s, %s) "
            f"ON CONFLICT (k) DO UPDATE SET last_seq = EXCLUDED.last_seq",
            (event.order, event.seq),
        )
    conn.execute(
        f"INSERT INTO {TABLE} (id, count) VALUES (%s, 1) "
        f"ON CONFLICT (id) DO UPDATE SET count = {TABLE}.count + 1",
        (event.seq,),
    )
    if MODE == "eos":
        ctx.publish(Billed(order=event.order, seq=event.seq))
