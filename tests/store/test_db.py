"""Engines and sessions: what reads and marked statements leave behind on a pooled connection."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    DateTime,
    Engine,
    String,
    exc,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from store import db
from store.errors import StoreError

# The connection's plan_cache_mode, with a parameter for a statement to be prepared with; marked
# for a generic plan (auto) and for generic plans always.
PLAN_MODE_OF = text("SELECT current_setting('plan_cache_mode') WHERE :n IS NOT NULL")
MARKED_MODE_OF = PLAN_MODE_OF.execution_options(**{db.GENERIC_PLAN: True})
ALWAYS_GENERIC_MODE_OF = PLAN_MODE_OF.execution_options(**{db.GENERIC_PLAN: db.ALWAYS_GENERIC})


def _plan_mode(factory: db.SessionFactory) -> str | None:
    """The plan mode a statement with parameters runs under (one without has a single plan)."""
    with factory.begin() as session:
        return session.scalar(PLAN_MODE_OF, {"n": 1})


@pytest.fixture
def one_connection(database_url: str) -> Iterator[Engine]:
    """An engine of one pooled connection: a check reads the very connection the statements ran on."""
    engine = db.make_engine(database_url, pool_size=1)
    yield engine
    engine.dispose()


def _postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@pytest.fixture
def plan_units(database_url: str, one_connection: Engine) -> tuple[db.SessionFactory, db.SessionFactory]:
    """(writes, reads) on one pooled PostgreSQL connection, for the checks of plan_cache_mode."""
    if not database_url.startswith("postgresql"):
        pytest.skip("plan_cache_mode is PostgreSQL's")
    writes = db.make_session_factory(one_connection)
    return writes, db.make_read_session_factory(writes)


def test_a_generic_plan_statement_answers_and_leaves_plans_for_values(one_connection: Engine) -> None:
    # One connection, so the checks below read the very connection the statements ran on.
    writes = db.make_session_factory(one_connection)
    reads = db.make_read_session_factory(writes)
    marked = text("SELECT :n + 1").execution_options(**{db.GENERIC_PLAN: True})
    for factory in (reads, writes):
        for n in range(8):  # past psycopg's and PostgreSQL's thresholds for a generic plan
            with factory.begin() as session:
                assert session.scalar(marked, {"n": n}) == n + 1
    if _postgresql(one_connection):
        assert _plan_mode(reads) == _plan_mode(writes) == "force_custom_plan"


def test_a_failed_generic_plan_statement_leaves_plans_for_values(
    plan_units: tuple[db.SessionFactory, db.SessionFactory],
) -> None:
    writes, reads = plan_units
    failing = text("SELECT 1 / :n").execution_options(**{db.GENERIC_PLAN: True})
    for factory in (reads, writes):
        with pytest.raises(exc.DataError), factory.begin() as session:
            session.execute(failing, {"n": 0})
        assert _plan_mode(factory) == "force_custom_plan"


def test_marked_and_unmarked_reads_in_one_round_trip_each_run_under_their_own_plan_mode(
    plan_units: tuple[db.SessionFactory, db.SessionFactory],
) -> None:
    # A marked statement's read ahead may be marked or not: the setting is switched only where
    # it changes along the pipeline, and each statement sees the one its mark asks for.
    _, reads = plan_units
    with reads.begin() as session:
        connection = session.connection()
        along = [
            db.Ahead(connection, read, {"n": 1})
            for read in (MARKED_MODE_OF, PLAN_MODE_OF, MARKED_MODE_OF, PLAN_MODE_OF)
        ]
        assert session.scalar(MARKED_MODE_OF, {"n": 1}) == "auto"
        assert [ahead.row() for ahead in along] == [
            ("auto",),
            ("force_custom_plan",),
            ("auto",),
            ("force_custom_plan",),
        ]
        failing = db.Ahead(
            connection, text("SELECT 1 / :n").execution_options(**{db.GENERIC_PLAN: True}), {"n": 0}
        )
        with pytest.raises(exc.DataError):
            session.execute(MARKED_MODE_OF, {"n": 1})
        with pytest.raises(StoreError):
            failing.row()
    assert _plan_mode(reads) == "force_custom_plan"


def test_a_statement_marked_always_generic_runs_under_generic_plans_and_leaves_plans_for_values(
    plan_units: tuple[db.SessionFactory, db.SessionFactory],
) -> None:
    _, reads = plan_units
    with reads.begin() as session:
        connection = session.connection()
        along = [db.Ahead(connection, read, {"n": 1}) for read in (ALWAYS_GENERIC_MODE_OF, PLAN_MODE_OF)]
        assert session.scalar(ALWAYS_GENERIC_MODE_OF, {"n": 1}) == "force_generic_plan"
        assert [ahead.row() for ahead in along] == [("force_generic_plan",), ("force_custom_plan",)]
    assert _plan_mode(reads) == "force_custom_plan"


@contextmanager
def _sets_counted(connection: Connection) -> Iterator[list[int]]:
    """The number of SET statements the server completes on this connection meanwhile, read from
    libpq's trace of the wire once the block ends."""
    from psycopg import pq  # PostgreSQL's driver

    driver = connection.connection.driver_connection
    assert driver is not None
    counted: list[int] = []
    with tempfile.TemporaryFile("w+") as trace:
        driver.pgconn.trace(trace.fileno())
        driver.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield counted
        finally:
            driver.pgconn.untrace()
            trace.seek(0)
            counted.append(trace.read().count('CommandComplete\t "SET"'))


