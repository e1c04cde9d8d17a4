"""Live alerts: every copy edited in place as credits come in, resolved once the balance is back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.app import make_client
from jobs import alerts as live
from jobs.low_credit import run_low_credit_pass
from store import accounts, alerts, invoices, ledger, reminders
from store.models import AlertMessage, ReminderEpisode
from tests.blockkit import assert_valid_blocks, visible_text
from tests.conftest import make_account
from tests.fake_slack import FakeSlack

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PRICING = invoices.Pricing(Decimal("0.045"), Decimal("0.20"), "GBP")
ALICE, BOB, ALEX, DANA = "U0ALICE01", "U0BOB0001", "U0ALEX001", "U0DANA001"
COOLDOWN = timedelta(days=1)
T = TypeVar("T")


@pytest.fixture
def client(config):
    """The bot's Web API client, pointed at the fake Slack, as the pass posts with it."""
    return live.without_blind_retries(make_client(config))


def watch(session_factory, *, credits=600, level=500, people=(ALICE, BOB)) -> int:
    """Acme Marketing, reminding `people` (Alice and Bob) below `level`."""
    make_account(session_factory, credits=credits)
    make_account(session_factory, "EX0000002", "Spare Co", credits=20_000)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        recipients = [reminders.Recipient(user, user) for user in people]
        reminders.configure(session, account, True, level, recipients, "test")
        return account.id


def use(session_factory, credits: int) -> None:
    with session_factory.begin() as session:
        ledger.record_usage(session, "EX0000001", credits, "test")


def follow(session_factory, now=NOW, cooldown=COOLDOWN) -> None:
    with session_factory.begin() as session:
        reminders.mark_crossings(session, now, cooldown)
        alerts.follow_episodes(session)


def post_alerts(session_factory, client) -> list[str]:
    """Run the reminder pass, which posts each recipient's copy; who it was sent to."""
    report = run_low_credit_pass(session_factory, client, NOW, cooldown=COOLDOWN)
    return [delivery.slack_user_id or "" for delivery in report.sent]


def copies(fake: FakeSlack) -> dict[str, dict]:
    """The current text of each alert message, by channel."""
    return {
        channel: message for (channel, _), message in fake.messages.items() if not message.get("thread_ts")
    }


def thread(fake: FakeSlack, channel: str) -> list[str]:
    return [m["text"] for (c, _), m in sorted(fake.messages.items()) if c == channel and m.get("thread_ts")]


def alerted_then(session_factory, client, change: Callable[[], T]) -> tuple[live.UpdateReport, T]:
    """Acme runs low (560 used) and its alerts go out; then `change`, then every copy is brought up
    to date: what that did, and what `change` returned."""
    use(session_factory, 560)
    follow(session_factory)
    assert len(post_alerts(session_factory, client)) == 2
    changed = change()
    follow(session_factory)
    return live.update_copies(session_factory, client, NOW, "test-holder"), changed


def bring_in(session_factory, account_id: int, how: str) -> str:
    """Credits come into Acme by a purchase of 5,000 or a move of 1,000 from Spare Co; the reply owed."""
    with session_factory.begin() as session:
        if how == "purchase":
            bought = invoices.purchase(session, account_id, 5000, PRICING, ALEX, "view:V1", NOW.date())
            return f"<@{ALEX}> bought 5,000 credits ({bought.invoice.number}). Balance 5,040."
        spare = accounts.by_reference(session, "EX0000002").id
        ledger.transfer(session, spare, account_id, 1000, ALEX, "view:V2")
        return f"<@{ALEX}> moved 1,000 credits in from *Spare Co* (`EX0000002`). Balance 1,040."


def ended_in_every_copy(fake: FakeSlack, report: live.UpdateReport, text: str) -> None:
    """Both copies of Acme's alert (at 40 credits) edited to `text`: no buttons, no "back to"."""
    assert len(report.updated) == 2 and report.failed == []
    for user in (ALICE, BOB):
        message = copies(fake)["D" + user]
        assert_valid_blocks(message["blocks"])
        assert message["text"] == text
        shown = visible_text(message["blocks"])
        assert "40 credits" in shown and "back to" not in shown
        assert not [b for b in message["blocks"] if b["type"] == "actions"]


