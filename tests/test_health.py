"""/healthz tells a load balancer whether this replica can work: database, bot token, WebSocket."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, text

from bot.app import create_app
from bot.config import Config
from bot.health import Health
from bot.serving import ServerThread, make_http_server
from store import db
from store.models import Role
from tests.conftest import SIGNING_SECRET, grant_role, make_account
from tests.databases import migrated
from tests.fake_slack import FakeSlack
from tests.own_postgres import needs_own_postgres, own_postgres
from tests.processes import get
from tests.slack_requests import DEFAULT_USER_ID, SlackRequests


def serve_with_health(config: Config, engine, session_factory):
    """The bot on waitress whose /healthz re-checks Slack on every request."""
    app = create_app(config, session_factory)
    health = Health(engine, app.client, good_for=0, bad_for=0)
    return ServerThread(make_http_server(app, engine, "127.0.0.1", 0, health=health))


def healthz(url: str) -> tuple[int, dict]:
    status, body = get(url + "/healthz")
    return status, json.loads(body)


def test_healthz_is_unhealthy_while_slack_rejects_the_token_and_recovers_without_a_restart(
    config, engine, session_factory, fake_slack: FakeSlack
):
    with serve_with_health(config, engine, session_factory) as server:
        assert healthz(server.url) == (200, {"ok": True, "database": "ok", "slack": "ok"})
        fake_slack.fail("auth.test", error="token_revoked", times=None)
        assert healthz(server.url) == (503, {"ok": False, "database": "ok", "slack": "token_revoked"})
        fake_slack.clear_faults()  # the token is fixed (re-installed app)
        assert healthz(server.url) == (200, {"ok": True, "database": "ok", "slack": "ok"})


def test_a_slack_outage_is_reported_but_not_unhealthy(config, engine, session_factory, fake_slack: FakeSlack):
    with serve_with_health(config, engine, session_factory) as server:
        fake_slack.drop("auth.test", times=None)
        status, body = healthz(server.url)
    assert status == 200 and body["slack"] == "unreachable"


def test_a_token_check_slack_accepted_is_not_repeated_on_every_probe(
    config, engine, session_factory, fake_slack: FakeSlack
):
    app = create_app(config, session_factory)
    server = make_http_server(app, engine, "127.0.0.1", 0, health=Health(engine, app.client))
    with ServerThread(server) as running:
        for _ in range(3):
            assert healthz(running.url)[0] == 200
    assert len(fake_slack.calls_to("auth.test")) == 1


def prepared_statements(engine: Engine) -> set[str]:
    """The statements the pool's connection has prepared at the server (ended by COMMIT: a rollback
    would discard them, see below)."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT statement FROM pg_prepared_statements")).scalars()
        prepared = set(rows)
        connection.commit()
    return prepared


def test_a_probe_leaves_the_statements_searches_prepared_on_its_connection(
    config, database_url, fake_slack: FakeSlack
):
    """psycopg deallocates every statement a connection prepared when it rolls a transaction back,
    and a probe's database check ended in one: each probe cost the next searches on the connection
    it took their plans, and made them pay for planning again (0.7 -> 2.1 ms a search at 1M)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("prepared statements and their plans are PostgreSQL's")
    engine = db.make_engine(database_url, pool_size=1)  # one connection: the searches' is the probe's
    try:
        session_factory = db.make_session_factory(engine)
        grant_role(session_factory, DEFAULT_USER_ID, Role.VIEWER)
        make_account(session_factory, "EX0000001", "Acme Marketing")
        with serve_with_health(config, engine, session_factory) as bot:
            slack = SlackRequests(f"{bot.url}/slack/events", SIGNING_SECRET, fake_slack)
            for _ in range(6):  # psycopg prepares a statement on its fifth execution
                assert "Acme Marketing" in slack.command("/accounts", "acme").text
            prepared = prepared_statements(engine)
            assert prepared
            assert healthz(bot.url)[0] == 200
            assert prepared_statements(engine) == prepared
    finally:
        engine.dispose()


@needs_own_postgres
@pytest.mark.postgres_only
def test_healthz_is_unhealthy_while_the_database_is_down_and_recovers_without_a_restart(
    fake_slack: FakeSlack,
):
    with own_postgres() as server:
        config = Config(
            slack_bot_token="xoxb-test-token",
            slack_signing_secret="secret",
            slack_api_url=fake_slack.api_url,
            database_url=migrated(server.url),
        )
        engine = db.make_engine(server.url, pool_size=2)
        try:
            with serve_with_health(config, engine, db.make_session_factory(engine)) as bot:
                assert healthz(bot.url)[0] == 200
                server.stop()
                assert healthz(bot.url) == (503, {"ok": False, "database": "unreachable", "slack": "ok"})
                server.start()
                assert healthz(bot.url) == (200, {"ok": True, "database": "ok", "slack": "ok"})
        finally:
            engine.dispose()
