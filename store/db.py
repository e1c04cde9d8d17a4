"""Engines, sessions and schema migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import functools
import json
import operator
import os
import sqlite3
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from select import POLLIN, POLLPRI, poll
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Engine,
    Select,
    String,
    Subquery,
    TextClause,
    any_,
    bindparam,
    cast,
    create_engine,
    event,
    exc,
    func,
    inspect,
    literal_column,
    make_url,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker
from sqlalchemy.types import TypeEngine

from store.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"

SessionFactory = sessionmaker[Session]
# Any constant works; it names the lock replicas take turns on to migrate.
MIGRATION_LOCK_KEY = 0x4D494752  # "MIGR"
READ_ONLY_OPTION = "admin_bot_read_only"
# An execution option for statements whose best plan does not depend on their values (look-ups by
# key in an index): on PostgreSQL they may use a generic plan, planned once per connection.
GENERIC_PLAN = "admin_bot_generic_plan"
# GENERIC_PLAN's value for a statement that always takes the generic plan: one whose generic plan
# PostgreSQL costs far above the plans for each run's values only because it cannot see its LIMIT
# and OFFSET (it takes each for a tenth of the rows), though the plan is the same; under auto it
# would plan every run for its values.
ALWAYS_GENERIC = "always"
# An execution option: how many milliseconds a statement waits for another transaction's lock
# before it gives up (waiting_at_most); 0 on PostgreSQL waits for ever.
LOCK_TIMEOUT_MS = "admin_bot_lock_timeout_ms"
SQLITE_BUSY_TIMEOUT_MS = 30_000  # what the CLI and the jobs wait for SQLite's write lock
# PostgreSQL aborts one side of a serialization conflict or a deadlock; the work can simply rerun.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's lock_timeout (and NOWAIT) ran out
ATTEMPTS = 3
T = TypeVar("T")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


# FTS5's trigram tokenizer came in 3.34; RETURNING and ALTER TABLE DROP COLUMN in 3.35.
SQLITE_MINIMUM = (3, 35)


def check_sqlite_version(version: tuple[int, ...] = sqlite3.sqlite_version_info) -> None:
    """StoreError naming the versions if this Python's SQLite is too old for the schema."""
    if version < SQLITE_MINIMUM:
        have, need = ".".join(map(str, version)), ".".join(map(str, SQLITE_MINIMUM))
        raise StoreError(
            f"admin-bot needs SQLite {need} or newer, but this Python's sqlite3 module has {have}: "
            "use a newer Python build, or PostgreSQL."
        )


def make_engine(url: str, pool_size: int = 10, **options: Any) -> Engine:
    """An engine whose transactions keep balances safe under concurrency.

    `pool_size` is for PostgreSQL: SQLite takes one writer at a time, whatever the pool.
    """
    if url.startswith("sqlite"):
        check_sqlite_version()
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **options)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    pre_ping = options.pop("pool_pre_ping", True)
    # Bursts (a lazy listener per click, the reminder pass) may open twice as many again.
    engine = create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size, **options)
    event.listen(engine, "connect", _configure_postgresql)
    event.listen(engine, "begin", _begin_postgresql)
    event.listen(engine, "do_execute", _execute_with_riders)
    event.listen(engine, "checkin", _drop_riders)
    if pre_ping:
        event.listen(engine, "checkout", _ping_unless_quiet(engine))
    return engine


