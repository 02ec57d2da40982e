"""`python -m eventgen.runtime saga ACTION MODULE:ATTR ...`: look at saga instances and act on
them.

MODULE:ATTR names a saga worker (`SagaApp`, e.g. `shop_events.orders_sagas:place_order_saga`);
its definition names the tables, its consumer spec the store (the outbox's: SQLite or
PostgreSQL), configured as `run` is (`--sqlite-path` / `--postgres-dsn`, then
`EVENTGEN_SQLITE_PATH` / `EVENTGEN_POSTGRES_DSN`).

- `list` [--status S]... [--older-than 10m|2h|3d] [--idle-for 10m|2h|3d] [--limit N]
  [--format text|json]: instances, oldest update first; `--older-than`: started longer ago
  than that (the saga's age), `--idle-for`: unchanged for that long (its last update)
- `show SAGA_ID` [--format text|json]: the instance, its steps and its log
- `resume | retry-step | skip-step | abort SAGA_ID --reason WHY [--actor WHO]`: one operator
  command, in one transaction with its effects (the instance, the log row naming actor and
  reason, the timers, the commands through the outbox), through the worker's `apply`.

JSON (`--format json`): an instance is an object with the keys id, saga, status, step, reason,
version, started_at, updated_at, deadline_at, data, steps, log, in that order (`list`: an
array of them); a log row has seq, at, cause, from, to, step, detail, actor, reason.

Exit codes: 0 done; 1 refused (the saga's status does not allow the action: the message names
the status), no such instance, or stored data that no longer loads; 2 bad usage (arguments, a
target that is not a saga worker, configuration, an unreachable store).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from eventgen.runtime.config import ConfigError, load_config
from eventgen.runtime.errors import StartupError, StoreError

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2

PROG = "saga"
ACTIONS = ("resume", "retry-step", "skip-step", "abort")
STATUSES = ("RUNNING", "COMPLETED", "COMPENSATING", "COMPENSATED", "STUCK", "FAILED")
DEFAULT_LIMIT = 100
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_NEEDED = ("definition", "store", "machine", "act", "open_store")


class OperatorUsage(Exception):
    """Bad usage found after parsing (a target that is not a saga worker, a bad setting)."""


class NotFound(Exception):
    """No instance with that id."""


def parse_duration(raw: str) -> timedelta:
    """`500ms`, `30s`, `10m`, `2h`, `3d` -> timedelta; ValueError otherwise."""
    found = _DURATION.match(raw)
    if found is None:
        raise ValueError(f"{raw!r}: expected a duration such as 30s, 10m, 2h or 3d")
    return timedelta(seconds=float(found.group(1)) * _UNITS[found.group(2)])


def _duration(raw: str) -> timedelta:
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected a positive count")
    return value


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected a positive number of seconds")
    return value


def _status(raw: str) -> str:
    value = raw.strip().upper()
    if value not in STATUSES:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected one of {', '.join(STATUSES)}")
    return value


def _text(raw: str) -> str:
    if not raw.strip():
        raise argparse.ArgumentTypeError("expected a non-empty text")
    return raw.strip()


def parser(prog: str = PROG) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=prog,
        description="Saga instances of a saga worker (MODULE:ATTR): list and show them, or act "
        "on one (resume, retry-step, skip-step, abort).",
        epilog="Exit 0: done; 1: refused by the saga's status, no such instance, or stored "
        "data that no longer loads; 2: bad usage, configuration or an unreachable store.",
    )
    actions = top.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("target", metavar="MODULE:ATTR", help="the saga worker (a SagaApp)")
        p.add_argument("--sqlite-path", help="SQLite store file ($EVENTGEN_SQLITE_PATH)")
        p.add_argument("--postgres-dsn", help="PostgreSQL store ($EVENTGEN_POSTGRES_DSN)")
        p.add_argument(
            "--connect-timeout",
            dest="connect_timeout_s",
            type=_positive_float,
            metavar="SECONDS",
            help="wait for the database at most this long ($EVENTGEN_CONNECT_TIMEOUT)",
        )
        p.add_argument("--format", choices=("text", "json"), default="text")

    listing = actions.add_parser("list", help="instances, oldest update first")
    common(listing)
    listing.add_argument(
        "--status",
        action="append",
        type=_status,
        metavar="STATUS",
        help=f"only this status (repeatable): {', '.join(STATUSES)}",
    )
    listing.add_argument(
        "--older-than",
        type=_duration,
        metavar="DURATION",
        help="started longer ago than this: the saga's age (30s, 10m, 2h, 3d)",
    )
    listing.add_argument(
        "--idle-for",
        type=_duration,
        metavar="DURATION",
        help="unchanged for at least this long: last updated longer ago (30s, 10m, 2h, 3d)",
    )
    listing.add_argument(
        "--limit", type=_positive_int, default=DEFAULT_LIMIT, metavar="N", help="at most N"
    )
    show = actions.add_parser("show", help="one instance with its steps and log")
    common(show)
    show.add_argument("saga_id", metavar="SAGA_ID")
    helps = {
        "resume": "STUCK: retry what it was doing (the step, or the compensation)",
        "retry-step": "RUNNING or STUCK: send the current step (or compensation) again now",
        "skip-step": "treat the current step (or compensation) as done and go on",
        "abort": "RUNNING or STUCK: compensate now",
    }
    for name in ACTIONS:
        act = actions.add_parser(name, help=helps[name])
        common(act)
        act.add_argument("saga_id", metavar="SAGA_ID")
        act.add_argument(
            "--actor",
            type=_text,
            default=os.environ.get("USER") or "unknown",
            help="who acts (default: $USER)",
        )
        act.add_argument("--reason", type=_text, required=True, help="why (kept in the log)")
    return top


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """The command; the exit code (see the module docstring)."""
    try:
        args = parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: --help is 0, bad usage 2
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        app = resolve_saga(args.target)
        flags = {
            "sqlite_path": args.sqlite_path,
            "postgres_dsn": args.postgres_dsn,
            "connect_timeout_s": args.connect_timeout_s,
        }
        config = load_config(flags)
        store = app.open_store(config)
    except OperatorUsage as exc:
        return _fail(prog, str(exc), EXIT_USAGE)
    except ConfigError as exc:
        return _fail(prog, f"configuration: {exc}", EXIT_USAGE)
    except (StartupError, StoreError) as exc:
        return _fail(prog, _one_line(exc), EXIT_USAGE)
    try:
        return _dispatch(app, store, args, prog)
    finally:
        store.close()


def _dispatch(app: Any, store: Any, args: argparse.Namespace, prog: str) -> int:
    from eventgen.runtime.saga.errors import OperatorRefused, SagaDataError

    as_json = args.format == "json"
    try:
        if args.action == "list":
            now = _now()
            older = None if args.older_than is None else now - args.older_than
            idle = None if args.idle_for is None else now - args.idle_for
            items = list_instances(
                app, store, status=args.status, older_than=older, idle_since=idle, limit=args.limit
            )
            print(_dumps(items) if as_json else render_list(items))
            return EXIT_OK
        if args.action == "show":
            item = show_instance(app, store, args.saga_id)
            print(_dumps(item) if as_json else render_show(item))
            return EXIT_OK
        result = act(app, store, args.saga_id, args.action, actor=args.actor, reason=args.reason)
    except NotFound as exc:
        return _fail(prog, str(exc), EXIT_REFUSED)
    except OperatorRefused as exc:
        return _fail(prog, f"{args.action} refused: {exc}", EXIT_REFUSED)
    except SagaDataError as exc:
        return _fail(prog, str(exc), EXIT_REFUSED)
    except StoreError as exc:
        return _fail(prog, _one_line(exc), EXIT_USAGE)
    print(_dumps(result) if as_json else render_action(result))
    return EXIT_OK


# ---------------------------------------------------------------------- the target


def resolve_saga(target: str) -> Any:
    """The SagaApp named by MODULE:ATTR; OperatorUsage (one line) otherwise."""
    from eventgen.runtime.runner import UsageError, resolve

    try:
        app = resolve(target)
    except UsageError as exc:
        raise OperatorUsage(str(exc)) from None
    missing = [name for name in _NEEDED if not hasattr(app, name)]
    if missing:
        raise OperatorUsage(
            f"{target} is not a saga worker: {type(app).__name__} has no {', '.join(missing)}"
        )
    return app


# ---------------------------------------------------------------------- reading


def list_instances(
    app: Any,
    store: Any,
    *,
    status: Sequence[str] | None = None,
    older_than: datetime | None = None,
    idle_since: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[dict[str, Any]]:
    """The instances (each with its log) of the app's saga type, oldest update first:
    started before `older_than`, last updated before `idle_since`."""
    from eventgen.runtime.db import has_tables

    name = app.definition.name
    with store.transaction() as conn:
        if not has_tables(conn, app.store.kinds().values()):
            return []
        rows = app.store.list(
            conn,
            saga=name,
            status=status,
            older_than=older_than,
            limit=limit,
            updated_before=idle_since,
        )
        return [_item(row, app.store.log(conn, name, row["saga_id"])) for row in rows]


def show_instance(app: Any, store: Any, saga_id: str) -> dict[str, Any]:
    """One instance with its log; NotFound when there is none."""
    from eventgen.runtime.db import has_tables

    name = app.definition.name
    with store.transaction() as conn:
        row = None
        if has_tables(conn, app.store.kinds().values()):
            row = app.store.load(conn, name, saga_id)
        if row is None:
            raise NotFound(f"no {name} instance {saga_id!r}")
        return _item(row, app.store.log(conn, name, saga_id))


# ---------------------------------------------------------------------- acting


def act(
    app: Any,
    store: Any,
    saga_id: str,
    action: str,
    *,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One operator command in one transaction, through the worker's `act` (load locked,
    `on_operator`, `apply`); what it did. NotFound, OperatorRefused (nothing changed) or
    SagaDataError otherwise."""
    from eventgen.runtime.saga.worker import NoInstance

    name = app.definition.name
    try:
        acted = app.act(store, saga_id, action, actor=actor, reason=reason, now=now or _now())
    except NoInstance:
        raise NotFound(f"no {name} instance {saga_id!r}") from None
    before, stored = acted.before, acted.instance
    commands = [
        {
            "type": command.message.TYPE,
            "event_id": str(command.request_id),
            "step": command.step,
            "phase": command.phase,
            "attempt": command.attempt,
        }
        for command in acted.commands
    ]
    return {
        "id": saga_id,
        "saga": name,
        "action": action,
        "actor": actor,
        "reason": reason,
        "from": before.status,
        "to": stored.status,
        "step": stored.step,
        "commands": commands,
    }


