"""A tiny HTTP client for the usage API in tests and the bench."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

TOKEN = "test-usage-api-token"


@dataclass
class Answer:
    """One HTTP response: status, parsed JSON body, headers."""

    status: int
    body: Any
    headers: Any  # case-insensitive, as HTTP header names are


def call(
    base_url: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = TOKEN,
    content_type: str = "application/json",
    raw: bytes | None = None,
) -> Answer:
    """Send one request; 4xx and 5xx come back as answers, not exceptions."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(f"{base_url}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, payload, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, payload, headers = error.code, error.read(), error.headers
    assert headers.get("Content-Type") == "application/json", (status, payload[:200])
    return Answer(status, json.loads(payload), headers)