def test_an_open_alert_is_redrawn_when_its_account_is_renamed_or_its_level_or_warning_changes(
    session_factory, fake_slack, client
):
    account_id = watch(session_factory)

    def change() -> None:
        with session_factory.begin() as session:
            account = accounts.get(session, account_id)
            accounts.rename(session, account, "Acme <EU>", "U0BILL001")
            recipients = [reminders.Recipient(user, user) for user in (ALICE, BOB)]
            reminders.configure(session, account, True, 2000, recipients, "U0BILL001")
            reminders.set_warning(session, account, 5, "U0BILL001")

    report, _ = alerted_then(session_factory, client, change)
    assert len(report.updated) == 2 and report.failed == []
    for user in (ALICE, BOB):
        message = copies(fake_slack)["D" + user]
        assert_valid_blocks(message["blocks"])
        shown = visible_text(message["blocks"])
        assert message["text"].startswith("Low credit: Acme &lt;EU&gt; (EX0000001)")
        assert "below its reminder level of 2,000" in shown and "500" not in shown
        assert "Buy 1,960 credits" in shown  # what restores the new level
        assert thread(fake_slack, "D" + user) == []  # no credits came in: nothing to reply
    # Nothing changed since: a later pass edits nothing.
    assert live.update_copies(session_factory, client, NOW, "test-holder").updated == []


def test_an_alert_closed_because_its_reminder_was_switched_off_says_so_not_that_credits_came(
    session_factory, fake_slack, client
):
    account_id = watch(session_factory)

    def switch_off() -> None:
        with session_factory.begin() as session:
            account = accounts.by_reference(session, "EX0000001")
            reminders.configure(session, account, False, 500, [], "U0BILL001")

    report, _ = alerted_then(session_factory, client, switch_off)
    ended_in_every_copy(
        fake_slack, report, "Closed: the low-credit reminder for Acme Marketing was switched off"
    )
    with session_factory.begin() as session:
        assert session.get(ReminderEpisode, account_id).low is False


def test_an_alert_resolved_by_lowering_the_level_does_not_say_credits_came_back(
    session_factory, fake_slack, client
):
    watch(session_factory)

    def lower_the_level() -> None:
        with session_factory.begin() as session:
            account = accounts.by_reference(session, "EX0000001")
            recipients = [reminders.Recipient(user, user) for user in (ALICE, BOB)]
            reminders.configure(session, account, True, 40, recipients, "U0BILL001")

    report, _ = alerted_then(session_factory, client, lower_the_level)
    ended_in_every_copy(
        fake_slack, report, "Resolved: Acme Marketing has 40 credits, at its reminder level of 40"
    )
    for user in (ALICE, BOB):
        assert thread(fake_slack, "D" + user) == []  # no credits came in: nothing to reply


def test_a_resolved_copy_drawn_late_shows_the_account_as_it_was_when_the_alert_ended(
    session_factory, fake_slack, client
):
    account_id = watch(session_factory)
    use(session_factory, 560)
    follow(session_factory)
    post_alerts(session_factory, client)
    bring_in(session_factory, account_id, "purchase")
    follow(session_factory)
    alice_ts = copies(fake_slack)["D" + ALICE]["ts"]
    # Slack refuses the edit of Alice's copy for a while; meanwhile the account dips again, two
    # days on: a new alert, with its own copies.
    fake_slack.fail(
        "chat.update", error="service_unavailable", times=None, when=lambda p: p.get("ts") == alice_ts
    )
    assert [copy for copy, _ in live.update_copies(session_factory, client, NOW, "test-holder").failed]
    use(session_factory, 5000)
    follow(session_factory, now=NOW + timedelta(days=2))
    fake_slack.clear_faults()
    live.update_copies(session_factory, client, NOW + timedelta(days=2), "test-holder")

    first = next(m for (c, ts), m in fake_slack.messages.items() if (c, ts) == ("D" + ALICE, alice_ts))
    assert first["text"] == "Resolved: Acme Marketing has 5,040 credits, above its reminder level of 500"


def test_an_account_deactivated_while_low_closes_its_alert_and_a_new_one_comes_when_it_is_back_and_low(
    session_factory, fake_slack, client
):
    account_id = watch(session_factory)

    def set_active(active: bool) -> None:
        with session_factory.begin() as session:
            accounts.set_active(session, accounts.get(session, account_id), active, "U0BILL001")

    report, _ = alerted_then(session_factory, client, lambda: set_active(False))
    ended_in_every_copy(fake_slack, report, "Closed: Acme Marketing was deactivated")
    with session_factory.begin() as session:
        assert session.get(ReminderEpisode, account_id).low is False
    # While inactive, later passes leave it alone; activated again while still low (within the
    # cooldown), the same alert opens again in every copy, without new DMs.
    assert post_alerts(session_factory, client) == []
    set_active(True)
    follow(session_factory)
    report = live.update_copies(session_factory, client, NOW, "test-holder")
    assert len(report.updated) == 2 and report.failed == []
    for user in (ALICE, BOB):
        message = copies(fake_slack)["D" + user]
        assert message["text"] == "Low credit: Acme Marketing (EX0000001) has 40 credits"
        assert [b for b in message["blocks"] if b["type"] == "actions"]
    assert post_alerts(session_factory, client) == []
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


