"""The forecast warning in the pass: it alerts once when the runway drops below N days, says why,
and follows the same episode rules as a balance below the level (resolve, cooldown, snooze)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.app import make_client
from handlers.alerts import SNOOZE_ACTION, SUGGESTED_BUY_ACTION, SUGGESTED_MOVE_ACTION
from jobs.low_credit import run_low_credit_pass
from store import accounts, invoices, ledger, reminders, top_up
from store.models import EntryKind
from tests.blockkit import assert_valid_blocks, visible_text
from tests.conftest import balance_of, make_account
from tests.fake_slack import FakeSlack

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PRICING = invoices.Pricing(Decimal("0.045"), Decimal("0.20"), "GBP")
ALICE, BOB, ALEX = "U0ALICE01", "U0BOB0001", "U0ALEX001"
COOLDOWN = timedelta(days=1)
# 4,100 credits less a week of 410 a day leaves 1,230: 3 days, under a 5-day warning and above the
# level of 500.
RUNWAY_TEXT = (
    "Credits running out: Acme Marketing (`EX0000001`) has about 3 days of credits left at the last 7 "
    "days' usage (≈ 410 credits a day): below its 5-day warning. Balance 1,230 credits; reminder level 500."
)


@pytest.fixture
def clock():
    """The bot's clock, fixed at NOW: a snooze clicked in Slack ends a fixed time after it."""
    return lambda: NOW


@pytest.fixture
def client(config):
    """The bot's Web API client, pointed at the fake Slack."""
    return make_client(config)


def watch(session_factory, *, credits=4100, level=500, days=5) -> int:
    """Acme Marketing, reminding Alice and Bob below `level` or under `days` of credits."""
    make_account(session_factory, credits=credits)
    make_account(session_factory, "EX0000009", "Spare Co", credits=20_000)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        people = [reminders.Recipient(ALICE, ALICE), reminders.Recipient(BOB, BOB)]
        reminders.configure(session, account, True, level, people, "test")
        reminders.set_warning(session, account, days, "test")
        return account.id


def spend(session_factory, credits: int, at: datetime) -> None:
    """Usage of `credits` by Acme, recorded at `at`."""
    with session_factory.begin() as session:
        entry = ledger.record_usage(session, "EX0000001", credits, "test")
        entry.created_at = at


def steady(session_factory, per_day=410) -> None:
    for day in range(1, 8):
        spend(session_factory, per_day, NOW - timedelta(days=day))


def buy(session_factory, account_id: int, credits: int, key: str) -> str:
    """Alex buys credits for Acme; the thread reply it is owed."""
    with session_factory.begin() as session:
        bought = invoices.purchase(session, account_id, credits, PRICING, ALEX, key, NOW.date())
        balance = bought.account.balance
        return f"<@{ALEX}> bought {credits:,} credits ({bought.invoice.number}). Balance {balance:,}."


def alerts_in(fake: FakeSlack) -> dict[str, list[dict]]:
    """Each DM's alert messages as they are now (not thread replies), oldest first."""
    found: dict[str, list[dict]] = {}
    for (channel, ts), message in sorted(fake.messages.items(), key=lambda item: float(item[0][1])):
        if not message.get("thread_ts"):
            found.setdefault(channel, []).append({**message, "ts": ts, "channel": channel})
    return found


def thread(fake: FakeSlack, channel: str) -> list[str]:
    return [m["text"] for (c, _), m in sorted(fake.messages.items()) if c == channel and m.get("thread_ts")]


def plain(message: dict) -> str:
    """What a reader sees, without bold, emoji and line breaks."""
    text = visible_text(message).replace("*", "").replace(":warning: ", "")
    return " ".join(text.split())


