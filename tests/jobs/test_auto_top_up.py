"""Auto top-up in the pass: set up by billing, buys once per crossing, says why when its limit stops it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import make_client
from bot.cli import main
from jobs.low_credit import run_low_credit_pass
from store import accounts, invoices, ledger, reminders
from store.models import Invoice, Role
from tests.blockkit import assert_valid_blocks, visible_text
from tests.conftest import balance_of, grant_role, make_account

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PRICING = invoices.Pricing(Decimal("0.045"), Decimal("0.20"), "GBP")
ALEX, BOB = "U0ALEX001", "U0BOB0001"


@pytest.fixture
def env(database_url, fake_slack, monkeypatch, tmp_path) -> dict[str, str]:
    """The CLI's settings: the test database and the fake Slack."""
    settings = {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_API_URL": fake_slack.api_url,
    }
    monkeypatch.chdir(tmp_path)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return settings


@pytest.fixture
def acme(session_factory) -> int:
    """Acme Marketing at 600 credits, reminding Bob below 500; Alex has the billing role."""
    make_account(session_factory, credits=600)
    grant_role(session_factory, ALEX, Role.BILLING)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        reminders.configure(session, account, True, 500, [reminders.Recipient(BOB, BOB)], "test")
        return account.id


def use(session_factory, credits: int) -> None:
    with session_factory.begin() as session:
        ledger.record_usage(session, "EX0000001", credits, "test")


def bought(session_factory) -> list[tuple[str, int, str]]:
    with session_factory.begin() as session:
        rows = session.execute(
            select(Invoice.number, Invoice.credits, Invoice.created_by).order_by(Invoice.id)
        )
        return [tuple(row) for row in rows]


def set_up(*extra: str) -> int:
    return main(["reminders", "auto-top-up", "EX0000001", *extra])


def test_only_billing_or_admin_can_be_named_and_the_setting_is_echoed(env, acme, session_factory, capsys):
    grant_role(session_factory, "U0VIEWER1", Role.VIEWER)
    assert set_up("--credits", "5000", "--limit", "4", "--by", "U0VIEWER1") == 1
    assert "U0VIEWER1 must hold the billing or admin role" in capsys.readouterr().err
    assert set_up("--credits", "5000", "--limit", "4", "--by", ALEX) == 0
    assert capsys.readouterr().out.strip() == (
        "Auto top-up for EX0000001 is on, buy 5,000 credits, up to 4 purchases a month."
    )
    assert set_up("--off", "--by", ALEX) == 0
    assert "is off" in capsys.readouterr().out


def test_the_pass_buys_once_per_crossing_and_then_alerts_saying_the_limit_stopped_it(
    env, acme, session_factory, fake_slack, config
):
    assert set_up("--credits", "1000", "--limit", "2", "--by", ALEX) == 0
    client = make_client(config)
    for crossing in (1, 2):
        use(session_factory, balance_of(session_factory, "EX0000001") - 40)
        report = run_low_credit_pass(session_factory, client, NOW, pricing=PRICING)
        invoice = f"INV-2026-00000{crossing}"
        assert report.topped_up == [
            f"Auto top-up bought 1,000 credits, {invoice}; {crossing} of 2 purchases this month."
        ]
        assert report.sent == []  # back above its level: nobody needs to act
        assert run_low_credit_pass(session_factory, client, NOW, pricing=PRICING).topped_up == []
    assert balance_of(session_factory, "EX0000001") == 1040
    assert [created_by for _, _, created_by in bought(session_factory)] == [f"auto-top-up:{ALEX}"] * 2

    use(session_factory, 1000)
    report = run_low_credit_pass(session_factory, client, NOW, pricing=PRICING)

    assert report.topped_up == ["Auto top-up did not buy: its limit of 2 purchases a month is used up."]
    assert len(report.sent) == 1 and len(bought(session_factory)) == 2
    message = fake_slack.calls_to("chat.postMessage")[0].params
    assert_valid_blocks(message["blocks"])
    assert "Auto top-up did not buy: its limit of 2 purchases a month is used up." in visible_text(message)


def test_an_alert_already_out_gets_the_top_up_in_its_thread_and_resolves(
    env, acme, session_factory, fake_slack, config
):
    client = make_client(config)
    use(session_factory, 560)
    assert len(run_low_credit_pass(session_factory, client, NOW, pricing=PRICING).sent) == 1
    # Switched on while the alert is out: the next pass buys, replies in the thread and resolves.
    assert set_up("--credits", "5000", "--limit", "4", "--by", ALEX) == 0
    run_low_credit_pass(session_factory, client, NOW, pricing=PRICING)
    run_low_credit_pass(session_factory, client, NOW, pricing=PRICING)

    ((_, alert),) = [(k, m) for k, m in fake_slack.messages.items() if not m.get("thread_ts")]
    replies = [m["text"] for m in fake_slack.messages.values() if m.get("thread_ts")]
    assert replies == [
        f"Auto top-up (set up by <@{ALEX}>) bought 5,000 credits (INV-2026-000001). Balance 5,040."
    ]
    assert alert["text"] == "Resolved: Acme Marketing has 5,040 credits, above its reminder level of 500"
    assert "Auto top-up bought 5,000 credits, INV-2026-000001; 1 of 4 purchases this month." in visible_text(
        alert
    )


def test_three_replica_processes_buy_once_for_one_crossing(env, acme, database_url, session_factory):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serves a single process; replicas need PostgreSQL")
    assert set_up("--credits", "5000", "--limit", "4", "--by", ALEX) == 0
    use(session_factory, 560)
    replicas = [
        subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "reminders", "run"],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = [replica.communicate(timeout=60) for replica in replicas]

    assert [replica.returncode for replica in replicas] == [0, 0, 0], outputs
    assert bought(session_factory) == [("INV-2026-000001", 5000, f"auto-top-up:{ALEX}")]
    assert balance_of(session_factory, "EX0000001") == 5040
    said = b"".join(out for out, _ in outputs).decode()
    assert said.count("Auto top-up bought 5,000 credits, INV-2026-000001") >= 1
