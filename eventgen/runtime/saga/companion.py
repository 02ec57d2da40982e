"""A background loop that lives exactly as long as a consumer app's run.

The saga worker's timer thread and the flow tracker's sweep both run beside their
ConsumerApp: started before it, told to stop when it returns (or raises), waited for a bounded
time, and their resources released only once they have stopped (a thread still running could
still be using its connection).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("eventgen.runtime.saga")


@contextmanager
def companion(
    loop: Callable[[threading.Event], None],
    *,
    name: str,
    join_s: float,
    on_stopped: Callable[[], None],
) -> Iterator[None]:
    """Run `loop(done)` in a daemon thread named `name` for the body of the `with`; then set
    `done`, wait up to `join_s` and call `on_stopped()`, or log that the thread did not stop
    (and leave its resources alone)."""
    done = threading.Event()
    thread = threading.Thread(target=loop, args=(done,), name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(join_s)
        if thread.is_alive():
            log.error("%s: the thread did not stop within %.0f s", name, join_s)
        else:
            on_stopped()
