"""Channel recipients: one alert posted in the channel, kept up to date, and a clear ask to be invited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.app import make_client
from jobs.low_credit import run_low_credit_pass
from store import accounts, invoices, ledger, reminders
from tests.blockkit import assert_valid_blocks, visible_text
from tests.conftest import make_account
from tests.fake_slack import FakeSlack

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PRICING = invoices.Pricing(Decimal("0.045"), Decimal("0.20"), "GBP")
ALICE, ALEX = "U0ALICE01", "U0ALEX001"
OPS = "C0OPS0001"


@pytest.fixture
def client(config):
    """The bot's Web API client, pointed at the fake Slack."""
    return make_client(config)


def watch(session_factory, *, set_by: str = ALICE) -> int:
    """Acme Marketing at 600 credits, reminding #ops and Alice below 500; set up by `set_by`."""
    make_account(session_factory, credits=600)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        people = [reminders.Recipient(OPS), reminders.Recipient(ALICE, ALICE)]
        reminders.configure(session, account, True, 500, people, set_by)
        return account.id


def run(session_factory, client, minutes: int = 0):
    return run_low_credit_pass(session_factory, client, NOW + timedelta(minutes=minutes))


def posted_in(fake: FakeSlack, channel: str) -> list[dict]:
    """Top-level messages in the channel, oldest first."""
    found = [m for (c, _), m in fake.messages.items() if c == channel and not m.get("thread_ts")]
    return sorted(found, key=lambda m: float(m["ts"]))


def told(fake: FakeSlack, user: str) -> list[str]:
    """What the bot DMed the user besides alerts."""
    texts = [m["text"] for m in posted_in(fake, "D" + user)]
    return [text for text in texts if not text.startswith(("Low credit:", "Resolved:", "Closed:"))]


def thread_in(fake: FakeSlack, channel: str) -> list[str]:
    return [m["text"] for (c, _), m in sorted(fake.messages.items()) if c == channel and m.get("thread_ts")]


def test_a_channel_gets_one_alert_that_is_edited_in_place(session_factory, fake_slack, client):
    fake_slack.add_channel(OPS, "ops")
    account_id = watch(session_factory)
    with session_factory.begin() as session:
        ledger.record_usage(session, "EX0000001", 560, "test")

    report = run(session_factory, client)

    assert sorted(d.address for d in report.sent) == [OPS, ALICE]
    (alert,) = posted_in(fake_slack, OPS)
    assert_valid_blocks(alert["blocks"])
    assert "*Acme Marketing* (`EX0000001`) has *40* credits" in visible_text(alert)
    # The channel is posted in directly, and Alice at her user id.
    assert sorted(c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")) == [OPS, ALICE]

    with session_factory.begin() as session:
        bought = invoices.purchase(session, account_id, 5000, PRICING, ALEX, "view:V1", NOW.date())
    run(session_factory, client, 5)
    run(session_factory, client, 10)

    (alert,) = posted_in(fake_slack, OPS)
    assert alert["text"] == "Resolved: Acme Marketing has 5,040 credits, above its reminder level of 500"
    assert thread_in(fake_slack, OPS) == [
        f"<@{ALEX}> bought 5,000 credits ({bought.invoice.number}). Balance 5,040."
    ]
    in_ops = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == OPS]
    assert len(in_ops) == 2  # the alert and its one reply


def test_a_lost_answer_in_a_channel_is_found_not_posted_again(session_factory, fake_slack, client):
    fake_slack.add_channel(OPS, "ops")
    watch(session_factory)
    with session_factory.begin() as session:
        ledger.record_usage(session, "EX0000001", 560, "test")
    fake_slack.drop("chat.postMessage", after_acting=True, when=lambda p: p.get("channel") == OPS)

    first = run(session_factory, client)
    second = run(session_factory, client, 5)

    assert [d.address for d in first.failed] == [OPS]
    assert [d.address for d in second.sent] == [OPS]
    assert len(posted_in(fake_slack, OPS)) == 1
    assert [c.params["channel"] for c in fake_slack.calls_to("conversations.history")] == [OPS]
    assert run(session_factory, client, 10).sent == []


