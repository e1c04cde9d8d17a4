"""The error boundary: no request ends in a 500, a traceback or silence.

Three layers, outermost first:
- guard_wsgi: bodies Bolt cannot parse or route (it does both before it verifies the signature)
  get 400, a timestamp header that is not a number of seconds gets 401, each with one log line.
- socket_request: a Socket Mode payload gets both checks above (it has no signature), and is
  acknowledged without being dispatched.
- RejectMalformed: signed payloads whose shape Slack would never send (no user, no view) get 400.
- answer_failure (Bolt's global error handler): anything a listener let through is logged once
  with a reference, and the user is told on the surface the payload came from.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_plus

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.request.payload_utils import (
    to_action,
    to_command,
    to_event,
    to_message,
    to_options,
    to_shortcut,
    to_step,
    to_view,
)
from slack_sdk import WebClient

from handlers import messages
from handlers.common import escape
from handlers.interaction import build_notice_view, failure_message, tell_privately
from handlers.messages import Malformed
from handlers.parse import user_of

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
MAX_BODY = 1_000_000  # bytes; Slack's payloads are far smaller
MAX_TIMESTAMP_DIGITS = 20
# How Bolt reads a payload for its listeners (the `options`, `action`, ... arguments).
PAYLOAD_READERS = (to_options, to_shortcut, to_action, to_view, to_command, to_event, to_message, to_step)
PAYLOAD_FIELD = "payload="  # an interactive request's whole form body: payload=<JSON, URL-encoded>


class Refusal(Exception):
    """A request answered with an HTTP error status before Bolt sees it."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status


def _checked_request(environ: dict[str, Any]) -> tuple[bytes, BoltRequest]:
    """The request body, and the request as Bolt parses it, or Refusal if Bolt could not parse it."""
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    # Seconds since 1970 (10 digits). Past ~309 digits Bolt's clock check overflows a float instead
    # of refusing; any time within its five minutes has far fewer than MAX_TIMESTAMP_DIGITS.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
        raise Refusal("401 Unauthorized", "missing or non-numeric timestamp header")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refusal("400 Bad Request", "bad Content-Length") from None
    if not 0 <= length <= MAX_BODY:
        raise Refusal("400 Bad Request", "body too large")
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal("400 Bad Request", "body is not UTF-8") from None
    # Parsed and routed before Bolt verifies the signature, so Bolt never fails on it; the same
    # request, with every header as Bolt's WSGI adapter passes them, is the one dispatched.
    http = WsgiHttpRequest(environ)
    return raw, readable(body, http.get_headers(), query=http.query_string)


def readable(
    body: str | dict[str, Any],
    headers: dict[str, Any] | None = None,
    mode: str = "http",
    query: str | None = None,
) -> BoltRequest:
    """The request as Bolt parses and routes it, or Refusal (400) if Bolt would trip on it.

    The one check for both transports: an HTTP body before its signature is verified, and a
    Socket Mode envelope's payload before it is dispatched. It reads the payload the way Bolt
    hands it to listeners (each accessor of slack_bolt's payload_utils) and leaves the request's
    context alone, so the request can be dispatched as it is.
    """
    try:
        request = _bolt_request(body, headers, mode, query)
        if not isinstance(request.body, dict):
            raise TypeError("payload is not a JSON object")
        for read in PAYLOAD_READERS:
            read(request.body)
    except Exception as error:  # noqa: BLE001 - whatever Bolt would trip on
        raise Refusal("400 Bad Request", f"unreadable payload ({type(error).__name__})") from None
    # Bolt's own middleware (authorization, its self-event filter) reads an event before ours runs.
    if request.body.get("type") == "event_callback" and not isinstance(request.body.get("event"), dict):
        raise Refusal("400 Bad Request", "no event")
    return request


def _bolt_request(
    body: str | dict[str, Any], headers: dict[str, Any] | None, mode: str, query: str | None
) -> BoltRequest:
    """BoltRequest(body=body, ...), with an interactive payload decoded by form_value.

    Bolt decodes `payload=...` with urllib's unquote, a Python loop over every escape, and a picker's
    request carries its whole modal, escaped. Built from the decoded payload, then given back the
    text and the HTTP mode (Bolt verifies signatures in HTTP mode only), the request is the same.
    """
    if mode == "http" and isinstance(body, str) and body.startswith(PAYLOAD_FIELD) and "&" not in body:
        decoded = json.loads(form_value(body[len(PAYLOAD_FIELD) :]))  # as Bolt's parse_body does
        if isinstance(decoded, dict):
            request = BoltRequest(body=decoded, query=query, headers=headers, mode="socket_mode")
            if request.content_type != "application/json":  # which Bolt parses as JSON, and refuses
                request.raw_body, request.mode = body, "http"
                return request
    return BoltRequest(body=body, query=query, headers=headers, mode=mode)


