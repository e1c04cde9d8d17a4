"""`admin-bot serve` as operators run it: real processes, real signals, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.app import make_client
from bot.cli import main
from handlers.account_box import REMINDER_ACTION
from jobs.low_credit import run_low_credit_pass
from store import accounts
from store.models import Role
from tests.conftest import POSTGRES_URL, SIGNING_SECRET, grant_role, make_account
from tests.fake_slack import FakeSlack
from tests.handlers.test_reminders import values
from tests.jobs.test_low_credit_holders import alerts_per_account, deliveries, wait_for_posts, watch_accounts
from tests.processes import BotProcess, bot_env, get, wait_until
from tests.slack_requests import (
    SlackRequests,
    block_actions_payload,
    open_view,
    view_submission_payload,
)

ALICE = "U0ALICE01"
HTTP = ("--http", "--port", "0")
LISTENING = r"listening on (http://127\.0\.0\.1:\d+)/slack/events"


@pytest.fixture
def processes() -> Iterator[list[BotProcess]]:
    """Bot processes a test starts; any still running at the end are killed."""
    started: list[BotProcess] = []
    yield started
    for process in started:
        process.stop()


def serve(processes, database_url, fake, tmp_path: Path, *args: str, **settings) -> BotProcess:
    bot = BotProcess(["serve", *args], bot_env(database_url, fake, SIGNING_SECRET, **settings), tmp_path)
    processes.append(bot)
    return bot


def saved_recipients(session_factory) -> list[tuple[str, str | None]]:
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        return [(r.address, r.slack_user_id) for r in account.recipients]


@pytest.fixture
def billing_account(session_factory, fake_slack: FakeSlack) -> int:
    """An account a billing user may set a reminder on; Alice is in the workspace."""
    fake_slack.add_user(ALICE, "alice@example.com")
    grant_role(session_factory, "U0ADMIN", Role.ADMIN)
    return make_account(session_factory, credits=900).id


def test_sigterm_mid_request_lets_it_finish_and_exits_0(
    processes, database_url, fake_slack, session_factory, billing_account, tmp_path
):
    bot = serve(processes, database_url, fake_slack, tmp_path, *HTTP)
    slack = SlackRequests(bot.expect(LISTENING).group(1) + "/slack/events", SIGNING_SECRET, fake_slack)
    assert slack.block_action(REMINDER_ACTION, value=str(billing_account), user_id="U0ADMIN").status == 200
    view = open_view(fake_slack)
    fake_slack.delay("users.lookupByEmail", 0.8)  # Slack is slow while the form is saved

    answers = []
    submit = threading.Thread(
        target=lambda: answers.append(slack.view_submission(view, values(), user_id="U0ADMIN"))
    )
    submit.start()
    wait_until(lambda: fake_slack.calls_to("users.lookupByEmail"), what="the email lookup")
    bot.signal(signal.SIGTERM)
    submit.join(timeout=30)

    assert bot.wait() == 0, bot.text
    assert [answer.status for answer in answers] == [200]
    assert saved_recipients(session_factory) == [("alice@example.com", ALICE)]
    assert "Traceback" not in bot.text


def test_sigterm_mid_envelope_acknowledges_it_and_exits_0(
    processes, database_url, fake_slack, session_factory, billing_account, tmp_path
):
    bot = serve(processes, database_url, fake_slack, tmp_path, "--socket")
    socket = fake_slack.socket_mode
    bot.expect("connected to Slack over Socket Mode")
    socket.wait_connected()
    opened = socket.send_envelope(
        "interactive", block_actions_payload(REMINDER_ACTION, value=str(billing_account), user_id="U0ADMIN")
    )
    socket.wait_for_ack(opened)
    view = open_view(fake_slack)
    fake_slack.delay("users.lookupByEmail", 0.8)

    envelope = socket.send_envelope("interactive", view_submission_payload(view, values(), user_id="U0ADMIN"))
    wait_until(lambda: fake_slack.calls_to("users.lookupByEmail"), what="the email lookup")
    bot.signal(signal.SIGTERM)

    assert socket.wait_for_ack(envelope, timeout=30)["envelope_id"] == envelope
    assert bot.wait() == 0, bot.text
    assert saved_recipients(session_factory) == [("alice@example.com", ALICE)]
    assert "Traceback" not in bot.text


def test_sigterm_mid_pass_records_the_dm_in_flight_and_the_rest_go_out_once(
    processes, database_url, fake_slack, session_factory, config, tmp_path
):
    fake_slack.add_user("U0BOB0001", "bob@example.com")
    references = watch_accounts(session_factory, 5)
    fake_slack.delay("chat.postMessage", 0.8, times=None)
    bot = serve(processes, database_url, fake_slack, tmp_path, *HTTP, low_credit_poll_seconds=1)
    wait_for_posts(fake_slack, 2)  # one DM sent, the second in flight
    bot.signal(signal.SIGTERM)

    assert bot.wait() == 0, bot.text
    assert len(deliveries(session_factory)) == 2  # the DM in flight was recorded
    fake_slack.clear_faults()
    assert len(run_low_credit_pass(session_factory, make_client(config)).sent) == 3
    assert alerts_per_account(fake_slack, references) == dict.fromkeys(references, 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path) -> Iterator[str]:
    """A database with no schema at all, as on a first deploy."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    name = f"admin_bot_empty_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_three_replicas_started_together_on_an_empty_database_all_become_healthy(
    processes, empty_database, fake_slack, tmp_path
):
    replicas = [serve(processes, empty_database, fake_slack, tmp_path, *HTTP) for _ in range(3)]
    urls = [replica.expect(LISTENING, timeout=60).group(1) for replica in replicas]
    for url in urls:
        status, body = get(url + "/healthz")
        assert status == 200, body
    for replica in replicas:
        replica.signal(signal.SIGTERM)
        assert replica.wait() == 0, replica.text
        assert "Error" not in replica.text


