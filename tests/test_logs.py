"""What `admin-bot serve` logs: the level and format operators choose, no noise, never a secret."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess

import pytest

from bot.app import make_services
from bot.cli import main
from bot.config import Config
from bot.logs import configure_logging
from handlers.invoice_pdf import render_invoice_pdf
from store.models import Invoice
from tests.conftest import SIGNING_SECRET, make_account
from tests.handlers.test_invoices import issue
from tests.processes import ROOT, BotProcess, bot_env
from tests.slack_requests import SlackRequests

SECRETS = ("xoxb-test-token", "xapp-test-token", SIGNING_SECRET)
PRINTED = re.compile(r"^admin-bot (listening|connected|health check)")


def run_and_stop(database_url, fake_slack, tmp_path, mode: str, **settings) -> str:
    """Start `serve`, answer one real request (HTTP) or connect (Socket Mode), SIGTERM; the output."""
    env = bot_env(database_url, fake_slack, SIGNING_SECRET, **settings)
    bot = BotProcess(["serve", mode, "--port", "0"], env, tmp_path)
    try:
        if mode == "--http":
            url = bot.expect(r"listening on (http://\S+/slack/events)").group(1)
            answer = SlackRequests(url, SIGNING_SECRET, fake_slack).command("/accounts", "acme")
            assert answer.status == 200
        else:
            bot.expect("connected to Slack over Socket Mode")
            fake_slack.socket_mode.wait_connected()
        bot.signal(signal.SIGTERM)
        assert bot.wait() == 0, bot.text
    finally:
        bot.stop()
    return bot.text


@pytest.mark.parametrize("mode", ["--http", "--socket"])
def test_debug_logs_of_a_real_startup_and_request_never_hold_a_token_or_the_signing_secret(
    database_url, fake_slack, tmp_path, mode
):
    output = run_and_stop(database_url, fake_slack, tmp_path, mode, log_level="debug")
    assert "DEBUG slack_sdk" in output  # Web API calls are logged in detail at this level
    for secret in SECRETS:
        assert secret not in output


def test_json_log_format_is_one_object_per_line(database_url, fake_slack, tmp_path):
    output = run_and_stop(database_url, fake_slack, tmp_path, "--http", log_format="json", log_level="debug")
    logged = [line for line in output.splitlines() if line and not PRINTED.match(line)]
    entries = [json.loads(line) for line in logged]
    assert entries and all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert {"debug", "info"} <= {entry["level"] for entry in entries}


def test_the_default_level_shows_no_warnings_and_no_library_chatter(database_url, fake_slack, tmp_path):
    output = run_and_stop(database_url, fake_slack, tmp_path, "--http")
    logged = [line for line in output.splitlines() if line and not PRINTED.match(line)]
    assert [line for line in logged if " WARNING " in line] == []
    ours = re.compile(r" INFO (admin_bot|bot|jobs|handlers|store)[. ]")
    assert [line for line in logged if " INFO " in line and not ours.search(line)] == []


def test_invoice_pdfs_log_nothing_at_the_default_level(session_factory, capfd, restore_logging):
    configure_logging("info", "text", [])
    account = make_account(session_factory, "EX0000009", "Łódź Taxis")
    invoice = issue(session_factory, account.id, 10, "2024-01-15")
    with session_factory.begin() as session:
        loaded = session.get(Invoice, invoice.id)
        render_invoice_pdf(loaded, make_services(Config(), session_factory).supplier)
    assert capfd.readouterr().err == ""


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert re.fullmatch(r"admin-bot \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


@pytest.mark.parametrize("app_token, mode", [("xapp-1-A0TEST-1", "--socket"), ("", "--http")])
def test_make_run_serves_socket_mode_when_an_app_token_is_set(app_token, mode, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    planned = subprocess.run(
        ["make", "-n", "run", f"SLACK_APP_TOKEN={app_token}", f"ENV_FILE={tmp_path / '.env'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"admin-bot serve {mode}" in planned
