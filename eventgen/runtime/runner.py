"""`python -m eventgen.runtime run MODULE:ATTR`: run an app or a relay as a process.

The runner owns what a process needs and a library must not decide: where the code comes from
(MODULE is imported with the working directory on sys.path, as `python -m` does), the
configuration (flags over environment variables over the spec), signals (SIGTERM and SIGINT set
the `stop` event the object's loop watches; a second signal ends the process at once with
128 + the signal) and the exit code. Everything it runs has one shape:

    target.run(config=..., transport=..., max_messages=..., idle_exit_s=..., stop=...)

`python -m eventgen.runtime projections rebuild MODULE:ATTR` calls the projector's `rebuild()`
with the same settings and signals (a signal stops it before the swap); progress lines go to
stdout. `saga ...` (list, show and operator actions on saga instances) and `flows ...`
(choreography flows) hand their arguments to eventgen.runtime.saga.operator and
eventgen.runtime.saga.flows_cli, which have their own exit codes.

Exit codes: 0 after a graceful stop (signal, --max-messages, --idle-exit); 2 for bad usage and
for errors the operator fixes before retrying (a module that does not import, a name that is not
runnable, a StartupError/StoreError/ConfigError); 1 for an unexpected exception (with its
traceback); 128 + N when a second signal N cuts the graceful stop short.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

from eventgen.runtime.config import ConfigError, load_config
from eventgen.runtime.errors import StartupError, StoreError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# The exceptions an operator fixes (configuration, unreachable services, missing handlers),
# caught by class: errors.py and config.py import nothing heavy.
OPERATOR_CLASSES: tuple[type[BaseException], ...] = (StartupError, StoreError, ConfigError)
RUN_KEYWORDS = ("config", "transport", "max_messages", "idle_exit_s", "stop")
CONFIG_FLAGS = (
    "bootstrap_servers",
    "postgres_dsn",
    "sqlite_path",
    "schema_registry_url",
    "subject_strategy",
    "instance_id",
    "connect_timeout_s",
    "log_interval_s",
)

# Commands whose arguments another module parses: `saga ...` (the saga operator commands)
# and `flows ...` (choreography flows); imported on use, so a missing one fails alone.
DELEGATED = {
    "saga": "eventgen.runtime.saga.operator",
    "flows": "eventgen.runtime.saga.flows_cli",
}
DELEGATED_HELP = {
    "saga": "saga instances: saga list|show|resume|retry-step|skip-step|abort MODULE:ATTR "
    "(saga --help)",
    "flows": "choreography flows: flows list MODULE:ATTR (flows --help)",
}

log = logging.getLogger("eventgen.runtime.runner")


class UsageError(Exception):
    """A target or flag the runner cannot use; the message is the one line it prints."""


def is_operator_error(exc: BaseException) -> bool:
    """True for StartupError, StoreError and ConfigError of eventgen.runtime (or subclasses)."""
    return isinstance(exc, OPERATOR_CLASSES)


def resolve(target: str) -> Any:
    """Import MODULE and return its ATTR (dotted: `pkg.mod:holder.app`); UsageError otherwise."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"{target!r}: expected MODULE:ATTR (e.g. shop_events.inventory_app:app)")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)  # what `python -m` does for the user's own modules
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any error while importing is the module's, shown in one line
        raise UsageError(f"cannot import {module_name}: {_one_line(exc)}") from exc
    value: Any = module
    for part in attr.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise UsageError(f"{module_name} has no attribute {attr!r}") from None
    check_runnable(value, target)
    return value


def check_runnable(value: Any, target: str) -> None:
    """UsageError unless `value.run` takes the runner's keyword arguments."""
    if inspect.isclass(value):
        raise UsageError(f"{target} is a class; name a ready object (an app or a relay instance)")
    run = getattr(value, "run", None)
    if not callable(run):
        raise UsageError(f"{target} is not runnable: {type(value).__name__} has no run() method")
    try:
        parameters = inspect.signature(run).parameters
    except (TypeError, ValueError):
        return  # a builtin or C method: nothing to inspect, the call itself will tell
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    missing = [name for name in RUN_KEYWORDS if name not in parameters]
    if missing:
        raise UsageError(
            f"{target} is not runnable: its run() lacks the keyword(s) {', '.join(missing)}"
        )