def test_reads_outside_a_transaction_leave_their_plan_mode_for_the_next_request(
    plan_units: tuple[db.SessionFactory, db.SessionFactory],
) -> None:
    # A search's reads are marked for generic plans. Switching plan_cache_mode to them and back
    # around every request made three of a search's seven statements SETs: now a request switches
    # only where its reads need another mode than the connection has.
    writes, reads = plan_units
    marked, always = MARKED_MODE_OF, ALWAYS_GENERIC_MODE_OF

    def search(*read: TextClause) -> Callable[[Session], tuple[list[list[tuple[Any, ...]]], list[int]]]:
        def run(session: Session) -> tuple[list[list[tuple[Any, ...]]], list[int]]:
            connection = db.connection_of(session)
            with _sets_counted(connection) as sets:
                answers = db.read_together(connection, [(each, {"n": 1}) for each in read])
            return answers, sets

        return run

    for request in range(4):
        answers, sets = db.atomic(reads, search(marked, always, marked), read_only=True)
        assert answers == [[("auto",)], [("force_generic_plan",)], [("auto",)]]
        if request:
            assert sets == [1]
    for request in range(3):
        answers, sets = db.atomic(reads, search(always, always), read_only=True)
        assert answers == [[("force_generic_plan",)]] * 2
        assert sets == [0] if request else sets[0] <= 1
    assert _plan_mode(reads) == _plan_mode(writes) == "force_custom_plan"


