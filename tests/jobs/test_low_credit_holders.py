"""The reminder pass survives its holder: killed, hung or cut off from the database, no alert is lost
and none goes out twice, not even the DM in flight at that moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from bot.app import make_client
from jobs import alerts as live
from jobs.low_credit import run_low_credit_pass
from store import db
from store.models import AlertMessage
from tests.fake_slack import FakeSlack
from tests.jobs.test_low_credit import ALICE_AND_BOB, BOB, NOW, deliveries, watch
from tests.own_postgres import needs_own_postgres, own_postgres

ROOT = Path(__file__).resolve().parents[2]
LEASE = 6  # seconds: long enough for a pass started right after the kill to see live claims


@pytest.fixture
def team(fake_slack: FakeSlack) -> FakeSlack:
    """Bob, picked in the people picker: his DMs need no email lookup."""
    fake_slack.add_user(BOB, "bob@example.com")
    return fake_slack


def watch_accounts(session_factory, count: int) -> list[str]:
    """`count` low accounts, each alerting Bob; their references."""
    references = [f"EX{number:07d}" for number in range(1, count + 1)]
    for number, reference in enumerate(references, 1):
        watch(session_factory, reference, f"Account {number}", credits=10, recipients=[ALICE_AND_BOB[1]])
    return references


def alerts_per_account(fake: FakeSlack, references: list[str]) -> dict[str, int]:
    """How many DMs Slack accepted about each account."""
    posted = [c.params["text"] for c in fake.calls_to("chat.postMessage") if c.reply and c.reply["ok"]]
    return {reference: sum(reference in text for text in posted) for reference in references}


def start_holder(database_url: str, fake: FakeSlack, tmp_path: Path) -> subprocess.Popen:
    """`admin-bot reminders run` in a process of its own, as a replica runs its pass."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_API_URL": fake.api_url,
        "REMINDER_LEASE_SECONDS": str(LEASE),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "reminders", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_posts(fake: FakeSlack, count: int, timeout: float = 30) -> None:
    """Until Slack has received `count` chat.postMessage calls (the last may still be in flight)."""
    deadline = time.monotonic() + timeout
    while len(fake.calls_to("chat.postMessage")) < count:
        assert time.monotonic() < deadline, "the holder never got that far"
        time.sleep(0.01)


def wait_out_leases(session_factory) -> None:
    """Sleep until every claim's lease has run out."""
    with session_factory.begin() as session:
        last = session.scalar(select(func.max(AlertMessage.lease_until)))
    if last is not None:
        last = last if last.tzinfo else last.replace(tzinfo=UTC)
        time.sleep(max(0.0, (last - datetime.now(UTC)).total_seconds()) + 0.2)


@pytest.mark.parametrize("how", ["killed", "hung"])
def test_a_holder_that_dies_or_hangs_loses_its_claims_and_its_dm_in_flight_is_not_repeated(
    how, database_url, session_factory, team, config, tmp_path
):
    references = watch_accounts(session_factory, 5)
    team.delay("chat.postMessage", 0.5, times=None)
    holder = start_holder(database_url, team, tmp_path)
    try:
        wait_for_posts(team, 3)  # two DMs sent and recorded, the third in flight
        holder.send_signal(signal.SIGKILL if how == "killed" else signal.SIGSTOP)
        assert deliveries(session_factory) == [(BOB, 1), (BOB, 1)]

        replica = make_client(config)
        early = run_low_credit_pass(session_factory, replica, NOW, lease_seconds=LEASE)
        assert early.sent == []  # the holder's claims still stand
        wait_out_leases(session_factory)
        later = run_low_credit_pass(session_factory, replica, NOW, lease_seconds=LEASE)
        assert sorted(s.reference for s in later.sent) == references[2:]
    finally:
        if how == "hung":
            holder.send_signal(signal.SIGCONT)
        _, err = holder.communicate(timeout=30)
    if how == "hung":  # it woke up past its lease: it sent nothing more, and says so
        assert holder.returncode == 0, err.decode()
    assert alerts_per_account(team, references) == {
        references[0]: 1,
        references[1]: 1,
        # In flight when the holder stopped: Slack got it, the record did not; the next pass finds
        # it by its metadata instead of posting it again.
        references[2]: 1,
        references[3]: 1,
        references[4]: 1,
    }
    assert len(deliveries(session_factory)) == 5
    assert run_low_credit_pass(session_factory, make_client(config), NOW).sent == []


