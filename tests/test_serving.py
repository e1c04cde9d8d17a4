"""The bot over real HTTP: signatures, health, routing."""

from __future__ import annotations

import json
import time
import urllib.request

from bot.app import QuickMatcher, create_app
from bot.config import Config
from handlers import messages
from store import db
from tests.slack_requests import SlackRequests


def test_signed_accounts_command_gets_200(slack: SlackRequests, admin: str) -> None:
    response = slack.command("/accounts")
    assert response.status == 200
    assert "There are no active accounts yet" in response.json()["blocks"][0]["text"]["text"]


def test_bad_signature_gets_401(slack: SlackRequests) -> None:
    response = slack.post(
        b"command=%2Faccounts&text=",
        "application/x-www-form-urlencoded",
        signature="v0=" + "0" * 64,
    )
    assert response.status == 401


def test_timestamp_older_than_five_minutes_gets_401(slack: SlackRequests) -> None:
    stale = str(int(time.time()) - 6 * 60)
    response = slack.post(b"command=%2Faccounts&text=", "application/x-www-form-urlencoded", timestamp=stale)
    assert response.status == 401


def test_unknown_command_is_told_which_commands_there_are(slack: SlackRequests, admin: str) -> None:
    answer = slack.command("/nonsense")
    assert answer.status == 200
    assert answer.json()["text"] == messages.UNKNOWN_COMMAND.format(command="/nonsense")


def test_healthz_answers_200_when_database_reachable(bot_server: str) -> None:
    with urllib.request.urlopen(f"{bot_server}/healthz") as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"ok": True, "database": "ok"}


def test_every_listener_matcher_is_handed_only_what_it_reads(config: Config) -> None:
    """Bolt would hand each matcher every argument a listener may take, for every listener it
    asks; create_app gives them only the body or the command (bot.app.QuickMatcher)."""
    app = create_app(config, db.make_session_factory(db.make_engine("sqlite://")))
    matchers = [matcher for listener in app._listeners for matcher in listener.matchers]
    assert matchers
    assert all(isinstance(matcher, QuickMatcher) for matcher in matchers)