def test_a_short_runway_alerts_each_recipient_once_and_says_why(session_factory, fake_slack, client):
    account_id = watch(session_factory)
    steady(session_factory)

    report = run_low_credit_pass(session_factory, client, NOW, cooldown=COOLDOWN)

    assert report.newly_low == 1
    assert sorted(s.address for s in report.sent) == [ALICE, BOB]
    for user in (ALICE, BOB):
        (message,) = alerts_in(fake_slack)["D" + user]
        assert_valid_blocks(message["blocks"])
        assert RUNWAY_TEXT in plain(message)
        assert message["text"] == ("Low credit: Acme Marketing (EX0000001) has about 3 days of credits left")
        # The fix restores 5 days (2,050 credits) and a week's usage (2,870): 1,230 + 3,690.
        assert (
            "Suggested fix: move 3,690 credits in from Spare Co (`EX0000009`), which has 20,000 to spare, "
            "or buy 3,690. It brings the runway back to 5 days and covers a week of usage."
        ) in plain(message)
        buttons = {
            e["action_id"]: e.get("value")
            for b in message["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
        }
        assert buttons[SUGGESTED_BUY_ACTION] == f"{account_id}:3690"
        assert buttons[SUGGESTED_MOVE_ACTION].startswith(f"{account_id}:3690:")
    # A second pass sends nothing more.
    again = run_low_credit_pass(session_factory, client, NOW + timedelta(minutes=5), cooldown=COOLDOWN)
    assert again.sent == [] and again.newly_low == 0
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


@pytest.mark.parametrize(
    "usage",
    [
        [],  # no usage: "No recent usage."
        [(2000, timedelta(hours=20))],  # less than a day of history: too early to forecast
    ],
)
def test_without_a_forecast_the_warning_sends_nothing(session_factory, fake_slack, client, usage):
    watch(session_factory)
    for credits, ago in usage:
        spend(session_factory, credits, NOW - ago)
    report = run_low_credit_pass(session_factory, client, NOW)
    assert report.newly_low == 0 and report.sent == []
    assert fake_slack.calls_to("chat.postMessage") == []


def test_a_purchase_that_restores_the_runway_resolves_the_alert_in_place(session_factory, fake_slack, client):
    account_id = watch(session_factory)
    steady(session_factory)
    run_low_credit_pass(session_factory, client, NOW, cooldown=COOLDOWN)

    # 500 more is 1,730: 4 days, still under the warning. The alert stays open, with the news.
    first_reply = buy(session_factory, account_id, 500, "view:V1")
    # Every pass at NOW, so the week's usage stays in the window and the rate stays 410 a day.
    report = run_low_credit_pass(session_factory, client, NOW, cooldown=COOLDOWN)
    assert report.recovered == 0 and len(report.updates.updated) == 2
    message = alerts_in(fake_slack)["D" + ALICE][0]
    assert_valid_blocks(message["blocks"])
    assert "has about 4 days of credits left" in plain(message)
    assert thread(fake_slack, "D" + ALICE) == [first_reply]

    # 500 more is 2,230: 5 days. Resolved in place, with the runway it is back to.
    second_reply = buy(session_factory, account_id, 500, "view:V2")
    report = run_low_credit_pass(session_factory, client, NOW, cooldown=COOLDOWN)

    assert report.recovered == 1 and report.sent == []
    for user in (ALICE, BOB):
        (message,) = alerts_in(fake_slack)["D" + user]
        assert_valid_blocks(message["blocks"])
        assert (
            message["text"] == "Resolved: Acme Marketing has 2,230 credits, above its reminder level of 500"
        )
        assert "About 5 days left at the last 7 days' usage (≈ 410 credits a day)." in plain(message)
        assert not [b for b in message["blocks"] if b["type"] == "actions"]
        assert thread(fake_slack, "D" + user) == [first_reply, second_reply]
    assert len(fake_slack.calls_to("chat.postMessage")) == 2 + 4  # two alerts, four replies


def test_a_runway_that_dips_again_within_the_cooldown_reopens_the_same_alert(
    session_factory, fake_slack, client
):
    account_id = watch(session_factory)
    steady(session_factory)
    run_low_credit_pass(session_factory, client, NOW, cooldown=COOLDOWN)
    buy(session_factory, account_id, 1000, "view:V1")
    run_low_credit_pass(session_factory, client, NOW + timedelta(minutes=5), cooldown=COOLDOWN)
    assert alerts_in(fake_slack)["D" + ALICE][0]["text"].startswith("Resolved:")

    spend(session_factory, 600, NOW + timedelta(hours=1))  # 1,630 left: 3 days again
    report = run_low_credit_pass(session_factory, client, NOW + timedelta(hours=2), cooldown=COOLDOWN)

    assert report.newly_low == 1 and report.sent == []  # the same episode, edited back to open
    for user in (ALICE, BOB):
        (message,) = alerts_in(fake_slack)["D" + user]
        assert_valid_blocks(message["blocks"])
        assert message["text"].startswith("Low credit:")
        assert "below its 5-day warning" in plain(message)
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if not c.params.get("thread_ts")]) == 2


