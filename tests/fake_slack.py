"""A fake Slack Web API and Socket Mode server for tests."""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, parse_qsl, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

TEAM_ID = "T0TEST"
TEAM_DOMAIN = "test-team"
APP_ID = "A0TEST"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"

# Form-encoded Web API arguments that Slack expects as JSON strings.
JSON_FIELDS = frozenset(
    {
        "attachments",
        "blocks",
        "files",
        "metadata",
        "unfurls",
        "user_auth_blocks",
        "view",
    }
)

_SERVER_ERRORS = {
    500: "internal_error",
    503: "service_unavailable",
    504: "request_timeout",
}

Params = dict[str, Any]
Predicate = Callable[[Params], bool]


# How long a test waits for the bot to do something. Waits end as soon as it is done, so this only
# matters on a loaded machine, where a PDF upload once took longer than 5 s.
WAIT_SECONDS = 15.0


@dataclass
class Call:
    """One request the fake received."""

    method: str
    params: Params
    headers: dict[str, str]  # lower-cased names
    at: float
    response_id: str | None = None  # set for response_url posts
    reply: Any = None  # the body the fake answered with, once answered


@dataclass
class _Fault:
    method: str
    error: str
    status: int
    retry_after: int | None
    times: int | None
    when: Predicate | None


@dataclass
class _Drop:
    method: str
    after_acting: bool  # True: Slack did the work, then the answer was lost
    times: int | None
    when: Predicate | None = None


@dataclass
class _Delay:
    method: str
    seconds: float
    times: int | None


@dataclass
class _Upload:
    file_id: str
    filename: str
    length: int
    completed: dict[str, Any] | None = None


class _ApiError(Exception):
    """Answer ok:false with this error."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _take(rules: list[Any], method: str, params: Params) -> Any:
    """Pop one use of the first rule matching method and params, or None."""
    for rule in rules:
        if rule.method != method:
            continue
        if getattr(rule, "when", None) is not None and not rule.when(params):
            continue
        if rule.times is not None:
            rule.times -= 1
            if rule.times <= 0:
                rules.remove(rule)
        return rule
    return None


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """Read a request body, plain or chunked."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _parse_multipart(body: bytes, content_type: str) -> Params:
    """Split a multipart/form-data body: file parts as bytes, fields as str."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    out: Params = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        if part.get_filename() is not None:
            out[str(name)] = payload
        else:
            out[str(name)] = payload.decode("utf-8")
    return out


def _parse_params(query: str, body: bytes, content_type: str) -> Params:
    """Merge query string and body arguments the way Slack reads them."""
    params: Params = dict(parse_qsl(query, keep_blank_values=True))
    ctype = content_type.split(";")[0].strip().lower()
    if not body:
        return params
    if ctype == "application/json":
        data = json.loads(body)
        params.update(data if isinstance(data, dict) else {"_json": data})
        return params
    if ctype == "multipart/form-data":
        form = _parse_multipart(body, content_type)
    else:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    for key, value in form.items():
        if key in JSON_FIELDS and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        params[key] = value
    return params


def _bearer(headers: dict[str, str], params: Params) -> str:
    """The token a request carries, from the header or a token argument."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return str(params.get("token") or "")


