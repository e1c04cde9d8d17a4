"""The low-credit reminder pass: once per crossing, failures retried, replicas share the work."""

from __future__ import annotations

import gc
import json
import sys
import threading
from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from bot.app import make_client
from bot.cli import main
from bot.config import Config
from bot.scheduler import LOW_CREDIT_JOB, start_scheduler
from handlers.alerts import (
    ACKNOWLEDGE_ACTION,
    SNOOZE_ACTION,
    SNOOZE_UNTIL_ACTION,
    SUGGESTED_BUY_ACTION,
    SUGGESTED_MOVE_ACTION,
)
from handlers.move import AMOUNT_BLOCK, SOURCE_BLOCK
from jobs.low_credit import PASS_GC_ALLOCATIONS, SWITCH_INTERVAL_SECONDS, run_low_credit_pass
from store import accounts, db, ledger, reminders
from store import alerts as store_alerts
from store.models import (
    Account,
    Alert,
    AlertMessage,
    AuditEntry,
    EntryKind,
    LedgerEntry,
    ReminderEpisode,
    Role,
)
from tests.blockkit import assert_valid_blocks, assert_valid_view, visible_text
from tests.conftest import grant_role, make_account
from tests.fake_slack import FakeSlack
from tests.slack_requests import open_view

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ALICE, BOB, CAROL = "U0ALICE01", "U0BOB0001", "U0CAROL01"
ALICE_AND_BOB = (reminders.Recipient("alice@example.com"), reminders.Recipient(BOB, BOB))


@pytest.fixture
def client(config: Config):
    """The bot's Web API client, pointed at the fake Slack."""
    return make_client(config)


@pytest.fixture
def team(fake_slack: FakeSlack) -> FakeSlack:
    """Alice and Carol are found by email; Bob is picked in the people picker."""
    fake_slack.add_user(ALICE, "alice@example.com")
    fake_slack.add_user(BOB, "bob@example.com")
    fake_slack.add_user(CAROL, "carol@example.com")
    return fake_slack


def watch(
    session_factory,
    reference="EX0000001",
    name="Acme Marketing",
    *,
    credits=1000,
    level=500,
    recipients=ALICE_AND_BOB,
) -> Account:
    """An account with a reminder on at `level`, DMing `recipients`."""
    make_account(session_factory, reference, name, credits=credits)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, reference)
        reminders.configure(session, account, True, level, list(recipients), "test")
    return account


def use(session_factory, reference: str, credits: int) -> None:
    with session_factory.begin() as session:
        ledger.record_usage(session, reference, credits, "test")


def top_up(session_factory, reference: str, credits: int) -> None:
    with session_factory.begin() as session:
        account = accounts.by_reference(session, reference)
        ledger.post(
            session, ledger.lock(session, account.id)[account.id], EntryKind.ADJUSTMENT, credits, "test"
        )


def dms(fake: FakeSlack) -> list[tuple[str, str]]:
    """(channel, text) of every DM the fake accepted, in the channel it landed in."""
    return [
        (c.reply["channel"], c.params["text"])
        for c in fake.calls_to("chat.postMessage")
        if c.reply and c.reply.get("ok")
    ]


def deliveries(session_factory) -> list[tuple[str, int]]:
    """(address, episode) of every DM recorded as sent."""
    with session_factory.begin() as session:
        rows = session.execute(
            select(AlertMessage.address, AlertMessage.episode)
            .where(AlertMessage.number == 1, AlertMessage.sent_at.is_not(None))
            .order_by(AlertMessage.id)
        )
        return [tuple(row) for row in rows]