def test_a_statement_not_marked_plans_for_its_values_whatever_reads_ran_before_it(
    plan_units: tuple[db.SessionFactory, db.SessionFactory],
) -> None:
    # Reads outside a transaction leave their plan mode on the pooled connection; whatever runs a
    # statement with parameters next, unmarked, must still get plans for its values: a read, the
    # ORM, a read ahead, a writer's transaction, after a failure or a rollback.
    writes, reads = plan_units
    marked, always = MARKED_MODE_OF, ALWAYS_GENERIC_MODE_OF
    failing = text("SELECT 1 / (:n - 1)").execution_options(**{db.GENERIC_PLAN: db.ALWAYS_GENERIC})

    def reading(*read: TextClause) -> Callable[[Session], list[list[tuple[Any, ...]]]]:
        return lambda session: db.read_together(
            db.connection_of(session), [(each, {"n": 1}) for each in read]
        )

    def unmarked_read(session: Session) -> Any:
        return db.connection_of(session).scalar(PLAN_MODE_OF, {"n": 1})

    def through_the_orm(session: Session) -> Any:
        return session.scalar(PLAN_MODE_OF, {"n": 1})

    def read_ahead(session: Session) -> Any:
        return db.Ahead(db.connection_of(session), PLAN_MODE_OF, {"n": 1}).row()[0]

    def written(session: Session) -> Any:
        assert db.read_together(session.connection(), [(always, {"n": 1})]) == [[("force_generic_plan",)]]
        return session.scalar(PLAN_MODE_OF, {"n": 1})

    for unmarked in (unmarked_read, through_the_orm, read_ahead):
        assert db.atomic(reads, reading(always), read_only=True) == [[("force_generic_plan",)]]
        assert db.atomic(reads, unmarked, read_only=True) == "force_custom_plan"
        assert db.atomic(reads, reading(marked), read_only=True) == [[("auto",)]]
        assert db.atomic(writes, unmarked) == "force_custom_plan"
    assert db.atomic(reads, reading(always), read_only=True) == [[("force_generic_plan",)]]
    assert db.atomic(writes, written) == "force_custom_plan"
    with pytest.raises(ZeroDivisionError), writes.begin() as session:
        assert written(session) == "force_custom_plan"
        raise ZeroDivisionError  # rolled back
    assert db.atomic(reads, unmarked_read, read_only=True) == "force_custom_plan"
    assert db.atomic(reads, reading(marked, always), read_only=True) == [
        [("auto",)],
        [("force_generic_plan",)],
    ]
    with pytest.raises(exc.DataError):
        db.atomic(reads, reading(marked, failing), read_only=True)
    assert db.atomic(reads, unmarked_read, read_only=True) == "force_custom_plan"
    assert db.atomic(reads, reading(always, marked), read_only=True) == [
        [("force_generic_plan",)],
        [("auto",)],
    ]
    assert _plan_mode(writes) == "force_custom_plan"


def test_reads_hold_no_transaction_on_postgresql(engine: Engine) -> None:
    # At READ COMMITTED every statement reads its own snapshot anyway; BEGIN and COMMIT were two
    # round trips a request. Writes keep their transaction.
    reads = db.make_read_session_factory(db.make_session_factory(engine))
    with reads.begin() as session:
        assert session.scalar(text("SELECT 1")) == 1
        if _postgresql(engine):
            assert session.scalar(text("SELECT now() = statement_timestamp()"))


def _in_a_transaction(connection: Connection) -> bool:
    """Whether the connection's driver is in a transaction now."""
    driver = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        return bool(driver.in_transaction)
    from psycopg.pq import TransactionStatus  # PostgreSQL's driver

    return bool(driver.info.transaction_status != TransactionStatus.IDLE)


