"""A STUB of the Confluent Schema Registry REST API, for testing eventgen's client logic only.

It is not a registry: it stores schemas in memory and decides compatibility by a test-given
rule (by default: every change is compatible). Karapace, the intended real server, is not
published on PyPI, so it could not be installed here (see docs/schema-evolution.md).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

Decide = Callable[[str, list[str], str], bool]  # subject, registered schemas, candidate


class StubState:
    def __init__(self, decide: Decide) -> None:
        self.decide = decide
        self.subjects: dict[str, list[str]] = {}
        self.config: dict[str, str] = {}
        self.ids: dict[str, int] = {}
        self.requests: list[tuple[str, str]] = []


def _handler(state: StubState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length", 0))
            return json.loads(self.rfile.read(length) or b"{}")

        def _route(self, method: str) -> None:
            parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]
            state.requests.append((method, "/".join(parts)))
            if method == "GET" and parts == ["config"]:
                return self._send(200, {"compatibilityLevel": "BACKWARD"})
            if parts[0] == "config" and len(parts) == 2:
                if method == "PUT":
                    state.config[parts[1]] = self._body()["compatibility"]
                    return self._send(200, {"compatibility": state.config[parts[1]]})
                if parts[1] in state.config:
                    return self._send(200, {"compatibilityLevel": state.config[parts[1]]})
                return self._send(404, {"error_code": 40408, "message": "not configured"})
            if method == "POST" and parts[0] == "compatibility":
                subject = parts[2]
                if subject not in state.subjects:
                    return self._send(404, {"error_code": 40401, "message": "Subject not found"})
                ok = state.decide(subject, state.subjects[subject], self._body()["schema"])
                return self._send(200, {"is_compatible": ok})
            if method == "POST" and parts[0] == "subjects" and parts[-1] == "versions":
                subject, schema = parts[1], self._body()["schema"]
                versions = state.subjects.setdefault(subject, [])
                if schema not in versions:
                    if versions and not state.decide(subject, versions, schema):
                        return self._send(409, {"error_code": 409, "message": "incompatible"})
                    versions.append(schema)
                state.ids.setdefault(schema, len(state.ids) + 1)
                return self._send(200, {"id": state.ids[schema]})
            return self._send(404, {"error_code": 404, "message": f"stub: no route {self.path}"})

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

    return Handler


@contextmanager
def stub_registry(decide: Decide = lambda s, v, c: True) -> Iterator[tuple[str, StubState]]:
    """Serve the stub on 127.0.0.1 (an ephemeral port) for the duration of the block."""
    state = StubState(decide)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