def test_an_update_pass_stops_beginning_copies_at_half_its_lease_so_no_reply_is_posted_twice(
    session_factory, fake_slack, client
):
    people = tuple(f"U0PERS{n:03d}" for n in range(8))
    account_id = watch(session_factory, people=people)
    use(session_factory, 560)
    follow(session_factory)
    assert len(post_alerts(session_factory, client)) == 8
    reply = bring_in(session_factory, account_id, "purchase")
    follow(session_factory)
    # Slack answers the first replies slowly, as a rate-limited Slack may. Had the first holder
    # gone on past its lease, the second would have taken its copies over and both replied.
    fake_slack.delay("chat.postMessage", 0.6, times=7)
    lease = timedelta(seconds=2)
    first = threading.Thread(
        target=lambda: live.update_copies(session_factory, client, NOW, "holder-a", lease=lease)
    )
    first.start()
    time.sleep(lease.total_seconds() + 0.3)
    # Another holder, then later passes, bring up to date what the first gave back.
    for _ in range(10):
        if not live.update_copies(session_factory, client, NOW, "holder-b", lease=lease).updated:
            break
    first.join(30)
    assert {user: thread(fake_slack, "D" + user) for user in people} == {user: [reply] for user in people}


def test_reminders_after_snoozes_stop_beginning_at_half_their_lease_so_none_is_posted_twice(
    session_factory, fake_slack, client
):
    people = tuple(f"U0PERS{n:03d}" for n in range(8))
    watch(session_factory, people=people)
    use(session_factory, 560)
    follow(session_factory)
    assert len(post_alerts(session_factory, client)) == 8
    with session_factory.begin() as session:
        for message in session.scalars(select(AlertMessage)):
            alerts.snooze(session, message.id, NOW + timedelta(hours=1))
    later = NOW + timedelta(hours=2)
    fake_slack.delay("chat.postMessage", 0.6, times=7)
    lease = timedelta(seconds=2)
    first = threading.Thread(
        target=lambda: live.remind_after_snoozes(session_factory, client, later, "holder-a", lease=lease)
    )
    first.start()
    time.sleep(lease.total_seconds() + 0.3)
    for _ in range(10):
        if not live.remind_after_snoozes(session_factory, client, later, "holder-b", lease=lease).updated:
            break
    first.join(30)
    for user in people:
        posted = [m for (channel, _), m in fake_slack.messages.items() if channel == "D" + user]
        assert ["Still low after your snooze" in visible_text(m["blocks"]) for m in posted] == [False, True]


def test_no_reminder_after_a_snooze_goes_to_someone_taken_off_the_reminder_meanwhile(
    session_factory, fake_slack, client
):
    account_id = watch(session_factory)
    use(session_factory, 560)
    follow(session_factory)
    assert sorted(post_alerts(session_factory, client)) == [ALICE, BOB]
    with session_factory.begin() as session:
        for message in session.scalars(select(AlertMessage)):
            alerts.snooze(session, message.id, NOW + timedelta(hours=1))
        reminders.configure(
            session,
            accounts.get(session, account_id),
            True,
            500,
            [reminders.Recipient(BOB, BOB)],
            "U0BILL001",
        )

    report = live.remind_after_snoozes(session_factory, client, NOW + timedelta(hours=2), "test-holder")

    assert len(report.updated) == 1 and report.failed == []
    reminded = [
        c for (c, _), m in fake_slack.messages.items() if "Still low after" in visible_text(m["blocks"])
    ]
    assert reminded == ["D" + BOB]


@pytest.mark.parametrize(("how", "balance"), [("purchase", "5,040"), ("move", "1,040")])
def test_credits_that_restore_the_level_resolve_every_copy_in_place_with_a_thread_reply(
    session_factory, fake_slack, client, how, balance
):
    account_id = watch(session_factory)
    report, reply = alerted_then(session_factory, client, lambda: bring_in(session_factory, account_id, how))
    assert len(report.updated) == 2 and report.failed == []
    for user in (ALICE, BOB):
        message = copies(fake_slack)["D" + user]
        assert_valid_blocks(message["blocks"])
        assert (
            message["text"]
            == f"Resolved: Acme Marketing has {balance} credits, above its reminder level of 500"
        )
        assert not [b for b in message["blocks"] if b["type"] == "actions"]
        assert thread(fake_slack, "D" + user) == [reply]
    with session_factory.begin() as session:
        assert session.get(ReminderEpisode, account_id).low is False
    # Two new posts (the replies) and two edits; nothing is posted or edited again later.
    assert len(fake_slack.calls_to("chat.postMessage")) == 4
    assert len(fake_slack.calls_to("chat.update")) == 2
    assert live.update_copies(session_factory, client, NOW, "test-holder").updated == []


