"""The database goes away under the running bot: every surface says so, changes nothing, answers no
500, /healthz turns 503, and when the database is back the books match what users were told.

Runs against a PostgreSQL of its own (tests/own_postgres.py), never the shared server.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine

from api.app import create_api
from bot.app import create_app
from bot.config import Config
from bot.serving import ServerThread, make_http_server
from handlers.alerts import ACKNOWLEDGE_ACTION, SNOOZE_ACTION
from store import db, ledger
from store.models import Role
from tests.api.client import TOKEN, call
from tests.blockkit import visible_text
from tests.conftest import SIGNING_SECRET, balance_of, grant_role, make_account
from tests.fake_slack import FakeSlack
from tests.own_postgres import OwnPostgres, needs_own_postgres, own_postgres
from tests.slack_requests import DEFAULT_USER_ID, Response, SlackRequests, open_view
from tests.slack_ui import button, filled

pytestmark = needs_own_postgres

# handlers/messages.py UNAVAILABLE on the issue-10 branch, the wording issue 10 asks for.
UNAVAILABLE = "temporarily unavailable, nothing was changed"
PAGE_SIZE_PLUS = 12
ALERT_MESSAGE = {
    "type": "message",
    "ts": "1700000000.000100",
    "text": "EX0000001 is low",
    "blocks": [],
}  # more "Acme" accounts than one page of /accounts shows


@dataclass
class Rig:
    """The bot on its own PostgreSQL, with the forms a user had open when the database went away."""

    server: OwnPostgres
    engine: Engine
    sessions: db.SessionFactory
    fake: FakeSlack
    slack: SlackRequests
    base_url: str
    acme_id: int
    other_id: int
    listing: dict[str, Any]  # the /accounts EX0000001 message: one account box
    page: dict[str, Any]  # the /accounts acme message, with a Next button
    views: dict[str, dict[str, Any]]  # forms opened before the outage, by button label

    def healthz(self) -> int:
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)


def _message(response: Response) -> dict[str, Any]:
    assert response.status == 200, (response.status, response.text)
    return response.json() or {}


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    """The bot on a PostgreSQL of its own, with accounts, an admin and open forms."""
    with own_postgres() as server, FakeSlack() as fake:
        engine = db.make_engine(server.url, pool_size=2)
        db.upgrade(engine)
        sessions = db.make_session_factory(engine)
        config = Config(
            slack_bot_token="xoxb-test-token",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=fake.api_url,
            database_url=server.url,
        )
        grant_role(sessions, DEFAULT_USER_ID, Role.ADMIN)
        acme = make_account(sessions, "EX0000001", "Acme Marketing", credits=500)
        other = make_account(sessions, "EX0000002", "Acme Retail", credits=100)
        for n in range(PAGE_SIZE_PLUS):
            make_account(sessions, f"EX10000{n:02d}", f"Acme Branch {n:02d}", credits=10)
        http = make_http_server(
            create_app(config, sessions), engine, "127.0.0.1", 0, create_api(sessions, TOKEN)
        )
        with ServerThread(http) as running:
            slack = SlackRequests(f"{running.url}/slack/events", SIGNING_SECRET, fake)
            listing = _message(slack.command("/accounts", "EX0000001"))
            page = _message(slack.command("/accounts", "acme"))
            views = {}
            for label in ("Rename", "Buy", "Move", "Reminder"):
                shown = len(fake.view_history)
                clicked = button(listing["blocks"], label)
                assert slack.block_action(clicked.action_id, value=clicked.value).status == 200
                views[label] = open_view(fake, shown)
            yield Rig(
                server, engine, sessions, fake, slack, running.url, acme.id, other.id, listing, page, views
            )
        engine.dispose()


@pytest.fixture
def outage(rig: Rig) -> Iterator[Rig]:
    """The database stopped for the test; started again, and the books checked, afterwards."""
    before = {ref: balance_of(rig.sessions, ref) for ref in ("EX0000001", "EX0000002")}
    rig.fake.reset()
    rig.server.stop()
    try:
        yield rig
    finally:
        rig.server.start()
    assert {ref: balance_of(rig.sessions, ref) for ref in before} == before, "a refused change was applied"
    with rig.sessions.begin() as session:
        assert ledger.balance_problems(session) == []


def seen(rig: Rig, response: Response, needle: str, timeout: float = 5.0) -> str:
    """Everything the user was shown for this request; waits for lazy listeners to show it."""
    deadline = time.monotonic() + timeout
    while True:
        texts = [response.text]
        for made in list(rig.fake.calls):
            params = made.params
            for key in ("text", "blocks", "view"):
                value = params.get(key)
                if isinstance(value, str) and key != "text":
                    with contextlib.suppress(ValueError):
                        value = json.loads(value)
                texts.append(value if isinstance(value, str) else visible_text(value) if value else "")
        shown = "\n".join(texts)
        if needle in shown or time.monotonic() > deadline:
            return shown
        time.sleep(0.05)


def _click(label: str, on: str = "listing") -> Callable[[Rig], Response]:
    def click(rig: Rig) -> Response:
        clicked = button(getattr(rig, on)["blocks"], label)
        return rig.slack.block_action(clicked.action_id, value=clicked.value)

    return click


def _submit(label: str, values: dict[str, Any]) -> Callable[[Rig], Response]:
    def submit(rig: Rig) -> Response:
        view = rig.views[label]
        return rig.slack.view_submission(view, filled(view, values(rig) if callable(values) else values))

    return submit


SURFACES: dict[str, Callable[[Rig], Response]] = {
    "/accounts": lambda rig: rig.slack.command("/accounts"),
    "/accounts acme": lambda rig: rig.slack.command("/accounts", "acme"),
    "Next page": _click("Next", on="page"),
    "Rename button": _click("Rename"),
    "Rename submission": _submit("Rename", {"New name": "Acme Renamed"}),
    "Buy button": _click("Buy"),
    "Buy submission": _submit("Buy", {"Number of credits": "250"}),
    "Move button": _click("Move"),
    "Move submission": _submit(
        "Move", lambda rig: {"To account": str(rig.other_id), "Credits to move": "50"}
    ),
    "Reminder button": _click("Reminder"),
    "Reminder submission": _submit("Reminder", {"Remind when": "100", "Email addresses": "ana@example.com"}),
    "/invoices": lambda rig: rig.slack.command("/invoices"),
    "I'm on it": lambda rig: rig.slack.block_action(
        ACKNOWLEDGE_ACTION, message=ALERT_MESSAGE, channel_id="D0ALERT"
    ),
    "Snooze": lambda rig: rig.slack.block_action(
        SNOOZE_ACTION,
        action_type="static_select",
        selected_option={"text": {"type": "plain_text", "text": "1 day"}, "value": "snooze:1d"},
        message=ALERT_MESSAGE,
        channel_id="D0ALERT",
    ),
    "app_home_opened": lambda rig: rig.slack.event(
        {"type": "app_home_opened", "user": DEFAULT_USER_ID, "channel": "D0HOME", "tab": "home"}
    ),
}


@pytest.mark.parametrize("surface", SURFACES)
def test_database_outage_says_unavailable_and_changes_nothing(outage: Rig, surface: str) -> None:
    response = SURFACES[surface](outage)
    assert response.status == 200, f"{surface} answered {response.status}: {response.text}"
    assert "Traceback" not in response.text
    shown = seen(outage, response, UNAVAILABLE)
    assert UNAVAILABLE in shown, f"{surface} showed: {shown!r}"
    assert outage.healthz() == 503


def test_after_the_outage_the_same_form_buys_once_and_the_books_match(rig: Rig) -> None:
    view = rig.views["Buy"]
    values = filled(view, {"Number of credits": "250"})
    before = balance_of(rig.sessions, "EX0000001")
    rig.server.stop()
    try:
        refused = rig.slack.view_submission(view, values)
        assert UNAVAILABLE in seen(rig, refused, UNAVAILABLE)
    finally:
        rig.server.start()
    assert rig.healthz() == 200
    bought = rig.slack.view_submission(view, values)
    assert bought.status == 200 and "errors" not in (bought.json() or {}), bought.text
    assert "250" in seen(rig, bought, "250")
    assert balance_of(rig.sessions, "EX0000001") == before + 250
    with rig.sessions.begin() as session:
        assert ledger.balance_problems(session) == []


def test_invoices_during_an_outage_says_unavailable_once(outage: Rig) -> None:
    response = outage.slack.command("/invoices")
    assert UNAVAILABLE in response.json()["text"]
    # The lazy listener runs after the acknowledgement; give it the time it takes to say it again.
    with contextlib.suppress(AssertionError):
        outage.fake.wait_for("response_url", timeout=2.0)
    assert outage.fake.calls_to("response_url") == [], "told twice"
    assert outage.fake.calls_to("views.open") == []


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_after_a_restart_the_pooled_connections_are_replaced_and_searches_answer(rig: Rig, mode: str) -> None:
    # Connections pooled before the restart are dead; nothing has used them since.
    for _ in range(3):
        assert "Acme Branch 00" in visible_text(_message(rig.slack.command("/accounts", "acme"))["blocks"])
    rig.server.stop(mode)
    rig.server.start()
    for surface in ("/accounts acme", "/accounts", "Next page"):
        rig.fake.reset()
        response = SURFACES[surface](rig)
        assert response.status == 200, f"{surface} answered {response.status}: {response.text}"
        shown = seen(rig, response, "account(s)")
        assert "account(s)" in shown and UNAVAILABLE not in shown, f"{surface} after the restart: {shown!r}"


@pytest.mark.parametrize("request_of", ["record usage", "read an account"])
def test_the_usage_api_during_an_outage_is_a_503_to_retry_and_changes_nothing(
    outage: Rig, request_of: str
) -> None:
    usage = [{"reference": "EX0000001", "credits": 5, "key": "outage-1"}]
    send = {
        "record usage": lambda: call(outage.base_url, "POST", "/api/usage", usage),
        "read an account": lambda: call(outage.base_url, "GET", "/api/accounts/EX0000001"),
    }[request_of]
    answer = send()
    assert answer.status == 503, answer.body
    assert answer.body["error"] == "unavailable"
    assert "nothing was changed" in answer.body["message"]
    assert int(answer.headers["Retry-After"]) > 0


def test_usage_refused_during_an_outage_applies_once_when_sent_again(rig: Rig) -> None:
    usage = [{"reference": "EX0000001", "credits": 7, "key": "after-outage"}]
    before = balance_of(rig.sessions, "EX0000001")
    rig.server.stop()
    try:
        assert call(rig.base_url, "POST", "/api/usage", usage).status == 503
    finally:
        rig.server.start()
    sent = [call(rig.base_url, "POST", "/api/usage", usage) for _ in range(2)]
    assert [answer.body["results"][0]["replayed"] for answer in sent] == [False, True]
    assert balance_of(rig.sessions, "EX0000001") == before - 7