def form_value(value: str) -> str:
    """urllib.parse.unquote_plus(value), in C: each %XX becomes \\xXX for Python's escape codec.

    Anything it would not decode as unquote_plus does (a stray %, text beyond ASCII) is left to
    unquote_plus.
    """
    if value.isascii():
        escaped = value.replace("\\", "\\\\").replace("%", "\\x").replace("+", " ")
        try:
            latin = escaped.encode().decode("unicode_escape")  # each \\xXX is the character U+00XX
        except UnicodeDecodeError:
            return unquote_plus(value)
        return latin.encode("latin-1").decode("utf-8", "replace")
    return unquote_plus(value)


def guard_wsgi(app: App, path: str) -> WsgiApp:
    """Bolt's WSGI endpoint at `path`, answering what Bolt cannot parse with 400 or 401 and one log
    line. The body is parsed once: the request checked here is the one Bolt dispatches."""
    fallback = SlackRequestHandler(app, path=path)  # other paths and methods: 404, as Bolt answers

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            try:
                raw, request = _checked_request(environ)
            except Refusal as refusal:
                log.warning("refused a request to %s: %s", environ.get("PATH_INFO"), refusal)
                payload = refusal.status.encode()
                start_response(
                    refusal.status,
                    [("Content-Type", "text/plain"), ("Content-Length", str(len(payload)))],
                )
                return [payload]
            if environ.get("PATH_INFO") == path and environ.get("SERVER_PROTOCOL", "").startswith("HTTP"):
                answer = app.dispatch(request)
                response = WsgiHttpResponse(status=answer.status, headers=answer.headers, body=answer.body)
                start_response(response.status, response.get_headers())
                return response.get_body()
            environ["wsgi.input"] = io.BytesIO(raw)
        return fallback(environ, start_response)

    return guarded


# What Slack sends in a block element's state (and in an action or a suggestion request), by type.
ELEMENT_FIELDS: dict[str, type] = {
    "action_id": str,
    "value": str,
    "selected_date": str,
    "selected_time": str,
    "selected_user": str,
    "selected_conversation": str,
    "selected_channel": str,
    "selected_option": dict,
    "selected_options": list,
    "selected_users": list,
    "selected_conversations": list,
    "selected_channels": list,
}
SELECTED_IDS = ("selected_users", "selected_conversations", "selected_channels")
VIEW_IDS = ("id", "callback_id")  # a submitted or closed modal's, as Slack always sends them: strings
# Slack's ids (a view's, a channel's) are a letter and about ten letters and digits. A money form's
# view id is its idempotency key, which the ledger holds in 200 characters; and a handler looks ids
# up in the database, which PostgreSQL refuses to do for text with a NUL byte.
SLACK_ID = re.compile(r"[A-Za-z0-9]{0,64}")
MESSAGE_TS = re.compile(r"[0-9]{1,20}\.[0-9]{1,12}")  # a message's ts, as Slack writes it


def shape_problem(body: dict[str, Any]) -> str | None:
    """Why a signed payload cannot be from Slack, or None.

    Handlers read payloads as Slack shapes them; a field of another type is refused here rather
    than failing inside a handler.
    """
    kind = body.get("type")
    if "ssl_check" in body or kind in ("url_verification", "event_callback"):  # events: see readable()
        return None
    try:
        user_of(body)
    except Malformed as malformed:
        return str(malformed)
    view = body.get("view")
    if kind in ("view_submission", "view_closed") and not (
        isinstance(view, dict) and all(isinstance(view.get(key), str) for key in VIEW_IDS)
    ):
        return "no view"
    if isinstance(view, dict) and not SLACK_ID.fullmatch(str(view.get("id", ""))):
        return "a view id unlike Slack's"
    if problem := _container_problem(body.get("container")):
        return problem
    if isinstance(view, dict) and (problem := _state_problem(view, required=kind == "view_submission")):
        return problem
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            return "no actions"
        return next(filter(None, map(_action_problem, actions)), None)
    if kind == "block_suggestion":
        return _action_problem(body)
    if kind is None and not isinstance(body.get("command"), str):
        return "not a command, an interaction or an event"
    return None