def test_a_read_only_unit_reads_outside_a_transaction_and_gives_its_connection_back_for_writes(
    one_connection: Engine,
) -> None:
    # atomic(read_only=True) checks the connection out itself: each statement the store reads
    # through connection_of reads its own snapshot (at READ COMMITTED a transaction added only
    # BEGIN and COMMIT, two round trips; on SQLite the session's BEGIN and ROLLBACK through the ORM
    # and Core took about 0.1 ms a request). The ORM, if used, joins the connection: in autocommit
    # on PostgreSQL, in a deferred transaction rolled back at the end on SQLite. The connection goes
    # back to the pool ready for a writer, also after a failed statement: a writer that takes it
    # next shares one transaction across its statements.
    sqlite = one_connection.dialect.name == "sqlite"
    writes = db.make_session_factory(one_connection)
    reads = db.make_read_session_factory(writes)

    def read(session: Session) -> int:
        connection = db.connection_of(session)
        assert db.rows_of(connection, select(literal_column("1")), {}) == [(1,)]
        assert not _in_a_transaction(connection)
        assert session.connection().connection.dbapi_connection is connection.connection.dbapi_connection
        assert int(session.scalar(text("SELECT 2"))) == 2
        assert _in_a_transaction(connection) is sqlite
        return 2

    def fail(session: Session) -> None:
        db.connection_of(session).execute(text("SELECT 1 / 0" if not sqlite else "SELECT no_such_function()"))

    def write(session: Session) -> bool:
        session.execute(text("SELECT 3"))
        return _in_a_transaction(session.connection())

    assert db.atomic(reads, read, read_only=True) == 2
    assert db.atomic(writes, write)
    with pytest.raises(exc.DBAPIError):
        db.atomic(reads, fail, read_only=True)
    assert db.atomic(writes, write)
    assert db.atomic(reads, read, read_only=True) == 2


def _lock_wait_ms(factory: db.SessionFactory) -> int:
    """How long this session's statements would wait for another transaction's lock."""
    with factory.begin() as session:
        if _postgresql(session.get_bind()):
            return int(session.scalar(text("SELECT setting FROM pg_settings WHERE name = 'lock_timeout'")))
        return int(session.scalar(text("PRAGMA busy_timeout")))


def test_a_lock_timeout_holds_for_its_own_sessions_only_on_a_shared_connection(engine: Engine) -> None:
    # Slack requests and jobs take turns on one pooled connection (used one at a time, the pool
    # keeps one): each transaction waits as long as its own factory says, even after a rollback.
    plain = db.make_session_factory(engine)
    quick = db.waiting_at_most(plain, 2)
    waits_for_ever = 0 if _postgresql(engine) else db.SQLITE_BUSY_TIMEOUT_MS
    assert _lock_wait_ms(quick) == 2000
    assert _lock_wait_ms(plain) == waits_for_ever
    assert _lock_wait_ms(db.make_read_session_factory(quick)) == 2000
    assert _lock_wait_ms(db.make_read_session_factory(plain)) == waits_for_ever
    with pytest.raises(ZeroDivisionError), quick.begin() as session:
        session.execute(text("SELECT 1"))
        raise ZeroDivisionError  # rolled back
    assert _lock_wait_ms(quick) == 2000
    assert _lock_wait_ms(plain) == waits_for_ever


def test_a_read_ahead_answers_with_the_next_statement_or_alone(one_connection: Engine) -> None:
    writes = db.make_session_factory(one_connection)
    reads = db.make_read_session_factory(writes)
    read = text("SELECT CAST(:n AS INTEGER) * 2")
    marked = text("SELECT :n + 1").execution_options(**{db.GENERIC_PLAN: True})
    for factory in (reads, writes):
        with factory.begin() as session:
            sent_along = db.Ahead(session.connection(), read, {"n": 20})
            assert session.scalar(text("SELECT :n"), {"n": 7}) == 7
            assert sent_along.row() == (40,)
            with_marked = db.Ahead(session.connection(), read, {"n": 5})
            assert session.scalar(marked, {"n": 1}) == 2
            assert with_marked.row() == (10,)
            assert db.Ahead(session.connection(), read, {"n": 3}).row() == (6,)  # no statement came: alone
            assert db.Ahead(session.connection(), text("SELECT 1 WHERE false"), {}).row() is None


def test_a_read_ahead_nobody_asked_for_stays_with_its_request(one_connection: Engine) -> None:
    # One connection: the next request's statements run on the very connection the read was left on.
    reads = db.make_read_session_factory(db.make_session_factory(one_connection))
    with reads.begin() as session:
        db.Ahead(session.connection(), text("SELECT 1 / 0"), {})
    with reads.begin() as session:
        assert session.scalar(text("SELECT :n"), {"n": 7}) == 7


