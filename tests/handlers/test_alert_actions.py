"""I'm on it and Snooze, clicked in an alert: every copy shows it, and a snooze ends in one reminder."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import make_client
from handlers.alerts import ACKNOWLEDGE_ACTION, SNOOZE_ACTION, SNOOZE_UNTIL_ACTION
from jobs.low_credit import run_low_credit_pass
from store import accounts, ledger, reminders
from store import alerts as store_alerts
from store.models import Alert, AlertMessage, Role
from tests.blockkit import assert_valid_blocks, visible_text
from tests.conftest import grant_role, make_account
from tests.fake_slack import FakeSlack

ALICE, BOB, NOBODY = "U0ALICE01", "U0BOB0001", "U0NOROLE1"
OPS = "C0OPS0001"


@pytest.fixture
def client(config):
    return make_client(config)


@pytest.fixture
def alerted(session_factory, fake_slack, client) -> dict[str, dict]:
    """Acme Marketing ran low and Alice and Bob each got an alert; each one's message by user."""
    make_account(session_factory, credits=600)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        people = [reminders.Recipient(ALICE, ALICE), reminders.Recipient(BOB, BOB)]
        reminders.configure(session, account, True, 500, people, "test")
        ledger.record_usage(session, "EX0000001", 560, "test")
    assert len(run_low_credit_pass(session_factory, client, datetime.now(UTC)).sent) == 2
    return {user: current(fake_slack, user) for user in (ALICE, BOB)}


def current(fake: FakeSlack, user: str) -> dict:
    """The alert in the user's DM as it is now, with its channel (as a click carries it)."""
    ((ts, message),) = [
        (t, m) for (c, t), m in fake.messages.items() if c == "D" + user and not m.get("thread_ts")
    ]
    return {**message, "channel": "D" + user, "ts": ts}


