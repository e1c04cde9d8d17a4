"""The README, .env.example and manifest.yml stay in step with the code."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from bot.cli import build_parser
from bot.config import SETTINGS
from handlers import messages
from handlers.alerts import build_alert, build_channel_problem, build_reply
from store import forecast, suggestions, top_up
from store.alerts import AlertState, Reply
from store.models import Account
from store.suggestions import COVER_DAYS, Source, Suggestion
from tests.blockkit import visible_text
from tests.slack_requests import SlackRequests

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())


def cli_verbs() -> list[str]:
    """Every leaf verb path, e.g. 'accounts import'."""
    found: list[str] = []

    def walk(parser, prefix: str) -> None:
        subparsers = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not subparsers:
            found.append(prefix.strip())
        for action in subparsers:
            for name, child in action.choices.items():
                walk(child, f"{prefix} {name}")

    walk(build_parser(), "")
    return found


def test_every_setting_is_in_the_readme_and_env_example():
    env_example = (ROOT / ".env.example").read_text()
    for setting in SETTINGS:
        assert f"`{setting.name}`" in README, setting.name
        assert re.search(rf"^#? ?{setting.name}=", env_example, re.M), setting.name


def test_every_cli_verb_is_in_the_readme():
    verbs = cli_verbs()
    assert "ledger check" in verbs and "accounts import" in verbs
    for verb in verbs:
        assert f"admin-bot {verb}" in README, verb


def test_every_manifest_slash_command_has_a_listener(slack: SlackRequests, admin):
    commands = [entry["command"] for entry in MANIFEST["features"]["slash_commands"]]
    assert "/accounts" in commands and "/invoices" in commands
    for command in commands:
        assert slack.command(command, "help").status == 200, command
        assert command in README


def test_manifest_subscribes_to_what_the_bot_handles():
    assert MANIFEST["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert "commands" in MANIFEST["oauth_config"]["scopes"]["bot"]


def test_every_manifest_scope_is_explained_in_the_readme():
    scopes = MANIFEST["oauth_config"]["scopes"]["bot"]
    assert "channels:read" in scopes and "im:history" in scopes
    for scope in scopes:
        assert f"`{scope}`" in README, scope


ALICE, ALEX, OPS = "U0ALICE01", "U0ALEX001", "C0OPS0001"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def as_in_readme(mrkdwn: str) -> str:
    """Text as the README quotes it: mentions as @name, times as <time>, no bold or emoji."""
    text = mrkdwn.replace(f"<@{ALICE}>", "@alice").replace(f"<@{ALEX}>", "@alex")
    text = re.sub(r"<!date\^[^>]*>", "<time>", text).replace(f"<#{OPS}>", "#ops")
    text = re.sub(r":[a-z_]+: ", "", text).replace("*", "")
    return " ".join(text.split())


def test_readme_alert_life_quotes_what_the_bot_says():
    section = README[README.index("#### One alert's life") : README.index("### Invoices")]
    quotes = re.findall(r'\*"(.+?)"\*', " ".join(section.split()))
    week = NOW - timedelta(days=7)
    outlook = forecast.from_usage(40, 2870, week, NOW)
    spare = Source(9, "EX0000009", "Spare Co", 12_000)
    low = AlertState(
        account_id=1,
        episode=1,
        reference="EX0000001",
        name="Acme Marketing",
        balance=40,
        level=500,
        forecast=outlook.text(),
        suggestion=Suggestion(500 - 40 + outlook.credits_for(COVER_DAYS), spare),
    )
    short = forecast.from_usage(1230, 2870, week, NOW)  # 3 days left, under a 5-day warning
    runway = replace(
        low,
        balance=1230,
        forecast=short.text(),
        outlook=short,
        warning_days=5,
        suggestion=Suggestion(suggestions.needed(1230, 500, short, 5), spare),
    )
    rule = top_up.Rule(5000, 4, top_up.LimitUnit.PURCHASES)
    account = Account(reference="EX0000001", active=True)
    said = [
        build_alert(low),
        build_alert(replace(low, handler=ALICE, handled_at=NOW)),
        build_alert(replace(low, resolved=True, balance=5040, handler=ALICE, handled_at=NOW)),
        build_alert(replace(low, resolved=True, reminder_on=False)),
        build_alert(replace(low, resolved=True, active=False)),
        build_alert(runway),
        build_reply(Reply(11, "purchase", ALEX, 5000, 5040, "INV-2026-000123", None, None)),
        build_reply(Reply(12, "transfer_in", ALEX, 1000, 1040, None, "Spare Co", "EX0000009")),
        {"text": messages.ALERT_HANDLED_BY.format(user=ALICE)},
        {"text": forecast.from_usage(2500, 2870, week, NOW).text()},
        {"text": forecast.from_usage(40, 100, NOW - timedelta(hours=2), NOW).text()},
        {"text": forecast.from_usage(40, 0, None, NOW).text()},
        {"text": top_up.Outcome(5000, "INV-2026-000124", None, 2, rule).text()},
        build_channel_problem("not_in_channel", OPS, "Acme Marketing", "EX0000001"),
        {"text": messages.INVITE_AT_SAVE.format(channel=OPS)},
        {"text": top_up.Outcome(5000, None, top_up._why_not(account, rule, 4), 4, rule).text()},
    ]
    shown = [as_in_readme(line) for message in said for line in visible_text(message).split("\n")]
    assert len(quotes) >= 12  # sent, acknowledged, topped up, resolved, and the top-up and forecast lines
    for quote in quotes:
        assert any(quote in line for line in shown), quote