@pytest.mark.parametrize(("private", "error"), [(False, "not_in_channel"), (True, "channel_not_found")])
def test_a_channel_the_bot_is_not_in_asks_whoever_set_it_to_invite_the_bot_once(
    session_factory, fake_slack, client, private, error
):
    fake_slack.add_channel(OPS, "ops", member=False, private=private)
    watch(session_factory)
    with session_factory.begin() as session:
        ledger.record_usage(session, "EX0000001", 560, "test")

    first = run(session_factory, client)
    second = run(session_factory, client, 5)

    assert [(d.address, d.error) for d in first.failed + second.failed] == [(OPS, error), (OPS, error)]
    assert posted_in(fake_slack, OPS) == []
    # Alice set the reminder: her DM holds her own alert and one ask to invite the bot.
    assert told(fake_slack, ALICE) == [
        f"Invite @admin-bot to <#{OPS}> first: `/invite @admin-bot`. The low credit alert for "
        "*Acme Marketing* (`EX0000001`) is posted there as soon as it is in."
    ]

    fake_slack.invite_bot(OPS)
    third = run(session_factory, client, 10)

    assert [d.address for d in third.sent] == [OPS]
    assert len(posted_in(fake_slack, OPS)) == 1
    assert len(posted_in(fake_slack, "D" + ALICE)) == 2
    assert run(session_factory, client, 15).sent == []


def test_a_channel_alert_the_bot_can_no_longer_edit_asks_whoever_set_it_to_invite_the_bot_once(
    session_factory, fake_slack, client
):
    fake_slack.add_channel(OPS, "ops")
    account_id = watch(session_factory)
    with session_factory.begin() as session:
        ledger.record_usage(session, "EX0000001", 560, "test")
    assert sorted(d.address for d in run(session_factory, client).sent) == [OPS, ALICE]
    fake_slack.channels[OPS]["is_member"] = False  # someone removed the bot from #ops
    with session_factory.begin() as session:
        invoices.purchase(session, account_id, 5000, PRICING, ALEX, "view:V1", NOW.date())

    failures = [run(session_factory, client, minutes).updates.failed for minutes in (5, 10)]

    assert [[error for _, error in failed] for failed in failures] == [["not_in_channel"]] * 2
    assert told(fake_slack, ALICE) == [
        f"Invite @admin-bot to <#{OPS}> first: `/invite @admin-bot`. The low credit alert for "
        "*Acme Marketing* (`EX0000001`) there is brought up to date as soon as it is in."
    ]
    fake_slack.invite_bot(OPS)
    assert run(session_factory, client, 15).updates.failed == []
    (alert,) = posted_in(fake_slack, OPS)
    assert alert["text"].startswith("Resolved: Acme Marketing has 5,040 credits")


def test_a_copy_whose_message_was_deleted_is_given_up_not_retried_on_every_pass(
    session_factory, fake_slack, client
):
    fake_slack.add_channel(OPS, "ops")
    account_id = watch(session_factory)
    with session_factory.begin() as session:
        ledger.record_usage(session, "EX0000001", 560, "test")
    run(session_factory, client)
    (alert,) = posted_in(fake_slack, OPS)
    fake_slack.fail(
        "chat.update", error="message_not_found", times=None, when=lambda p: p.get("ts") == alert["ts"]
    )
    with session_factory.begin() as session:
        invoices.purchase(session, account_id, 5000, PRICING, ALEX, "view:V1", NOW.date())

    first = run(session_factory, client, 5).updates
    later = run(session_factory, client, 10).updates

    assert [error for _, error in first.failed] == ["message_not_found"] and len(first.updated) == 1
    assert later.failed == [] and later.updated == []
    assert len(fake_slack.calls_to("chat.update")) == 2  # Alice's copy, and the one try at #ops'


def test_an_archived_channel_is_reported_once_and_nothing_is_posted(session_factory, fake_slack, client):
    fake_slack.add_channel(OPS, "ops", archived=True)
    watch(session_factory)
    with session_factory.begin() as session:
        ledger.record_usage(session, "EX0000001", 560, "test")

    for minutes in (0, 5, 10):
        run(session_factory, client, minutes)

    assert posted_in(fake_slack, OPS) == []
    assert told(fake_slack, ALICE) == [
        f"<#{OPS}> is archived, so the low credit alert for *Acme Marketing* (`EX0000001`) cannot "
        "be posted there. Unarchive it or choose another channel in the reminder."
    ]


def test_without_a_slack_user_to_ask_the_problem_is_logged(session_factory, fake_slack, client, caplog):
    fake_slack.add_channel(OPS, "ops", member=False)
    watch(session_factory, set_by="cli")
    with session_factory.begin() as session:
        ledger.record_usage(session, "EX0000001", 560, "test")

    run(session_factory, client)

    assert len(posted_in(fake_slack, "D" + ALICE)) == 1  # her alert only
    assert f"cannot post in {OPS}: not_in_channel" in caplog.text