def test_a_snooze_on_a_forecast_alert_ends_in_one_reminder_if_the_runway_is_still_short(
    slack, session_factory, fake_slack, client
):
    watch(session_factory)
    steady(session_factory)
    run_low_credit_pass(session_factory, client, NOW, cooldown=COOLDOWN)
    first = alerts_in(fake_slack)["D" + ALICE][0]

    slack.block_action(
        SNOOZE_ACTION,
        message=first,
        user_id=ALICE,
        action_type="static_select",
        selected_option={"text": {"type": "plain_text", "text": "1 day"}, "value": "1:1:1d"},
    )
    fake_slack.wait_for("chat.update", 1)
    assert "Snoozed for you until <!date^" in visible_text(alerts_in(fake_slack)["D" + ALICE][0])

    # While the snooze lasts, nothing new; once it ends, one reminder, still about the runway.
    assert run_low_credit_pass(session_factory, client, NOW + timedelta(hours=12)).follow_ups.updated == []
    ended = run_low_credit_pass(session_factory, client, NOW + timedelta(days=2))

    assert len(ended.follow_ups.updated) == 1
    alice = alerts_in(fake_slack)["D" + ALICE]
    assert len(alice) == 2 and len(alerts_in(fake_slack)["D" + BOB]) == 1
    reminder = alice[1]
    assert_valid_blocks(reminder["blocks"])
    assert "Still low after your snooze." in plain(reminder)
    # Two days on, the oldest usage has left the window: 1,230 at 293 a day is 4 days.
    assert "has about 4 days of credits left" in plain(reminder)
    assert "below its 5-day warning" in plain(reminder)
    later = run_low_credit_pass(session_factory, client, NOW + timedelta(days=2, minutes=5))
    assert later.follow_ups.updated == [] and len(alerts_in(fake_slack)["D" + ALICE]) == 2


def test_the_warning_does_not_change_an_alert_for_a_balance_below_the_level(
    session_factory, fake_slack, client
):
    watch(session_factory, credits=2900)  # 30 left: below the level and the warning
    steady(session_factory)
    run_low_credit_pass(session_factory, client, NOW)
    (message,) = alerts_in(fake_slack)["D" + ALICE]
    assert "has 30 credits, below its reminder level of 500." in plain(message)
    assert "Less than a day left at the last 7 days' usage" in plain(message)
    # It restores the level and the 5 days (2,050 of them), and a week's usage: 2,020 + 2,870.
    assert "buy 4,890" in plain(message)


def test_an_account_without_usage_history_of_its_own_kind_is_not_burned_by_purchases(
    session_factory, fake_slack, client
):
    account_id = watch(session_factory, credits=600)
    with session_factory.begin() as session:  # moves and adjustments are not usage
        spare = accounts.by_reference(session, "EX0000009").id
        ledger.transfer(session, account_id, spare, 90, ALEX, "view:V9")
        account = ledger.lock(session, account_id)[account_id]
        entry = ledger.post(session, account, EntryKind.ADJUSTMENT, -5, "test")
        entry.created_at = NOW - timedelta(days=3)
    assert run_low_credit_pass(session_factory, client, NOW).sent == []


def test_auto_top_up_waits_for_the_balance_to_fall_below_the_level(session_factory, fake_slack, client):
    """The forecast warning alerts; auto top-up still buys only below the level, once per episode."""
    watch(session_factory)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        top_up.configure(session, account, top_up.Rule(5000, 4, top_up.LimitUnit.PURCHASES), ALEX, NOW)
    steady(session_factory)

    report = run_low_credit_pass(session_factory, client, NOW, pricing=PRICING)
    assert report.topped_up == [] and len(report.sent) == 2
    assert balance_of(session_factory, "EX0000001") == 1230

    spend(session_factory, 800, NOW)  # 430: now below the level too, in the same episode
    report = run_low_credit_pass(session_factory, client, NOW, pricing=PRICING)
    assert report.topped_up == [
        "Auto top-up bought 5,000 credits, INV-2026-000001; 1 of 4 purchases this month."
    ]
    assert report.sent == [] and report.newly_low == 0
    assert run_low_credit_pass(session_factory, client, NOW, pricing=PRICING).topped_up == []
    assert balance_of(session_factory, "EX0000001") == 5430
    (message,) = alerts_in(fake_slack)["D" + ALICE]
    assert message["text"] == "Resolved: Acme Marketing has 5,430 credits, above its reminder level of 500"