def test_usage_below_level_dms_exactly_the_configured_recipients(session_factory, team, client):
    watch(session_factory)
    watch(
        session_factory,
        "EX0000002",
        "Other Co",
        credits=100,
        level=0,
        recipients=[reminders.Recipient("carol@example.com")],
    )
    assert run_low_credit_pass(session_factory, client, NOW).sent == []

    use(session_factory, "EX0000001", 600)
    report = run_low_credit_pass(session_factory, client, NOW)

    assert sorted((s.address, s.slack_user_id) for s in report.sent) == [
        (BOB, BOB),
        ("alice@example.com", ALICE),
    ]
    assert report.failed == []
    assert sorted(channel for channel, _ in dms(team)) == ["D" + ALICE, "D" + BOB]
    message = team.calls_to("chat.postMessage")[0].params
    assert_valid_blocks(message["blocks"])
    text = visible_text(message)
    assert "Acme Marketing" in text and "EX0000001" in text and "*400* credits" in text
    assert "reminder level of 500" in text
    # Other Co has 100 credits above its level of 0: the suggested source.
    assert "move *100* credits in from *Other Co* (`EX0000002`)" in text
    controls = message["blocks"][-1]["elements"]
    assert [c["action_id"] for c in controls] == [
        SUGGESTED_MOVE_ACTION,
        SUGGESTED_BUY_ACTION,
        ACKNOWLEDGE_ACTION,
        SNOOZE_ACTION,
        SNOOZE_UNTIL_ACTION,
    ]
    account_id = accounts_id(session_factory, "EX0000001")
    other_id = accounts_id(session_factory, "EX0000002")
    assert [c.get("value") for c in controls[:2]] == [f"{account_id}:100:{other_id}", f"{account_id}:100"]
    # Each DM posted to its person's user id, Alice's found by her email.
    assert [c.params["channel"] for c in team.calls_to("chat.postMessage")] == [ALICE, BOB]
    assert deliveries(session_factory) == [("alice@example.com", 1), (BOB, 1)]


def test_each_dm_is_one_call_to_the_person_and_is_recorded_in_the_dm_slack_put_it_in(
    session_factory, team, client
):
    bob = [reminders.Recipient(BOB, BOB)]
    for reference in ("EX0000001", "EX0000002", "EX0000003"):
        watch(session_factory, reference, f"Acme {reference}", credits=100, recipients=bob)

    report = run_low_credit_pass(session_factory, client, NOW)

    assert len(report.sent) == 3
    # Posted to the user id: Slack opens the DM itself (conversations.open is rate limited to
    # about 50 a minute, which would hold a first pass to a few thousand new people an hour).
    assert team.calls_to("conversations.open") == []
    assert [c.params["channel"] for c in team.calls_to("chat.postMessage")] == [BOB] * 3
    assert [channel for channel, _ in dms(team)] == ["D" + BOB] * 3
    # Where Slack answered it is, so the copies are edited there as their alerts change.
    with session_factory.begin() as session:
        recorded = session.scalars(select(AlertMessage.channel).order_by(AlertMessage.id)).all()
    assert recorded == ["D" + BOB] * 3


def accounts_id(session_factory, reference: str) -> int:
    with session_factory.begin() as session:
        return accounts.by_reference(session, reference).id


def test_second_pass_sends_nothing(session_factory, team, client):
    watch(session_factory, credits=100)
    assert len(run_low_credit_pass(session_factory, client, NOW).sent) == 2
    team.reset()
    again = run_low_credit_pass(session_factory, client, NOW)
    assert again.sent == [] and again.failed == []
    assert team.calls_to("chat.postMessage") == [] and team.calls_to("users.lookupByEmail") == []


def test_topping_up_and_dropping_again_alerts_again(session_factory, team, client):
    watch(session_factory, credits=400)
    assert len(run_low_credit_pass(session_factory, client, NOW).sent) == 2
    use(session_factory, "EX0000001", 100)
    assert run_low_credit_pass(session_factory, client, NOW).sent == []

    top_up(session_factory, "EX0000001", 200)  # 500: at the level is not low
    assert run_low_credit_pass(session_factory, client, NOW).recovered == 1
    use(session_factory, "EX0000001", 1)
    report = run_low_credit_pass(session_factory, client, NOW)

    assert report.newly_low == 1 and len(report.sent) == 2
    assert len(dms(team)) == 4
    assert deliveries(session_factory) == [
        ("alice@example.com", 1),
        (BOB, 1),
        ("alice@example.com", 2),
        (BOB, 2),
    ]