def run_replicas(engines, config, count: int = 2) -> tuple[list, list[BaseException]]:
    """One pass on each engine at once, as `count` replicas run it; their reports and errors."""
    barrier = threading.Barrier(count)
    reports: list = []
    errors: list[BaseException] = []

    def replica(engine) -> None:
        barrier.wait()
        try:
            reports.append(run_low_credit_pass(db.make_session_factory(engine), make_client(config), NOW))
        except BaseException as error:  # noqa: BLE001 - the test reports it
            errors.append(error)

    threads = [threading.Thread(target=replica, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return reports, errors


def test_a_dropped_database_connection_loses_and_repeats_nothing(database_url, session_factory, team, config):
    if not database_url.startswith("postgresql"):
        pytest.skip("dropping a server connection needs PostgreSQL")
    references = watch_accounts(session_factory, 10)
    team.delay("chat.postMessage", 0.2, times=None)
    engines = [db.make_engine(database_url, pool_size=2) for _ in range(2)]
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        cutter = threading.Thread(target=lambda: (wait_for_posts(team, 3), terminate_backends(admin)))
        cutter.start()
        reports, errors = run_replicas(engines, config)
        cutter.join()
    finally:
        for engine in [*engines, admin]:
            engine.dispose()
    assert errors == []
    assert alerts_per_account(team, references) == dict.fromkeys(references, 1)
    assert len(deliveries(session_factory)) == 10


def terminate_backends(admin) -> None:
    """Cut every connection to the test database but this one, as a failover or restart does."""
    with admin.connect() as connection:
        cut = connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert cut >= 2  # both replicas had a connection open


def test_a_20_dm_pass_under_a_1s_idle_in_transaction_timeout_sends_exactly_20(
    database_url, session_factory, team, config
):
    if not database_url.startswith("postgresql"):
        pytest.skip("idle_in_transaction_session_timeout is a PostgreSQL setting")
    references = watch_accounts(session_factory, 20)
    team.delay("chat.postMessage", 0.1, times=None)  # the pass takes over 2 s
    timeout = {"options": "-c idle_in_transaction_session_timeout=1000"}
    engines = [db.make_engine(database_url, pool_size=2, connect_args=timeout) for _ in range(2)]
    try:
        reports, errors = run_replicas(engines, config)
    finally:
        for engine in engines:
            engine.dispose()
    assert errors == []
    assert sum(len(r.sent) for r in reports) == 20
    assert alerts_per_account(team, references) == dict.fromkeys(references, 1)
    assert len(deliveries(session_factory)) == 20


class HangsOnFourthDM(WebClient):
    """The bot's client, but its replica freezes while sending the fourth DM, then loses the connection."""

    def __init__(self, wake: threading.Event, **kwargs) -> None:
        super().__init__(**kwargs)
        self.wake, self.posted = wake, 0

    def api_call(self, api_method, **kwargs):
        if api_method == "chat.postMessage":
            if self.posted == 3:
                self.wake.wait(30)
                raise ConnectionResetError("cut off")
            self.posted += 1
        return super().api_call(api_method, **kwargs)


def test_dms_sent_together_and_not_yet_recorded_are_found_by_the_next_holder_not_posted_again(
    session_factory, team, config, monkeypatch
):
    references = watch_accounts(session_factory, 5)
    # Slack answers faster than this, so the holder records its DMs together, after the batch.
    monkeypatch.setattr(live, "RECORD_WITHIN_SECONDS", 60.0)
    wake = threading.Event()
    frozen = HangsOnFourthDM(wake, token=config.slack_bot_token, base_url=config.slack_api_url)
    holder = threading.Thread(
        target=run_low_credit_pass, args=(session_factory, frozen, NOW), kwargs={"lease_seconds": 2}
    )
    holder.start()
    try:
        wait_for_posts(team, 3)
        assert deliveries(session_factory) == []  # three DMs in Slack, none recorded yet

        wait_out_leases(session_factory)
        later = run_low_credit_pass(session_factory, make_client(config), NOW, lease_seconds=2)
        assert sorted(s.reference for s in later.sent) == references
        # Each claim it took over was looked for first: three found, two posted.
        assert len(team.calls_to("conversations.history")) == 5
    finally:
        wake.set()
        holder.join(timeout=30)
    # The holder woke up past its lease: it posted nothing more, and its records change nothing.
    assert alerts_per_account(team, references) == dict.fromkeys(references, 1)
    assert len(deliveries(session_factory)) == 5
    assert run_low_credit_pass(session_factory, make_client(config), NOW).sent == []


class WaitsBeforeSecondDM(WebClient):
    """The bot's client, but before its second DM it waits for the test to say go."""

    def __init__(self, fake: FakeSlack, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fake = fake
        self.reached, self.go = threading.Event(), threading.Event()

    def api_call(self, api_method, **kwargs):
        if api_method == "chat.postMessage" and len(self.fake.calls_to(api_method)) == 1:
            self.reached.set()
            assert self.go.wait(30)
        return super().api_call(api_method, **kwargs)


@needs_own_postgres
def test_an_outage_mid_batch_ends_the_pass_before_its_next_dm_and_the_next_pass_repeats_nothing(
    team, monkeypatch
):
    # A DM Slack accepted whose record fails (the database went down) ends the pass before its
    # next DM: every DM sent after it would be one more to look for once the outage is over.
    monkeypatch.setattr(live, "RECORD_WITHIN_SECONDS", 0.0)  # each DM recorded as soon as it is sent
    with own_postgres() as server:
        engine = db.make_engine(server.url)
        try:
            db.upgrade(engine)
            session_factory = db.make_session_factory(engine)
            references = watch_accounts(session_factory, 6)
            client = WaitsBeforeSecondDM(team, token="xoxb-test-token", base_url=team.api_url)
            failures: list[BaseException] = []

            def holder() -> None:
                try:
                    run_low_credit_pass(session_factory, client, NOW, lease_seconds=2)
                except BaseException as error:  # noqa: BLE001 - asserted below
                    failures.append(error)

            thread = threading.Thread(target=holder)
            thread.start()
            try:
                assert client.reached.wait(30)
                assert len(deliveries(session_factory)) == 1  # the first DM was recorded
                server.stop()  # the second DM goes out while the database is down
            finally:
                client.go.set()
                thread.join(timeout=60)
            assert len(failures) == 1 and isinstance(failures[0], DBAPIError), failures
            assert len(team.calls_to("chat.postMessage")) == 2

            server.start()
            wait_out_leases(session_factory)
            later = run_low_credit_pass(
                session_factory, WebClient(token="xoxb-test-token", base_url=team.api_url), NOW
            )
            assert len(later.sent) == 6 - 1  # the first DM was recorded before the outage
            assert alerts_per_account(team, references) == dict.fromkeys(references, 1)
            assert len(deliveries(session_factory)) == 6
        finally:
            engine.dispose()