class FakeSocketMode:
    """A WebSocket server speaking Slack's Socket Mode envelope protocol."""

    def __init__(self, app_id: str = APP_ID) -> None:
        self.app_id = app_id
        self.received: list[dict[str, Any]] = []
        self.connects = 0
        self._cond = threading.Condition()
        self._tickets: set[str] = set()
        self._connections: list[ServerConnection] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen on a free local port."""
        # A short close_timeout keeps stop() quick when a client never answers the close.
        self._server = serve(self._handle, "127.0.0.1", 0, close_timeout=1)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-socket-mode", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Close every connection and the listener."""
        with self._cond:
            connections = list(self._connections)
        for conn in connections:
            conn.close()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        assert self._server is not None, "socket mode server not started"
        return int(self._server.socket.getsockname()[1])

    def new_url(self) -> str:
        """Issue a one-time WebSocket URL, as apps.connections.open does."""
        ticket = uuid.uuid4().hex
        with self._cond:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    @property
    def connection_count(self) -> int:
        """How many clients are connected now."""
        with self._cond:
            return len(self._connections)

    def wait_connected(self, timeout: float = WAIT_SECONDS) -> None:
        """Block until a client is connected and greeted."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._connections, timeout):
                raise AssertionError(f"no Socket Mode client connected within {timeout}s")

    def send_envelope(
        self,
        type: str,
        payload: dict[str, Any],
        accepts_response_payload: bool | None = None,
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = WAIT_SECONDS,
    ) -> str:
        """Send a slash_commands, interactive or events_api envelope; return its id."""
        envelope_id = str(uuid.uuid4())
        if accepts_response_payload is None:
            # Slack only lets commands and interactions answer through the ack.
            accepts_response_payload = type != "events_api"
        message: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            message["retry_attempt"] = retry_attempt
            message["retry_reason"] = retry_reason
        self._latest(timeout).send(json.dumps(message))
        return envelope_id

    def send_disconnect(self, reason: str = "refresh_requested", timeout: float = WAIT_SECONDS) -> None:
        """Ask the client to reconnect, as Slack does before recycling a socket."""
        message = {
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": "applink-fake"},
        }
        self._latest(timeout).send(json.dumps(message))

    def wait_for_ack(self, envelope_id: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        """The client's ack for an envelope: {"envelope_id": ..., "payload": ...?}."""
        with self._cond:
            if not self._cond.wait_for(lambda: envelope_id in self._acks, timeout):
                raise AssertionError(
                    f"no ack for envelope {envelope_id} within {timeout}s; received: {self.received!r}"
                )
            return self._acks[envelope_id]

    def _latest(self, timeout: float) -> ServerConnection:
        self.wait_connected(timeout)
        with self._cond:
            return self._connections[-1]

    def _handle(self, conn: ServerConnection) -> None:
        query = urlsplit(conn.request.path if conn.request else "").query
        ticket = parse_qs(query).get("ticket", [""])[0]
        with self._cond:
            known = ticket in self._tickets
            self._tickets.discard(ticket)
        if not known:
            conn.close(code=4001, reason="invalid ticket")
            return
        hello = {
            "type": "hello",
            "num_connections": self.connection_count + 1,
            "debug_info": {
                "host": "applink-fake",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
        conn.send(json.dumps(hello))
        with self._cond:
            self._connections.append(conn)
            self.connects += 1
            self._cond.notify_all()
        try:
            for raw in conn:
                try:
                    message = json.loads(raw)
                except ValueError:
                    message = {"_raw": raw}
                with self._cond:
                    self.received.append(message)
                    if isinstance(message, dict) and "envelope_id" in message:
                        self._acks[message["envelope_id"]] = message
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self._connections.remove(conn)
                self._cond.notify_all()


class FakeSlack:
    """A local stand-in for slack.com's Web API, uploads, response_url and Socket Mode."""

    def __init__(
        self,
        *,
        team_id: str = TEAM_ID,
        team_domain: str = TEAM_DOMAIN,
        app_id: str = APP_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
    ) -> None:
        self.team_id = team_id
        self.team_domain = team_domain
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.calls: list[Call] = []
        self.uploads: dict[str, bytes] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.view_history: list[dict[str, Any]] = []
        self.home_views: dict[str, dict[str, Any]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}  # conversations.info objects, by id
        self.socket_mode = FakeSocketMode(app_id)
        self._cond = threading.Condition(threading.RLock())
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._drops: list[_Drop] = []
        self._files: dict[str, _Upload] = {}
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> Self:
        """Serve on a free 127.0.0.1 port in a daemon thread."""
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-slack", daemon=True
        )
        self._thread.start()
        self.socket_mode.start()
        return self

    def stop(self) -> None:
        """Shut both servers down."""
        self._stopping.set()
        self.socket_mode.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT"""
        assert self._server is not None, "FakeSlack not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        """The Web API base URL in WebClient's base_url form."""
        return f"{self.base_url}/api/"

    # recording

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls to one method, oldest first."""
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = WAIT_SECONDS) -> list[Call]:
        """Wait until count calls to method were answered; return the answered ones."""

        def answered() -> list[Call]:
            return [c for c in self.calls_to(method) if c.reply is not None]

        with self._cond:
            if self._cond.wait_for(lambda: len(answered()) >= count, timeout):
                return answered()
            seen = "\n  ".join(f"{c.method} {c.params!r}" for c in self.calls)
        raise AssertionError(
            f"expected {count} answered call(s) to {method} within {timeout}s, "
            f"got {len(answered())}; calls seen:\n  {seen or '(none)'}"
        )

    def wait_for_views(self, count: int = 1, timeout: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        """Wait until the bot has opened, pushed or updated count modals; return them all."""
        with self._cond:
            if self._cond.wait_for(lambda: len(self.view_history) >= count, timeout):
                return copy.deepcopy(self.view_history)
            seen = ", ".join(c.method for c in self.calls) or "(none)"
        raise AssertionError(
            f"expected {count} modal(s) opened/pushed/updated within {timeout}s, "
            f"got {len(self.view_history)}; calls seen: {seen}"
        )

    def reset(self) -> None:
        """Forget recorded calls and uploads; keep users, views and faults."""
        with self._cond:
            self.calls.clear()
            self.uploads.clear()
            self._files.clear()

    def response_url(self) -> str:
        """A fresh response_url pointing at this fake."""
        return f"{self.base_url}/response/{uuid.uuid4().hex}"

    def responses(self, url_or_id: str | None = None) -> list[Call]:
        """Posts to response URLs, optionally only to one of them."""
        wanted = url_or_id.rsplit("/", 1)[-1] if url_or_id else None
        return [c for c in self.calls_to("response_url") if wanted is None or c.response_id == wanted]

    def uploaded_files(self) -> list[dict[str, Any]]:
        """Files whose upload was completed, with their bytes."""
        with self._cond:
            return [
                {**f.completed, "content": self.uploads.get(f.file_id, b"")}
                for f in self._files.values()
                if f.completed is not None
            ]

    # scripting

    def add_user(
        self,
        user_id: str,
        email: str,
        name: str | None = None,
        deleted: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """Register a workspace member for users.info and users.lookupByEmail."""
        name = name or email.split("@")[0]
        real_name = extra.pop("real_name", name)
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": deleted,
            "real_name": real_name,
            "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "is_admin": False,
            "is_owner": False,
            "is_bot": False,
            "is_app_user": False,
            "profile": {
                "real_name": real_name,
                "display_name": name,
                "real_name_normalized": real_name,
                "display_name_normalized": name,
                "email": email,
                "team": self.team_id,
            },
            **extra,
        }
        with self._cond:
            self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        member: bool = True,
        private: bool = False,
        archived: bool = False,
    ) -> dict[str, Any]:
        """Register a channel; posting to it, reading it and conversations.info then answer as Slack does.

        Channels never registered accept everything, as if the bot were a member.
        """
        channel = {
            "id": channel_id,
            "name": name,
            "is_channel": not private,
            "is_group": False,
            "is_im": False,
            "is_private": private,
            "is_archived": archived,
            "is_member": member,
            "context_team_id": self.team_id,
        }
        with self._cond:
            self.channels[channel_id] = channel
        return channel

    def invite_bot(self, channel_id: str) -> None:
        """Someone ran /invite @admin-bot in the channel."""
        with self._cond:
            self.channels[channel_id]["is_member"] = True

    def submission_answered(self, submitted: Params, answer: Any) -> None:
        """The bot acknowledged a view submission: an "update" shows its view in the submitted one's
        place with a new hash, as every update does in Slack (not in view_history, which holds what
        the bot showed through the Web API). A view changed since it was submitted is left alone."""
        if not (isinstance(answer, dict) and answer.get("response_action") == "update"):
            return
        with self._cond:
            current = self.views.get(str(submitted.get("id")))
            if current is None or current["hash"] != submitted.get("hash"):
                return
            merged = {"external_id": current.get("external_id", ""), **answer["view"]}
            self.views[current["id"]] = self._store_view(
                merged, view_id=current["id"], root_view_id=current["root_view_id"], modal=False
            )

    def fail(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        times: int | None = 1,
        when: Predicate | None = None,
    ) -> None:
        """Make the next matching call(s) fail; times=None fails forever.

        The default error is "ratelimited", or Slack's usual error for a 5xx status.
        A 429 always carries Retry-After (default 1), as Slack's does.
        """
        if error is None:
            error = _SERVER_ERRORS.get(status, "fatal_error") if status >= 500 else "ratelimited"
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._cond:
            self._faults.append(_Fault(method, error, status, retry_after, times, when))

    def drop(
        self,
        method: str,
        *,
        after_acting: bool = False,
        times: int | None = 1,
        when: Predicate | None = None,
    ) -> None:
        """Close the connection without an answer; with after_acting, only once the call took effect.

        after_acting=False is a connection dropped before Slack saw the call (nothing happened);
        after_acting=True is an answer lost on the way back (the message was posted, the view opened).
        """
        with self._cond:
            self._drops.append(_Drop(method, after_acting, times, when))

    def delay(self, method: str, seconds: float, times: int | None = 1) -> None:
        """Answer the next call(s) to method only after seconds."""
        with self._cond:
            self._delays.append(_Delay(method, seconds, times))

    def clear_faults(self) -> None:
        """Drop every scripted fault and delay."""
        with self._cond:
            self._faults.clear()
            self._delays.clear()
            self._drops.clear()

    # request handling (called from server threads)

    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def _answer(self, call: Call, body: Any) -> None:
        with self._cond:
            call.reply = body
            self._cond.notify_all()

    def _take_drop(self, method: str, params: Params) -> _Drop | None:
        with self._cond:
            return _take(self._drops, method, params)

    def _before_answer(self, method: str, params: Params) -> _Fault | None:
        """Apply a scripted delay, then return a scripted fault if one matches."""
        with self._cond:
            pause = _take(self._delays, method, params)
        if pause is not None:
            self._stopping.wait(pause.seconds)
        with self._cond:
            return _take(self._faults, method, params)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):08X}"

    def _new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"

    def _api(self, method: str, params: Params, token: str) -> dict[str, Any]:
        """Answer one Web API method, or raise _ApiError."""
        is_app_token = token.startswith("xapp-")
        if (method == "apps.connections.open") != is_app_token:
            raise _ApiError("not_allowed_token_type")
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            raise _ApiError("unknown_method")
        with self._cond:
            return {"ok": True, **handler(params)}

    # Web API methods

    def _m_auth_test(self, params: Params) -> Params:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Test Team",
            "user": "admin-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_apps_connections_open(self, params: Params) -> Params:
        return {"url": self.socket_mode.new_url()}

    def _channel(self, params: Params) -> str:
        channel = str(params.get("channel") or "")
        if not channel:
            raise _ApiError("channel_not_found")
        # Posting to a user id lands in the app's DM with them.
        return "D" + channel if channel[0] in "UW" else channel

    def _joined(self, params: Params) -> str:
        """A channel the bot may post in and read, or Slack's error for one it may not."""
        channel = self._channel(params)
        known = self.channels.get(channel)
        if known is None:
            return channel
        if known["is_archived"]:
            raise _ApiError("is_archived")
        if not known["is_member"]:
            # A private channel the bot is not in is invisible to it.
            raise _ApiError("channel_not_found" if known["is_private"] else "not_in_channel")
        return channel

    def _m_conversations_info(self, params: Params) -> Params:
        known = self.channels.get(str(params.get("channel") or ""))
        if known is None or (known["is_private"] and not known["is_member"]):
            raise _ApiError("channel_not_found")
        return {"channel": copy.deepcopy(known)}

    def _message(self, params: Params, ts: str) -> Params:
        message: Params = {
            "type": "message",
            "text": params.get("text", ""),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if key in params:
                message[key] = params[key]
        return message

    def _m_chat_postMessage(self, params: Params) -> Params:
        channel = self._joined(params)
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            raise _ApiError("no_text")
        ts = self._new_ts()
        message = self._message(params, ts)
        self.messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": message}

    def _m_chat_postEphemeral(self, params: Params) -> Params:
        self._channel(params)
        if not params.get("user"):
            raise _ApiError("user_not_in_channel")
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            raise _ApiError("no_text")
        return {"message_ts": self._new_ts()}

    def _m_chat_update(self, params: Params) -> Params:
        channel = self._joined(params)
        ts = str(params.get("ts") or "")
        if not ts:
            raise _ApiError("message_not_found")
        message = self._message(params, ts)
        self.messages[(channel, ts)] = message
        return {
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": message,
        }

    def _listed(self, messages: list[Params], params: Params) -> Params:
        if params.get("include_all_metadata") not in (True, "true", "1", 1):
            messages = [{k: v for k, v in m.items() if k != "metadata"} for m in messages]
        limit = int(params.get("limit") or 100)
        return {"messages": copy.deepcopy(messages[:limit]), "has_more": len(messages) > limit}

    def _m_conversations_history(self, params: Params) -> Params:
        """Top-level messages in a channel, newest first."""
        channel = self._joined(params)
        found = [m for (c, _), m in self.messages.items() if c == channel and not m.get("thread_ts")]
        return self._listed(sorted(found, key=lambda m: float(m["ts"]), reverse=True), params)

    def _m_conversations_replies(self, params: Params) -> Params:
        """A thread: its parent, then its replies, oldest first."""
        channel, ts = self._joined(params), str(params.get("ts") or "")
        if (channel, ts) not in self.messages:
            raise _ApiError("thread_not_found")
        found = [
            m for (c, t), m in self.messages.items() if c == channel and (t == ts or m.get("thread_ts") == ts)
        ]
        return self._listed(sorted(found, key=lambda m: float(m["ts"])), params)

    def _m_chat_getPermalink(self, params: Params) -> Params:
        channel, ts = self._channel(params), str(params.get("message_ts") or "")
        if (channel, ts) not in self.messages:
            raise _ApiError("message_not_found")
        return {
            "channel": channel,
            "permalink": f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _view_arg(self, params: Params) -> Params:
        view = params.get("view")
        if not isinstance(view, dict):
            raise _ApiError("invalid_arguments")
        return view

    def _store_view(self, view: Params, *, view_id: str, root_view_id: str, modal: bool = True) -> Params:
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "title": None,
            "submit": None,
            "close": None,
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            **copy.deepcopy(view),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "root_view_id": root_view_id,
            "previous_view_id": None,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        if modal:
            self.views[view_id] = stored
            self.view_history.append(copy.deepcopy(stored))
        return copy.deepcopy(stored)

    def _check_external_id(self, view: Params, view_id: str | None = None) -> None:
        external_id = view.get("external_id")
        if not external_id:
            return
        for other in self.views.values():
            if other.get("external_id") == external_id and other["id"] != view_id:
                raise _ApiError("duplicate_external_id")

    def _m_views_open(self, params: Params) -> Params:
        view = self._view_arg(params)
        if not (params.get("trigger_id") or params.get("interactivity_pointer")):
            raise _ApiError("invalid_arguments")
        self._check_external_id(view)
        view_id = self._new_id("V")
        return {"view": self._store_view(view, view_id=view_id, root_view_id=view_id)}

    def _m_views_push(self, params: Params) -> Params:
        view = self._view_arg(params)
        if not (params.get("trigger_id") or params.get("interactivity_pointer")):
            raise _ApiError("invalid_arguments")
        self._check_external_id(view)
        modals = [v for v in self.view_history if v.get("type") == "modal"]
        view_id = self._new_id("V")
        root = modals[-1]["root_view_id"] if modals else view_id
        stored = self._store_view(view, view_id=view_id, root_view_id=root)
        return {"view": stored}

    def _m_views_update(self, params: Params) -> Params:
        view = self._view_arg(params)
        if params.get("view_id"):
            current = self.views.get(str(params["view_id"]))
        elif params.get("external_id"):
            wanted = params["external_id"]
            current = next((v for v in self.views.values() if v.get("external_id") == wanted), None)
        else:
            raise _ApiError("invalid_arguments")
        if current is None:
            raise _ApiError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        self._check_external_id(view, current["id"])
        merged = {"external_id": current.get("external_id", ""), **view}
        stored = self._store_view(merged, view_id=current["id"], root_view_id=current["root_view_id"])
        return {"view": stored}

    def _m_views_publish(self, params: Params) -> Params:
        view = self._view_arg(params)
        user_id = str(params.get("user_id") or "")
        if not user_id:
            raise _ApiError("invalid_arguments")
        if view.get("type") != "home":
            raise _ApiError("invalid_arguments")
        current = self.home_views.get(user_id)
        if current and params.get("hash") and params["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        view_id = current["id"] if current else self._new_id("V")
        stored = self._store_view(view, view_id=view_id, root_view_id=view_id, modal=False)
        self.home_views[user_id] = stored
        return {"view": copy.deepcopy(stored)}

    def _m_conversations_open(self, params: Params) -> Params:
        if params.get("channel"):
            return {"channel": {"id": params["channel"]}}
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise _ApiError("users_list_not_supplied")
        if len(users) == 1:
            return {"channel": {"id": "D" + users[0]}}
        return {"channel": {"id": "G" + "".join(sorted(users))[:10]}}

    def _m_users_info(self, params: Params) -> Params:
        user = self.users.get(str(params.get("user") or ""))
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _m_users_lookupByEmail(self, params: Params) -> Params:
        email = str(params.get("email") or "").lower()
        for user in self.users.values():
            if user["profile"]["email"].lower() == email:
                return {"user": copy.deepcopy(user)}
        raise _ApiError("users_not_found")

    def _m_files_getUploadURLExternal(self, params: Params) -> Params:
        filename = str(params.get("filename") or "")
        length = str(params.get("length") or "")
        if not filename or not length.isdigit():
            raise _ApiError("invalid_arguments")
        file_id = self._new_id("F")
        self._files[file_id] = _Upload(file_id, filename, int(length))
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, params: Params) -> Params:
        files = params.get("files")
        if not isinstance(files, list) or not files:
            raise _ApiError("invalid_arguments")
        channel_id = params.get("channel_id")
        channels = [c for c in str(params.get("channels") or "").split(",") if c]
        if channel_id:
            channels = [str(channel_id), *channels]
        answered = []
        for item in files:
            upload = self._files.get(str(item.get("id")))
            if upload is None or upload.file_id not in self.uploads:
                raise _ApiError("file_not_found")
            title = item.get("title") or upload.filename
            upload.completed = {
                "file_id": upload.file_id,
                "filename": upload.filename,
                "title": title,
                "channel_id": channel_id,
                "channels": channels,
                "initial_comment": params.get("initial_comment"),
                "thread_ts": params.get("thread_ts"),
            }
            answered.append(
                {
                    "id": upload.file_id,
                    "created": int(time.time()),
                    "name": upload.filename,
                    "title": title,
                    "user": self.bot_user_id,
                    "size": len(self.uploads[upload.file_id]),
                    "channels": channels,
                    "url_private": f"{self.base_url}/files/{upload.file_id}",
                }
            )
        return {"files": answered}

    # non-API endpoints

    def _upload(self, file_id: str, body: bytes, content_type: str) -> tuple[int, str]:
        if content_type.lower().startswith("multipart/form-data"):
            parts = _parse_multipart(body, content_type)
            body = next((v for v in parts.values() if isinstance(v, bytes)), b"")
        with self._cond:
            if file_id not in self._files:
                return 404, "file_not_found"
            self.uploads[file_id] = body
        return 200, f"OK - {len(body)}"


class _Server(ThreadingHTTPServer):
    fake: FakeSlack

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that gave up (timeouts, retries) hang up mid-answer; that is expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    server_version = "FakeSlack/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    @property
    def fake(self) -> FakeSlack:
        return self.server.fake

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = _read_body(self)
        ctype = headers.get("content-type", "")
        section, _, rest = url.path.lstrip("/").partition("/")
        if section == "api" and rest:
            self._api(rest, url.query, body, ctype, headers)
        elif section == "upload" and rest:
            self._upload(rest, body, ctype, headers)
        elif section == "response" and rest:
            self._response_url(rest, body, headers)
        else:
            self._send(404, "text/plain", b"not_found")

    def _api(self, method: str, query: str, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        try:
            params = _parse_params(query, body, ctype)
        except ValueError:
            params = {"_raw": body.decode("utf-8", "replace")}
        call = Call(method, params, headers, time.time())
        self.fake._record(call)
        token = _bearer(headers, params)
        extra: dict[str, str] = {}
        status = 200
        dropped = self.fake._take_drop(method, params)
        if dropped is not None and not dropped.after_acting:
            self.close_connection = True
            return
        try:
            if not token:
                raise _ApiError("not_authed")
            fault = self.fake._before_answer(method, params)
            if fault is not None:
                status = fault.status
                if fault.retry_after is not None:
                    extra["Retry-After"] = str(fault.retry_after)
                raise _ApiError(fault.error)
            if "_raw" in params:
                raise _ApiError("invalid_json")
            reply: dict[str, Any] = self.fake._api(method, params, token)
        except _ApiError as e:
            reply = {"ok": False, "error": e.error}
        self.fake._answer(call, reply)
        if dropped is not None:  # it acted; the answer is lost on the way back
            self.close_connection = True
            return
        self._send(status, "application/json; charset=utf-8", json.dumps(reply).encode(), extra)

    def _upload(self, file_id: str, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        params = {"file_id": file_id, "size": len(body)}
        call = Call("upload", params, headers, time.time())
        self.fake._record(call)
        dropped = self.fake._take_drop("upload", params)
        if dropped is not None and not dropped.after_acting:
            self.close_connection = True
            return
        fault = self.fake._before_answer("upload", params)
        if fault is not None:
            status, text = fault.status, fault.error
        else:
            status, text = self.fake._upload(file_id, body, ctype)
        self.fake._answer(call, text)
        if dropped is not None:
            self.close_connection = True
            return
        self._send(status, "text/plain; charset=utf-8", text.encode())

    def _response_url(self, response_id: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            params = json.loads(body) if body else {}
            status, text = 200, "ok"
        except ValueError:
            params = {"_raw": body.decode("utf-8", "replace")}
            status, text = 400, "invalid_payload"
        call = Call("response_url", params, headers, time.time(), response_id=response_id)
        self.fake._record(call)
        fault = self.fake._before_answer("response_url", params)
        if fault is not None:
            status, text = fault.status, fault.error
        self.fake._answer(call, text)
        self._send(status, "text/html", text.encode())

    def _send(self, status: int, ctype: str, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