def test_a_read_ahead_fails_with_the_statement_it_went_with(
    database_url: str, one_connection: Engine
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs a read ahead at once")
    reads = db.make_read_session_factory(db.make_session_factory(one_connection))
    with reads.begin() as session:
        ahead = db.Ahead(session.connection(), text("SELECT 2"), {})
        with pytest.raises(exc.DataError):
            session.execute(text("SELECT 1 / :n"), {"n": 0})
        with pytest.raises(StoreError):
            ahead.row()
    with reads.begin() as session:
        assert session.scalar(text("SELECT :n"), {"n": 7}) == 7


def test_reads_together_answer_in_order_with_the_reads_ahead(one_connection: Engine) -> None:
    writes = db.make_session_factory(one_connection)
    reads = db.make_read_session_factory(writes)
    doubled = text("SELECT CAST(:n AS INTEGER) * 2")
    marked = text("SELECT :n + 1").execution_options(**{db.GENERIC_PLAN: True})
    # aggregate_strings renders its separator into the SQL (literal_execute)
    joined = select(func.aggregate_strings(literal_column("'a'"), " "))
    for factory in (reads, writes):
        with factory.begin() as session:
            ahead = db.Ahead(session.connection(), doubled, {"n": 20})
            answers = db.read_together(
                session.connection(),
                [
                    (doubled, {"n": 3}),
                    (marked, {"n": 1}),
                    (joined, {}),
                    (text("SELECT 1 WHERE false"), {}),
                ],
            )
            assert answers == [[(6,)], [(2,)], [("a",)], []]
            assert ahead.row() == (40,)
        if _postgresql(one_connection):
            assert _plan_mode(factory) == "force_custom_plan"


def test_reads_together_fail_as_a_statement_does_and_leave_the_connection_usable(
    one_connection: Engine,
) -> None:
    reads = db.make_read_session_factory(db.make_session_factory(one_connection))
    # The driver's error, wrapped as SQLAlchemy wraps it.
    with reads.begin() as session, pytest.raises(exc.DBAPIError):
        db.read_together(session.connection(), [(text("SELECT 2"), {}), (text("SELECT * FROM nowhere"), {})])
    with reads.begin() as session:
        assert db.read_together(session.connection(), [(text("SELECT :n"), {"n": 7})]) == [[(7,)]]


@pytest.fixture(params=[True, False], ids=["queued", "psycopg_execute"])
def queueing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, database_url: str) -> bool:
    """PostgreSQL's pipelined statements queued and written at once, or, with a psycopg that lacks
    the generators that queueing runs on, sent by psycopg's own execute(): either way they
    answer the same."""
    if not database_url.startswith("postgresql"):
        pytest.skip("pipelines are PostgreSQL's")
    monkeypatch.setattr(db, "_QUEUEING", request.param)
    return bool(request.param)


def test_this_psycopg_queues_a_pipeline_s_statements() -> None:
    pytest.importorskip("psycopg")
    assert db.psycopg_queues()


def test_pipelined_reads_answer_in_order_queued_or_not(queueing: bool, one_connection: Engine) -> None:
    writes = db.make_session_factory(one_connection)
    reads = db.make_read_session_factory(writes)
    doubled = text("SELECT CAST(:n AS INTEGER) * 2")
    marked = text("SELECT :n + 1").execution_options(**{db.GENERIC_PLAN: True})
    always = ALWAYS_GENERIC_MODE_OF
    for factory in (reads, writes):
        for n in range(8):  # past psycopg's threshold for preparing a statement
            with factory.begin() as session:
                ahead = db.Ahead(session.connection(), doubled, {"n": n})
                along = db.Ahead(session.connection(), PLAN_MODE_OF, {"n": n})
                answers = db.read_together(
                    session.connection(), [(marked, {"n": n}), (doubled, {"n": 3}), (always, {"n": n})]
                )
                assert answers == [[(n + 1,)], [(6,)], [("force_generic_plan",)]]
                assert (ahead.row(), along.row()) == ((2 * n,), ("force_custom_plan",))
                after = db.Ahead(session.connection(), doubled, {"n": 1})
                assert session.scalar(marked, {"n": n}) == n + 1  # a SQLAlchemy statement's riders
                assert after.row() == (2,)
        assert _plan_mode(factory) == "force_custom_plan"


