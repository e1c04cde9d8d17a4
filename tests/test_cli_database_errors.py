"""The CLI names what went wrong with the database: a deadlock, no database, or an old schema."""

from __future__ import annotations

import threading
import time

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from bot.cli import main
from store import db
from tests.conftest import balance_of, make_account


@pytest.fixture
def cli(monkeypatch, tmp_path, capsys):
    """Runs `admin-bot ARGS...` against DATABASE_URL=url; returns (exit code, stderr)."""
    monkeypatch.chdir(tmp_path)

    def run(url: str, *args: str) -> tuple[int, str]:
        monkeypatch.setenv("DATABASE_URL", url)
        capsys.readouterr()
        code = main(list(args))
        return code, capsys.readouterr().err

    return run


def test_an_import_cancelled_by_a_deadlock_is_retried_and_completes(
    database_url, session_factory, cli, tmp_path
):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite writers queue for one lock and cannot deadlock")
    make_account(session_factory, "EX0000001", "Acme", credits=100)
    make_account(session_factory, "EX0000002", "Beta", credits=100)
    csv = tmp_path / "accounts.csv"
    csv.write_text("reference,name,keyword,credits\nEX0000001,Acme,,150\nEX0000002,Beta,,150\n")
    other = create_engine(database_url)
    watching = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with other.connect() as connection, watching.connect() as watcher:
        # Another transaction holds Beta and then wants Acme, while the import holds Acme and
        # wants Beta. Its long deadlock_timeout makes PostgreSQL cancel the import, not it; the
        # import's transaction is then run again (store.db.atomic) once the other has finished.
        connection.execute(text("SET deadlock_timeout = '30s'"))
        connection.execute(text("SELECT 1 FROM accounts WHERE reference = 'EX0000002' FOR UPDATE"))
        result: list[tuple[int, str]] = []
        importer = threading.Thread(
            target=lambda: result.append(cli(database_url, "accounts", "import", str(csv), "--update"))
        )
        importer.start()
        waiting = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        deadline = time.monotonic() + 30
        while not watcher.execute(text(waiting)).scalar():  # its own, autocommitted snapshot
            assert time.monotonic() < deadline, "the import never waited for Beta"
            time.sleep(0.02)
        connection.execute(text("SELECT 1 FROM accounts WHERE reference = 'EX0000001' FOR UPDATE"))
        connection.rollback()
        importer.join(timeout=30)
    other.dispose()
    watching.dispose()
    # Had the import not let go of Acme, the other transaction's lock above would have waited
    # its own 30 s deadlock_timeout and failed; it got the lock, so the import was the victim.
    [(code, err)] = result
    assert (code, err) == (0, "")
    assert balance_of(session_factory, "EX0000001") == 150 and balance_of(session_factory, "EX0000002") == 150


def test_a_deadlock_that_outlasts_the_retries_is_named(database_url, session_factory):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite writers queue for one lock and cannot deadlock")
    make_account(session_factory, "EX0000001", "Acme", credits=100)
    make_account(session_factory, "EX0000002", "Beta", credits=100)
    engine = create_engine(database_url)
    lock = "SELECT 1 FROM accounts WHERE reference = :reference FOR UPDATE"
    try:
        with engine.connect() as patient, engine.connect() as victim:
            patient.execute(text("SET deadlock_timeout = '30s'"))  # PostgreSQL cancels the other one
            patient.execute(text(lock), {"reference": "EX0000001"})
            victim.execute(text(lock), {"reference": "EX0000002"})
            waiter = threading.Thread(target=lambda: patient.execute(text(lock), {"reference": "EX0000002"}))
            waiter.start()
            time.sleep(0.3)  # let the patient side queue for Beta first
            with pytest.raises(DBAPIError) as cancelled:
                victim.execute(text(lock), {"reference": "EX0000001"})
            victim.rollback()
            waiter.join(timeout=30)
            patient.rollback()
    finally:
        engine.dispose()
    assert db.describe_error(cancelled.value, database_url) == (
        "the database cancelled this command because of a deadlock with another transaction; "
        "nothing was changed: run it again."
    )


@pytest.mark.parametrize(
    "url, shown",
    [
        (
            "postgresql+psycopg://admin:hunter2@127.0.0.1:9/nowhere",
            "postgresql+psycopg://admin:***@127.0.0.1:9/nowhere",
        ),
        ("sqlite:////nonexistent-dir/admin-bot.db", "sqlite:////nonexistent-dir/admin-bot.db"),
    ],
)
def test_an_unreachable_database_is_named_without_its_password(cli, url, shown):
    code, err = cli(url, "accounts", "list")
    assert code == 1
    assert err.startswith(f"admin-bot: cannot reach the database at DATABASE_URL ({shown}): ")
    assert "hunter2" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("verb", [("accounts", "list"), ("roles", "list")])
def test_an_old_schema_is_named_with_the_command_that_fixes_it(database_url, engine, cli, verb):
    # Asked before the command runs: an empty store's list reads nothing an old schema lacks.
    command.downgrade(db.alembic_config(engine), "0005_name_order_index")
    try:
        code, err = cli(database_url, *verb)
    finally:
        db.upgrade(engine)
    assert code == 1
    assert err.strip() == (
        "admin-bot: the database at DATABASE_URL is at revision 0005_name_order_index, but this "
        f"admin-bot needs {db.head_revision()}: run `admin-bot db upgrade`."
    )


def test_a_database_with_no_schema_is_named(cli, tmp_path):
    code, err = cli(f"sqlite:///{tmp_path / 'empty.db'}", "roles", "list")
    assert code == 1
    assert "has no admin-bot schema yet" in err and "run `admin-bot db upgrade`" in err


@pytest.fixture
def newer_schema(engine):
    """The test database as a newer admin-bot would leave it: at a revision this code does not know."""
    with engine.begin() as connection:
        head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_a_newer_version'"))
    yield
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})


@pytest.mark.parametrize("verb", [("accounts", "list"), ("db", "upgrade"), ("demo",)])
def test_a_database_a_newer_admin_bot_migrated_is_named_and_left_alone(
    database_url, engine, newer_schema, cli, verb
):
    code, err = cli(database_url, *verb)

    assert code == 1
    assert err == (
        "admin-bot: the database at DATABASE_URL was migrated by a newer admin-bot (revision "
        f"9999_from_a_newer_version); this admin-bot (at {db.head_revision()}) cannot use it: "
        "run the newer version.\n"
    )
    assert db.current_revision(engine) == "9999_from_a_newer_version"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM accounts")).scalar() == 0
