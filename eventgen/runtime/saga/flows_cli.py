"""`python -m eventgen.runtime flows list MODULE:ATTR [--status S] [--format json|text]`.

MODULE:ATTR names a generated flow tracker (`shop_events.shipping_reactions:
order_fulfilment_tracker`); the flows are read from its table in its store (configured like
the tracker: `EVENTGEN_SQLITE_PATH`, `EVENTGEN_POSTGRES_DSN`, or the flags). Without
`--status` every started flow is listed (RUNNING, SUCCEEDED, FAILED, OVERDUE); `--status
PENDING` lists the rows kept for messages of flows whose start event has not been seen.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from eventgen.runtime.config import ConfigError, load_config
from eventgen.runtime.db import has_tables
from eventgen.runtime.errors import StartupError
from eventgen.runtime.saga.flows import FLOW_STATUSES, FlowTracker

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_FAILED = 1


def parser(prog: str) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=prog, description="Choreography flows of a tracker.")
    actions = top.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list the flows of a tracker (MODULE:ATTR)")
    listing.add_argument("target", metavar="MODULE:ATTR")
    listing.add_argument(
        "--status",
        choices=FLOW_STATUSES,
        help="only flows of this status (PENDING: messages of flows not started yet, "
        "which are left out by default)",
    )
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.add_argument("--limit", type=int, default=1000)
    listing.add_argument("--sqlite-path", default=None)
    listing.add_argument("--postgres-dsn", default=None)
    return top


def main(argv: Sequence[str] | None = None, prog: str = "python -m eventgen.runtime flows") -> int:
    from eventgen.runtime.runner import UsageError, resolve

    args = parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        tracker = resolve(args.target)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(tracker, FlowTracker):
        print(f"error: {args.target} is not a flow tracker", file=sys.stderr)
        return EXIT_USAGE
    flags = {"sqlite_path": args.sqlite_path, "postgres_dsn": args.postgres_dsn}
    try:
        config = load_config({k: v for k, v in flags.items() if v is not None})
        store = tracker.open_store(config)
    except (ConfigError, StartupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        with store.transaction() as conn:
            if has_tables(conn, [tracker.spec.table]):
                flows = tracker.flows(conn, args.status, limit=args.limit)
            else:
                flows = []
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps([f.as_json() for f in flows], indent=2, sort_keys=True))
        return EXIT_OK
    for f in flows:
        overdue = f" overdue_at={f.overdue_at.isoformat()}" if f.overdue_at else ""
        print(
            f"{f.correlation_id} {f.status} outcome={f.outcome or '-'} steps={len(f.steps)} "
            f"last={f.last_type} started_at={f.started_at.isoformat()}{overdue}"
        )
    print(f"{len(flows)} flow(s)", file=sys.stderr)
    return EXIT_OK
