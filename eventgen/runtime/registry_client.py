"""A small Confluent Schema Registry API client: stdlib HTTP, timeouts, caches.

Only what the codecs need: look a schema up under a subject (its id), fetch a schema by id,
and register one (tests, or an explicit auto-register). confluent-kafka's
`schema_registry` module is not used: it is an extra (httpx, attrs, ...) that the runtime
does not depend on. Works against Confluent's registry and Apicurio's ccompat API.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from eventgen.runtime.errors import RegistryError

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
SUBJECT_NOT_FOUND = 40401
SCHEMA_NOT_FOUND = 40403  # under a subject (lookup); 40403 is also "schema id not found"


class SchemaNotFound(RegistryError):
    """The registry answered 404: no such subject, schema under the subject, or id."""


class RegistryClient:
    """Calls one registry; answers are cached (ids and schemas never change once assigned)."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, str] = {}
        self._lock = threading.Lock()

    def lookup(self, subject: str, schema: str) -> int:
        """The id of `schema` (Avro JSON text) registered under `subject`.

        Raises SchemaNotFound naming the subject when the subject or the schema is missing:
        the schemas of a build are registered by `eventgen registry push`, not at runtime.
        """
        key = (subject, schema)
        found = self._ids.get(key)
        if found is not None:
            return found
        try:
            body = self._call("POST", f"/subjects/{_quote(subject)}", {"schema": schema})
        except SchemaNotFound as exc:
            what = "subject" if exc.status == SUBJECT_NOT_FOUND else "schema under subject"
            raise SchemaNotFound(
                f"no {what} {subject!r} in the Schema Registry at {self.url}: register the "
                "build's schemas first (`eventgen registry push`, with the same "
                "--subject-strategy as the runtime)",
                exc.status,
            ) from None
        schema_id = _int(body, "id")
        with self._lock:
            self._ids[key] = schema_id
        return schema_id

    def schema(self, schema_id: int) -> str:
        """The schema text with this id; SchemaNotFound when the registry has none."""
        found = self._schemas.get(schema_id)
        if found is not None:
            return found
        body = self._call("GET", f"/schemas/ids/{int(schema_id)}", None)
        text = body.get("schema") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise RegistryError(f"schema id {schema_id}: the registry's answer has no schema")
        if body.get("schemaType", "AVRO") != "AVRO":
            raise SchemaNotFound(f"schema id {schema_id} is {body['schemaType']}, not Avro", 404)
        with self._lock:
            self._schemas[schema_id] = text
        return text

    def register(self, subject: str, schema: str) -> int:
        """Register `schema` under `subject` (a new version unless it is there); its id."""
        body = self._call("POST", f"/subjects/{_quote(subject)}/versions", {"schema": schema})
        schema_id = _int(body, "id")
        with self._lock:
            self._ids[(subject, schema)] = schema_id
        return schema_id

    def _call(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = _error_body(exc)
            code = detail.get("error_code") if isinstance(detail, dict) else None
            message = detail.get("message") if isinstance(detail, dict) else None
            text = f"{method} {self.url}{path}: HTTP {exc.code}: {message or exc.reason}"
            if exc.code == 404:
                raise SchemaNotFound(text, code if isinstance(code, int) else 404) from None
            raise RegistryError(text, exc.code) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(
                f"Schema Registry at {self.url} unreachable "
                f"(timeout {self.timeout_s:g} s): {reason}"
            ) from None
        except ValueError as exc:
            raise RegistryError(f"{method} {self.url}{path}: not JSON: {exc}") from None


def _quote(subject: str) -> str:
    return urllib.parse.quote(subject, safe="")


def _int(body: Any, name: str) -> int:
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise RegistryError(f"the registry's answer has no integer {name!r}: {body!r}")
    return value


def _error_body(exc: urllib.error.HTTPError) -> Any:
    try:
        return json.loads(exc.read() or b"null")
    except (ValueError, OSError):
        return None