def _ping_unless_quiet(engine: Engine) -> Callable[[Any, Any, Any], None]:
    """A checkout check that pings only a connection the server may have dropped.

    SQLAlchemy's pool_pre_ping costs every request a round trip (SELECT 1). A server that ends a
    connection (a restart, a terminated backend) tells the client, or the kernel closes the socket:
    either way the idle connection's socket turns readable. Only then is it pinged, and if the ping
    fails the pool is invalidated and a new connection made, as pool_pre_ping does.
    """

    def check(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not dbapi_connection.closed and not _readable(dbapi_connection.fileno()):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure: treat it as a dropped connection
            raise exc.InvalidatePoolError(f"ping failed: {error}") from error

    return check


def _readable(fileno: int) -> bool:
    """Whether the socket has something to read (data, or the other end closed it) right now."""
    poller = poll()
    poller.register(fileno, POLLIN | POLLPRI)
    return bool(poller.poll(0))


def _configure_postgresql(dbapi_connection: Any, record: Any) -> None:
    # psycopg prepares a statement after 5 runs, and PostgreSQL then may switch to a generic
    # plan that assumes nothing about the LIKE pattern: for searches that meant sorting the
    # whole table (6.8 ms instead of 1.4 ms at 10k accounts). Plan each run for its values.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
        # The bot's statements are short: starting parallel workers costs more than they save (a
        # search's count of 101 matches, 8-11 ms with two of them against 1.2 ms without).
        cursor.execute("SET max_parallel_workers_per_gather = 0")
        # Times come back in the session's zone: in the server's or database's default (Tokyo, say)
        # the ends of the years Python holds (a usage item dated 9999-12-31) could not be read back.
        cursor.execute("SET TimeZone = 'UTC'")
    dbapi_connection.commit()
    record.info[LOCK_TIMEOUT_MS] = 0
    record.info[PLAN_MODE] = False


def _begin_postgresql(connection: Connection) -> None:
    """Set the connection's lock_timeout to what this transaction's engine asks (waiting_at_most),
    and for a transaction (not a read in autocommit) plan_cache_mode back to plans for values, if
    reads before it left another (_planned).

    Requests and jobs share the pool, so each is set only when it changes, and outside any
    transaction (autocommit for that one statement), so that a rollback cannot quietly undo it.
    """
    wanted = connection.get_execution_options().get(LOCK_TIMEOUT_MS, 0)
    info = connection.connection.info
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection being begun is open
    autocommit = driver.autocommit
    settings = []
    if info.get(LOCK_TIMEOUT_MS) != wanted:
        settings.append(f"set_config('lock_timeout', '{int(wanted)}', false)")
    if not autocommit and info.get(PLAN_MODE) is not False:
        settings.append(f"set_config('plan_cache_mode', '{_PLAN_CACHE_MODE[False]}', false)")
    if not settings:
        return
    driver.autocommit = True
    try:
        driver.execute(f"SELECT {', '.join(settings)}")
    finally:
        driver.autocommit = autocommit
    info[LOCK_TIMEOUT_MS] = wanted
    if not autocommit:
        info[PLAN_MODE] = False


class Ahead:
    """A read that goes with the connection's next statement, in its round trip (PostgreSQL).

    For a read the request needs whatever it does next (the caller's role), or may need after it
    (a page's rows): sent alone it cost a round trip of its own. Asked for before any statement
    went, it is sent alone then; on SQLite (no round trips) it runs at once. Its rows are read by
    attribute and by position, as rows of a result are.
    """

    def __init__(
        self, connection: Connection, statement: Select[Any] | TextClause, parameters: dict[str, Any]
    ) -> None:
        self._connection = connection
        self._statement, self._parameters = statement, parameters
        self._rows: Sequence[Any] = ()
        self._sent = False
        if self._connection.dialect.name != "postgresql":
            self._receive(self._connection.execute(statement, parameters).all())
            return
        self._sql, compiled = _compiled(statement, self._connection.dialect)
        self._driver_parameters = compiled.construct_params(parameters)
        self._generic = statement.get_execution_options().get(GENERIC_PLAN, False)
        self._driver = self._connection.connection.driver_connection
        _riders.setdefault(self._driver, []).append(self)

    def rows(self) -> Sequence[Any]:
        """Its rows, sending it now if no statement took it along."""
        if not self._sent:
            riders = _riders.get(self._driver, [])
            if self not in riders:
                raise StoreError("the statement this read went with failed")
            riders.remove(self)
            self._receive(self._connection.execute(self._statement, self._parameters).all())
        return self._rows

    def row(self) -> Any:
        """Its first row, or None."""
        return next(iter(self.rows()), None)

    def _receive(self, rows: Sequence[Any]) -> None:
        self._rows, self._sent = rows, True

    def _sending(self, driver_connection: Any) -> _Pipelined:
        from psycopg.rows import namedtuple_row  # PostgreSQL's driver; SQLite needs none

        cursor = driver_connection.cursor(row_factory=namedtuple_row)
        return _Pipelined(self._generic, cursor, self._sql, self._driver_parameters)


@functools.cache
def _compiled(statement: Select[Any] | CompoundSelect | TextClause, dialect: Any) -> tuple[str, Any]:
    """The statement's SQL for the driver, and its compiled form (for construct_params).

    Ahead's and read_together's statements are built once: compiling each time cost more than a
    read. Values SQLAlchemy renders into the SQL (literal_execute: aggregate_strings' separator)
    are the statement's own constants, rendered here once; lists to expand are not supported (an
    array parameter is: membership).
    """
    compiled = statement.compile(dialect=dialect)
    if compiled.post_compile_params:
        raise StoreError("a statement read straight on the driver cannot expand a list: use membership()")
    if not compiled.literal_execute_params:
        return compiled.string, compiled
    values = dict.fromkeys(compiled.bind_names.values())
    values.update({compiled.bind_names[bind]: bind.value for bind in compiled.literal_execute_params})
    return compiled.construct_expanded_state(values).statement, compiled


# Each driver connection's Ahead reads waiting for a statement.
_riders: weakref.WeakKeyDictionary[Any, list[Ahead]] = weakref.WeakKeyDictionary()


def _drop_riders(dbapi_connection: Any, _record: Any) -> None:
    # A read nobody asked for must not go with the next request's statements. (An invalidated
    # connection is checked in as None: it took its reads with it.)
    if dbapi_connection is not None:
        _riders.pop(dbapi_connection, None)


def _execute_with_riders(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    """The statement, then the Ahead reads waiting on its connection, in one round trip (a pipeline)."""
    connection = cursor.connection
    riders = _riders.pop(connection, []) if _riders else []
    generic = context.execution_options.get(GENERIC_PLAN, False)
    # As it is, unless reads before it may have left the connection planning generically. A
    # statement without parameters has one plan whatever the mode (and the dialect's first checks
    # run on a connection not yet pooled, which has no info).
    plain = not parameters or context.root_connection.connection.info.get(PLAN_MODE) is False
    if not riders and not generic and plain:
        return False
    info = context.root_connection.connection.info
    sent = [rider._sending(connection) for rider in riders]
    kept = info.setdefault(KEPT_CURSORS, {})
    _in_pipeline(connection, [_Pipelined(generic, cursor, statement, parameters), *sent], kept, info)
    for rider, rider_sent in zip(riders, sent, strict=True):
        rider._receive(rider_sent.cursor.fetchall())
    return True


Read = tuple[
    Select[Any] | CompoundSelect | TextClause, dict[str, Any]
]  # a statement built once, and its parameters


def read_together(connection: Connection, reads: Sequence[Read]) -> list[list[tuple[Any, ...]]]:
    """Each read's rows, as plain tuples, in the order given.

    PostgreSQL: all of them, after the connection's waiting Ahead reads, in one round trip (a
    pipeline), straight on the driver's connection. Statements built once are compiled once, and
    SQLAlchemy's per-statement machinery (events, contexts, result objects) is skipped: for the
    index look-ups a request makes, it cost the client more than the server's work. Errors come
    wrapped as SQLAlchemy's are, and a lost connection is invalidated. SQLite: one after another.
    """
    if connection.dialect.name != "postgresql":
        return [rows_of(connection, statement, parameters) for statement, parameters in reads]
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection in use is open
    riders = _riders.pop(driver, [])
    sent = [rider._sending(driver) for rider in riders]
    ours: list[_Pipelined] = []
    info = connection.connection.info
    kept = info.setdefault(KEPT_CURSORS, {})
    for statement, parameters in reads:
        sql, compiled = _compiled(statement, connection.dialect)
        generic = statement.get_execution_options().get(GENERIC_PLAN, False)
        cursor = kept.get(sql) if generic else None
        if cursor is None or any(read.cursor is cursor for read in ours):  # sent twice: a cursor each
            cursor = driver.cursor()
            if generic:
                kept[sql] = cursor
        ours.append(_Pipelined(generic, cursor, sql, compiled.construct_params(parameters)))
    if connection.dispatch.before_cursor_execute:
        # Listeners (tests, bench.round_trips) see one execution per round trip, as they see an
        # Ahead read's: the statements sent, one after another.
        sql = ";\n".join(read.statement for read in ours)
        sent_parameters = [read.parameters for read in ours]
        connection.dispatch.before_cursor_execute(
            connection, ours[0].cursor, sql, sent_parameters, None, False
        )
    try:
        # Grouped by plan mode, the connection's own first: plan_cache_mode is switched once
        # between groups, and not at all for reads that all take the mode it has.
        has = info.get(PLAN_MODE)
        grouped = sorted([*sent, *ours], key=lambda read: (read.generic != has, _PLAN_ORDER[read.generic]))
        _in_pipeline(driver, grouped, kept, info)
        for rider, rider_sent in zip(riders, sent, strict=True):
            rider._receive(rider_sent.cursor.fetchall())
        return [read.cursor.fetchall() for read in ours]
    except connection.dialect.loaded_dbapi.Error as error:
        first = ours[0] if ours else sent[0]
        # SQLAlchemy closes the cursor it is given: a kept one must not stay kept, closed.
        if kept.get(first.statement) is first.cursor:
            del kept[first.statement]
        connection._handle_dbapi_exception(error, first.statement, first.parameters, first.cursor, None)
        raise  # not reached: the call above raises the wrapped error


# The connection's cursor for each statement of read_together's marked GENERIC_PLAN (its pool
# record's info, cleared with the connection): sent again on the cursor that sent it last, a prepared
# statement's parameters and columns keep the adapters psycopg found for them, which a new cursor
# looks up afresh. Only those: their rows are a look-up's few, and each cursor holds its last.
KEPT_CURSORS = "admin_bot_kept_cursors"
_SETTING = "SET"  # the kept cursor that sends each SET of plan_cache_mode (their results are not read)


class _Pipelined(NamedTuple):
    """A statement for _planned, on its own cursor."""

    generic: bool | str  # its GENERIC_PLAN mark: True, ALWAYS_GENERIC, or False for none
    cursor: Any
    statement: str
    parameters: Any


# The plan_cache_mode each GENERIC_PLAN mark runs under (False: unmarked, plans for values).
_PLAN_CACHE_MODE = {True: "auto", ALWAYS_GENERIC: "force_generic_plan", False: "force_custom_plan"}
# Reads sent together are grouped by plan mode, so that the mode is switched once for each.
_PLAN_ORDER = {False: 0, True: 1, ALWAYS_GENERIC: 2}
# The connection's plan_cache_mode now, as the mark that runs under it (its pool record's info);
# absent while statements that may switch it run, and after they failed: not known.
PLAN_MODE = "admin_bot_plan_mode"


def _in_pipeline(
    driver: Any, statements: Sequence[_Pipelined], kept: dict[str, Any], info: dict[str, Any]
) -> None:
    """_planned's statements in one round trip, noting the plan mode they leave the connection in."""
    has = info.pop(PLAN_MODE, None)  # a failure undoes the switches with the rest
    with driver.pipeline():
        left = _planned(driver, statements, kept, has)
    if left is not None:
        info[PLAN_MODE] = left


def _planned(
    connection: Any, statements: Sequence[_Pipelined], kept: dict[str, Any], has: bool | str | None
) -> bool | str | None:
    """Each cursor.execute(), in a pipeline; those marked GENERIC_PLAN prepared under plan_cache_mode = auto
    (force_generic_plan for ALWAYS_GENERIC), the rest under force_custom_plan. `has`: the mode the
    connection has now (None: not known). Returns the mode it has after them (None: not known).

    Each execution otherwise costs a plan for its values (0.1-0.15 ms for the word path's). The
    setting is switched only where it changes (a SET each way around each marked statement was
    four for the word path's chunk and its first page, 15-50 us): all go in the same pipeline,
    one implicit transaction in autocommit, so if a statement fails the SETs are undone with it.
    Outside a transaction (a read unit) the last mode stays for the next statements, which
    switch it if they need another: a search's reads keep theirs from request to request, where
    switching to it and back made three of a search's seven statements SETs. In a transaction it
    is switched back at the end: a rollback would undo the switches, and a writer's own statements
    expect plans for their values.
    """
    setting = kept.get(_SETTING)
    if setting is None:
        setting = kept[_SETTING] = connection.cursor()
    mode = has
    for generic, cursor, statement, parameters in statements:
        if generic != mode:
            _queue(setting, f"SET plan_cache_mode = {_PLAN_CACHE_MODE[generic]}")
            mode = generic
        _queue(cursor, statement, parameters, prepare=True if generic else None)
    in_transaction = not connection.autocommit
    if in_transaction and has is not None and mode != has:
        _queue(setting, f"SET plan_cache_mode = {_PLAN_CACHE_MODE[has]}")
    # Into libpq's buffer, all of them, for the pipeline's end to write out at once (without this,
    # psycopg writes each queued statement with a poll before it).
    commands = getattr(connection._pipeline, "command_queue", None) if _queueing() else None
    while commands:
        commands.popleft()()
    return has if in_transaction else mode


def _queue(cursor: Any, statement: str, parameters: Any = None, prepare: bool | None = None) -> None:
    """cursor.execute() in a pipeline, only queued: _planned sends the batch, the pipeline's end reads it.

    In a pipeline, psycopg's execute() writes each statement as it comes, polling the socket
    before and after for the results of those before it: two polls and a write each, 27 system
    calls for a search's nine, and the server woken for each. Queued, a search's statements go
    in one write and their results are read together. This is execute() without that step, on
    psycopg's own generators; a psycopg without them (they are not its public API) gets
    execute() itself.
    """
    if not _queueing():
        cursor.execute(statement, parameters, prepare=prepare)
        return

    def queueing() -> Any:
        yield from cursor._start_query(statement)
        query = cursor._convert_query(statement, parameters)
        yield from cursor._maybe_prepare_gen(query, prepare=prepare)
        cursor._last_query = statement
        yield from cursor._conn._prepared.maintain_gen(cursor._conn)

    with cursor._conn.lock:
        cursor._conn.wait(queueing())


# Whether _queue can queue (psycopg's generators are there), found on first use: None until then.
_QUEUEING: bool | None = None


def _queueing() -> bool:
    global _QUEUEING  # noqa: PLW0603 - a fact about the installed psycopg, looked up once
    if _QUEUEING is None:
        _QUEUEING = psycopg_queues()
    return _QUEUEING


def psycopg_queues() -> bool:
    """Whether this psycopg has the generators _queue runs (3.1 to 3.3 do)."""
    from psycopg import Cursor
    from psycopg._preparing import PrepareManager

    needed = (
        (Cursor, "_start_query"),
        (Cursor, "_convert_query"),
        (Cursor, "_maybe_prepare_gen"),
        (PrepareManager, "maintain_gen"),
    )
    return all(callable(getattr(owner, name, None)) for owner, name in needed)


def _begin_sqlite(connection: Connection) -> None:
    # A writer takes the write lock when its transaction starts: two deferred transactions that
    # both read a balance and then write would otherwise fail with "database is locked". A reader
    # takes no lock at all; WAL gives it a consistent snapshot while writers carry on.
    # Straight on the driver's connection: exec_driver_sql's statement machinery (events, a
    # cursor result) costs a search request more than the BEGIN itself.
    options = connection.get_execution_options()
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection being begun is open
    # How long BEGIN IMMEDIATE waits for another writer (waiting_at_most): a pragma of this
    # connection, set when this transaction's engine asks for another wait than the last one.
    wait = options.get(LOCK_TIMEOUT_MS, SQLITE_BUSY_TIMEOUT_MS)
    if connection.connection.info.get(LOCK_TIMEOUT_MS) != wait:
        driver.execute(f"PRAGMA busy_timeout = {int(wait)}")
        connection.connection.info[LOCK_TIMEOUT_MS] = wait
    driver.execute("BEGIN" if options.get(READ_ONLY_OPTION, False) else "BEGIN IMMEDIATE")


def _configure_sqlite(dbapi_connection: Any, record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event instead of pysqlite's own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
    record.info[LOCK_TIMEOUT_MS] = SQLITE_BUSY_TIMEOUT_MS


def commit_without_waiting(session: Session) -> None:
    """Let this transaction's commit return before it is on disk (PostgreSQL; SQLite is unchanged).

    Only for writes whose loss in a server crash the caller recovers from: the server keeps
    everything else in order, and any later ordinary commit makes this one durable too.
    """
    if is_postgresql(session):
        # With the transaction's next statement, in its round trip: the setting counts at commit.
        Ahead(session.connection(), _NOT_WAITING, {})


_NOT_WAITING = text("SELECT set_config('synchronous_commit', 'off', true)")


def through_indexes(session: Session) -> None:
    """Plan this transaction's statements through indexes, never reading a table whole (PostgreSQL).

    For a reminder pass's claims and records of alert_messages, the table the pass fills: when it
    was small at its last analyze, as before a deployment's first large pass, PostgreSQL took a
    batch's rows for one and read the whole table again for each (a claim of 1,000 at 1,300 rows
    0.54 s, a record of 319 at 635 rows 0.14 s): a pass went quadratic. Every read there has an
    index to take instead.
    """
    if is_postgresql(session):
        session.connection().exec_driver_sql("SET LOCAL enable_seqscan = off")


def without_jit(session: Session) -> None:
    """Run this transaction's statements without JIT compilation (PostgreSQL; SQLite has none).

    For statements whose few rows an index picks, but whose correlated look-ups make the planner's
    cost estimate large: past its thresholds, compiling them took longer than running them.
    """
    if is_postgresql(session):
        session.execute(text("SET LOCAL jit = off"))


def indexed_flag(column: str) -> ColumnElement[bool]:
    """The boolean `column` ("table.column") written as a partial index's WHERE clause names it.

    Typed Boolean, SQLAlchemy writes it "column = 1" on SQLite, which SQLite does not take to imply
    an index's bare "WHERE column": a claim's due read went through every recipient in its range of
    account ids instead of the low episodes. On PostgreSQL the SQL is the same either way.
    """
    flag: ColumnElement[bool] = literal_column(column)
    return flag


def is_postgresql(session: Session) -> bool:
    """Whether the session talks to PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def unnest(
    columns: Sequence[tuple[str, TypeEngine[Any]]], rows: Sequence[Sequence[Any]] | None = None
) -> Subquery:
    """PostgreSQL: `rows` as a table to join or insert from, all of them bound as one parameter.

    One statement for a whole batch, with one parameter for 1,000 rows as for one: the server
    plans it once and the client compiles it once, where a row per statement (or a VALUES list per
    batch) costs each again. The rows go as one JSON array of arrays, each column cast back to its
    type from its text: an array per column was dumped by psycopg in Python item by item, and the
    server parses text arrays slowly; json.dumps is C, and jsonb's parser is fast. Without `rows`,
    for a statement built once, they are bound when it runs: `unnest_parameters(columns, rows)`.
    """
    given = None if rows is None else unnest_parameters(columns, rows)[UNNEST_ROWS]
    elements = func.jsonb_array_elements(cast(bindparam(UNNEST_ROWS, given, type_=String()), JSONB))
    row = elements.table_valued("value").render_derived()
    return (
        select(
            *(
                cast(row.c.value.op("->>")(literal_column(str(at))), kind).label(name)
                for at, (name, kind) in enumerate(columns)
            )
        )
        .select_from(row)
        .subquery()
    )


UNNEST_ROWS = "unnest_rows"  # the parameter unnest() binds its rows as


def sqlite_unnest(columns: Sequence[tuple[str, TypeEngine[Any]]]) -> Subquery:
    """SQLite: unnest()'s rows for a statement built once, bound the same way (unnest_parameters)
    and read with json_each(). One statement for a batch instead of one per row: a claim of
    1,000 first copies took 5.9 ms a row at a time, 3.5 ms so.
    """
    elements = func.json_each(bindparam(UNNEST_ROWS, type_=String())).table_valued("value")
    return (
        select(
            *(
                type_coerce(func.json_extract(elements.c.value, f"$[{at}]"), kind).label(name)
                for at, (name, kind) in enumerate(columns)
            )
        )
        .select_from(elements)
        .subquery()
    )


def bound_row(columns: Sequence[tuple[str, TypeEngine[Any]]]) -> tuple[Any, tuple[str, ...]]:
    """SQLite: one row's values as bound parameters, named as unnest()'s columns (`.c.name`), for
    a statement built once with the same expressions as PostgreSQL's and run a row at a time
    (execute_many); and the names execute_many binds them by.
    """
    names = tuple(f"p_{name}" for name, _ in columns)  # clear of the table's own column names
    bound = {name: bindparam(named, type_=kind) for (name, kind), named in zip(columns, names, strict=True)}
    return SimpleNamespace(c=SimpleNamespace(**bound)), names


def unnest_parameters(
    columns: Sequence[tuple[str, TypeEngine[Any]]], rows: Sequence[Sequence[Any]]
) -> dict[str, str]:
    """The parameters of an unnest() built without rows: the rows as one JSON array of arrays.

    Each value as the column's cast reads it back: a time in ISO 8601 with its offset (a time
    without one is read in the session's time zone, as a timestamp bound alone would be).
    """
    width = len(columns)
    if any(len(row) != width for row in rows):
        raise ValueError(f"unnest() rows must have {width} values each, one for each column")
    return {UNNEST_ROWS: json.dumps(rows, default=_json_text, ensure_ascii=False, allow_nan=False)}


def _json_text(value: Any) -> str:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"unnest() cannot bind a {type(value).__name__}")


def among(
    session: Session, field: ColumnElement[Any] | QueryableAttribute[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL `= ANY` of one array parameter.

    A list of 1,000 parameters costs the client and the server time to bind and parse on
    every execution; one array costs the same whatever its length.
    """
    return membership(field, postgresql=is_postgresql(session), values=list(values))


def membership(
    field: ColumnElement[Any] | QueryableAttribute[Any],
    *,
    postgresql: bool,
    values: list[Any] | None = None,
    name: str | None = None,
) -> ColumnElement[bool]:
    """`among`'s condition; with `name` instead of values, for a statement built once: the list
    is bound as `name` when it runs."""
    if postgresql:
        return field == any_(bindparam(name, values, type_=ARRAY(field.type)))
    return field.in_(bindparam(name, values, expanding=True))


def make_session_factory(engine: Engine) -> SessionFactory:
    return sessionmaker(engine, expire_on_commit=False)


def waiting_at_most(session_factory: SessionFactory, seconds: int) -> SessionFactory:
    """Sessions whose statements give up after waiting `seconds` for another transaction's lock.

    For Slack requests, which Slack abandons after 3 seconds: a request stuck behind a long
    transaction (an accounts import) ends in an error that says so (lock_timed_out), having
    changed nothing. PostgreSQL's lock_timeout; on SQLite, the wait for the write lock.
    """
    engine = session_factory.kw["bind"].execution_options(**{LOCK_TIMEOUT_MS: seconds * 1000})
    return sessionmaker(engine, expire_on_commit=False)


def make_read_session_factory(session_factory: SessionFactory, *, streaming: bool = False) -> SessionFactory:
    """Sessions for requests that only read: on SQLite they never wait for the write lock.

    They run without a transaction, each statement on its own snapshot (until the ORM is used):
    on PostgreSQL at READ COMMITTED each statement reads its own snapshot inside one too, so all
    a transaction added was BEGIN and COMMIT, two round trips; on SQLite the session's BEGIN and
    ROLLBACK through the ORM and Core took about 0.1 ms a request.
    `streaming` sessions (yield_per) keep theirs: PostgreSQL's server-side cursors need one.
    """
    engine = session_factory.kw["bind"]
    options: dict[str, Any] = {READ_ONLY_OPTION: True}
    if streaming:
        return sessionmaker(engine.execution_options(**options), expire_on_commit=False)
    checked_out = engine.execution_options(**options)  # by _reading, which binds the session to it
    # The factory's own sessions (factory.begin()) hold no transaction on PostgreSQL either.
    bind = (
        checked_out
        if is_sqlite(engine)
        else engine.execution_options(**options, isolation_level="AUTOCOMMIT")
    )
    return sessionmaker(bind, expire_on_commit=False, info={_READ_ENGINE: checked_out})


def alembic_config(engine: Engine) -> AlembicConfig:
    # Imported here: alembic costs every CLI command a tenth of a second to load, and only
    # migrations need it.
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`; replicas starting together take turns, the first migrates.

    On PostgreSQL a session advisory lock serializes them; on SQLite, an flock on the database's
    directory (no lock file to leave behind). Either is released if the process dies. A schema a
    newer admin-bot migrated is refused with a StoreError, not left to Alembic's traceback.
    """
    from alembic import command

    if problem := _newer_schema_problem(current_revision(engine)):
        raise StoreError(problem)
    if engine.dialect.name != "postgresql":
        with _sqlite_migration_lock(engine):
            command.upgrade(alembic_config(engine), revision)
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        connection.commit()  # the lock outlives the transaction; don't sit idle in one
        try:
            command.upgrade(alembic_config(engine), revision)
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()


@contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    path = engine.url.database
    if not path or path == ":memory:":
        yield
        return
    directory = os.open(Path(path).resolve().parent, os.O_RDONLY)
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)
        yield
    finally:
        os.close(directory)  # releases the lock


def known_revisions() -> set[str]:
    """Every schema revision this code has a migration for, each named after its file
    (tests/store/test_migrations.py checks the names against Alembic's own reading)."""
    return {path.stem for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")}


def head_revision() -> str:
    """The schema revision this code expects: the newest migration's, the files being in order."""
    return max(known_revisions())


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision, or None before the first migration (read as Alembic keeps it,
    without importing Alembic: every command line run asks)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def describe_error(error: SQLAlchemyError, url: str) -> str:
    """What went wrong with the database, in one line an operator can act on."""
    original = getattr(error, "orig", None)
    detail = (str(original or error).strip().splitlines() or [""])[0]
    shown = make_url(url).render_as_string(hide_password=True)
    if retryable(error):
        conflict = "a deadlock" if getattr(original, "sqlstate", None) == "40P01" else "a conflict"
        return (
            f"the database cancelled this command because of {conflict} with another transaction; "
            "nothing was changed: run it again."
        )
    if isinstance(error, OperationalError) and _unreachable(original):
        return f"cannot reach the database at DATABASE_URL ({shown}): {detail}"
    engine = make_engine(url)
    try:
        problem = schema_problem(engine)
    except SQLAlchemyError:
        problem = None
    finally:
        engine.dispose()
    return problem or f"database error ({type(original or error).__name__}): {detail}"


def schema_problem(engine: Engine) -> str | None:
    """Why the database's schema is not the one this code needs, or None if it is."""
    have, need = current_revision(engine), head_revision()
    if have == need:
        return None
    if problem := _newer_schema_problem(have):
        return problem
    where = f"is at revision {have}" if have else "has no admin-bot schema yet"
    return (
        f"the database at DATABASE_URL {where}, but this admin-bot needs {need}: run `admin-bot db upgrade`."
    )


def _newer_schema_problem(have: str | None) -> str | None:
    """Why this code can neither use nor migrate a schema at revision `have`, or None if it can.

    A revision with no migration here is a newer admin-bot's: no upgrade can start from it.
    """
    if have is None or have in known_revisions():
        return None
    return (
        f"the database at DATABASE_URL was migrated by a newer admin-bot (revision {have}); "
        f"this admin-bot (at {head_revision()}) cannot use it: run the newer version."
    )


def _unreachable(original: object) -> bool:
    """Whether a driver error means no connection could be made or kept (not a failed statement)."""
    if isinstance(original, sqlite3.OperationalError):
        return "unable to open database file" in str(original)
    sqlstate = getattr(original, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(("08", "57P"))


def ping(engine: Engine) -> None:
    """Raise unless the database answers.

    Committed, not left for the pool to roll back: psycopg deallocates every statement a
    connection prepared when a transaction on it rolls back, and every health probe cost the next
    searches on the connection it took their plans.
    """
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        connection.commit()


def retryable(error: BaseException) -> bool:
    """Whether the database aborted the transaction only because of a conflict with another one."""
    return isinstance(error, exc.DBAPIError) and getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def lock_timed_out(error: BaseException) -> bool:
    """Whether a statement gave up waiting for a lock another transaction held (waiting_at_most).

    SQLite's BEGIN IMMEDIATE runs in the begin event, so its error comes unwrapped by SQLAlchemy.
    """
    original = error.orig if isinstance(error, exc.DBAPIError) else error
    if isinstance(original, sqlite3.OperationalError):
        return (getattr(original, "sqlite_errorcode", None) or 0) & 0xFF == sqlite3.SQLITE_BUSY
    return getattr(original, "sqlstate", None) == LOCK_NOT_AVAILABLE


def unavailable(error: BaseException) -> bool:
    """Whether the error means the database cannot be reached or used right now."""
    if isinstance(error, exc.DBAPIError):
        return error.connection_invalidated or isinstance(error, exc.OperationalError | exc.InterfaceError)
    return isinstance(error, exc.TimeoutError | exc.DisconnectionError)


def atomic(
    factory: SessionFactory,
    work: Callable[[Session], T],
    attempts: int = ATTEMPTS,
    *,
    read_only: bool = False,
) -> T:
    """work(session) in one transaction, rerun a bounded number of times after a conflict aborts it.

    `read_only`: the work only reads, so its session is closed, not committed (see _reading).
    """
    for attempt in range(1, attempts + 1):
        try:
            with _reading(factory) if read_only else factory.begin() as session:
                return work(session)
        except exc.DBAPIError as error:
            if attempt == attempts or not retryable(error):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


# The connection _reading checked out for a read-only session (the session's info key).
_READ_CONNECTION = "admin_bot_read_connection"
# A read-only factory's engine (its info key), whose connections _reading checks out itself (on
# PostgreSQL without the AUTOCOMMIT isolation level: _reading puts them in autocommit itself).
_READ_ENGINE = "admin_bot_read_engine"


@contextmanager
def _reading(factory: SessionFactory) -> Iterator[Session]:
    """A read-only session, closed rather than committed: the ORM's commit bookkeeping was a good
    part of what a search request's session cost.

    The connection is checked out here and the session bound to it. Store code that reads without
    the ORM takes it through connection_of, and the session joins it only if something uses the
    ORM. PostgreSQL: it is put in autocommit on the driver; a session's own checkout and
    transaction, and SQLAlchemy's setting and resetting of the isolation level, cost 105 µs
    against 61 alone, and 100-120 µs of a search request's CPU. SQLite: the session's BEGIN and
    ROLLBACK, through the ORM and Core, took about 0.1 ms a request (a search that matches
    nothing: 0.37-0.50 -> 0.32 ms in the server).
    """
    engine: Engine | None = factory.kw.get("info", {}).get(_READ_ENGINE)
    if engine is None:  # a streaming read factory, or a writers' one: its sessions keep their transaction
        with factory() as session:
            yield session
        return
    with (
        engine.connect() as connection,
        _without_transaction(connection),
        factory(bind=connection) as session,
    ):
        session.info[_READ_CONNECTION] = connection
        yield session


@contextmanager
def _without_transaction(connection: Connection) -> Iterator[None]:
    """PostgreSQL: the connection in autocommit on the driver (as the read engine's isolation level:
    no BEGIN, no COMMIT), with the lock timeout its engine asks, and out of it again before the pool
    takes it back. SQLite: store code's reads on the driver (rows_of) run outside a transaction as
    they are, each a read transaction of its own; a statement through SQLAlchemy begins one
    (deferred), rolled back at the end."""
    if connection.dialect.name != "postgresql":
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection just checked out is open
    driver.autocommit = True
    try:
        _begin_postgresql(connection)
        yield
    finally:
        _end_autocommit(connection, driver)


def _end_autocommit(connection: Connection, driver: Any) -> None:
    """Take the connection out of autocommit before it goes back to the pool, where writers take
    it; one that cannot be (lost, or a statement still running) is not given back at all."""
    if connection.invalidated:
        return
    try:
        driver.autocommit = False
    except Exception:  # noqa: BLE001 - whatever the reason, it must not be reused
        connection.invalidate()


def connection_of(session: Session) -> Connection:
    """session.connection(), or for a read-only session the connection _reading checked out for
    it, taken without the ORM's bookkeeping."""
    connection: Connection | None = session.info.get(_READ_CONNECTION)
    return connection if connection is not None else session.connection()


# --------------------------------------------------------------- SQLite reads on the driver


class _OnDriver(NamedTuple):
    """A statement as rows_of runs it, for one length of each list it expands."""

    sql: str
    values: Callable[[dict[str, Any]], tuple[Any, ...]]  # each ?'s value, from the parameters by name
    bound: tuple[tuple[int, Callable[[Any], Any]], ...]  # the values bound with a processor, and it
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # the columns read with a processor, and it


@functools.cache
def _sqlite_compiled(statement: Select[Any] | CompoundSelect | TextClause, dialect: Any) -> Any:
    return statement.compile(dialect=dialect)


def _result_processors(compiled: Any, dialect: Any) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """The columns a compiled statement returns that SQLAlchemy reads with a processor, and each's."""
    return tuple(
        (at, process)
        for at, column in enumerate(compiled._result_columns)
        if (process := column[3]._cached_result_processor(dialect, None)) is not None
    )


def _picker(keys: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """Reads these keys of a row or mapping, in order, as a tuple: in C for the usual several; for one
    (or none) a tuple all the same, which itemgetter would not give."""
    return operator.itemgetter(*keys) if len(keys) > 1 else lambda given: tuple(given[key] for key in keys)


def _on_driver_cursor(
    connection: Connection, sql: str, values: Any, many: bool, run: Callable[[Any], list[Any]]
) -> list[Any]:
    """`run(cursor)` on a cursor of the driver's connection, as SQLAlchemy would run `sql` with
    `values`: listeners of before_cursor_execute see it, and errors come wrapped as SQLAlchemy's."""
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection in use is open
    cursor = driver.cursor()
    if connection.dispatch.before_cursor_execute:
        connection.dispatch.before_cursor_execute(connection, cursor, sql, values, None, many)
    try:
        return run(cursor)
    except connection.dialect.loaded_dbapi.Error as error:
        connection._handle_dbapi_exception(error, sql, values, cursor, None)
        raise  # not reached: the call above raises the wrapped error
    finally:
        cursor.close()


def _read(rows: list[Any], results: tuple[tuple[int, Callable[[Any], Any]], ...]) -> list[tuple[Any, ...]]:
    """The driver's rows with each processed column read through its processor."""
    if not results:
        return rows
    if len(results) == 1:  # the usual case (a flag, a time): sliced in C around it
        [(at, process)] = results
        return [(*row[:at], process(row[at]), *row[at + 1 :]) for row in rows]
    read = []
    for row in rows:
        columns = list(row)
        for at, process in results:
            columns[at] = process(columns[at])
        read.append(tuple(columns))
    return read


@functools.cache
def _on_driver(
    statement: Select[Any] | CompoundSelect | TextClause, dialect: Any, lengths: tuple[tuple[str, int], ...]
) -> _OnDriver | None:
    """The statement's SQL with `lengths` values in each list, as SQLAlchemy would render it; None
    if it renders lists in a way rows_of does not follow (then SQLAlchemy runs it)."""
    compiled = _sqlite_compiled(statement, dialect)
    values: dict[str, Any] = dict.fromkeys(compiled.bind_names.values())
    values.update({compiled.bind_names[bind]: bind.value for bind in compiled.literal_execute_params})
    values.update({name: [None] * length for name, length in lengths})
    state = compiled.construct_expanded_state(values)
    expanded = {f"{name}_{n}" for name, length in lengths for n in range(1, length + 1)}
    named = set(values) | expanded
    if state.positiontup is None or not set(state.positiontup) <= named:
        return None
    processors = state.processors
    names = state.positiontup
    bound = tuple((at, processors[name]) for at, name in enumerate(names) if processors.get(name) is not None)
    return _OnDriver(state.statement, _picker(names), bound, _result_processors(compiled, dialect))


def rows_of(
    connection: Connection, statement: Select[Any] | CompoundSelect | TextClause, parameters: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """connection.execute(statement, parameters)'s rows as plain tuples, on SQLite straight on the
    driver's connection (in the connection's transaction).

    For the statements a search request makes, each built once: SQLAlchemy's per-statement
    machinery (the cache key, the execution context, events, a cursor result fetched row by row)
    cost the request more than SQLite's work. The values are bound and the columns read with
    SQLAlchemy's own processors for their types; listeners of before_cursor_execute still see the
    statement, and errors come wrapped as SQLAlchemy's are. A statement whose lists are empty,
    or that takes values SQLAlchemy renders into its SQL, runs through SQLAlchemy (as does any
    statement on PostgreSQL).
    """
    if connection.dialect.name != "sqlite":
        return [tuple(row) for row in connection.execute(statement, parameters).all()]
    compiled = _sqlite_compiled(statement, connection.dialect)
    given = compiled.construct_params(parameters)
    lengths = sorted(
        (compiled.bind_names[bind], len(given.get(compiled.bind_names[bind]) or ()))
        for bind in compiled.post_compile_params
    )
    on_driver = (
        None
        if any(length == 0 for _, length in lengths)
        or any(compiled.bind_names[bind] in parameters for bind in compiled.literal_execute_params)
        else _on_driver(statement, connection.dialect, tuple(lengths))
    )
    if on_driver is None:
        return [tuple(row) for row in connection.execute(statement, parameters).all()]
    for name, _ in lengths:
        given.update((f"{name}_{n}", value) for n, value in enumerate(given[name], 1))
    values = on_driver.values(given)
    if on_driver.bound:
        processed = list(values)
        for at, bind in on_driver.bound:
            processed[at] = bind(processed[at])
        values = tuple(processed)

    def fetch(cursor: Any) -> list[Any]:
        cursor.execute(on_driver.sql, values)
        return cursor.fetchall()  # type: ignore[no-any-return]

    return _read(_on_driver_cursor(connection, on_driver.sql, values, False, fetch), on_driver.results)


class _ManyOnDriver(NamedTuple):
    """A statement as execute_many runs it: for rows of values of some names, the rest shared."""

    sql: str
    shared: tuple[str, ...]  # the other values' names, in the order they follow a row's
    pick: Callable[[tuple[Any, ...]], tuple[Any, ...]]  # a row's values then the shared -> each ?'s
    bound: tuple[tuple[int, Callable[[Any], Any]], ...]  # a row's values bound with a processor, and it
    returning: bool
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # the columns returned with a processor, and it


@functools.cache
def _many_on_driver(statement: Any, dialect: Any, names: tuple[str, ...]) -> _ManyOnDriver:
    compiled = _sqlite_compiled(statement, dialect)
    if compiled.post_compile_params or compiled.literal_execute_params or compiled.positiontup is None:
        raise StoreError("execute_many runs statements whose values are all bound as they are")
    processors = compiled._bind_processors
    shared = tuple(name for name in dict.fromkeys(compiled.positiontup) if name not in names)
    place = {name: at for at, name in enumerate((*names, *shared))}
    pick = _picker([place[name] for name in compiled.positiontup])
    bound = tuple((at, processors[name]) for at, name in enumerate(names) if processors.get(name) is not None)
    returning = bool(compiled.effective_returning)
    return _ManyOnDriver(
        compiled.string, shared, pick, bound, returning, _result_processors(compiled, dialect)
    )


def execute_many(
    connection: Connection,
    statement: Any,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    shared: dict[str, Any] | None = None,
) -> list[tuple[Any, ...]]:
    """The statement once for each of `rows` (values of `names`, in that order), with `shared` the
    same for every row; the rows it returns, if it has RETURNING, as plain tuples.

    On SQLite straight on the driver's connection (in the connection's transaction), for a
    statement built once: SQLAlchemy's executemany turned each row into a dict of every parameter
    and processed each value of each (a time on every row), which cost a batch more than SQLite's
    work. Here the statement is compiled once, the shared values (and the statement's own) are
    processed once with SQLAlchemy's processors for their types, and a row's values go as a
    tuple (an executemany; an execute a row for a statement with RETURNING, whose rows the
    driver's executemany does not return). Listeners of before_cursor_execute see it, and errors
    come wrapped as SQLAlchemy's are. On PostgreSQL through SQLAlchemy (a statement at a time if
    it returns rows).
    """
    given = shared or {}
    if connection.dialect.name != "sqlite":
        parameters = [{**dict(zip(names, row, strict=True)), **given} for row in rows]
        if not statement._returning:
            if parameters:
                connection.execute(statement, parameters)
            return []
        return [tuple(row) for each in parameters for row in connection.execute(statement, each)]
    if not rows:
        return []
    plan = _many_on_driver(statement, connection.dialect, tuple(names))
    compiled = _sqlite_compiled(statement, connection.dialect)
    defaults = compiled.construct_params({**given, **dict.fromkeys(names)})
    processors = compiled._bind_processors
    constants = tuple(
        process(defaults[name]) if (process := processors.get(name)) is not None else defaults[name]
        for name in plan.shared
    )
    if plan.bound:  # a row's own values that need processing (none in the pass's statements)
        processed = [list(row) for row in rows]
        for row in processed:
            for at, process in plan.bound:
                row[at] = process(row[at])
        rows = processed
    pick = plan.pick
    values = [pick((*row, *constants)) for row in rows]

    def run(cursor: Any) -> list[Any]:
        if not plan.returning:
            cursor.executemany(plan.sql, values)
            return []
        returned = []
        for row_values in values:
            cursor.execute(plan.sql, row_values)
            returned.extend(cursor.fetchall())
        return returned

    return _read(_on_driver_cursor(connection, plan.sql, values, True, run), plan.results)
