"""`admin-bot serve --socket --api-port`: the usage API on a port of its own, with no public HTTP server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from tests.api.client import TOKEN, call
from tests.conftest import make_account
from tests.fake_slack import FakeSlack


def test_socket_mode_serves_the_api_on_the_chosen_port(
    database_url, session_factory, fake_slack: FakeSlack, tmp_path
):
    make_account(session_factory, "EX0000001", "Acme Marketing", credits=300)
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_APP_TOKEN": "xapp-test-token",
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": database_url,
        "USAGE_API_TOKEN": TOKEN,
        "LOW_CREDIT_POLL_SECONDS": "3600",
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--socket", "--api-port", "0"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert serve.stdout is not None
        first = serve.stdout.readline()
        match = re.fullmatch(r"admin-bot usage API on (http://127\.0\.0\.1:\d+)/api/\n", first)
        assert match, first
        answer = call(
            match.group(1), "POST", "/api/usage", [{"reference": "EX0000001", "credits": 100, "key": "k"}]
        )
        assert answer.body["results"][0]["balance_after"] == 200
        assert call(match.group(1), "GET", "/api/accounts/EX0000001").body["balance"] == 200
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