def test_move_in_that_does_not_restore_the_level_updates_the_open_alert(session_factory, fake_slack, client):
    account_id = watch(session_factory)
    use(session_factory, 560)
    follow(session_factory)
    post_alerts(session_factory, client)

    with session_factory.begin() as session:
        spare = accounts.by_reference(session, "EX0000002").id
        ledger.transfer(session, spare, account_id, 100, ALEX, "view:V2")
    follow(session_factory)
    live.update_copies(session_factory, client, NOW, "test-holder")

    message = copies(fake_slack)["D" + ALICE]
    assert_valid_blocks(message["blocks"])
    assert "has *140* credits" in visible_text(message)
    assert [b for b in message["blocks"] if b["type"] == "actions"]
    assert thread(fake_slack, "D" + ALICE) == [
        f"<@{ALEX}> moved 100 credits in from *Spare Co* (`EX0000002`). Balance 140."
    ]


def test_an_edit_that_fails_twice_is_retried_by_later_passes(session_factory, fake_slack, client):
    account_id = watch(session_factory, people=(ALICE,))
    use(session_factory, 560)
    follow(session_factory)
    assert post_alerts(session_factory, client) == [ALICE]
    with session_factory.begin() as session:
        invoices.purchase(session, account_id, 5000, PRICING, ALEX, "view:V1", NOW.date())
    follow(session_factory)
    # An error the client does not retry by itself: the pass is what retries it.
    fake_slack.fail("chat.update", error="service_unavailable", times=2)

    first = live.update_copies(session_factory, client, NOW, "replica-a")
    second = live.update_copies(session_factory, client, NOW, "replica-b")
    third = live.update_copies(session_factory, client, NOW, "replica-a")

    assert [len(r.failed) for r in (first, second, third)] == [1, 1, 0]
    assert len(third.updated) == 1
    assert copies(fake_slack)["D" + ALICE]["text"].startswith("Resolved:")
    # The thread reply went out once, on the first pass, however often the edit was retried.
    assert len(thread(fake_slack, "D" + ALICE)) == 1
    assert live.update_copies(session_factory, client, NOW, "replica-b").updated == []


class StopsAtSecondReply(WebClient):
    """The bot's client, but the process is stopped as it is about to post the second thread reply."""

    replies = 0

    def api_call(self, api_method, **kwargs):
        if api_method == "chat.postMessage" and (kwargs.get("json") or {}).get("thread_ts"):
            if self.replies == 1:
                raise SystemExit("stopped by the operator")
            self.replies += 1
        return super().api_call(api_method, **kwargs)


def test_copies_claimed_ahead_of_an_interrupted_update_are_given_back_at_once(
    session_factory, fake_slack, client, config
):
    # The next batch is claimed while one is sent; stopped, the pass gives it back, so another
    # holder brings it up to date at once instead of waiting out the lease.
    account_id = watch(session_factory, people=(ALICE, BOB, DANA))
    use(session_factory, 560)
    follow(session_factory)
    assert sorted(post_alerts(session_factory, client)) == sorted([ALICE, BOB, DANA])
    bring_in(session_factory, account_id, "purchase")
    follow(session_factory)
    stopping = live.without_blind_retries(
        StopsAtSecondReply(token=config.slack_bot_token, base_url=config.slack_api_url)
    )

    with pytest.raises(SystemExit):
        live.update_copies(session_factory, stopping, NOW, "replica-a", batch_size=1)

    later = live.update_copies(session_factory, client, NOW, "replica-b")
    assert len(later.updated) == 2 and later.failed == []
    for user in (ALICE, BOB, DANA):
        assert copies(fake_slack)["D" + user]["text"].startswith("Resolved:")
        assert len(thread(fake_slack, "D" + user)) == 1