def test_serve_without_migrating_names_the_missing_schema(processes, empty_database, fake_slack, tmp_path):
    bot = serve(processes, empty_database, fake_slack, tmp_path, *HTTP, migrate_on_start="false")
    assert bot.wait() == 2
    assert "has no admin-bot schema yet" in bot.text and "admin-bot db upgrade" in bot.text


@pytest.mark.parametrize(
    "mode, method, variable",
    [("--http", "auth.test", "SLACK_BOT_TOKEN"), ("--socket", "apps.connections.open", "SLACK_APP_TOKEN")],
)
def test_a_token_slack_rejects_stops_serve_with_one_line_and_exit_2(
    processes, database_url, fake_slack, tmp_path, mode, method, variable
):
    fake_slack.fail(method, error="invalid_auth", times=None)
    bot = serve(processes, database_url, fake_slack, tmp_path, mode, "--port", "0")
    assert bot.wait() == 2
    assert bot.text.strip().splitlines()[-1] == f"admin-bot: Slack rejected {variable}: invalid_auth."
    assert "Traceback" not in bot.text


@pytest.mark.parametrize("mode", ["--http", "--socket"])
def test_unreachable_slack_stops_serve_with_one_line_and_exit_2(processes, database_url, tmp_path, mode):
    env = {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_APP_TOKEN": "xapp-test-token",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # nothing listens on the discard port
    }
    bot = BotProcess(["serve", mode, "--port", "0"], env, tmp_path)
    processes.append(bot)
    assert bot.wait() == 2
    last = bot.text.strip().splitlines()[-1]
    assert last.startswith("admin-bot: cannot reach Slack at SLACK_API_URL (http://127.0.0.1:9/api/): ")
    assert "Traceback" not in bot.text