# ---------------------------------------------------------------------- output


def _item(row: Mapping[str, Any], log: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An instance row and its log as the JSON object (stable key order)."""
    try:
        data: Any = json.loads(str(row["data"]))
    except ValueError:
        data = str(row["data"])
    steps: list[dict[str, Any]] = []
    try:
        state = json.loads(str(row["state"]))
        for step in state.get("steps", []):
            steps.append(
                {
                    "name": step.get("name"),
                    "status": step.get("status"),
                    "attempts": step.get("attempts", 0),
                    "compensation_attempts": step.get("compensation_attempts", 0),
                }
            )
    except (ValueError, AttributeError, TypeError):
        steps = []
    return {
        "id": str(row["saga_id"]),
        "saga": str(row["saga"]),
        "status": str(row["status"]),
        "step": row["step"],
        "reason": row.get("reason"),
        "version": int(row["version"]),
        "started_at": _iso(row.get("started_at")),
        "updated_at": _iso(row.get("updated_at")),
        "deadline_at": _iso(row.get("deadline_at")),
        "data": data,
        "steps": steps,
        "log": [
            {
                "seq": int(entry["seq"]),
                "at": _iso(entry.get("at")),
                "cause": entry.get("cause"),
                "from": entry.get("from_status"),
                "to": entry.get("to_status"),
                "step": entry.get("step"),
                "detail": entry.get("detail") or "",
                "actor": entry.get("actor"),
                "reason": entry.get("reason"),
            }
            for entry in log
        ],
    }


def render_list(items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return "no instances"
    header = ("ID", "STATUS", "STEP", "UPDATED", "REASON")
    rows = [
        (
            str(item["id"]),
            str(item["status"]),
            str(item["step"] or "-"),
            str(item["updated_at"] or "-"),
            _short(item["reason"] or ""),
        )
        for item in items
    ]
    return _table(header, rows) + f"\n{len(items)} instance(s)"


def render_show(item: Mapping[str, Any]) -> str:
    lines = [
        f"{item['saga']} {item['id']}",
        f"  status:      {item['status']}",
        f"  step:        {item['step'] or '-'}",
        f"  reason:      {item['reason'] or '-'}",
        f"  version:     {item['version']}",
        f"  started at:  {item['started_at']}",
        f"  updated at:  {item['updated_at']}",
        f"  deadline at: {item['deadline_at'] or '-'}",
        f"  data:        {json.dumps(item['data'], sort_keys=True)}",
        "",
    ]
    steps = [
        (str(s["name"]), str(s["status"]), str(s["attempts"]), str(s["compensation_attempts"]))
        for s in item["steps"]
    ]
    lines.append(_table(("STEP", "STATUS", "ATTEMPTS", "COMPENSATIONS"), steps))
    lines.append("")
    log = [
        (
            str(e["seq"]),
            str(e["at"]),
            str(e["cause"]),
            f"{e['from'] or '-'} -> {e['to']}",
            str(e["step"] or "-"),
            _short(str(e["detail"])),
            str(e["actor"] or ""),
            _short(str(e["reason"] or "")),
        )
        for e in item["log"]
    ]
    lines.append(_table(("SEQ", "AT", "CAUSE", "STATUS", "STEP", "DETAIL", "ACTOR", "REASON"), log))
    return "\n".join(lines)


def render_action(result: Mapping[str, Any]) -> str:
    head = (
        f"{result['saga']} {result['id']}: {result['action']} by {result['actor']} "
        f"({result['reason']}): {result['from']} -> {result['to']}, "
        f"step {result['step'] or '-'}"
    )
    lines = [head]
    for command in result["commands"]:
        lines.append(
            f"  sent {command['type']} ({command['phase']} {command['step']}, attempt "
            f"{command['attempt']}, event id {command['event_id']}) via the outbox"
        )
    return "\n".join(lines)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(name) for name in header]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])


def _short(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _now() -> datetime:
    return datetime.now(UTC)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _fail(prog: str, message: str, code: int) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