def test_pipelined_reads_fail_as_a_statement_does_queued_or_not(
    queueing: bool, one_connection: Engine
) -> None:
    reads = db.make_read_session_factory(db.make_session_factory(one_connection))
    with reads.begin() as session, pytest.raises(exc.ProgrammingError):
        db.read_together(session.connection(), [(text("SELECT 2"), {}), (text("SELECT * FROM nowhere"), {})])
    with reads.begin() as session:
        ahead = db.Ahead(session.connection(), text("SELECT 2"), {})
        with pytest.raises(exc.DataError):
            session.execute(text("SELECT 1 / :n").execution_options(**{db.GENERIC_PLAN: True}), {"n": 0})
        with pytest.raises(StoreError):
            ahead.row()
    with reads.begin() as session:
        assert db.read_together(session.connection(), [(text("SELECT :n"), {"n": 7})]) == [[(7,)]]
    assert _plan_mode(reads) == "force_custom_plan"


def test_pipelined_reads_a_value_cannot_be_sent_for_leave_the_connection_reading(
    queueing: bool, one_connection: Engine
) -> None:
    # A NUL, which PostgreSQL text cannot hold, fails in the driver before anything is sent. The
    # error's handling closed the first read's cursor, a kept one here, and every later read of that
    # statement on the pooled connection failed with "the cursor is closed" (found by a hostile-input
    # run of search; the handlers drop NULs, but any failed read did the same).
    reads = db.make_read_session_factory(db.make_session_factory(one_connection))
    marked = text("SELECT length(CAST(:word AS text))").execution_options(**{db.GENERIC_PLAN: True})
    with reads.begin() as session:
        assert db.read_together(session.connection(), [(marked, {"word": "ab"})]) == [[(2,)]]
    with pytest.raises(exc.DataError), reads.begin() as session:
        db.read_together(session.connection(), [(marked, {"word": "a\x00b"}), (text("SELECT 2"), {})])
    for word in ("abc", "abcd"):
        with reads.begin() as session:
            assert db.read_together(session.connection(), [(marked, {"word": word})]) == [[(len(word),)]]


def test_pipelined_reads_on_a_lost_connection_fail_as_unavailable_and_the_next_reconnects(
    queueing: bool, database_url: str, one_connection: Engine
) -> None:
    # The server ended the connection between two requests (a restart, a terminated backend):
    # the request fails as "database unavailable", which the handlers answer with a message.
    reads = db.make_read_session_factory(db.make_session_factory(one_connection))
    marked = text("SELECT :n + 1").execution_options(**{db.GENERIC_PLAN: True})
    with pytest.raises(exc.DBAPIError) as failed, reads.begin() as session:
        pid = session.scalar(text("SELECT pg_backend_pid()"))
        db.Ahead(session.connection(), text("SELECT 2"), {})
        killer = db.make_engine(database_url, pool_size=1)
        try:
            with killer.connect() as other:
                assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        finally:
            killer.dispose()
        db.read_together(session.connection(), [(text("SELECT 2"), {}), (marked, {"n": 1})])
    assert db.unavailable(failed.value)
    with reads.begin() as session:
        assert db.read_together(session.connection(), [(marked, {"n": 1})]) == [[(2,)]]