def test_socket_mode_health_endpoint_reports_the_websocket_and_the_database(
    processes, database_url, fake_slack, tmp_path
):
    bot = serve(processes, database_url, fake_slack, tmp_path, "--socket", "--health-port", "0")
    url = bot.expect(r"health check on (http://\S+)/healthz").group(1) + "/healthz"
    fake_slack.socket_mode.wait_connected()
    status, body = get(url)
    assert status == 200 and json.loads(body) == {
        "ok": True,
        "database": "ok",
        "slack": "ok",
        "socket_mode": "connected",
    }
    fake_slack.fail("apps.connections.open", error="internal_error", times=None)  # no way back in
    fake_slack.socket_mode.stop()
    wait_until(lambda: get(url)[0] == 503, what="/healthz to notice the lost WebSocket")
    assert json.loads(get(url)[1])["socket_mode"] == "disconnected"
    bot.signal(signal.SIGTERM)
    assert bot.wait() == 0, bot.text


@pytest.mark.parametrize(
    ("args", "option", "value"),
    [
        (("--http", "--port", "99999"), "--port", "99999"),
        (("--http", "--port", "-1"), "--port", "-1"),
        (("--socket", "--health-port", "65536"), "--health-port", "65536"),
        (("--socket", "--api-port", "70000"), "--api-port", "70000"),
        (("--socket", "--api-port", "http"), "--api-port", "http"),
    ],
)
def test_a_port_outside_0_to_65535_is_refused(monkeypatch, tmp_path, capsys, args, option, value):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["serve", *args])

    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"admin-bot serve: error: argument {option}: must be a whole number from 0 to 65535 (not {value!r})"
    )


@pytest.mark.parametrize(
    ("option", "served"), [("--health-port", "/healthz is"), ("--api-port", "the usage API is")]
)
def test_a_socket_mode_option_with_http_is_refused(
    database_url, monkeypatch, tmp_path, capsys, option, served
):
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
    }.items():
        monkeypatch.setenv(name, value)

    assert main(["serve", "--http", "--port", "0", option, "0"]) == 2

    assert capsys.readouterr() == (
        "",
        f"admin-bot: {option} is for --socket; over HTTP, {served} served on --port.\n",
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 something else is listening on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "address", "why"),
    [
        (("--http", "--port", "BUSY"), "127.0.0.1:BUSY", "Address already in use"),
        (
            ("--http", "--host", "no-such-host.invalid", "--port", "0"),
            "no-such-host.invalid:0",
            "unknown host",
        ),
        (("--socket", "--api-port", "BUSY"), "127.0.0.1:BUSY", "Address already in use"),
        (
            ("--socket", "--health-port", "0", "--api-port", "BUSY"),
            "127.0.0.1:BUSY",
            "Address already in use",
        ),
        (("--socket", "--health-port", "BUSY"), "127.0.0.1:BUSY", "Address already in use"),
    ],
    ids=[
        "http-port-in-use",
        "unknown-host",
        "api-port-in-use",
        "api-port-after-health",
        "health-port-in-use",
    ],
)
def test_an_address_serve_cannot_listen_on_stops_it_with_one_line_and_exit_2(
    processes, database_url, fake_slack, tmp_path, busy_port, args, address, why
):
    args = tuple(str(busy_port) if arg == "BUSY" else arg for arg in args)
    bot = serve(processes, database_url, fake_slack, tmp_path, *args)

    assert bot.wait() == 2  # and it has stopped: nothing it started is left serving
    address = address.replace("BUSY", str(busy_port))
    assert bot.text.strip().splitlines()[-1] == f"admin-bot: cannot listen on {address}: {why}."
    assert "Traceback" not in bot.text


def test_a_database_a_newer_admin_bot_migrated_stops_serve(
    processes, database_url, engine, fake_slack, tmp_path
):
    with engine.begin() as connection:
        head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_a_newer_version'"))
    try:
        bot = serve(processes, database_url, fake_slack, tmp_path, *HTTP)
        assert bot.wait() == 2
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
    assert "migrated by a newer admin-bot (revision 9999_from_a_newer_version)" in bot.text
    assert "Traceback" not in bot.text