def test_a_pass_logs_one_summary_line_at_the_default_level_and_a_warning_per_failed_dm(
    session_factory, team, client, caplog
):
    """At `serve`'s default level a pass says what it did in one line, not a line per DM: formatting
    and writing 10,000 lines cost a pass of 10,000 DMs about a quarter of its time."""
    for number in range(1, 4):
        watch(session_factory, f"EX000000{number}", credits=10)
    team.fail(
        "users.lookupByEmail",
        error="users_not_found",
        times=None,
        when=lambda params: params.get("email") == "alice@example.com",
    )
    caplog.set_level("INFO")

    run_low_credit_pass(session_factory, client, NOW)

    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "jobs.low_credit"]
    assert [line for line in lines if line[0] == "INFO"] == [
        (
            "INFO",
            "low-credit pass: 3 DM(s) sent, 3 failed (retried next pass); 3 account(s) newly low, "
            "0 recovered",
        )
    ]
    assert [message for level, message in lines if level == "WARNING"] == [
        f"low-credit alert for EX000000{number} to alice@example.com failed: users_not_found"
        for number in range(1, 4)
    ]

    caplog.clear()
    run_low_credit_pass(session_factory, client, NOW)  # nothing new, the failures again

    assert [r.getMessage() for r in caplog.records if r.levelname == "INFO"] == [
        "low-credit pass: 0 DM(s) sent, 3 failed (retried next pass); 0 account(s) newly low, 0 recovered"
    ]
    team.clear_faults()
    caplog.clear()
    run_low_credit_pass(session_factory, client, NOW)
    run_low_credit_pass(session_factory, client, NOW)  # a pass with nothing to do is quiet

    assert [r.getMessage() for r in caplog.records if r.levelname == "INFO"] == [
        "low-credit pass: 3 DM(s) sent, 0 failed; 0 account(s) newly low, 0 recovered"
    ]
    caplog.clear()
    top_up(session_factory, "EX0000001", 1000)
    run_low_credit_pass(session_factory, client, NOW)

    assert [r.getMessage() for r in caplog.records if r.levelname == "INFO"] == [
        "low-credit pass: 0 DM(s) sent, 0 failed; 0 account(s) newly low, 1 recovered; "
        "2 alert(s) updated, 0 to retry"
    ]


def test_failed_lookup_does_not_block_others_and_is_delivered_later(session_factory, team, client, caplog):
    watch(
        session_factory,
        credits=10,
        recipients=[
            reminders.Recipient("alice@example.com"),
            reminders.Recipient("carol@example.com"),
            reminders.Recipient(BOB, BOB),
        ],
    )
    team.fail(
        "users.lookupByEmail",
        error="users_not_found",
        times=None,
        when=lambda params: params.get("email") == "alice@example.com",
    )

    first = run_low_credit_pass(session_factory, client, NOW)

    assert [(f.address, f.error) for f in first.failed] == [("alice@example.com", "users_not_found")]
    assert sorted(s.address for s in first.sent) == [BOB, "carol@example.com"]
    assert "xoxb-" not in caplog.text and "users_not_found" in caplog.text

    team.clear_faults()
    team.reset()
    second = run_low_credit_pass(session_factory, client, NOW)
    assert [s.address for s in second.sent] == ["alice@example.com"] and second.failed == []
    assert dms(team) and [channel for channel, _ in dms(team)] == ["D" + ALICE]


@pytest.mark.parametrize(
    "fault",
    [
        {"error": "account_inactive"},
        {"status": 500},
    ],
)
def test_post_failures_are_retried_on_a_later_pass(session_factory, team, client, fault):
    watch(session_factory, credits=10)
    team.fail("chat.postMessage", times=None, when=lambda p: p["channel"] == ALICE, **fault)

    first = run_low_credit_pass(session_factory, client, NOW)

    assert [f.address for f in first.failed] == ["alice@example.com"]
    assert [s.address for s in first.sent] == [BOB]
    team.clear_faults()
    assert [s.address for s in run_low_credit_pass(session_factory, client, NOW).sent] == [
        "alice@example.com"
    ]


def test_rate_limited_post_honours_retry_after_and_arrives_once(session_factory, team, client):
    watch(session_factory, credits=10, recipients=[reminders.Recipient("alice@example.com")])
    team.fail("chat.postMessage", status=429, retry_after=1)

    report = run_low_credit_pass(session_factory, client, NOW)

    attempts = team.calls_to("chat.postMessage")
    assert [c.reply["ok"] for c in attempts] == [False, True]
    assert attempts[1].at - attempts[0].at >= 0.9  # waited for Retry-After
    assert len(report.sent) == 1 and report.failed == []
    assert len(dms(team)) == 1


def test_disabled_or_inactive_accounts_are_not_alerted(session_factory, team, client):
    watch(session_factory, credits=10)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        reminders.configure(session, account, False, 500, [], "test")
    assert run_low_credit_pass(session_factory, client, NOW).sent == []
    assert team.calls_to("chat.postMessage") == []