def wait_until(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the listener never got there"
        time.sleep(0.02)


def ephemeral_texts(fake: FakeSlack) -> list[str]:
    return [c.params.get("text", "") for c in fake.responses()]


def snooze(slack, message: dict, user_id: str, choice: str) -> None:
    """Choose `choice` ("1h", "1d", "1w") from the Snooze menu on this alert message."""
    label = {"1h": "1 hour", "1d": "1 day", "1w": "1 week"}[choice]
    slack.block_action(
        SNOOZE_ACTION,
        message=message,
        user_id=user_id,
        action_type="static_select",
        selected_option={"text": {"type": "plain_text", "text": label}, "value": f"1:1:{choice}"},
    )


def test_im_on_it_shows_who_and_when_on_every_copy(slack, fake_slack, alerted):
    slack.block_action(ACKNOWLEDGE_ACTION, value="x", message=alerted[ALICE], user_id=ALICE)
    fake_slack.wait_for("chat.update", 2)

    for user in (ALICE, BOB):
        message = current(fake_slack, user)
        assert_valid_blocks(message["blocks"])
        text = visible_text(message)
        assert f"<@{ALICE}> is handling this since <!date^" in text
        actions = [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert ACKNOWLEDGE_ACTION not in actions and SNOOZE_ACTION in actions

    # Bob clicks his (stale) copy too: Alice keeps it, and Bob is told so.
    slack.block_action(ACKNOWLEDGE_ACTION, value="x", message=alerted[BOB], user_id=BOB)
    wait_until(lambda: ephemeral_texts(fake_slack))
    assert ephemeral_texts(fake_slack) == [f"<@{ALICE}> is already handling this."]
    assert f"<@{ALICE}> is handling this" in visible_text(current(fake_slack, BOB))


def test_a_second_click_by_whoever_is_handling_it_says_so_and_changes_nothing(slack, fake_slack, alerted):
    slack.block_action(ACKNOWLEDGE_ACTION, value="x", message=alerted[ALICE], user_id=ALICE)
    fake_slack.wait_for("chat.update", 2)
    shown = visible_text(current(fake_slack, ALICE))

    slack.block_action(ACKNOWLEDGE_ACTION, value="x", message=current(fake_slack, ALICE), user_id=ALICE)
    wait_until(lambda: ephemeral_texts(fake_slack))
    assert ephemeral_texts(fake_slack) == ["You are already handling this alert."]
    assert len(fake_slack.calls_to("chat.update")) == 2  # nothing changed, so nothing is edited
    assert visible_text(current(fake_slack, ALICE)) == shown


def test_a_click_on_an_untracked_message_says_so(slack, fake_slack, alerted):
    stranger = {**alerted[ALICE], "ts": "1.000001"}
    slack.block_action(ACKNOWLEDGE_ACTION, value="x", message=stranger, user_id=ALICE)
    wait_until(lambda: ephemeral_texts(fake_slack))
    assert "no longer tracked" in ephemeral_texts(fake_slack)[0]
    assert fake_slack.calls_to("chat.update") == []


@pytest.mark.parametrize("how", ["1 day", "a date"])
def test_snooze_then_one_reminder_linking_the_first_if_still_low(
    slack, fake_slack, alerted, session_factory, client, how
):
    if how == "1 day":
        snooze(slack, alerted[ALICE], ALICE, "1d")
    else:
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        slack.block_action(
            SNOOZE_UNTIL_ACTION,
            message=alerted[ALICE],
            user_id=ALICE,
            action_type="datepicker",
            action_extra={"selected_date": tomorrow},
        )
    fake_slack.wait_for("chat.update", 1)
    assert "Snoozed for you until <!date^" in visible_text(current(fake_slack, ALICE))
    assert "Snoozed" not in visible_text(current(fake_slack, BOB))

    # While the snooze lasts, passes send nothing new.
    assert run_low_credit_pass(session_factory, client, datetime.now(UTC)).follow_ups.updated == []
    later = datetime.now(UTC) + timedelta(days=2)
    first = run_low_credit_pass(session_factory, client, later)
    again = run_low_credit_pass(session_factory, client, later + timedelta(hours=1))

    assert len(first.follow_ups.updated) == 1 and again.follow_ups.updated == []
    alice_alerts = [
        m for (c, _), m in fake_slack.messages.items() if c == "D" + ALICE and not m.get("thread_ts")
    ]
    assert len(alice_alerts) == 2
    reminder = max(alice_alerts, key=lambda m: float(m["ts"]))
    assert_valid_blocks(reminder["blocks"])
    first_ts = alerted[ALICE]["ts"].replace(".", "")
    link = f"https://{fake_slack.team_domain}.slack.com/archives/D{ALICE}/p{first_ts}"
    assert f"Still low after your snooze. <{link}|See the first alert>." in visible_text(reminder)
    bob_alerts = [m for (c, _), m in fake_slack.messages.items() if c == "D" + BOB and not m.get("thread_ts")]
    assert len(bob_alerts) == 1


def test_a_snooze_while_another_click_redraws_the_alert_is_answered_then_shown(
    slack, fake_slack, alerted, session_factory, client
):
    # Bob's "I'm on it" redraws both copies slowly; Alice snoozes hers meanwhile. Her redraw cannot
    # take her copy from his, and his draws it as it was before her snooze.
    fake_slack.delay("chat.update", 1.0, times=2)
    slack.block_action(ACKNOWLEDGE_ACTION, value="x", message=alerted[BOB], user_id=BOB)
    wait_until(lambda: fake_slack.calls_to("chat.update"))
    snooze(slack, alerted[ALICE], ALICE, "1d")
    wait_until(lambda: ephemeral_texts(fake_slack))
    assert ephemeral_texts(fake_slack)[0].startswith("Snoozed for you until <!date^")
    wait_until(lambda: len(fake_slack.calls_to("chat.update")) == 2)
    time.sleep(1.2)  # Bob's redraw is answered and recorded
    with session_factory.begin() as session:
        [alices] = session.scalars(select(AlertMessage).where(AlertMessage.address == ALICE)).all()
        assert alices.stale, "Bob's redraw recorded Alice's copy as up to date"
    run_low_credit_pass(session_factory, client, datetime.now(UTC))
    assert "Snoozed for you until <!date^" in visible_text(current(fake_slack, ALICE))
    assert f"<@{BOB}> is handling this" in visible_text(current(fake_slack, ALICE))


def test_snoozing_until_today_is_refused(slack, fake_slack, alerted):
    today = datetime.now(UTC).date().isoformat()
    slack.block_action(
        SNOOZE_UNTIL_ACTION,
        message=alerted[ALICE],
        user_id=ALICE,
        action_type="datepicker",
        action_extra={"selected_date": today},
    )
    wait_until(lambda: ephemeral_texts(fake_slack))
    assert ephemeral_texts(fake_slack) == ["Pick a day after today to snooze until."]


@pytest.fixture
def alerted_in_ops(session_factory, fake_slack, client) -> dict:
    """Acme Marketing ran low; #ops and Bob each got an alert; the #ops message as a click carries it."""
    fake_slack.add_channel(OPS, "ops")
    make_account(session_factory, credits=600)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        recipients = [reminders.Recipient(OPS), reminders.Recipient(BOB, BOB)]
        reminders.configure(session, account, True, 500, recipients, ALICE)
        ledger.record_usage(session, "EX0000001", 560, "test")
    grant_role(session_factory, ALICE, Role.VIEWER)  # anyone in #ops can click: a role is needed
    assert len(run_low_credit_pass(session_factory, client, datetime.now(UTC)).sent) == 2
    ((ts, message),) = [(t, m) for (c, t), m in fake_slack.messages.items() if c == OPS]
    return {**message, "channel": OPS, "ts": ts}


def test_im_on_it_clicked_in_a_channel_shows_on_the_channel_copy_and_each_dm(
    slack, fake_slack, alerted_in_ops
):
    slack.block_action(ACKNOWLEDGE_ACTION, value="x", message=alerted_in_ops, user_id=ALICE)
    fake_slack.wait_for("chat.update", 2)

    in_channel = fake_slack.messages[(OPS, alerted_in_ops["ts"])]
    assert_valid_blocks(in_channel["blocks"])
    assert f"<@{ALICE}> is handling this since <!date^" in visible_text(in_channel)
    assert f"<@{ALICE}> is handling this" in visible_text(current(fake_slack, BOB))


def test_a_snooze_in_a_channel_says_it_is_the_channels(slack, fake_slack, alerted_in_ops):
    snooze(slack, alerted_in_ops, ALICE, "1d")
    fake_slack.wait_for("chat.update", 1)
    assert "Snoozed in this channel until <!date^" in visible_text(
        fake_slack.messages[(OPS, alerted_in_ops["ts"])]
    )
    assert "Snoozed" not in visible_text(current(fake_slack, BOB))


def handler_of(session_factory) -> str | None:
    with session_factory.begin() as session:
        alert = session.get(Alert, (accounts.by_reference(session, "EX0000001").id, 1))
        assert alert is not None
        return alert.handler


def test_in_a_channel_someone_without_a_role_can_neither_take_nor_snooze_the_alert(
    slack, fake_slack, alerted_in_ops, session_factory
):
    slack.block_action(ACKNOWLEDGE_ACTION, value="x", message=alerted_in_ops, user_id=NOBODY)
    snooze(slack, alerted_in_ops, NOBODY, "1w")
    wait_until(lambda: len(ephemeral_texts(fake_slack)) == 2)
    for said in ephemeral_texts(fake_slack):
        assert said.startswith("You don't have access to admin-bot yet"), said
        assert f"admin-bot roles grant {NOBODY} viewer" in said
    assert handler_of(session_factory) is None
    with session_factory.begin() as session:
        assert session.scalar(select(store_alerts.AlertMessage.snoozed_until)) is None
    assert fake_slack.calls_to("chat.update") == []


def test_a_recipient_without_a_role_can_still_take_the_alert_sent_to_them(
    slack, fake_slack, alerted, session_factory
):
    slack.block_action(ACKNOWLEDGE_ACTION, value="x", message=alerted[BOB], user_id=BOB)
    fake_slack.wait_for("chat.update", 2)
    assert handler_of(session_factory) == BOB


@pytest.mark.parametrize("click", ["I'm on it", "Snooze"])
def test_a_click_saved_while_slack_will_not_update_the_alert_is_answered(
    slack, fake_slack, alerted, session_factory, click
):
    fake_slack.fail("chat.update", error="fatal_error", times=None)
    if click == "I'm on it":
        slack.block_action(ACKNOWLEDGE_ACTION, value="x", message=alerted[ALICE], user_id=ALICE)
    else:
        snooze(slack, alerted[ALICE], ALICE, "1d")
    wait_until(lambda: ephemeral_texts(fake_slack))
    assert ephemeral_texts(fake_slack) == [
        "Saved, but the alert could not be updated just now (fatal_error); the next reminder pass "
        "will update it."
    ]
    if click == "I'm on it":
        assert handler_of(session_factory) == ALICE


def test_an_answer_whose_response_url_fails_comes_as_a_dm_instead(slack, fake_slack, alerted, caplog):
    slack.block_action(ACKNOWLEDGE_ACTION, value="x", message=alerted[ALICE], user_id=ALICE)
    fake_slack.wait_for("chat.update", 2)
    fake_slack.fail("response_url", status=500)
    slack.block_action(ACKNOWLEDGE_ACTION, value="x", message=alerted[BOB], user_id=BOB)
    told = fake_slack.wait_for("chat.postMessage", 3)[-1]  # after the two alerts
    assert (told.params["channel"], told.params["text"]) == (BOB, f"<@{ALICE}> is already handling this.")
    assert any("response_url answered 500" in record.getMessage() for record in caplog.records)


def test_someone_taken_off_the_reminder_acts_on_their_old_copy_only_with_a_role(
    slack, session_factory, fake_slack, alerted
):
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        reminders.configure(session, account, True, 500, [reminders.Recipient(ALICE, ALICE)], "test")
    calls = len(fake_slack.calls_to("chat.update"))

    slack.block_action(ACKNOWLEDGE_ACTION, value="x", message=alerted[BOB], user_id=BOB)

    wait_until(lambda: ephemeral_texts(fake_slack))
    assert "admin-bot roles grant U0BOB0001 viewer" in ephemeral_texts(fake_slack)[0]
    with session_factory.begin() as session:
        assert session.scalar(select(Alert.handler)) is None
    assert len(fake_slack.calls_to("chat.update")) == calls