def _container_problem(container: Any) -> str | None:
    """Why where a click came from (a message's channel and ts) is not as Slack names it, or None."""
    if container is None:
        return None
    if not isinstance(container, dict):
        return "a container is not an object"
    channel, ts = container.get("channel_id"), container.get("message_ts")
    if channel is not None and not (isinstance(channel, str) and SLACK_ID.fullmatch(channel)):
        return "a channel id unlike Slack's"
    if ts is not None and not (isinstance(ts, str) and MESSAGE_TS.fullmatch(ts)):
        return "a message ts unlike Slack's"
    return None


def _state_problem(view: dict[str, Any], *, required: bool) -> str | None:
    """Why a view's state is not {block id: {action id: element state}}, or None."""
    if "state" not in view and not required:
        return None
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict) or not all(isinstance(block, dict) for block in values.values()):
        return "no view state"
    elements = (element for block in values.values() for element in block.values())
    return next(filter(None, map(_element_problem, elements)), None)


def _action_problem(action: Any) -> str | None:
    """An action (or a suggestion request) is an element's state that names its element."""
    if isinstance(action, dict) and not isinstance(action.get("action_id"), str):
        return "an action without an action_id"
    return _element_problem(action)


def _element_problem(element: Any) -> str | None:
    """Why an element's state (or an action) is not shaped as Slack sends it, or None."""
    if not isinstance(element, dict):
        return "an element is not an object"
    for field, kind in ELEMENT_FIELDS.items():
        value = element.get(field)
        if value is not None and not isinstance(value, kind):
            return f"{field} is not a {kind.__name__}"
    options = [element.get("selected_option"), *(element.get("selected_options") or ())]
    if not all(
        option is None or isinstance(option, dict) and isinstance(option.get("value"), str)
        for option in options
    ):
        return "an option without a value"
    if not all(isinstance(chosen, str) for field in SELECTED_IDS for chosen in element.get(field) or ()):
        return "a selected id is not a string"
    return None


def socket_request(payload: Any, headers: dict[str, Any] | None) -> BoltRequest:
    """A Socket Mode envelope's payload as a Bolt request, or Refusal for any shape Slack never sends.

    There is no signature to verify first, so the shape is checked here too, before Bolt routes it.
    """
    if not isinstance(payload, dict):
        raise Refusal("400 Bad Request", "payload is not a JSON object")
    request = readable(payload, headers, "socket_mode")
    problem = shape_problem(request.body)
    if problem is not None:
        raise Refusal("400 Bad Request", problem)
    return request


class RejectMalformed(Middleware):
    """Global middleware, after Bolt verified the signature: 400 for shapes Slack never sends."""

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        body = req.body
        problem = shape_problem(body if isinstance(body, dict) else {})
        if problem is not None:
            log.warning("refused a malformed payload: %s", problem)
            return BoltResponse(status=400, body="")
        return next()


def answer_failure(error: Exception, body: dict[str, Any], respond: Any, client: WebClient) -> BoltResponse:
    """Bolt's global error handler: one log line with a reference, and words for the user.

    It also answers what no listener handles (the app raises for unhandled requests): a button or
    form drawn by an older version of the bot, with an id this version does not know, is out of date.
    """
    if isinstance(error, Malformed):
        log.warning("refused a malformed payload: %s", error)
        return BoltResponse(status=400, body="")
    kind = body.get("type") if isinstance(body, dict) else None
    if isinstance(error, BoltUnhandledRequestError):
        log.warning("no listener for a %s request: answered as out of date", kind or "command")
        return _answer(kind, body, respond, client, _out_of_date(kind, body))
    return _answer(kind, body, respond, client, failure_message(error))


def _out_of_date(kind: str | None, body: dict[str, Any]) -> str:
    """What a request no listener handles is told (events and closed forms are only acknowledged)."""
    if kind == "view_submission":
        return messages.STALE_FORM
    if kind == "block_actions":
        return messages.STALE_BUTTON
    return messages.UNKNOWN_COMMAND.format(command=escape(str(body.get("command"))[:40]))


def _answer(kind: str | None, body: Any, respond: Any, client: WebClient, text: str) -> BoltResponse:
    """`text` where the request came from: a form becomes a notice, a click is told privately, a
    command answered; a picker gets no options, anything else an empty acknowledgement."""
    if kind == "view_submission":
        view = build_notice_view(messages.FAILED_TITLE, text)
        return BoltResponse(status=200, body={"response_action": "update", "view": view})
    if kind == "block_suggestion":
        return BoltResponse(status=200, body={"options": []})
    if kind == "block_actions":
        tell_privately(client, respond, user_of(body), text)
        return BoltResponse(status=200, body="")
    if isinstance(body, dict) and "command" in body:
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
    return BoltResponse(status=200, body="")
