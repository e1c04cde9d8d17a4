"""Serving: a WSGI app (Slack endpoint + health check) on waitress, or Socket Mode."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine

from store.db import ping

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
API_PREFIX = "/api/"

Wsgi = Callable[..., Iterable[bytes]]


def make_wsgi_app(app: App, engine: Engine, api: Wsgi | None = None) -> Wsgi:
    """POST /slack/events goes to Bolt; GET /healthz says whether the database answers; /api/* to `api`."""
    slack = SlackRequestHandler(app, path=SLACK_PATH)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            body: dict[str, object]
            try:
                ping(engine)
                status, body = "200 OK", {"ok": True}
            except Exception as error:  # noqa: BLE001 - any failure means unhealthy
                log.warning("health check failed: %s", type(error).__name__)
                status, body = (
                    "503 Service Unavailable",
                    {"ok": False, "error": "database unreachable"},
                )
            payload = json.dumps(body).encode()
            start_response(
                status,
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        if api is not None and (environ.get("PATH_INFO") or "").startswith(API_PREFIX):
            return api(environ, start_response)
        return slack(environ, start_response)

    return wsgi


def make_http_server(app: App, engine: Engine, host: str, port: int, api: Wsgi | None = None) -> Any:
    """A waitress server (not started); `.effective_port` tells the bound port when port is 0."""
    return make_wsgi_server(make_wsgi_app(app, engine, api), host, port)


def make_wsgi_server(wsgi: Wsgi, host: str, port: int) -> Any:
    """Any WSGI app on waitress (not started): the bot's, or the usage API alone in Socket Mode."""
    from waitress.server import create_server

    return create_server(wsgi, host=host, port=port, threads=8, ident="admin-bot")


def serve_socket_mode(app: App, app_token: str) -> SocketModeHandler:
    """Connect over Socket Mode (no public URL needed); returns the connected handler."""
    handler = SocketModeHandler(app, app_token)
    handler.connect()
    return handler


class ServerThread:
    """Runs a waitress server on a thread and stops it cleanly; for tests and benchmarks."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="waitress", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.server.effective_host}:{self.server.effective_port}"

    def _loop(self) -> None:
        # One poll at a time, so the loop thread itself closes the sockets it polls.
        while not self._stopping.is_set():
            self.server.asyncore.loop(timeout=0.05, map=self.server._map, count=1)
        for dispatcher in list(self.server._map.values()):
            dispatcher.close()
        self.server.task_dispatcher.shutdown()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        # No wake-up call: the loop may already be closing its sockets; it polls every 50 ms.
        self._stopping.set()
        self._thread.join(timeout=10)