@pytest.mark.parametrize("where", ["alert", "reply"])
def test_a_lost_answer_is_looked_for_instead_of_posted_twice(session_factory, fake_slack, client, where):
    account_id = watch(session_factory, people=(ALICE,))
    use(session_factory, 560)
    follow(session_factory)
    if where == "alert":
        fake_slack.drop("chat.postMessage", after_acting=True)
        assert post_alerts(session_factory, client) == []  # Slack posted it; the answer was lost
        assert post_alerts(session_factory, client) == [ALICE]
    else:
        assert post_alerts(session_factory, client) == [ALICE]
        with session_factory.begin() as session:
            invoices.purchase(session, account_id, 5000, PRICING, ALEX, "view:V1", NOW.date())
        follow(session_factory)
        fake_slack.drop("chat.postMessage", after_acting=True)
        assert len(live.update_copies(session_factory, client, NOW, "replica-a").failed) == 1
        assert live.update_copies(session_factory, client, NOW, "replica-b").updated

    assert len(copies(fake_slack)) == 1
    assert len(thread(fake_slack, "D" + ALICE)) == (1 if where == "reply" else 0)
    looked = "conversations.history" if where == "alert" else "conversations.replies"
    # Looked for in the DM itself: its channel, opened for the look-up (a user id is no channel to read).
    assert [c.params["channel"] for c in fake_slack.calls_to(looked)] == ["D" + ALICE]


def episode_of(session_factory) -> tuple[int, bool]:
    with session_factory.begin() as session:
        episode = session.get(ReminderEpisode, accounts.by_reference(session, "EX0000001").id)
        return episode.number, episode.low


def test_a_dip_within_the_cooldown_reopens_the_alert_instead_of_alerting_again(
    session_factory, fake_slack, client
):
    account_id = watch(session_factory)
    use(session_factory, 560)
    follow(session_factory)
    post_alerts(session_factory, client)
    for hour in range(1, 4):  # the balance flaps around its level every hour
        with session_factory.begin() as session:
            invoices.purchase(session, account_id, 500, PRICING, ALEX, f"view:V{hour}", NOW.date())
        follow(session_factory, NOW + timedelta(hours=hour))
        live.update_copies(session_factory, client, NOW, "holder")
        assert copies(fake_slack)["D" + ALICE]["text"].startswith("Resolved:")
        use(session_factory, 500)
        follow(session_factory, NOW + timedelta(hours=hour, minutes=30))
        live.update_copies(session_factory, client, NOW, "holder")
        assert copies(fake_slack)["D" + ALICE]["text"].startswith("Low credit:")
        assert episode_of(session_factory) == (1, True)

    # Still just the two alerts, each with one reply per purchase; the edits kept them current.
    assert len(copies(fake_slack)) == 2
    assert len(thread(fake_slack, "D" + BOB)) == 3

    # Once the cooldown has passed, a dip is a new episode and alerts afresh.
    with session_factory.begin() as session:
        invoices.purchase(session, account_id, 500, PRICING, ALEX, "view:V9", NOW.date())
    follow(session_factory, NOW + timedelta(hours=5))
    use(session_factory, 500)
    follow(session_factory, NOW + timedelta(days=1, hours=6))
    assert episode_of(session_factory) == (2, True)


def test_a_late_record_counts_its_progress_but_leaves_the_copy_to_whoever_took_it_over(
    session_factory, fake_slack, client
):
    account_id = watch(session_factory, people=(ALICE,))
    use(session_factory, 560)
    follow(session_factory)
    post_alerts(session_factory, client)
    bring_in(session_factory, account_id, "purchase")
    follow(session_factory)
    with session_factory.begin() as session:
        (copy,) = alerts.claim_stale(session, "replica-a", NOW, live.LEASE, 10)
    # Replica A hangs past its lease; B takes the copy over before A's record comes in.
    with session_factory.begin() as session:
        (taken,) = alerts.claim_stale(session, "replica-b", NOW + 2 * live.LEASE, live.LEASE, 10)
        ((_, owed, state),) = alerts.updates_for(session, [taken], NOW)
    done = alerts.Progress(copy.id, owed[-1].entry_id, state.revision, None, copy.snoozes)
    with session_factory.begin() as session:
        alerts.record_updates(session, "replica-a", [done])
    with session_factory() as session:
        row = session.get(AlertMessage, copy.id)
        # A's edit and reply are in Slack, so they count; the claim and settling are B's.
        assert (row.shown_revision, row.replied_entry_id) == (state.revision, owed[-1].entry_id)
        assert (row.claimed_by, row.stale) == ("replica-b", True)
    # B's record of less progress (it failed early) takes nothing back, and settles the copy.
    with session_factory.begin() as session:
        alerts.record_updates(session, "replica-b", [alerts.Progress(copy.id, 0, 0, None, copy.snoozes)])
    with session_factory() as session:
        row = session.get(AlertMessage, copy.id)
        assert (row.shown_revision, row.replied_entry_id) == (state.revision, owed[-1].entry_id)
        assert (row.claimed_by, row.lease_until, row.stale) == (None, None, False)
