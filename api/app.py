"""The usage API as a small WSGI app: POST /api/usage, GET /api/accounts/{reference}, the OpenAPI document."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select

from api.openapi import ERRORS, MAX_BODY_BYTES, MAX_ITEMS, document
from store import db, usage
from store.models import Account
from store.usage import Applied, Refused

log = logging.getLogger(__name__)

PREFIX = "/api"
API_ACTOR = "api"
INTEGER_DIGITS = 100  # longer JSON integers are read as 10**100 (sign kept): no count is near it

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Answer = tuple[int, dict[str, Any] | list[Any], dict[str, str]]

STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
RETRY_AFTER_SECONDS = 10  # after a 503: the database is away; a restart takes about this long


class Refusal(Exception):
    """A whole request refused with a JSON error body; the error codes are listed in ERRORS."""

    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None):
        assert error in ERRORS
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.headers = headers or {}


def create_api(session_factory: db.SessionFactory, token: str) -> Wsgi:
    """The API as a WSGI app mounted at /api; with no token configured every path answers 404."""
    reads = db.make_read_session_factory(session_factory)
    expected = token.encode()

    def authenticate(environ: dict[str, Any]) -> None:
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, given = header.partition(" ")
        # compare_digest takes as long whatever the first wrong byte, so timing reveals nothing.
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise Refusal(
                401,
                "unauthorized",
                "Send the usage API token as 'Authorization: Bearer TOKEN'.",
                {"WWW-Authenticate": 'Bearer realm="admin-bot"'},
            )

    def post_usage(environ: dict[str, Any]) -> Answer:
        authenticate(environ)
        batch = read_batch(environ)
        outcomes = usage.apply_batch(session_factory, (usage.parse_item(raw) for raw in batch), API_ACTOR)
        results = [describe(index, outcome) for index, outcome in enumerate(outcomes)]
        applied = sum(isinstance(outcome, Applied) for outcome in outcomes)
        return 200, {"applied": applied, "refused": len(outcomes) - applied, "results": results}, {}

    def get_account(environ: dict[str, Any], reference: str | None) -> Answer:
        authenticate(environ)
        if reference == "":
            raise Refusal(404, "unknown_reference", f"Put an account reference after {PREFIX}/accounts/.")
        if reference is None or not usage.is_reference_like(reference):
            raise Refusal(404, "unknown_reference", "No account has that reference.")
        wanted = reference.strip().upper()
        with reads.begin() as session:
            account = session.scalar(select(Account).where(Account.reference == wanted))
            if account is None:
                raise Refusal(404, "unknown_reference", f"No account has the reference {wanted}.")
            return 200, account_body(account), {}

    def route(environ: dict[str, Any]) -> Answer:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == f"{PREFIX}/openapi.json":
            allow(method, "GET")
            return 200, document(), {}
        if path == f"{PREFIX}/usage":
            allow(method, "POST")
            return post_usage(environ)
        if path.startswith(f"{PREFIX}/accounts/") and path.count("/") == 3:
            allow(method, "GET")
            return get_account(environ, _from_url(path.rsplit("/", 1)[1]))
        raise Refusal(404, "not_found", f"No API endpoint at {path}; see {PREFIX}/openapi.json.")

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            if not token:
                raise Refusal(404, "not_found", "The usage API is off: USAGE_API_TOKEN is not set.")
            status, body, headers = route(environ)
        except Refusal as refusal:
            status, headers = refusal.status, refusal.headers
            body = {"error": refusal.error, "message": refusal.message}
        except Exception as error:  # noqa: BLE001 - a client gets JSON, the log gets the reason
            status, body, headers = failed(error)
        payload = json.dumps(body).encode()
        start_response(
            f"{status} {STATUS_TEXT[status]}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                ("Cache-Control", "no-store"),
                *headers.items(),
            ],
        )
        return [payload]

    return wsgi


def failed(error: Exception) -> Answer:
    """The answer to a request that failed on our side: a batch is one transaction, so nothing was
    applied. A database that is away is a 503 to send again later (the keys make that safe)."""
    if db.unavailable(error):
        log.warning("usage API request refused: the database is unavailable (%s)", type(error).__name__)
        message = (
            "The database is unavailable right now; nothing was changed. Send the same request again later."
        )
        return 503, {"error": "unavailable", "message": message}, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    log.error("usage API request failed", exc_info=error)
    return 500, {"error": "internal_error", "message": "The request failed; nothing was half-applied."}, {}


def _from_url(segment: str) -> str | None:
    """A path segment as it was sent: WSGI hands the URL's bytes over as Latin-1, and they are UTF-8
    ("ÄBC1"). None: not UTF-8, so no reference."""
    try:
        return segment.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None


def allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise Refusal(405, "method_not_allowed", f"Use {allowed} here.", {"Allow": allowed})


def read_batch(environ: dict[str, Any]) -> list[Any]:
    """The request body as a JSON array of 1 to MAX_ITEMS items, or a Refusal saying what is wrong."""
    media_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise Refusal(415, "unsupported_media_type", "Send the batch as Content-Type: application/json.")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        raise Refusal(413, "body_too_large", f"A request body may be at most {MAX_BODY_BYTES:,} bytes.")
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        batch = json.loads(body, parse_constant=_reject_constant, parse_int=_integer)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise Refusal(400, "invalid_json", "The body is not valid JSON (UTF-8).") from None
    if not isinstance(batch, list) or not batch:
        raise Refusal(
            422,
            "invalid_batch",
            "The body must be a JSON array of 1 to "
            f"{MAX_ITEMS} items such as "
            '[{"reference": "EX0123456", "credits": 12, "key": "msg-42"}].',
        )
    if len(batch) > MAX_ITEMS:
        raise Refusal(
            413,
            "too_many_items",
            f"A batch may hold at most {MAX_ITEMS} items; this one has {len(batch):,}. Split it.",
        )
    return batch


def _integer(digits: str) -> int:
    """A JSON integer. Python reads at most 4,300 digits, so a longer one (valid JSON, and no count
    of credits) is read as one as far out of range, for its item to be refused, not the batch."""
    if len(digits) <= INTEGER_DIGITS:
        return int(digits)
    return -(10**INTEGER_DIGITS) if digits.startswith("-") else 10**INTEGER_DIGITS


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def describe(index: int, outcome: usage.Outcome) -> dict[str, Any]:
    """One item's result as the API reports it."""
    if isinstance(outcome, Refused):
        return {
            "index": index,
            "key": outcome.key,
            "status": "refused",
            "reason": outcome.reason.value,
            "message": outcome.message,
        }
    item = outcome.item
    return {
        "index": index,
        "key": item.key,
        "status": "applied",
        "replayed": outcome.replayed,
        "reference": item.reference,
        "credits": item.credits,
        "occurred_at": item.occurred_at.isoformat() if item.occurred_at else None,
        "balance_after": outcome.balance_after,
    }


def account_body(account: Account) -> dict[str, Any]:
    return {
        "reference": account.reference,
        "name": account.name,
        "active": account.active,
        "balance": account.balance,
        "reminder": {
            "enabled": account.reminder_enabled,
            "level": account.reminder_level,
            "below_level": account.reminder_enabled and account.balance < account.reminder_level,
        },
    }
