"""The usage API over real HTTP on the bot's server: authentication, once-per-key usage, refusals."""

from __future__ import annotations

import dataclasses
import json
import threading
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select, update

from api.app import create_api
from api.openapi import MAX_ITEMS
from bot.app import create_app
from bot.config import Config
from bot.serving import ServerThread, make_http_server
from store import accounts, db, ledger, reminders
from store.models import Account, EntryKind, LedgerEntry
from tests.api.client import TOKEN, Answer, call
from tests.conftest import balance_of, make_account

REF = "EX0000001"


def serve(config: Config, engine, session_factory: db.SessionFactory, token: str) -> ServerThread:
    app = create_app(dataclasses.replace(config, usage_api_token=token), session_factory)
    server = make_http_server(app, engine, "127.0.0.1", 0, create_api(session_factory, token))
    return ServerThread(server)


@pytest.fixture
def api_url(config: Config, engine, session_factory: db.SessionFactory) -> Iterator[str]:
    """The bot's HTTP server with the usage API on, using TOKEN."""
    with serve(config, engine, session_factory, TOKEN) as running:
        yield running.url


@pytest.fixture
def acme(session_factory: db.SessionFactory) -> str:
    """An active account with 1,000 credits."""
    make_account(session_factory, REF, "Acme Marketing", credits=1000)
    return REF


def post(api_url: str, items: object, **options) -> Answer:
    return call(api_url, "POST", "/api/usage", items, **options)


def usage_entries(session_factory: db.SessionFactory) -> int:
    with session_factory.begin() as session:
        return session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == EntryKind.USAGE.value)
        )


# authentication


@pytest.mark.parametrize(
    "token",
    [None, "wrong-token", "", TOKEN + "x", TOKEN[:-1]],
    ids=["missing", "wrong", "empty", "longer", "shorter"],
)
def test_usage_without_the_right_token_is_refused_with_401_and_changes_nothing(
    api_url: str, acme: str, session_factory, token
):
    answer = post(api_url, [{"reference": REF, "credits": 5, "key": "k1"}], token=token)
    assert answer.status == 401
    assert answer.body["error"] == "unauthorized"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert call(api_url, "GET", f"/api/accounts/{REF}", token=token).status == 401
    assert balance_of(session_factory, REF) == 1000


def test_a_revoked_token_stops_working_once_the_new_one_is_configured(config, engine, session_factory, acme):
    with serve(config, engine, session_factory, "new-token") as running:
        assert call(running.url, "GET", f"/api/accounts/{REF}", token=TOKEN).status == 401
        assert call(running.url, "GET", f"/api/accounts/{REF}", token="new-token").status == 200


def test_without_a_configured_token_the_api_is_off(config, engine, session_factory, acme):
    with serve(config, engine, session_factory, "") as running:
        for method, path in (
            ("POST", "/api/usage"),
            ("GET", f"/api/accounts/{REF}"),
            ("GET", "/api/openapi.json"),
        ):
            answer = call(running.url, method, path, [] if method == "POST" else None, token="")
            assert answer.status == 404
            assert "USAGE_API_TOKEN" in answer.body["message"]


# recording usage


def test_usage_is_taken_from_the_balance_and_reported(api_url: str, acme: str, session_factory):
    answer = post(
        api_url,
        [{"reference": "ex0000001", "credits": 120, "key": "msg-1", "occurred_at": "2026-11-02T10:15:00Z"}],
    )
    assert answer.status == 200
    assert answer.body == {
        "applied": 1,
        "refused": 0,
        "results": [
            {
                "index": 0,
                "key": "msg-1",
                "status": "applied",
                "replayed": False,
                "reference": REF,
                "credits": 120,
                "occurred_at": "2026-11-02T10:15:00+00:00",
                "balance_after": 880,
            }
        ],
    }
    assert balance_of(session_factory, REF) == 880
    assert usage_entries(session_factory) == 1


def test_a_replay_returns_the_original_result_and_changes_nothing(api_url: str, acme: str, session_factory):
    batch = [
        {"reference": REF, "credits": 100, "key": "msg-1"},
        {"reference": REF, "credits": 50, "key": "msg-2"},
    ]
    first = post(api_url, batch)
    post(api_url, [{"reference": REF, "credits": 1, "key": "msg-3"}])  # the balance moves on
    again = post(api_url, batch)
    assert [r["balance_after"] for r in again.body["results"]] == [900, 850]
    assert [r["replayed"] for r in again.body["results"]] == [True, True]
    assert [{**r, "replayed": False} for r in again.body["results"]] == first.body["results"]
    assert balance_of(session_factory, REF) == 849
    assert usage_entries(session_factory) == 3


