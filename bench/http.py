"""Signed Slack requests over one keep-alive HTTP connection, as a busy Slack sends them."""

from __future__ import annotations

import http.client
import time
from typing import Any
from urllib.parse import urlsplit

from tests.slack_requests import Response, SlackRequests


class KeepAliveRequests(SlackRequests):
    """SlackRequests that reuses one HTTP/1.1 connection, so latency is the app's, not TCP's."""

    def __init__(self, bot_url: str, signing_secret: str, fake: Any, *, timeout: float = 10.0) -> None:
        super().__init__(bot_url, signing_secret, fake, timeout=timeout)
        parts = urlsplit(bot_url)
        self._path = parts.path or "/"
        self._connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=timeout
        )

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: str | int | None = None,
        signature: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Response:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or self.sign(body, ts),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **(extra_headers or {}),
        }
        for attempt in range(2):
            try:
                self._connection.request("POST", self._path, body=body, headers=headers)
                answer = self._connection.getresponse()
                return self._response(answer.status, answer.getheaders(), answer.read())
            except (http.client.HTTPException, ConnectionError):
                self._connection.close()  # the server closed an idle connection: reconnect once
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._connection.close()