def run(
    target: str | Any,
    *,
    transport: Any = None,
    max_messages: int | None = None,
    idle_exit_s: float | None = None,
    stop: threading.Event | None = None,
    client: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    handle_signals: bool = True,
    **flags: Any,
) -> int:
    """Run `target` (MODULE:ATTR or a ready object) as the command does; the exit code.

    `flags` are RuntimeConfig fields (bootstrap_servers=..., postgres_dsn=...); None is unset.
    Signal handlers are installed only when `handle_signals` and on the main thread, and are
    restored on return. Errors print one line to stderr, as the command does.
    """
    stop = stop if stop is not None else threading.Event()
    try:
        name = target if isinstance(target, str) else f"{type(target).__name__} object"
        obj = resolve(target) if isinstance(target, str) else target
        if not isinstance(target, str):
            check_runnable(obj, name)
        unknown = sorted(set(flags) - set(CONFIG_FLAGS))
        if unknown:
            raise UsageError(f"unknown setting(s): {', '.join(unknown)}")
        if max_messages is not None and max_messages < 1:
            raise UsageError(f"--max-messages {max_messages}: expected a positive count")
        if idle_exit_s is not None and not idle_exit_s > 0:
            raise UsageError(f"--idle-exit {idle_exit_s}: expected a positive number of seconds")
        config = load_config({**flags, "client": dict(client or {})}, environ)
    except UsageError as exc:
        return _fail(str(exc))
    except ConfigError as exc:
        return _fail(f"configuration: {exc}")
    log.info("starting %s (bootstrap servers %s)", name, config.bootstrap_servers)
    with _signals(stop, enabled=handle_signals):
        try:
            stats = obj.run(
                config=config,
                transport=transport,
                max_messages=max_messages,
                idle_exit_s=idle_exit_s,
                stop=stop,
            )
        except Exception as exc:
            if is_operator_error(exc):
                return _fail(f"{name}: {_one_line(exc)}")
            log.exception("%s failed", name)
            print(f"error: {name} failed: {_one_line(exc)}", file=sys.stderr)
            return EXIT_FAILED
    why = "stop requested" if stop.is_set() else "run ended"
    line = getattr(stats, "line", None)  # RunStats and RelayStats print as `name=value ...`
    log.info("%s stopped (%s): %s", name, why, line() if callable(line) else stats)
    return EXIT_OK


def rebuild(
    target: str | Any,
    *,
    stop: threading.Event | None = None,
    client: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    handle_signals: bool = True,
    progress: Any = None,
    **flags: Any,
) -> int:
    """`projections rebuild MODULE:ATTR`: the projector's `rebuild()`; the exit code.

    Progress lines go to stdout (or `progress`). A signal stops the rebuild before the swap
    (the live table stays as it was).
    """
    stop = stop if stop is not None else threading.Event()
    try:
        name = target if isinstance(target, str) else f"{type(target).__name__} object"
        obj = resolve(target) if isinstance(target, str) else target
        if not callable(getattr(obj, "rebuild", None)):
            raise UsageError(f"{name} is not a projector: {type(obj).__name__} has no rebuild()")
        unknown = sorted(set(flags) - set(CONFIG_FLAGS))
        if unknown:
            raise UsageError(f"unknown setting(s): {', '.join(unknown)}")
        config = load_config({**flags, "client": dict(client or {})}, environ)
    except UsageError as exc:
        return _fail(str(exc))
    except ConfigError as exc:
        return _fail(f"configuration: {exc}")

    def say(line: str) -> None:
        print(line, flush=True)

    with _signals(stop, enabled=handle_signals):
        try:
            stats = obj.rebuild(config=config, progress=progress or say, stop=stop)
        except Exception as exc:
            if is_operator_error(exc):
                return _fail(f"{name}: {_one_line(exc)}")
            log.exception("%s rebuild failed", name)
            print(f"error: {name} rebuild failed: {_one_line(exc)}", file=sys.stderr)
            return EXIT_FAILED
    line = getattr(stats, "line", None)
    log.info("%s rebuild ended: %s", name, line() if callable(line) else stats)
    return EXIT_OK


