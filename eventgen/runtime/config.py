"""Runtime configuration: flags first, then environment variables, then the spec's values.

Read when an app, relay or publisher starts (never at import), so importing a generated
module connects to nothing and reads nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

CLIENT_PREFIX = "EVENTGEN_CLIENT_"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_SQLITE_PATH = "eventgen.sqlite3"


@dataclass(frozen=True)
class RuntimeConfig:
    """Where the services are and how to reach them. Every field has a flag and a variable."""

    bootstrap_servers: str = DEFAULT_BOOTSTRAP  # KAFKA_BOOTSTRAP_SERVERS
    postgres_dsn: str | None = None  # EVENTGEN_POSTGRES_DSN
    sqlite_path: str = DEFAULT_SQLITE_PATH  # EVENTGEN_SQLITE_PATH
    # Extra librdkafka settings for every client (EVENTGEN_CLIENT_SECURITY_PROTOCOL=SSL ->
    # {"security.protocol": "SSL"}); they override what the runtime sets, so use with care.
    client: Mapping[str, str] = field(default_factory=dict)
    schema_registry_url: str | None = None  # EVENTGEN_SCHEMA_REGISTRY_URL; None: no framing
    subject_strategy: Literal["topic", "record"] = "topic"  # EVENTGEN_SUBJECT_STRATEGY
    # A stable name of this instance (EVENTGEN_INSTANCE_ID): exactly-once apps derive their
    # transactional.id from it, so a restarted instance fences its predecessor.
    instance_id: str = "0"
    # How long to wait for a broker or database that is not there before giving up.
    connect_timeout_s: float = 30.0  # EVENTGEN_CONNECT_TIMEOUT
    log_interval_s: float = 10.0  # EVENTGEN_LOG_INTERVAL: progress lines


_ENV = {
    "bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "postgres_dsn": "EVENTGEN_POSTGRES_DSN",
    "sqlite_path": "EVENTGEN_SQLITE_PATH",
    "schema_registry_url": "EVENTGEN_SCHEMA_REGISTRY_URL",
    "subject_strategy": "EVENTGEN_SUBJECT_STRATEGY",
    "instance_id": "EVENTGEN_INSTANCE_ID",
    "connect_timeout_s": "EVENTGEN_CONNECT_TIMEOUT",
    "log_interval_s": "EVENTGEN_LOG_INTERVAL",
}
_FLOATS = {"connect_timeout_s", "log_interval_s"}


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names its source."""


def load_config(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> RuntimeConfig:
    """The configuration from `flags` (None values are unset), then `environ` (os.environ)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, variable in _ENV.items():
        raw = environ.get(variable)
        if raw not in (None, ""):
            values[name] = _parse(name, raw, variable)
    client = {
        key[len(CLIENT_PREFIX) :].lower().replace("_", "."): value
        for key, value in environ.items()
        if key.startswith(CLIENT_PREFIX) and len(key) > len(CLIENT_PREFIX)
    }
    for name, value in (flags or {}).items():
        if value is None:
            continue
        if name == "client":
            client.update(dict(value))
            continue
        if name not in _ENV:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = _parse(name, value, f"--{name.replace('_', '-')}")
    config = replace(RuntimeConfig(), **values, client=client)
    if config.subject_strategy not in ("topic", "record"):
        raise ConfigError(
            f"subject strategy {config.subject_strategy!r}: expected 'topic' or 'record'"
        )
    return config


def _parse(name: str, raw: Any, source: str) -> Any:
    if name not in _FLOATS:
        return str(raw)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}={raw!r}: expected a number of seconds") from None
    if not value > 0:
        raise ConfigError(f"{source}={raw!r}: expected a positive number of seconds")
    return value