@pytest.mark.parametrize(
    ("zone", "occurred_at"),
    [("Asia/Tokyo", "9999-12-31T23:59:59Z"), ("America/New_York", "0001-01-01T00:00:00Z")],
    ids=["ahead-of-utc", "behind-utc"],
)
def test_a_replay_reads_its_time_back_whatever_the_servers_time_zone(
    api_url: str, acme: str, engine, session_factory, zone: str, occurred_at: str
):
    # PostgreSQL hands timestamps back in the session's zone, where these instants fall outside
    # the years Python can hold: the replay of a stored key was a 500, for good.
    item = {"reference": REF, "credits": 5, "key": "edge-of-time", "occurred_at": occurred_at}
    with _database_time_zone(engine, zone):
        first = post(api_url, [item])
        again = post(api_url, [item])
    assert (first.status, again.status) == (200, 200), again.body
    assert again.body["results"][0]["replayed"] is True
    assert again.body["results"][0]["occurred_at"] == first.body["results"][0]["occurred_at"]
    assert balance_of(session_factory, REF) == 995


@contextmanager
def _database_time_zone(engine, zone: str) -> Iterator[None]:
    """New connections to the test's PostgreSQL database default to `zone` (SQLite has none)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    name = engine.url.database
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"ALTER DATABASE {name} SET TimeZone = '{zone}'")
    engine.dispose()
    try:
        yield
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f"ALTER DATABASE {name} RESET TimeZone")
        engine.dispose()


@pytest.mark.parametrize(
    "changed",
    [{"credits": 101}, {"reference": "EX0000002"}, {"occurred_at": "2026-11-02T10:00:00Z"}],
    ids=["credits", "reference", "occurred_at"],
)
def test_a_key_reused_with_other_values_is_a_conflict(api_url: str, acme: str, session_factory, changed):
    make_account(session_factory, "EX0000002", "Beta Alerts", credits=1000)
    post(api_url, [{"reference": REF, "credits": 100, "key": "msg-1"}])
    answer = post(api_url, [{"reference": REF, "credits": 100, "key": "msg-1", **changed}])
    (result,) = answer.body["results"]
    assert (result["status"], result["reason"]) == ("refused", "key_conflict")
    assert "100 credits on EX0000001" in result["message"]
    assert balance_of(session_factory, REF) == 900
    assert balance_of(session_factory, "EX0000002") == 1000


# One row per refusal reason: the item, the reason, a phrase of its message.
REFUSALS = [
    (
        {"reference": "EX\x000001", "credits": 5, "key": "nul"},
        "unknown_reference",
        "No account has the reference",
    ),
    (
        {"reference": "X" * 21, "credits": 5, "key": "long"},
        "unknown_reference",
        "No account has the reference",
    ),
    (
        {"reference": "EX9999999", "credits": 5, "key": "a"},
        "unknown_reference",
        "No account has the reference EX9999999",
    ),
    ({"reference": "EX0000002", "credits": 5, "key": "b"}, "inactive_account", "EX0000002 is inactive"),
    ({"reference": REF, "credits": 1001, "key": "c"}, "insufficient_credits", "has only 1,000 credits"),
    ({"reference": REF, "credits": 0, "key": "d"}, "invalid_credits", "from 1 to"),
    ({"reference": REF, "credits": -5, "key": "e"}, "invalid_credits", "from 1 to"),
    ({"reference": REF, "credits": 2.5, "key": "f"}, "invalid_credits", "whole number"),
    ({"reference": REF, "credits": True, "key": "g"}, "invalid_credits", "whole number"),
    ({"reference": REF, "credits": "lots", "key": "h"}, "invalid_credits", "whole number"),
    ({"reference": REF, "credits": None, "key": "i"}, "invalid_credits", "whole number"),
    ({"reference": REF, "credits": 10**12, "key": "j"}, "invalid_credits", "from 1 to"),
    ({"reference": REF, "credits": 5}, "invalid_key", "key must be"),
    ({"reference": REF, "credits": 5, "key": ""}, "invalid_key", "key must be"),
    ({"reference": REF, "credits": 5, "key": "k" * 201}, "invalid_key", "1-200"),
    ({"reference": REF, "credits": 5, "key": 42}, "invalid_key", "key must be"),
    ({"reference": REF, "credits": 5, "key": "a\nb"}, "invalid_key", "printable"),
    ({"credits": 5, "key": "l"}, "invalid_item", "reference must be"),
    ({"reference": ["EX0000001"], "credits": 5, "key": "m"}, "invalid_item", "reference must be"),
    ("EX0000001,5,n", "invalid_item", "must be an object"),
    (
        {"reference": REF, "credits": 5, "key": "o", "occurred_at": "yesterday"},
        "invalid_occurred_at",
        "ISO 8601",
    ),
    (
        {"reference": REF, "credits": 5, "key": "p", "occurred_at": 1700000000},
        "invalid_occurred_at",
        "ISO 8601",
    ),
    (
        {"reference": REF, "credits": 5, "key": "q", "occurred_at": "0001-01-01T00:00:00+05:00"},
        "invalid_occurred_at",
        "ISO",
    ),
]


@pytest.mark.parametrize("digits", ["9" * 5000, "-" + "9" * 5000])
def test_a_number_too_long_to_read_refuses_its_item_not_the_batch(api_url: str, acme: str, digits):
    # Python reads at most 4,300 digits: beyond that, a valid JSON number was called invalid JSON.
    good = {"reference": REF, "credits": 5, "key": "fine"}
    raw = f'[{{"reference": "{REF}", "credits": {digits}, "key": "long"}}, {json.dumps(good)}]'
    answer = post(api_url, None, raw=raw.encode())
    assert answer.status == 200, answer.body
    long, fine = answer.body["results"]
    assert (long["status"], long["reason"]) == ("refused", "invalid_credits")
    assert "from 1 to" in long["message"]
    assert fine["status"] == "applied"


@pytest.mark.parametrize(
    "item, reason, phrase", REFUSALS, ids=[f"{r[1]}-{i}" for i, r in enumerate(REFUSALS)]
)
def test_each_refusal_reason_changes_nothing(api_url: str, acme: str, session_factory, item, reason, phrase):
    make_account(session_factory, "EX0000002", "Old Co", credits=10, active=False)
    answer = post(api_url, [item])
    assert answer.status == 200
    (result,) = answer.body["results"]
    assert (result["status"], result["reason"]) == ("refused", reason)
    assert phrase in result["message"]
    assert answer.body["applied"] == 0 and answer.body["refused"] == 1
    assert balance_of(session_factory, REF) == 1000
    assert usage_entries(session_factory) == 0


def test_each_item_succeeds_or_is_refused_on_its_own(api_url: str, acme: str, session_factory):
    answer = post(
        api_url,
        [
            {"reference": REF, "credits": 600, "key": "a"},
            {"reference": REF, "credits": 600, "key": "b"},  # only 400 left by now
            {"reference": "NOPE", "credits": 1, "key": "c"},
            {"reference": REF, "credits": 400, "key": "d"},
            {"reference": REF, "credits": 600, "key": "a"},  # replay inside the same batch
        ],
    )
    results = answer.body["results"]
    assert [(r["status"], r.get("reason"), r.get("balance_after")) for r in results] == [
        ("applied", None, 400),
        ("refused", "insufficient_credits", None),
        ("refused", "unknown_reference", None),
        ("applied", None, 0),
        ("applied", None, 400),
    ]
    assert results[4]["replayed"] is True
    assert (answer.body["applied"], answer.body["refused"]) == (3, 2)
    assert balance_of(session_factory, REF) == 0


def test_a_refused_key_can_be_sent_again_once_it_would_succeed(api_url: str, acme: str, session_factory):
    item = {"reference": REF, "credits": 1500, "key": "big"}
    assert post(api_url, [item]).body["results"][0]["reason"] == "insufficient_credits"
    with session_factory.begin() as session:
        ledger.post(session, ledger.lock(session, 1)[1], EntryKind.PURCHASE, 1000, "test")
    assert post(api_url, [item]).body["results"][0]["balance_after"] == 500


# batch limits and malformed requests


def test_a_batch_at_the_maximum_is_applied(api_url: str, acme: str, session_factory):
    answer = post(api_url, [{"reference": REF, "credits": 1, "key": f"k{n}"} for n in range(MAX_ITEMS)])
    assert answer.status == 200
    assert answer.body["applied"] == MAX_ITEMS
    assert balance_of(session_factory, REF) == 1000 - MAX_ITEMS


def test_one_item_over_the_maximum_refuses_the_whole_batch(api_url: str, acme: str, session_factory):
    answer = post(api_url, [{"reference": REF, "credits": 1, "key": f"k{n}"} for n in range(MAX_ITEMS + 1)])
    assert answer.status == 413
    assert answer.body == {
        "error": "too_many_items",
        "message": f"A batch may hold at most {MAX_ITEMS} items; this one has {MAX_ITEMS + 1}. Split it.",
    }
    assert balance_of(session_factory, REF) == 1000


@pytest.mark.parametrize(
    "raw, content_type, status, error",
    [
        (b"[{", "application/json", 400, "invalid_json"),
        (b"\xff\xfe[]", "application/json", 400, "invalid_json"),
        (b"[NaN]", "application/json", 400, "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "invalid_json"),
        (b"", "application/json", 400, "invalid_json"),
        (b"[]", "application/json", 422, "invalid_batch"),
        (b'{"reference": "EX0000001"}', "application/json", 422, "invalid_batch"),
        (b"42", "application/json", 422, "invalid_batch"),
        (b"[]", "text/plain", 415, "unsupported_media_type"),
        (b"reference=EX0000001", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"[" + b" " * 1_000_001 + b"]", "application/json", 413, "body_too_large"),
    ],
    ids=[
        "truncated",
        "not-utf8",
        "nan",
        "deep",
        "empty",
        "empty-array",
        "object",
        "number",
        "text",
        "form",
        "huge",
    ],
)
def test_malformed_requests_get_a_json_4xx(
    api_url: str, acme: str, session_factory, raw, content_type, status, error
):
    answer = post(api_url, None, raw=raw, content_type=content_type)
    assert (answer.status, answer.body["error"]) == (status, error)
    assert answer.body["message"]
    assert balance_of(session_factory, REF) == 1000


def test_wrong_methods_and_paths_get_json_errors(api_url: str, acme: str):
    wrong = call(api_url, "GET", "/api/usage")
    assert (wrong.status, wrong.body["error"], wrong.headers["Allow"]) == (405, "method_not_allowed", "POST")
    assert call(api_url, "DELETE", f"/api/accounts/{REF}").status == 405
    assert call(api_url, "GET", "/api/nothing").body["error"] == "not_found"
    assert call(api_url, "GET", f"/api/accounts/{REF}/more").status == 404


# reading an account


def test_an_account_shows_its_balance_and_reminder_level(api_url: str, acme: str, session_factory):
    with session_factory.begin() as session:
        reminders.configure(session, accounts.by_reference(session, REF), True, 1500, [], "test")
    answer = call(api_url, "GET", "/api/accounts/ex0000001")
    assert answer.status == 200
    assert answer.body == {
        "reference": REF,
        "name": "Acme Marketing",
        "active": True,
        "balance": 1000,
        "reminder": {"enabled": True, "level": 1500, "below_level": True},
    }
    for reference in ("EX9999999", "EX%000001", "X" * 300):
        unknown = call(api_url, "GET", f"/api/accounts/{reference}")
        assert (unknown.status, unknown.body["error"]) == (404, "unknown_reference")


@pytest.mark.parametrize("typed", ["ÄBC1", "äbc1"])
def test_an_account_whose_reference_is_not_ascii_is_found(api_url: str, session_factory, typed: str):
    # The server hands the path over as Latin-1 (WSGI); the URL's bytes are UTF-8. New references
    # are ASCII, but one an earlier version stored is still found.
    account = make_account(session_factory, "ABC1", "Ärzte Nord", credits=40)
    with session_factory.begin() as session:
        session.execute(update(Account).where(Account.id == account.id).values(reference="ÄBC1"))
    answer = call(api_url, "GET", f"/api/accounts/{urllib.parse.quote(typed)}")
    assert (answer.status, answer.body.get("reference")) == (200, "ÄBC1"), answer.body


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/api/accounts/", "Put an account reference after /api/accounts/."),
        ("/api/accounts/EX0000001%09", "No account has that reference."),
        ("/api/accounts/%FF%FE", "No account has that reference."),
    ],
    ids=["none", "control-character", "not-utf-8"],
)
def test_a_reference_that_cannot_be_one_is_told_plainly(api_url: str, acme: str, path: str, says: str):
    answer = call(api_url, "GET", path)
    assert (answer.status, answer.body) == (404, {"error": "unknown_reference", "message": says})


def test_the_openapi_document_is_served_without_a_token(api_url: str):
    answer = call(api_url, "GET", "/api/openapi.json", token=None)
    assert answer.status == 200
    assert set(answer.body["paths"]) == {"/api/usage", "/api/accounts/{reference}", "/api/openapi.json"}
    item = answer.body["components"]["schemas"]["UsageResult"]["properties"]["reason"]["enum"]
    assert "key_conflict" in item and "insufficient_credits" in item


# concurrency


def test_concurrent_replays_of_one_key_apply_it_once(api_url: str, acme: str, session_factory):
    start = threading.Barrier(8)

    def send(_: int) -> Answer:
        start.wait()
        return post(api_url, [{"reference": REF, "credits": 70, "key": "same"}])

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    results = [answer.body["results"][0] for answer in answers]
    assert {(r["status"], r["balance_after"]) for r in results} == {("applied", 930)}
    assert sorted(r["replayed"] for r in results) == [False] + [True] * 7
    assert balance_of(session_factory, REF) == 930
    assert usage_entries(session_factory) == 1
