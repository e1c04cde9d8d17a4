"""How a reminder pass finds the alerts it owes: through the episodes it walks, never every account."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from bench.run import load
from store import accounts, alerts, reminders
from store.db import SessionFactory
from tests.conftest import make_account

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@contextmanager
def plan_of_read(engine: Engine, table: str) -> Iterator[list[str]]:
    """SQLite's plan (EXPLAIN QUERY PLAN) for the one SELECT from `table` run inside the block."""
    statements: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().startswith("SELECT") and table in statement:
            statements.append((statement, parameters))

    plan: list[str] = []
    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield plan
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    [(read, parameters)] = statements
    with engine.connect() as connection:
        plan.append(
            " ".join(str(row) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {read}", parameters))
        )


def only_sqlite(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL chooses its plan from statistics; SQLite's is fixed by the query")


def test_a_claim_reads_the_episode_range_not_every_active_account(
    database_url: str, engine: Engine, session_factory: SessionFactory
) -> None:
    only_sqlite(database_url)
    for n in range(1, 4):
        make_account(session_factory, f"EX{n}", f"Low {n}", credits=5)
        with session_factory.begin() as session:
            account = accounts.by_reference(session, f"EX{n}")
            reminders.configure(session, account, True, 100, [reminders.Recipient("U012AB3CD")], "U012AB3CD")
    with plan_of_read(engine, "reminder_recipients") as planned, session_factory.begin() as session:
        reminders.mark_crossings(session, NOW)
        claimed, _ = reminders.claim_due(session, "test", NOW, NOW + timedelta(minutes=1), 20)
    assert len(claimed) == 3
    [plan] = planned
    # Driven from every active account, each claim cost the whole table (3 s a pass at 1M).
    assert "ix_accounts_active_balance" not in plan and "SCAN accounts" not in plan, plan
    # Driven from every recipient in the range of account ids, a batch of 1,000 cost 8.5 ms at 1M
    # instead of 3.7: the episodes are read through their index of low ones.
    assert "ix_reminder_episodes_low" in plan, plan


def test_marking_reads_the_accounts_below_their_level_by_index_not_every_account(
    database_url: str, engine: Engine, session_factory: SessionFactory
) -> None:
    only_sqlite(database_url)
    load(engine, 300, low_share=0.1)
    episodes: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().startswith("INSERT INTO reminder_episodes"):
            episodes.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    with session_factory.begin() as session:
        fell, _ = reminders.mark_crossings(session, NOW)
    event.remove(engine, "before_cursor_execute", keep)
    assert fell == 30
    [(insert, parameters)] = episodes
    with engine.connect() as connection:
        plan = " ".join(
            str(row) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {insert}", parameters)
        )
    # Sorted by id, SQLite walked every account in id order to skip the sort: 8.5 ms a pass at
    # 100k, against 0.5 through the index of accounts below their level.
    assert "SCAN accounts" not in plan and "ix_accounts_reminder_shortfall" in plan, plan


def test_a_claim_of_stale_copies_reads_the_index_of_stale_ones(
    database_url: str, engine: Engine, session_factory: SessionFactory
) -> None:
    only_sqlite(database_url)
    with plan_of_read(engine, "alert_messages") as planned, session_factory.begin() as session:
        assert alerts.claim_stale(session, "test", NOW, timedelta(minutes=1), 20) == []
    [plan] = planned
    # Written "stale = 1", the read walked every alert message in id order for each batch.
    assert "ix_alert_messages_stale" in plan, plan


def only_postgresql(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's plan is fixed by the query; PostgreSQL's follows statistics")


def alerts_due_with_copies_analyzed_empty(engine: Engine, session_factory: SessionFactory) -> None:
    """1,500 low accounts with an alert each, one recipient each, and alert_messages analyzed while
    empty, as before a deployment's first large pass."""
    load(engine, 3000, low_share=0.5)
    with session_factory.begin() as session:
        reminders.mark_crossings(session, NOW)
    with session_factory.begin() as session:
        alerts.follow_episodes(session)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE alert_messages")


def seq_scans(session: Session) -> int:
    """Sequential scans of alert_messages the backend has counted and not yet reported: on
    PostgreSQL 15 its earlier transactions' too, so a test counts across what it runs."""
    query = text("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'alert_messages'")
    return int(session.execute(query).scalar_one())


def test_a_claim_on_postgresql_finds_each_first_copy_by_its_index_however_few_there_were(
    database_url: str, engine: Engine, session_factory: SessionFactory
) -> None:
    only_postgresql(database_url)
    alerts_due_with_copies_analyzed_empty(engine, session_factory)
    after = reminders.START
    for _ in range(2):
        with session_factory.begin() as session:
            before = seq_scans(session)
            claimed, after = reminders.claim_due(
                session, "test", NOW, NOW + timedelta(minutes=1), 1000, after
            )
            scans = seq_scans(session) - before
        assert claimed
        # Read whole for each recipient, the table a pass fills made a batch of 1,000 cost 0.5 s at
        # 1,300 rows: one pass's claims went quadratic.
        assert scans == 0


def first_copies_posted(engine: Engine, session_factory: SessionFactory, batches: int) -> list[int]:
    """Claim and record batches of up to 1,000 first copies as a pass does, from alert_messages
    analyzed empty; the sequential scans of alert_messages each record made."""
    alerts_due_with_copies_analyzed_empty(engine, session_factory)
    after, posted, scans = reminders.START, 0, []
    for _ in range(batches):
        with session_factory.begin() as session:
            claimed, after = reminders.claim_due(
                session, "test", NOW, NOW + timedelta(minutes=1), 1000, after
            )
            copies = alerts.build_first_copies(alerts.read_first_copies(session, claimed, NOW))
        posts = [
            (
                alert.recipient.address,
                alerts.FirstPost(
                    alert.recipient.address,
                    f"D{alert.recipient.address}",
                    f"{number}.000100",
                    copies[(alert.account_id, alert.episode, alert.recipient.address)],
                ),
            )
            for number, alert in enumerate(claimed, start=1)
        ]
        with session_factory.begin() as session:
            before = seq_scans(session)
            alerts.record_deliveries(session, posts, [], NOW)
            scans.append(seq_scans(session) - before)
        with session_factory.begin() as session:
            recorded = session.execute(
                text("SELECT count(*) FROM alert_messages WHERE ts IS NOT NULL AND claimed_by IS NULL")
            ).scalar_one()
        posted += len(posts)
        assert recorded == posted
    return scans


def test_a_record_on_postgresql_finds_each_claimed_copy_by_its_index_however_few_there_were(
    database_url: str, engine: Engine, session_factory: SessionFactory
) -> None:
    only_postgresql(database_url)
    # Read whole twice for each copy recorded, the table a pass fills made a record of 319 copies
    # cost 0.14 s at 635 rows: one pass's records went quadratic, as its claims had.
    assert first_copies_posted(engine, session_factory, 2) == [0, 0]


def test_copies_to_update_on_postgresql_are_claimed_and_recorded_by_index_however_few_there_were(
    database_url: str, engine: Engine, session_factory: SessionFactory
) -> None:
    only_postgresql(database_url)
    first_copies_posted(engine, session_factory, 2)
    with session_factory.begin() as session:  # every alert moved on: its copies are behind
        session.execute(text("UPDATE alerts SET revision = revision + 1"))
        session.execute(text("UPDATE alert_messages SET stale = true"))
    with session_factory.begin() as session:
        before = seq_scans(session)
        claimed = alerts.claim_stale(session, "test", NOW, timedelta(minutes=1), 1000)
        claim_scans = seq_scans(session) - before
    with session_factory.begin() as session:
        before = seq_scans(session)
        alerts.record_updates(
            session, "test", [alerts.Progress(c.id, 0, 2, None, c.snoozes) for c in claimed]
        )
        record_scans = seq_scans(session) - before
    with session_factory.begin() as session:
        brought_up = session.execute(
            text("SELECT count(*) FROM alert_messages WHERE shown_revision = 2 AND claimed_by IS NULL")
        ).scalar_one()
    assert len(claimed) == brought_up == 1000
    # Each a read of the whole table, every claim and record of a pass cost as much as the table
    # had grown since it was last analyzed.
    assert (claim_scans, record_scans) == (0, 0)
