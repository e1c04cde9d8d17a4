"""The README, .env.example and manifest.yml stay in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.cli import build_parser
from bot.config import SETTINGS
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