AWKWARD_COLUMNS = (
    ("n", BigInteger()),
    ("word", String()),
    ("flag", Boolean()),
    ("at", DateTime(timezone=True)),
)
AWKWARD_ROWS = [
    (
        2**63 - 1,
        'it\'s "quoted", {braced}, back\\slashed \\\\ and \\u0041 \\n',
        True,
        datetime(2026, 11, 30, 9, 1, 2, 345678, tzinfo=UTC),
    ),
    (
        -(2**63),
        "Zoë, Ĳsselmeer, 東京, مرحبا, 🧾👩🏽‍💻, e\u0301, \u200b",
        False,
        datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ),
    (0, "NULL", None, datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-11)))),
    (None, None, True, None),
    (7, "", False, datetime(2026, 1, 1, tzinfo=UTC)),
    (
        8,
        "  spaces, tab\tand\nnew line  ",
        None,
        datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
    ),
    (9, '"', True, datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(hours=14)))),
]


def test_unnest_rows_come_back_exactly_as_bound_on_postgresql(engine: Engine) -> None:
    # A batch's keys and records go to the server through unnest(): each value must come back
    # with its type and its exact contents, whatever characters a name or an address holds.
    if not _postgresql(engine):
        pytest.skip("unnest() is PostgreSQL's")
    built_with_rows = db.unnest(AWKWARD_COLUMNS, AWKWARD_ROWS)
    bound_later = db.unnest(AWKWARD_COLUMNS)
    with engine.connect() as connection:
        assert [tuple(row) for row in connection.execute(select(built_with_rows))] == AWKWARD_ROWS
        given = db.unnest_parameters(AWKWARD_COLUMNS, AWKWARD_ROWS)
        assert [tuple(row) for row in connection.execute(select(bound_later), given)] == AWKWARD_ROWS
        assert connection.execute(select(bound_later), db.unnest_parameters(AWKWARD_COLUMNS, [])).all() == []
        kinds = connection.execute(
            select(*(func.pg_typeof(column) for column in bound_later.c)), given
        ).first()
    assert kinds == ("bigint", "character varying", "boolean", "timestamp with time zone")


def test_the_bots_connections_never_start_parallel_workers(one_connection: Engine) -> None:
    # Counting up to 101 matches of "42" among a million accounts took 8-11 ms with two workers
    # (starting them is most of it) against 1.2 ms without: after an ANALYZE the planner believed
    # few accounts matched and scanned in parallel.
    if not _postgresql(one_connection):
        pytest.skip("parallel query is PostgreSQL's")
    workers = text("SELECT current_setting('max_parallel_workers_per_gather')")
    with db.make_session_factory(one_connection).begin() as session:
        assert session.scalar(workers) == "0"
    reads = db.make_read_session_factory(db.make_session_factory(one_connection))
    with reads() as session:
        session.execute(text("SELECT 1"))
        session.rollback()  # psycopg's DEALLOCATE ALL after a rollback leaves settings alone
        assert session.scalar(workers) == "0"


def test_a_commit_without_waiting_is_set_by_the_next_statement_for_its_transaction_only(
    one_connection: Engine,
) -> None:
    if not _postgresql(one_connection):
        pytest.skip("synchronous_commit is a PostgreSQL setting")
    factory = db.make_session_factory(one_connection)
    setting = text("SELECT current_setting('synchronous_commit')")
    with factory.begin() as session:
        db.commit_without_waiting(session)
        session.execute(text("SELECT 1"))
        assert session.scalar(setting) == "off"
    with factory.begin() as session:
        assert session.scalar(setting) == "on"


def test_a_transaction_without_jit_leaves_the_next_one_with_it(one_connection: Engine) -> None:
    if not _postgresql(one_connection):
        pytest.skip("JIT compilation is a PostgreSQL setting")
    factory = db.make_session_factory(one_connection)
    setting = text("SELECT current_setting('jit')")
    with factory.begin() as session:
        before = session.scalar(setting)
        db.without_jit(session)
        assert session.scalar(setting) == "off"
    with factory.begin() as session:
        assert session.scalar(setting) == before
