"""The saga worker with a crash point: `python -m tests.sagas.fault_crash [--kill before|after
--at N] [--commits FILE] -- run MODULE:ATTR ...`.

Imported first in the child process only, it wraps psycopg's commit paths (the outer
`Connection.transaction()` block's exit and `Connection.commit()`) and counts the *saga
commits*: committed transactions that wrote a row of the saga instances table (an INSERT or
UPDATE of `orders_saga_instances`). Right before (`--kill before`) or right after
(`--kill after`) the N-th one, the process sends itself SIGKILL: a real kill -9, no cleanup, no
offset commit, no leave-group. Then the runner's own `main` runs with the arguments after `--`.
No runtime hook is involved: the runtime does not know it is watched.

`--table`, `--verbs` and `--match` choose other commits to count: the orders relay's removal
of a published batch is `--table order_outbox --verbs DELETE --match "seq = ANY"`.

`--commits FILE` appends one line per saga commit (`<n> <thread name>`), flushed before the
kill, so a test learns how many saga commits a run made.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

TABLE = "orders_saga_instances"


class CommitWatch:
    """Counts saga commits and kills the process at the chosen one."""

    def __init__(
        self,
        kill: str | None,
        at: int,
        commits: str | None,
        table: str,
        verbs: tuple[str, ...] = ("INSERT", "UPDATE"),
        match: str = "",
    ) -> None:
        self.kill = kill
        self.at = at
        self.commits = commits
        self.table = table
        self.verbs = verbs
        self.match = match
        self.count = 0
        self.lock = threading.Lock()
        self.dirty: set[int] = set()  # id() of connections whose open transaction wrote

    def note(self, conn: Any, statement: Any) -> None:
        text = _text(statement, conn)
        head = text.lstrip()[:6].upper()
        if head in self.verbs and self.table in text and self.match in text:
            self.dirty.add(id(conn))

    def commit(self, conn: Any, do_commit: Callable[[], Any]) -> Any:
        if id(conn) not in self.dirty:
            return do_commit()
        self.dirty.discard(id(conn))
        with self.lock:
            self.count += 1
            n = self.count
            if self.kill == "before" and n == self.at:
                self._write(f"{n} kill-before {threading.current_thread().name}")
                os.kill(os.getpid(), signal.SIGKILL)
            result = do_commit()
            self._write(f"{n} {threading.current_thread().name}")
            if self.kill == "after" and n == self.at:
                self._write(f"{n} kill-after")
                os.kill(os.getpid(), signal.SIGKILL)
            return result

    def rollback(self, conn: Any) -> None:
        self.dirty.discard(id(conn))

    def _write(self, line: str) -> None:
        if self.commits is None:
            return
        with open(self.commits, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _text(statement: Any, conn: Any) -> str:
    if isinstance(statement, str):
        return statement
    if isinstance(statement, bytes):
        return statement.decode("utf-8", "replace")
    as_string = getattr(statement, "as_string", None)
    if as_string is not None:
        try:
            return str(as_string(conn))
        except Exception:  # noqa: BLE001 - a composed statement that needs a live context
            return str(statement)
    return str(statement)


def install(watch: CommitWatch) -> None:
    """Wrap psycopg's execute and commit paths (this process only)."""
    import psycopg

    cursor_execute = psycopg.Cursor.execute
    cursor_executemany = psycopg.Cursor.executemany
    transaction_exit = psycopg.Transaction.__exit__
    connection_commit = psycopg.Connection.commit
    connection_rollback = psycopg.Connection.rollback

    def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        watch.note(self.connection, query)
        return cursor_execute(self, query, *args, **kwargs)

    def executemany(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        watch.note(self.connection, query)
        return cursor_executemany(self, query, *args, **kwargs)

    def exit_(self: Any, exc_type: Any, exc: Any, tb: Any) -> Any:
        conn = self.connection
        # A nested block always has a savepoint name (psycopg gives the outer one "").
        if self.savepoint_name:
            return transaction_exit(self, exc_type, exc, tb)
        if exc_type is not None:
            watch.rollback(conn)
            return transaction_exit(self, exc_type, exc, tb)
        return watch.commit(conn, lambda: transaction_exit(self, exc_type, exc, tb))

    def commit(self: Any) -> None:
        watch.commit(self, lambda: connection_commit(self))

    def rollback(self: Any) -> None:
        watch.rollback(self)
        connection_rollback(self)

    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
    psycopg.Transaction.__exit__ = exit_  # type: ignore[method-assign]
    psycopg.Connection.commit = commit  # type: ignore[method-assign]
    psycopg.Connection.rollback = rollback  # type: ignore[method-assign]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--" not in args:
        print("usage: fault_crash [--kill before|after --at N] [--commits FILE] -- run ...")
        return 2
    split = args.index("--")
    parser = argparse.ArgumentParser(prog="tests.sagas.fault_crash")
    parser.add_argument("--kill", choices=("before", "after"))
    parser.add_argument("--at", type=int, default=0)
    parser.add_argument("--commits")
    parser.add_argument("--table", default=TABLE)
    parser.add_argument("--verbs", default="INSERT,UPDATE", help="statements that count")
    parser.add_argument("--match", default="", help="text a counted statement must contain")
    own = parser.parse_args(args[:split])
    verbs = tuple(v.strip().upper() for v in own.verbs.split(",") if v.strip())
    install(CommitWatch(own.kill, own.at, own.commits, own.table, verbs, own.match))
    from eventgen.runtime.runner import main as runner_main

    return runner_main(args[split + 1 :])


if __name__ == "__main__":
    sys.exit(main())
