"""Plain HTTP reads of a Schema Registry's Confluent API, independent of the client under test."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


def http(method: str, url: str) -> tuple[int, Any]:
    """Status and JSON body of a plain HTTP call."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def versions(url: str, subject: str) -> list[int]:
    """The subject's version numbers ([] when the registry does not know it)."""
    status, body = http("GET", f"{url}/subjects/{urllib.parse.quote(subject)}/versions")
    return list(body) if status == 200 else []
