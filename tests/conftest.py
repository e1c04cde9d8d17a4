"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when configured),
a fake Slack Web API, and the real bot served over HTTP."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, create_engine, text

from bot.app import create_app
from bot.cli import main
from bot.config import Config
from bot.logs import CHATTY
from bot.serving import ServerThread, make_http_server
from store import accounts, db, ledger, roles
from store.models import Account, Base, EntryKind, Role
from tests.databases import migrated, scratch_postgresql
from tests.fake_slack import FakeSlack
from tests.slack_requests import DEFAULT_USER_ID, SlackRequests

SIGNING_SECRET = "test-signing-secret"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]

# Property tests: a bounded run by default; `make property` sets HYPOTHESIS_PROFILE=long.
settings.register_profile(
    "ci",
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=1000,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_sessionstart(session: pytest.Session) -> None:
    # CI must prove PostgreSQL works: refuse to quietly run SQLite only.
    if os.environ.get("CI") and not POSTGRES_URL:
        pytest.exit(
            "CI is set but TEST_DATABASE_URL is not: the PostgreSQL suite would not run",
            returncode=3,
        )


@pytest.fixture(scope="session")
def postgres_template_url(worker_id: str, testrun_uid: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this test worker's own."""
    # Unique per run and worker, so concurrent test runs on one server never collide.
    with scratch_postgresql(POSTGRES_URL, f"admin_bot_test_{testrun_uid[:8]}_{worker_id}") as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """An empty, migrated database: a new SQLite file, or a truncated PostgreSQL one."""
    if request.param == "sqlite":
        return migrated(f"sqlite:///{tmp_path / 'admin-bot.db'}")
    url = request.getfixturevalue("postgres_template_url")
    engine = create_engine(url)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The bot's engine on the test database; the ledger must reconcile when the test ends."""
    engine = db.make_engine(database_url)
    yield engine
    with db.make_session_factory(engine).begin() as session:
        assert ledger.balance_problems(session) == []
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> db.SessionFactory:
    """Sessions on the test database."""
    return db.make_session_factory(engine)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A local fake of Slack's Web API that records every call."""
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def config(database_url: str, fake_slack: FakeSlack) -> Config:
    """Settings pointing the bot at the test database and the fake Slack."""
    return Config(
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SIGNING_SECRET,
        slack_app_token="xapp-test-token",
        slack_api_url=fake_slack.api_url,
        database_url=database_url,
    )


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put logging back as pytest had it after a test that configures it as `serve` does."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    chatty = {name: logging.getLogger(name).level for name in CHATTY}
    yield
    root.handlers[:], root.level = handlers, level
    for name, chatty_level in chatty.items():
        logging.getLogger(name).setLevel(chatty_level)
    logging.captureWarnings(False)


@pytest.fixture
def clock() -> Callable[[], datetime] | None:
    """The bot's clock: the real one, unless a test module fixes the time by overriding this."""
    return None


@pytest.fixture
def bot_server(
    config: Config, engine: Engine, session_factory: db.SessionFactory, clock: Callable[[], datetime] | None
) -> Iterator[str]:
    """The real bot on waitress on a free port; yields its base URL."""
    server = make_http_server(create_app(config, session_factory, clock), engine, "127.0.0.1", 0)
    with ServerThread(server) as running:
        yield running.url


@pytest.fixture
def slack(bot_server: str, fake_slack: FakeSlack) -> SlackRequests:
    """Sends correctly signed requests to the bot, as Slack does."""
    return SlackRequests(f"{bot_server}/slack/events", SIGNING_SECRET, fake_slack)


@pytest.fixture
def cli(database_url, monkeypatch, tmp_path, capsys):
    """Runs `admin-bot ARGS...` on the test database; returns (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def admin(session_factory: db.SessionFactory) -> str:
    """The default request user, granted the admin role."""
    grant_role(session_factory, DEFAULT_USER_ID, Role.ADMIN)
    return DEFAULT_USER_ID


def grant_role(session_factory: db.SessionFactory, user_id: str, role: Role) -> None:
    with session_factory.begin() as session:
        roles.grant(session, user_id, role, "test")


def make_account(
    session_factory: db.SessionFactory,
    reference: str = "EX0000001",
    name: str = "Acme Marketing",
    *,
    credits: int = 0,
    keyword: str | None = None,
    active: bool = True,
) -> Account:
    """Create an account with an opening balance, committed."""
    with session_factory.begin() as session:
        account = accounts.create(session, reference, name, keyword, active=active)
        if credits:
            ledger.post(session, account, EntryKind.OPENING, credits, "test")
    return account


def balance_of(session_factory: db.SessionFactory, reference: str) -> int:
    with session_factory.begin() as session:
        return accounts.by_reference(session, reference).balance
