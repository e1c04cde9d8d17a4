"""Serving: a WSGI app (Slack endpoint + health check) on waitress, or Socket Mode; both stop gracefully."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from sqlalchemy import Engine

from bot.boundary import Refusal, guard_wsgi, socket_request
from bot.health import Health

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
API_PREFIX = "/api/"

Wsgi = Callable[..., Iterable[bytes]]


class InFlight:
    """Counts the requests being handled, so that a shutdown can wait for them."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    @contextmanager
    def track(self) -> Iterator[None]:
        with self._idle:
            self._count += 1
        try:
            yield
        finally:
            with self._idle:
                self._count -= 1
                self._idle.notify_all()

    @property
    def busy(self) -> bool:
        return self._count > 0

    def wait_idle(self, deadline: float) -> bool:
        """Wait until nothing is in flight or the monotonic deadline passes; True if idle."""
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, max(0.0, deadline - time.monotonic()))


def health_wsgi(health: Health) -> Wsgi:
    """GET /healthz: 200 with what each check says, or 503 naming what is wrong."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        healthy, checks = health.report()
        payload = json.dumps({"ok": healthy, **checks}).encode()
        start_response(
            "200 OK" if healthy else "503 Service Unavailable",
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    return wsgi


def not_found(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"not found"]


def make_wsgi_app(
    app: App,
    engine: Engine,
    api: Wsgi | None = None,
    health: Health | None = None,
    inflight: InFlight | None = None,
) -> Wsgi:
    """POST /slack/events goes to Bolt; GET /healthz says whether the bot can work; /api/* to `api`."""
    slack = guard_wsgi(app, SLACK_PATH)  # 400/401, never 500, for bad bodies
    healthz = health_wsgi(health or Health(engine))
    counted = inflight or InFlight()

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            return healthz(environ, start_response)
        with counted.track():
            if api is not None and (environ.get("PATH_INFO") or "").startswith(API_PREFIX):
                return api(environ, start_response)
            return slack(environ, start_response)

    return wsgi


def make_http_server(
    app: App,
    engine: Engine,
    host: str,
    port: int,
    api: Wsgi | None = None,
    *,
    health: Health | None = None,
    inflight: InFlight | None = None,
) -> Any:
    """A waitress server (not started); `.effective_port` tells the bound port when port is 0."""
    return make_wsgi_server(make_wsgi_app(app, engine, api, health, inflight), host, port)


class CannotListen(Exception):
    """A server could not take its address (in use, or a host unknown here); one line naming it."""


def make_wsgi_server(wsgi: Wsgi, host: str, port: int) -> Any:
    """Any WSGI app on waitress (not started): the bot's, or a side server in Socket Mode."""
    from waitress.server import create_server

    try:
        return create_server(wsgi, host=host, port=port, threads=8, ident="admin-bot")
    except ValueError:  # waitress's word for a host getaddrinfo cannot resolve
        raise CannotListen(f"cannot listen on {host}:{port}: unknown host.") from None
    except OSError as error:
        raise CannotListen(f"cannot listen on {host}:{port}: {error.strerror or error}.") from None


class Stop:
    """The request to stop (SIGTERM, SIGINT) and the deadline of the grace period it starts."""

    def __init__(self, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self.event = threading.Event()
        self._deadline: float | None = None

    def on_signals(self, *signals: signal.Signals) -> None:
        for signum in signals:
            signal.signal(signum, lambda *_: self.set())

    def set(self) -> None:
        if self._deadline is None:
            self._deadline = time.monotonic() + self.grace_seconds
            log.info("stopping: finishing work in flight for up to %s s", self.grace_seconds)
        self.event.set()

    def wait(self) -> None:
        # Short waits, so the main thread returns to Python often enough to run signal handlers.
        while not self.event.wait(0.2):
            pass

    @property
    def deadline(self) -> float:
        """When the grace period ends (monotonic); if nobody asked to stop, it starts now."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self.grace_seconds
        return self._deadline


def within(deadline: float, work: Callable[[], object]) -> bool:
    """Run `work` on a thread and wait for it until the deadline; True if it finished."""
    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    return not worker.is_alive()


def run_waitress(server: Any, stop: Stop, inflight: InFlight) -> None:
    """Serve until asked to stop; then refuse new connections, finish what is in flight, close."""
    from waitress import wasyncore
    from waitress.channel import HTTPChannel

    while not stop.event.is_set():
        server.asyncore.loop(timeout=0.1, map=server._map, count=1)
    wasyncore.dispatcher.close(server)  # the listening socket only; workers still wake the loop
    deadline = stop.deadline

    def busy() -> bool:
        channels = [c for c in server._map.values() if isinstance(c, HTTPChannel)]
        return inflight.busy or any(c.requests or c.total_outbufs_len for c in channels)

    while busy() and time.monotonic() < deadline:
        server.asyncore.loop(timeout=0.05, map=server._map, count=1)
    if busy():
        log.warning("shutdown grace period over with HTTP requests still in flight")
    for dispatcher in list(server._map.values()):
        dispatcher.close()
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=max(0.0, deadline - time.monotonic()))


def drain_executor(executor: Executor, deadline: float) -> bool:
    """Let queued and running lazy listeners finish, until the deadline; True if all did."""
    executor.shutdown(wait=False)
    threads = list(getattr(executor, "_threads", ())) if isinstance(executor, ThreadPoolExecutor) else []
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


class DrainingSocketModeHandler(SocketModeHandler):
    """Socket Mode that, once draining, leaves new envelopes unacknowledged for Slack to send again."""

    def __init__(self, app: App, app_token: str) -> None:
        super().__init__(app, app_token)
        self.inflight = InFlight()
        self.draining = False

    def handle(self, client: Any, req: SocketModeRequest) -> None:  # type: ignore[override]
        if self.draining:
            log.info("shutting down: envelope %s left for Slack to redeliver", req.envelope_id)
            return
        with self.inflight.track():
            try:
                request = socket_request(req.payload, build_headers(req))
            except Refusal as refusal:
                # Acknowledged, or Slack would send it again; there is no status code to answer with.
                log.warning("refused a malformed payload: %s", refusal)
                client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
                return
            send_response(client, req, self.app.dispatch(request), time.time())

    def close_within(self, seconds: float) -> None:
        """Close the WebSocket; slack_sdk's close can hang on a reconnecting session, so bound it."""
        closer = threading.Thread(target=self.close, name="socket-mode-close", daemon=True)
        closer.start()
        closer.join(seconds)


def serve_socket_mode(app: App, app_token: str) -> DrainingSocketModeHandler:
    """Connect over Socket Mode (no public URL needed); returns the connected handler."""
    handler = DrainingSocketModeHandler(app, app_token)
    handler.connect()
    return handler


def make_health_wsgi(health: Health) -> Wsgi:
    """The Socket Mode side server: GET /healthz, nothing else."""
    healthz = health_wsgi(health)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            return healthz(environ, start_response)
        return not_found(environ, start_response)

    return wsgi


def start_side_server(wsgi: Wsgi, host: str, port: int, stop: Stop) -> str:
    """Serve `wsgi` on a thread (Socket Mode's health check or usage API) until `stop`; its URL."""
    counted = InFlight()

    def tracked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with counted.track():
            return wsgi(environ, start_response)

    server = make_wsgi_server(tracked, host, port)
    threading.Thread(target=run_waitress, args=(server, stop, counted), daemon=True).start()
    return f"http://{host}:{server.effective_port}"


def run_socket_mode(handler: DrainingSocketModeHandler, stop: Stop) -> None:
    """Serve envelopes until asked to stop; then finish those in flight and close the WebSocket."""
    print("admin-bot connected to Slack over Socket Mode; Ctrl+C stops it.", flush=True)
    stop.wait()
    handler.draining = True
    if not handler.inflight.wait_idle(stop.deadline):
        log.warning("shutdown grace period over with Socket Mode envelopes still in flight")
    handler.close_within(max(1.0, stop.deadline - time.monotonic()))


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