@contextmanager
def _signals(stop: threading.Event, *, enabled: bool) -> Iterator[None]:
    """SIGTERM/SIGINT set `stop`; a second one exits at once with 128 + the signal."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    seen: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if seen:
            print(f"{signal.Signals(signum).name} again: exiting now", file=sys.stderr, flush=True)
            sys.stdout.flush()
            # os._exit: a SystemExit raised here would unwind through the loop's cleanup
            # (consumer close, producer flush), the very thing the operator chose not to wait for.
            os._exit(128 + signum)
        seen.append(signum)
        print(
            f"{signal.Signals(signum).name}: stopping after the current message "
            "(send it again to exit now)",
            file=sys.stderr,
            flush=True,
        )
        stop.set()

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN:
            continue  # `nohup` or `cmd &` in a script asked for this signal to be ignored
        previous[signum] = current
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


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


def _client_setting(raw: str) -> tuple[str, str]:
    key, sep, value = raw.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{raw!r}: expected KEY=VALUE (e.g. linger.ms=5)")
    return key.strip(), value


def _config_flags(runp: argparse.ArgumentParser) -> None:
    """The settings flags of `run` and `projections rebuild`."""
    runp.add_argument("--bootstrap-servers", help="Kafka brokers ($KAFKA_BOOTSTRAP_SERVERS)")
    runp.add_argument("--postgres-dsn", help="PostgreSQL store ($EVENTGEN_POSTGRES_DSN)")
    runp.add_argument("--sqlite-path", help="SQLite store file ($EVENTGEN_SQLITE_PATH)")
    runp.add_argument("--schema-registry-url", help="($EVENTGEN_SCHEMA_REGISTRY_URL)")
    runp.add_argument("--subject-strategy", choices=("topic", "record"))
    runp.add_argument("--instance-id", help="stable instance name ($EVENTGEN_INSTANCE_ID)")
    runp.add_argument(
        "--connect-timeout",
        dest="connect_timeout_s",
        type=_positive_float,
        metavar="SECONDS",
        help="wait for a broker or database at most this long ($EVENTGEN_CONNECT_TIMEOUT)",
    )
    runp.add_argument(
        "--log-interval",
        dest="log_interval_s",
        type=_positive_float,
        metavar="SECONDS",
        help="seconds between progress lines ($EVENTGEN_LOG_INTERVAL)",
    )
    runp.add_argument(
        "--client",
        action="append",
        type=_client_setting,
        default=[],
        metavar="KEY=VALUE",
        help="librdkafka setting for every client, repeatable ($EVENTGEN_CLIENT_<KEY>)",
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m eventgen.runtime",
        description="Run generated eventgen apps and relays; rebuild projections; operate "
        "dead-letter topics, saga instances and choreography flows.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    runp = commands.add_parser(
        "run",
        help="run an app or relay (MODULE:ATTR) until stopped",
        description="Import MODULE, take its ATTR (an app or relay object) and run it. "
        "Settings: flags, then environment variables, then the spec.",
    )
    runp.add_argument("target", metavar="MODULE:ATTR")
    _config_flags(runp)
    runp.add_argument(
        "--max-messages", type=_positive_int, metavar="N", help="stop after N messages"
    )
    runp.add_argument(
        "--idle-exit",
        type=_positive_float,
        metavar="SECONDS",
        help="stop after this long without a message",
    )
    runp.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    )
    projections = commands.add_parser(
        "projections",
        help="projections: rebuild a read model (MODULE:ATTR names its projector)",
        description="rebuild: replay every source of the projection into a shadow table "
        "while the live one keeps serving, then swap it in atomically.",
    )
    projections.add_argument("action", choices=("rebuild",))
    projections.add_argument("target", metavar="MODULE:ATTR")
    _config_flags(projections)
    projections.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    )
    dlq = commands.add_parser("dlq", help="dead-letter topics: dlq replay --help")
    dlq.add_argument("action", choices=("replay",))
    dlq.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the action")
    for command, help_text in DELEGATED_HELP.items():
        delegated = commands.add_parser(command, help=help_text, add_help=False)
        delegated.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the command")
    return top


def delegate(command: str, argv: Sequence[str]) -> int:
    """`saga ...` and `flows ...`: the module's own `main(argv, prog=...)` parses the rest."""
    module_name = DELEGATED[command]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return _fail(f"{command} is not available: {_one_line(exc)}")
    code: int = module.main(list(argv), prog=f"python -m eventgen.runtime {command}")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:  # its own parser, `--help` and flags included
        return delegate(argv[0], argv[1:])
    args = parser().parse_args(argv)
    if args.command == "dlq":
        try:
            replay = importlib.import_module("eventgen.runtime.failures.replay")
        except ImportError as exc:
            return _fail(f"dlq replay is not available: {_one_line(exc)}")
        code: int = replay.main(list(args.args), prog="python -m eventgen.runtime dlq replay")
        return code
    if args.command == "projections":
        logging.basicConfig(
            level=args.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        flags = {name: getattr(args, name) for name in CONFIG_FLAGS}
        return rebuild(args.target, client=dict(args.client), **flags)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    flags = {name: getattr(args, name) for name in CONFIG_FLAGS}
    return run(
        args.target,
        max_messages=args.max_messages,
        idle_exit_s=args.idle_exit,
        client=dict(args.client),
        **flags,
    )