def test_account_name_is_escaped_in_the_alert(session_factory, team, client):
    watch(session_factory, name="<!channel> & co", credits=10)
    run_low_credit_pass(session_factory, client, NOW)
    text = visible_text(team.calls_to("chat.postMessage")[0].params)
    assert "&lt;!channel&gt; &amp; co" in text and "<!channel>" not in text


def test_concurrent_passes_on_postgresql_share_the_work_and_send_each_dm_once(
    database_url, session_factory, team, config
):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serves a single process; replicas need PostgreSQL")
    for number in range(1, 7):
        watch(session_factory, f"EX000000{number}", f"Account {number}", credits=10)
    team.delay("chat.postMessage", 0.2, times=None)  # keep each pass busy so they overlap
    # One replica marks crossings and the other skips marking; until that commits the other sees
    # nothing due (the next pass picks it up). Mark first, so the test is about sharing the sends.
    with session_factory.begin() as session:
        reminders.mark_crossings(session, NOW)
    # Two replicas: each has its own engine and client, like two `serve` processes.
    replicas = [db.make_engine(database_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    reports = []

    def replica(engine) -> None:
        barrier.wait()
        session_factory = db.make_session_factory(engine)
        reports.append(run_low_credit_pass(session_factory, make_client(config), NOW, batch_size=2))

    threads = [threading.Thread(target=replica, args=(engine,)) for engine in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for engine in replicas:
        engine.dispose()

    channels = [channel for channel, _ in dms(team)]
    assert sorted(channels) == sorted(["D" + ALICE, "D" + BOB] * 6)
    assert all(r.sent for r in reports)  # both replicas sent some of the one pass
    assert sum(len(r.sent) for r in reports) == 12
    with session_factory.begin() as session:
        assert session.scalar(select(func.count()).where(AlertMessage.number == 1)) == 12
    # A later pass on either replica has nothing left to send.
    assert run_low_credit_pass(session_factory, make_client(config), NOW).sent == []


def test_scheduler_runs_the_pass_on_the_configured_interval(session_factory, config):
    scheduler = start_scheduler(Config(low_credit_poll_seconds=42), session_factory, make_client(config))
    try:
        job = scheduler.get_job(LOW_CREDIT_JOB)
        assert job.trigger.interval.total_seconds() == 42
        assert job.coalesce is True and job.max_instances == 1
    finally:
        scheduler.shutdown(wait=False)


def test_cli_reminders_run_prints_what_it_sent(
    database_url, session_factory, team, monkeypatch, tmp_path, capsys
):
    watch(session_factory, credits=10)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", team.api_url)

    assert main(["reminders", "run"]) == 0
    out = capsys.readouterr().out
    assert f"Sent EX0000001 low-credit alert to alice@example.com ({ALICE})" in out
    assert f"to {BOB} ({BOB})" in out and "2 reminder(s) sent, 0 failed." in out

    assert main(["reminders", "run"]) == 0
    assert "0 reminder(s) sent" in capsys.readouterr().out
    assert len(dms(team)) == 2


def test_suggested_buttons_open_prefilled_buy_and_move_from_the_dm_with_permission_checks(
    slack, admin, session_factory, team, client
):
    account = watch(session_factory, credits=10)
    spare = make_account(session_factory, "EX0000009", "Spare Co", credits=20_000)
    run_low_credit_pass(session_factory, client, NOW)
    call = team.calls_to("chat.postMessage")[0]
    message = {**call.reply["message"], "channel": call.reply["channel"]}
    buttons = {b["action_id"]: b["value"] for b in message["blocks"][-1]["elements"] if "value" in b}
    # 490 restores the level of 500; there is no usage to forecast a week of.
    assert buttons[SUGGESTED_MOVE_ACTION] == f"{account.id}:490:{spare.id}"

    shown = len(team.view_history)
    slack.block_action(SUGGESTED_BUY_ACTION, value=buttons[SUGGESTED_BUY_ACTION], message=message)
    bought = open_view(team, shown)
    assert bought["callback_id"] == "buy_credits" and bought["private_metadata"] == str(account.id)
    assert_valid_view(team.calls_to("views.open")[-1].params["view"])
    amount = next(b["element"] for b in bought["blocks"] if b.get("block_id") == "credits")
    assert amount["initial_value"] == "490"

    shown = len(team.view_history)
    slack.block_action(SUGGESTED_MOVE_ACTION, value=buttons[SUGGESTED_MOVE_ACTION], message=message)
    moving = open_view(team, shown)
    assert moving["callback_id"] == "move_credits"
    assert json.loads(moving["private_metadata"]) == {"destination": account.id}
    assert_valid_view(team.calls_to("views.open")[-1].params["view"])
    elements = {b["block_id"]: b["element"] for b in moving["blocks"] if b["type"] == "input"}
    assert elements[SOURCE_BLOCK]["initial_option"] == {
        "text": {"type": "plain_text", "text": "Spare Co (EX0000009)"},
        "value": str(spare.id),
    }
    assert elements[AMOUNT_BLOCK]["initial_value"] == "490"

    grant_role(session_factory, "U0VIEWER1", Role.VIEWER)
    shown = len(team.view_history)
    slack.block_action(
        SUGGESTED_BUY_ACTION, value=buttons[SUGGESTED_BUY_ACTION], message=message, user_id="U0VIEWER1"
    )
    refusal = open_view(team, shown)  # the buy handler explains the refusal in a notice
    assert refusal["callback_id"] != "buy_credits" and refusal.get("submit") is None
    assert "billing role" in visible_text(refusal)


def test_a_suggested_move_from_a_source_deactivated_since_says_why_it_is_not_chosen(
    slack, admin, session_factory, team, client
):
    watch(session_factory, credits=10)
    spare = make_account(session_factory, "EX0000009", "Spare <Co> *", credits=20_000)
    run_low_credit_pass(session_factory, client, NOW)
    call = team.calls_to("chat.postMessage")[0]
    message = {**call.reply["message"], "channel": call.reply["channel"]}
    buttons = {b["action_id"]: b["value"] for b in message["blocks"][-1]["elements"] if "value" in b}
    with session_factory.begin() as session:
        accounts.set_active(session, accounts.get(session, spare.id), False, admin)

    shown = len(team.view_history)
    slack.block_action(SUGGESTED_MOVE_ACTION, value=buttons[SUGGESTED_MOVE_ACTION], message=message)
    moving = open_view(team, shown)
    assert_valid_view(team.calls_to("views.open")[-1].params["view"])
    elements = {b["block_id"]: b["element"] for b in moving["blocks"] if b["type"] == "input"}
    assert "initial_option" not in elements[SOURCE_BLOCK]
    assert (
        "The alert suggested Spare &lt;Co&gt; ∗ (`EX0000009`), which is inactive now: choose another "
        "account to move credits from." in visible_text(moving)
    )


class StoppedAtDM(WebClient):
    """The bot's client, but the process is stopped while sending DM number `at` (the first is 1)."""

    def __init__(self, at: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.at, self.posted = at, 0

    def api_call(self, api_method, **kwargs):
        if api_method == "chat.postMessage":
            if self.posted == self.at - 1:
                raise SystemExit("stopped by the operator")
            self.posted += 1
        return super().api_call(api_method, **kwargs)


def test_a_pass_stopped_mid_way_keeps_what_it_sent_and_the_next_pass_sends_only_the_rest(
    session_factory, team, config, client
):
    for number in (1, 2, 3):
        watch(
            session_factory,
            f"EX000000{number}",
            f"Account {number}",
            credits=10,
            recipients=[ALICE_AND_BOB[1]],
        )
    dying = StoppedAtDM(3, token=config.slack_bot_token, base_url=config.slack_api_url)

    with pytest.raises(SystemExit):
        run_low_credit_pass(session_factory, dying, NOW)

    assert deliveries(session_factory) == [(BOB, 1), (BOB, 1)]
    resumed = run_low_credit_pass(session_factory, client, NOW)
    assert [s.reference for s in resumed.sent] == ["EX0000003"]
    assert len(dms(team)) == 3  # each account's alert arrived exactly once


def test_a_pass_stopped_mid_batch_gives_back_the_batch_it_claimed_ahead(
    session_factory, team, config, client
):
    # The pass claims its next batch while it sends this one: stopped, it gives that batch back
    # too, so the next pass sends everything left at once instead of waiting out the leases.
    references = [f"EX{number:07d}" for number in range(1, 6)]
    for number, reference in enumerate(references, 1):
        watch(session_factory, reference, f"Account {number}", credits=10, recipients=[ALICE_AND_BOB[1]])
    dying = StoppedAtDM(2, token=config.slack_bot_token, base_url=config.slack_api_url)

    with pytest.raises(SystemExit):
        run_low_credit_pass(session_factory, dying, NOW, batch_size=2)

    assert deliveries(session_factory) == [(BOB, 1)]
    with session_factory.begin() as session:
        held = session.scalar(select(func.count()).where(AlertMessage.claimed_by.is_not(None)))
    assert held == 0
    resumed = run_low_credit_pass(session_factory, client, NOW, batch_size=2)
    assert sorted(s.reference for s in resumed.sent) == references[1:]
    assert len(dms(team)) == 5  # each account's alert arrived exactly once


def test_a_batch_claimed_ahead_whose_lease_half_ran_out_is_claimed_again_and_sent_once(
    session_factory, team, client
):
    # The second batch is claimed while the first is sent, which takes longer than half its
    # lease: the pass gives it back and claims it again from there, with a fresh lease.
    references = [f"EX{number:07d}" for number in range(1, 5)]
    for number, reference in enumerate(references, 1):
        watch(session_factory, reference, f"Account {number}", credits=10, recipients=[ALICE_AND_BOB[1]])
    team.delay("chat.postMessage", 0.3, times=None)

    report = run_low_credit_pass(session_factory, client, NOW, lease_seconds=1, batch_size=2)

    assert sorted(s.reference for s in report.sent) == references and report.failed == []
    assert len(dms(team)) == 4
    assert deliveries(session_factory) == [(BOB, 1)] * 4


def test_a_large_pass_records_every_delivery_once(session_factory, team, client, monkeypatch):
    for number in range(1, 8):
        watch(
            session_factory, f"EX{number:07d}", f"Account {number}", credits=10, recipients=[ALICE_AND_BOB[1]]
        )
    # several batches, one short tail
    assert len(run_low_credit_pass(session_factory, client, NOW, batch_size=3).sent) == 7

    assert len(deliveries(session_factory)) == 7
    assert run_low_credit_pass(session_factory, client, NOW).sent == []


def test_a_pass_leaves_every_object_to_the_garbage_collector_again(session_factory, team, client):
    # The pass sets the process's older objects aside while it runs; they must come back after it.
    watch(session_factory, credits=10)
    assert len(run_low_credit_pass(session_factory, client, NOW).sent) == 2
    assert gc.get_freeze_count() == 0


class NotesInterpreterSettings(WebClient):
    """The bot's client, noting at each DM the thread switch interval, the allocations between
    garbage collections, and whether the older objects are set aside."""

    seen: list[tuple[float, int, bool]]

    def api_call(self, api_method, **kwargs):
        if api_method == "chat.postMessage":
            self.seen.append((sys.getswitchinterval(), gc.get_threshold()[0], gc.get_freeze_count() > 0))
        return super().api_call(api_method, **kwargs)


def test_a_pass_switches_threads_often_and_collects_less_often_while_it_runs_and_restores_both_after(
    session_factory, team, config
):
    # Its claiming thread would otherwise wait up to 5 ms for the interpreter after each query,
    # and every 700 allocations a collection walked the batch's messages and states again.
    watch(session_factory, credits=10)
    noting = NotesInterpreterSettings(token=config.slack_bot_token, base_url=config.slack_api_url)
    noting.seen = []
    before, thresholds = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(0.004)
    gc.set_threshold(700, 10, 10)
    try:
        assert len(run_low_credit_pass(session_factory, noting, NOW).sent) == 2
        assert noting.seen == [(SWITCH_INTERVAL_SECONDS, PASS_GC_ALLOCATIONS, True)] * 2
        assert sys.getswitchinterval() == 0.004
        assert gc.get_threshold() == (700, 10, 10)
        assert gc.get_freeze_count() == 0
    finally:
        sys.setswitchinterval(before)
        gc.set_threshold(*thresholds)


REMINDER_TABLES = (ReminderEpisode, Alert, AlertMessage)


def test_an_accounts_reminder_rows_go_with_it_and_none_exist_without_one(session_factory, team, client):
    # On PostgreSQL alerts reference the episode row and messages their alert (migrations 0022, 0037), not
    # accounts: the chain must keep what the keys on accounts kept. A recipient's first copy is
    # also the record of their DM (migration 0033), sent or only claimed.
    watch(session_factory, credits=10)
    assert len(run_low_credit_pass(session_factory, client, NOW).sent) == 2
    with session_factory.begin() as session:
        account_id = accounts.by_reference(session, "EX0000001").id
        assert [session.scalar(select(func.count()).select_from(table)) for table in REMINDER_TABLES] == [
            1,
            1,
            2,
        ]
        # An account with money history cannot be deleted; one without it can, and takes its reminder rows.
        for table in (AuditEntry, LedgerEntry):
            session.execute(delete(table).where(table.account_id == account_id))
        session.execute(delete(Account).where(Account.id == account_id))
    with session_factory.begin() as session:
        assert [session.scalar(select(func.count()).select_from(table)) for table in REMINDER_TABLES] == [
            0
        ] * 3
    for row in (
        ReminderEpisode(account_id=account_id, number=1, low=True),
        Alert(account_id=account_id, episode=1, revision=1, seen_entry_id=0, resolved=False),
        AlertMessage(
            account_id=account_id,
            episode=1,
            address=BOB,
            number=1,
            channel="D0BOB0001",
            shown_revision=1,
            replied_entry_id=0,
            stale=False,
        ),
    ):
        with pytest.raises(IntegrityError), session_factory.begin() as session:
            session.add(row)


def test_a_statement_writing_one_reminder_row_without_its_parent_writes_none(session_factory, team, client):
    # On PostgreSQL the keys are checked once per statement (migration 0037), as the pass writes
    # a batch in one statement: one orphan among good rows must still refuse the whole batch.
    watch(session_factory, credits=10)
    assert len(run_low_credit_pass(session_factory, client, NOW).sent) == 2
    other = make_account(session_factory, "EX0000002", "Acme EU", credits=10).id
    with session_factory.begin() as session:
        low = accounts.by_reference(session, "EX0000001").id
    missing = other + 1000
    message = {"number": 1, "channel": "", "shown_revision": 0, "replied_entry_id": 0, "stale": False}
    batches = [
        (ReminderEpisode, [{"account_id": other, "number": 0, "low": False}, {"account_id": missing}]),
        (Alert, [{"account_id": low, "episode": 2}, {"account_id": missing, "episode": 1}]),
        (
            AlertMessage,
            [{"account_id": low, "episode": 1, "address": CAROL}, {"account_id": missing, "episode": 1}],
        ),
    ]
    defaults = {
        ReminderEpisode: {"number": 1, "low": True},
        Alert: {"revision": 1, "seen_entry_id": 0, "resolved": False},
        AlertMessage: {"address": BOB, **message},
    }
    counts = [1, 1, 2]
    for table, rows in batches:
        with pytest.raises(IntegrityError), session_factory.begin() as session:
            session.execute(table.__table__.insert().values([{**defaults[table], **row} for row in rows]))
        with session_factory.begin() as session:
            assert [session.scalar(select(func.count()).select_from(t)) for t in REMINDER_TABLES] == counts


class SomeoneHandlesItDuringTheFirstDM(WebClient):
    """The bot's client; while the alert's first DM is going out, Carol says she is on it."""

    def __init__(self, session_factory, account_id: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.session_factory, self.account_id, self.posted = session_factory, account_id, 0

    def api_call(self, api_method, **kwargs):
        if api_method == "chat.postMessage" and not self.posted:
            with self.session_factory.begin() as session:
                assert store_alerts.acknowledge(session, self.account_id, 1, CAROL, NOW)[0] is not None
        self.posted += api_method == "chat.postMessage"
        return super().api_call(api_method, **kwargs)


def test_dms_sent_while_the_alert_moved_on_are_recorded_behind_and_brought_up_to_date(
    session_factory, team, config
):
    account = watch(session_factory, credits=10)
    client = SomeoneHandlesItDuringTheFirstDM(
        session_factory, account.id, token=config.slack_bot_token, base_url=config.slack_api_url
    )
    assert len(run_low_credit_pass(session_factory, client, NOW).sent) == 2

    # Both DMs went out showing the alert as it was before Carol's click; the pass recorded them
    # as behind and edited each to show her handling it.
    assert not any(CAROL in text for _, text in dms(team))
    updated = team.calls_to("chat.update")
    assert sorted(c.params["channel"] for c in updated) == sorted(channel for channel, _ in dms(team))
    assert all(CAROL in json.dumps(c.params) for c in updated)
    with session_factory.begin() as session:
        assert session.scalars(select(AlertMessage.stale)).all() == [False, False]
