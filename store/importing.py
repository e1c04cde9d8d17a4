"""CSV import of accounts, streamed: every row is validated into a staging table, then all rows
are applied in a few set-based statements, or none.

Memory stays flat however large the file: rows go to the database as they are read, duplicates
and existing accounts are found by joins there, and only the first MAX_PROBLEMS_SHOWN problems
are kept in full.

Both CSV imports (this one, and usage's: store.usage.read_csv) read their files here (open_csv,
csv_rows, header_names): one encoding, one CSV dialect, one header rule, one way to name a line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from store import accounts, ledger, search
from store.errors import StoreError
from store.models import (
    KEYWORD_MAX_LENGTH,
    NAME_MAX_LENGTH,
    REFERENCE_MAX_LENGTH,
    Account,
    AuditEntry,
    EntryKind,
    LedgerEntry,
)

HEADER = ["reference", "name", "keyword", "credits"]
BULK_WORK_MEM = "64MB"  # per sort or hash of the import's statements (PostgreSQL's default: 4MB)
MAX_PROBLEMS_SHOWN = 100

# The validated file, one row per data line; lives only as long as the import's transaction.
_staging = Table(
    "import_rows",
    MetaData(),
    Column("line", Integer, primary_key=True, autoincrement=False),
    Column("reference", String(REFERENCE_MAX_LENGTH), nullable=False),
    Column("name", String(NAME_MAX_LENGTH), nullable=False),
    Column("keyword", String(KEYWORD_MAX_LENGTH)),
    Column("credits", BigInteger, nullable=False),
    prefixes=["TEMPORARY"],
)
_STAGED = ("line", "reference", "name", "keyword", "credits")
# The existing accounts whose name or keyword the file changes: their search rows are rewritten.
_renamed = Table(
    "import_renamed",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=False),
    prefixes=["TEMPORARY"],
)
_RENAMED = "a.id IN (SELECT id FROM import_renamed)"
# Those the import inserted: every id past the highest before it while the import writes accounts
# alone (SQLite's write lock; on PostgreSQL, its lock on a table that was empty: _built_after);
# else another writer's new account may take an id among ours, so they must be named in the file.
_CREATED_ALONE = "a.id > :after"
_CREATED_SHARED = "a.id > :after AND a.reference IN (SELECT reference FROM import_rows)"


class ImportRejected(StoreError):
    """The file had bad rows; nothing was imported."""

    def __init__(self, problems: list[str], total: int | None = None):
        self.problems = problems
        total = len(problems) if total is None else total
        more = total - len(problems)
        tail = [f"... and {more:,} more"] if more > 0 else []
        super().__init__(f"Nothing imported: {total:,} problem(s).\n" + "\n".join(problems + tail))


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int  # existing accounts the file changed
    unchanged: int = 0  # existing accounts the file left as they were (with update_existing)


@dataclass
class _Problems:
    """The first MAX_PROBLEMS_SHOWN problems by line, and how many there were in all."""

    shown: list[tuple[int, str]] = field(default_factory=list)
    total: int = 0

    def add(self, line: int, problem: str) -> None:
        self.total += 1
        if len(self.shown) < MAX_PROBLEMS_SHOWN:
            self.shown.append((line, f"line {line}: {problem}"))

    def add_found(self, found: Iterable[tuple[int, str]], total: int) -> None:
        """Problems a query found, the first MAX_PROBLEMS_SHOWN of them in line order."""
        self.shown = sorted([*self.shown, *((line, f"line {line}: {text}") for line, text in found)])
        self.shown = self.shown[:MAX_PROBLEMS_SHOWN]
        self.total += total

    def reject(self) -> None:
        if self.total:
            raise ImportRejected([text for _, text in self.shown], self.total)


def open_csv(path: Path) -> TextIO:
    """A CSV file to import, as text read as it goes: UTF-8, a BOM dropped, line ends left to csv.

    A byte that is not UTF-8 becomes a lone surrogate (surrogateescape) instead of an error raised
    from whichever chunk the decoder had read ahead, so csv_rows names the line that holds it.
    """
    return path.open(newline="", encoding="utf-8-sig", errors="surrogateescape")


def csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str], str | None]]:
    """Each row of a CSV file opened by open_csv (the header too) with its line number, the row's
    last, and None; or a row that cannot be read: the line it starts on, no cells, and the problem.

    Rows that are blank, or only separators, are skipped. Strict, so a quote never closed is named,
    where csv would read the rest of the file into one field.
    """
    reader = csv.reader(lines, strict=True)
    line = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield line + 1, [], _unreadable(error, line + 1, reader.line_num)
            line = reader.line_num
            continue
        line = reader.line_num
        joined = "".join(cells)
        if not joined.strip():  # cheaper than any() per cell
            continue
        if not joined.isascii() and (problem := not_utf8(joined)):
            yield line, [], problem
        else:
            yield line, cells, None


def _unreadable(error: csv.Error, first: int, last: int) -> str:
    """What csv's `error` means for a row from line `first` to line `last`."""
    if str(error) == "unexpected end of data":  # its words for end of file inside quotes
        return "the quote opened on this line is never closed"
    if last > first:
        return f"this is not a CSV row ({error}); it runs on to line {last}: is a quote left open?"
    return f"this is not a CSV row ({error})"


SAVE_AS = "save it as CSV UTF-8"
UTF16 = f"the file must be UTF-8 text, and this one is UTF-16 ({SAVE_AS})"
# A UTF-16 file's byte order mark (FF FE or FE FF), as open_csv reads it.
UTF16_MARKS = ("\udcff\udcfe", "\udcfe\udcff")


def not_utf8(text: str) -> str | None:
    """What is wrong with a line read by open_csv that holds a byte that is not UTF-8; else None."""
    if text.startswith(UTF16_MARKS):
        return UTF16
    try:
        text.encode()
    except UnicodeEncodeError as error:
        byte = ord(text[error.start]) - 0xDC00  # surrogateescape's mapping of bytes 0x80-0xFF
        return f"the file must be UTF-8 text, and byte 0x{byte:02X} on this line is not ({SAVE_AS})"
    return None


def header_names(cells: list[str]) -> list[str]:
    """A header's column names as both imports compare them: trimmed, any case (ASCII only)."""
    return [cell.strip().lower() if cell.isascii() else cell for cell in cells]


def header_problem(cells: list[str]) -> str | None:
    """Why a file whose first row (read by csv_rows) is `cells` cannot be imported, whatever its
    columns; None if it can."""
    # UTF-16 without a byte order mark: its ASCII letters read as UTF-8 each come with a NUL.
    return UTF16 if any("\x00" in cell for cell in cells) else None


def _rows(lines: Iterable[str], problems: _Problems) -> Iterator[tuple[int, str, str, str | None, int]]:
    """Validated (line, reference, name, keyword, credits), noting every bad line in `problems`."""
    rows = csv_rows(lines)
    line, cells, problem = next(rows, (1, [], None))
    problem = problem or header_problem(cells)
    if problem or header_names(cells) != HEADER:
        problems.add(line, problem or f"the header must be {','.join(HEADER)}")
        return
    for line, cells, problem in rows:
        if problem:
            problems.add(line, problem)
            continue
        if len(cells) != len(HEADER):
            problems.add(line, f"expected {len(HEADER)} fields, found {len(cells)}")
            continue
        try:
            yield (
                line,
                accounts.clean_reference(cells[0], new=True),
                accounts.clean_name(cells[1]),
                accounts.clean_keyword(cells[2]),
                ledger.parse_credits(cells[3], allow_zero=True),
            )
        except StoreError as error:
            problems.add(line, str(error))


def _stage(session: Session, rows: Iterator[tuple[Any, ...]]) -> None:
    """Stream rows into the staging table with the driver's bulk path: COPY, or executemany."""
    connection = session.connection()
    _staging.drop(connection, checkfirst=True)  # left by an earlier import on this connection
    _staging.create(connection)
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        if connection.dialect.name == "postgresql":
            with cursor.copy(f"COPY import_rows ({', '.join(_STAGED)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(_STAGED))
            cursor.executemany(f"INSERT INTO temp.import_rows ({', '.join(_STAGED)}) VALUES ({marks})", rows)
    finally:
        cursor.close()
    connection.exec_driver_sql("CREATE INDEX ix_import_rows_reference ON import_rows (reference)")
    connection.exec_driver_sql("ANALYZE import_rows")


def _first(session: Session, query: Any) -> tuple[list[tuple[int, str]], int]:
    """The first MAX_PROBLEMS_SHOWN (line, problem) rows of `query`, and how many it has."""
    counted = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if not counted:  # as in nearly every import: no second pass over the file's rows
        return [], 0
    shown = [tuple(row) for row in session.execute(query.order_by("line").limit(MAX_PROBLEMS_SHOWN))]
    return shown, counted  # type: ignore[return-value]


def _check_duplicates(session: Session, problems: _Problems, rows: Any = None) -> None:
    """Note every row of `rows` (line, reference: the staging table's by default) whose
    reference an earlier line already has."""
    rows = _staging if rows is None else rows
    first = (
        select(rows.c.reference, func.min(rows.c.line).label("first_line"))
        .group_by(rows.c.reference)
        .having(func.count() > 1)
        .subquery()
    )
    repeats = select(
        rows.c.line.label("line"),
        literal("reference ")
        + rows.c.reference
        + literal(" already appears on line ")
        + cast(first.c.first_line, String),
    ).join(first, and_(first.c.reference == rows.c.reference, rows.c.line > first.c.first_line))
    problems.add_found(*_first(session, repeats))


def _lock_existing(session: Session) -> tuple[int, int]:
    """Lock the accounts the file names in id order, as moves lock them; how many there are, and
    how many of them the file changes."""
    changes = (
        Account.name.is_distinct_from(_staging.c.name)
        | Account.keyword.is_distinct_from(_staging.c.keyword)
        | (Account.balance != _staging.c.credits)
    )
    locked = (
        select(Account.id, case((changes, 1), else_=0).label("changed"))
        .join(_staging, _staging.c.reference == Account.reference)
        .order_by(Account.id)
        .with_for_update(of=Account)
        .subquery()
    )
    # Counted in the database: fetching a million locked ids would grow memory with the file.
    existing, changed = session.execute(
        select(func.count(), func.coalesce(func.sum(locked.c.changed), 0))
    ).one()
    return existing, changed


def load(
    session: Session, lines: Iterable[str], actor: str, *, update_existing: bool = False
) -> ImportResult:
    """Create (or with `update_existing`, also overwrite) accounts; credits become the balance.

    Raises ImportRejected, naming the lines, if any row is bad; then nothing has changed.
    """
    problems = _Problems()
    if not update_existing and session.connection().dialect.name == "postgresql":
        created = _copied_into_empty(session, lines, problems, actor)
        if created is not None:
            session.expire_all()
            return ImportResult(created, 0)
    _stage(session, _rows(lines, problems))
    _check_duplicates(session, problems)
    problems.reject()
    if not update_existing:
        existing = select(
            _staging.c.line,
            literal("account ")
            + _staging.c.reference
            + literal(" already exists (use --update to change it)"),
        ).where(_EXISTS)
        problems.add_found(*_first(session, existing))
        problems.reject()
    now = datetime.now(UTC)
    is_sqlite = session.connection().dialect.name == "sqlite"
    with (
        _bulk_settings(session) as alone,
        # Alone on PostgreSQL, the search tables' primary keys are built afterwards too.
        search.maintained_in_bulk(session.connection(), indexed=not alone or is_sqlite) as search_rows,
    ):
        named, updated = _update(session, search_rows, actor, now) if update_existing else (0, 0)
        created = (session.scalar(select(func.count()).select_from(_staging)) or 0) - named
        _create(session, search_rows, actor, now, alone=alone, checked_new=not update_existing)
    _staging.drop(session.connection())
    session.expire_all()
    return ImportResult(created, updated, named - updated)


_EXISTS = select(Account.id).where(Account.reference == _staging.c.reference).exists()
# The columns an import writes of a new account (the others take their defaults): the file's,
# then what every imported account starts as (_starting_as).
_NEW_ACCOUNT = (
    "reference",
    "name",
    "keyword",
    "balance",
    "active",
    "created_at",
    "reminder_enabled",
    "reminder_level",
)


def _starting_as(now: datetime) -> tuple[Any, ...]:
    """An imported account's active, created_at, reminder_enabled and reminder_level."""
    return True, now, False, 0


_ACCOUNT_IDS = "pg_get_serial_sequence('accounts', 'id')::regclass"
_LEDGER_IDS = "pg_get_serial_sequence('ledger_entries', 'id')::regclass"


def _copied_into_empty(session: Session, lines: Iterable[str], problems: _Problems, actor: str) -> int | None:
    """Into an empty PostgreSQL store, COPY the file's rows straight into accounts (the server
    inserts while this process parses), without a staging table, and return how many accounts
    were created; None, the file unread, if the store has accounts or its tables' locks were
    refused (_built_after).

    Each account's id is its line's, counted past the accounts' sequence, so a repeated reference,
    found once all rows are in, is named by its line. A bad row or a repeat rejects the import and
    the savepoint undoes it all: rows, dropped indexes and locks. The reference key is dropped for
    the load and built again once the rows are checked: a repeat would stop the COPY midway, the
    rest of the file unchecked.
    """
    if session.scalar(select(Account.id).limit(1)) is not None:
        return None
    now = datetime.now(UTC)
    connection = session.connection()
    with session.begin_nested(), _bulk_settings(session) as alone:
        if not alone:
            return None
        key = session.scalar(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'accounts'::regclass AND conname = :name"
            ),
            {"name": _REFERENCE_KEY},
        )
        connection.exec_driver_sql(f"ALTER TABLE accounts DROP CONSTRAINT {_REFERENCE_KEY}")
        base = _last_id(session, _ACCOUNT_IDS)
        first_line = base - 1  # the header's line 1 takes no id
        created = 0
        driver = connection.connection.driver_connection
        assert driver is not None
        with search.maintained_in_bulk(connection, indexed=False) as search_rows:
            columns = ("id", *_NEW_ACCOUNT)
            # Binary, each value dumped as its column's type: the text format's dumping of
            # created_at alone took a third of this process's time per row.
            types = _column_types(session, "accounts", columns)
            with (
                driver.cursor() as cursor,
                cursor.copy(f"COPY accounts ({', '.join(columns)}) FROM STDIN (FORMAT binary)") as copy,
            ):
                copy.set_types(types)
                starting_as = _starting_as(now)
                for line, reference, name, keyword, credits in _rows(lines, problems):
                    copy.write_row((first_line + line, reference, name, keyword, credits, *starting_as))
                    created += 1
            # Building the key finds whether a reference repeats; only then are repeats looked for.
            if problems.total or not _key_added(
                session, f"ALTER TABLE accounts ADD CONSTRAINT {_REFERENCE_KEY} {key}"
            ):
                copied = select((Account.id - first_line).label("line"), Account.reference).subquery()
                _check_duplicates(session, problems, copied)
                problems.reject()
            # The ledger is empty and locked too, so its entries are numbered as their accounts are,
            # without a call of its sequence per entry.
            entries_after = _last_id(session, _LEDGER_IDS) - base
            session.execute(_opening_entries(actor, now, after=base, numbered_past=entries_after))
            for table, ids in (("accounts", _ACCOUNT_IDS), ("ledger_entries", _LEDGER_IDS)):
                session.execute(text(f"SELECT setval({ids}, (SELECT max(id) FROM {table}))"))  # None: no-op
            search_rows.add(_CREATED_ALONE, after=base)
    return created


def _column_types(session: Session, table: str, columns: tuple[str, ...]) -> list[int]:
    """The type oids of `columns` of `table`, in their order."""
    found = session.execute(
        text("SELECT attname, atttypid FROM pg_attribute WHERE attrelid = CAST(:table AS regclass)"),
        {"table": table},
    )
    types = {name: oid for name, oid in found}
    return [types[name] for name in columns]


def _create(
    session: Session,
    search_rows: search.BulkSearchRows,
    actor: str,
    now: datetime,
    *,
    alone: bool,
    checked_new: bool,
) -> None:
    """Insert the file's new accounts, each with its opening entry and its search rows.

    `checked_new`: every row was found new (no --update), so none is skipped here: on PostgreSQL
    an account another writer created meanwhile under one of the file's references would be
    skipped silently by a NOT EXISTS (the file's row lost, the count wrong); inserting it fails
    instead, and the import is rejected naming the line.
    """
    new_rows = (
        select(
            _staging.c.reference,
            _staging.c.name,
            _staging.c.keyword,
            _staging.c.credits,
            *map(literal, _starting_as(now)),
        )
        .where(true() if checked_new else ~_EXISTS)
        .order_by(_staging.c.line)
    )
    new_accounts = insert(Account).from_select(list(_NEW_ACCOUNT), new_rows)
    # Ids come from a sequence, so every account inserted now is past the highest seen before.
    highest = session.scalar(select(func.coalesce(func.max(Account.id), 0))) or 0
    if session.connection().dialect.name == "postgresql":
        # The ids come back from the insert itself: no second look-up of a million references.
        created = new_accounts.returning(Account.id, Account.balance).cte("created")
        opening = select(
            created.c.id,
            literal(EntryKind.OPENING.value),
            created.c.balance,
            created.c.balance,
            literal(actor),
            literal(now),
        ).where(created.c.balance > 0)
        statement = insert(LedgerEntry).from_select(_OPENING_COLUMNS, opening)
        if alone:  # no other writer can create an account now
            session.execute(statement)
        else:
            _insert_new(session, statement)
        search_rows.add(_CREATED_ALONE if alone else _CREATED_SHARED, after=highest)
        return
    # SQLite: this transaction holds the write lock, so every id past the highest is ours.
    session.execute(new_accounts)
    search_rows.add(_CREATED_ALONE, after=highest)
    session.execute(_opening_entries(actor, now, after=highest))


def _opening_entries(actor: str, now: datetime, *, after: int, numbered_past: int | None = None) -> Any:
    """The insert of the opening entries of the accounts past id `after`, those with credits;
    with `numbered_past`, each entry's id is its account's plus that, not the ledger sequence's."""
    opening = select(
        Account.id,
        literal(EntryKind.OPENING.value),
        Account.balance,
        Account.balance,
        literal(actor),
        literal(now),
    ).where(Account.id > after, Account.balance > 0)
    if numbered_past is None:
        return insert(LedgerEntry).from_select(_OPENING_COLUMNS, opening)
    numbered = opening.add_columns(Account.id + numbered_past)
    return insert(LedgerEntry).from_select([*_OPENING_COLUMNS, "id"], numbered)


def _last_id(session: Session, sequence: str) -> int:
    """The last id the sequence `sequence` gave; 0 if none."""
    return session.scalar(text(f"SELECT coalesce(pg_sequence_last_value({sequence}), 0)")) or 0


def _key_added(session: Session, statement: str) -> bool:
    """Run `statement`, adding the accounts' reference key; False if a reference repeats."""
    try:
        with session.begin_nested():
            session.connection().exec_driver_sql(statement)
    except IntegrityError as error:
        if getattr(getattr(error.orig, "diag", None), "constraint_name", None) != _REFERENCE_KEY:
            raise
        return False
    return True


def _insert_new(session: Session, statement: Any) -> None:
    """Run the insert of new accounts; if another writer created one of them since they were
    checked, reject the import naming the lines (the insert is undone to its savepoint first)."""
    try:
        with session.begin_nested():
            session.execute(statement)
    except IntegrityError as error:
        if getattr(getattr(error.orig, "diag", None), "constraint_name", None) != _REFERENCE_KEY:
            raise
        taken = select(
            _staging.c.line,
            literal("account ")
            + _staging.c.reference
            + literal(" was created by someone else during the import"),
        ).where(_EXISTS)
        problems = _Problems()
        problems.add_found(*_first(session, taken))
        problems.reject()
        raise


_REFERENCE_KEY = "accounts_reference_key"
_OPENING_COLUMNS = ["account_id", "kind", "credits", "balance_after", "actor", "created_at"]


def _update(
    session: Session, search_rows: search.BulkSearchRows, actor: str, now: datetime
) -> tuple[int, int]:
    """Overwrite existing accounts: audited renames and keyword changes, balances by adjustment.
    Returns how many accounts the file names that exist, and how many of them it changed."""
    existing, changed = _lock_existing(session)
    matched = select(Account.id).join(_staging, _staging.c.reference == Account.reference)
    audited = [
        ("rename", Account.name, _staging.c.name),
        ("keyword", Account.keyword, _staging.c.keyword),
    ]
    for action, old, new in audited:
        session.execute(
            insert(AuditEntry).from_select(
                ["at", "actor", "action", "subject", "account_id", "old_value", "new_value"],
                matched.with_only_columns(
                    literal(now), literal(actor), literal(action), Account.reference, Account.id, old, new
                )
                .where(old.is_distinct_from(new))
                .order_by(_staging.c.line),
            )
        )
    session.execute(
        insert(LedgerEntry).from_select(
            ["account_id", "kind", "credits", "balance_after", "actor", "created_at"],
            matched.with_only_columns(
                Account.id,
                literal(EntryKind.ADJUSTMENT.value),
                _staging.c.credits - Account.balance,
                _staging.c.credits,
                literal(actor),
                literal(now),
            ).where(_staging.c.credits != Account.balance),
        )
    )
    # Names and balances separately: only a changed name or keyword touches the search indexes.
    connection = session.connection()
    _renamed.drop(connection, checkfirst=True)  # left by an earlier import on this connection
    _renamed.create(connection)
    session.execute(
        insert(_renamed).from_select(
            ["id"],
            matched.where(
                Account.name.is_distinct_from(_staging.c.name)
                | Account.keyword.is_distinct_from(_staging.c.keyword)
            ),
        )
    )
    search_rows.remove(_RENAMED)
    # Not synchronized with the session (load expires it all): the ORM would fetch every updated
    # id (RETURNING) to find the objects to refresh, a million ids in memory at 1M rows.
    unsynchronized = {"synchronize_session": False}
    session.execute(
        update(Account)
        .where(Account.reference == _staging.c.reference, Account.id.in_(select(_renamed.c.id)))
        .values(name=_staging.c.name, keyword=_staging.c.keyword),
        execution_options=unsynchronized,
    )
    search_rows.add(_RENAMED)
    _renamed.drop(connection)
    session.execute(
        update(Account)
        .where(Account.reference == _staging.c.reference, Account.balance != _staging.c.credits)
        .values(balance=_staging.c.credits),
        execution_options=unsynchronized,
    )
    return existing, changed


@contextmanager
def _bulk_settings(session: Session) -> Iterator[bool]:
    """On PostgreSQL, give sorts and hashes the memory of a bulk load, for this transaction only.
    Into an empty store, the indexes are built once the rows are in (_built_after, and
    _built_after_sqlite).
    Yields whether the import writes accounts alone (always on SQLite, which has one writer).

    The trigram indexes keep their 64 kB pending lists (migration 0003) during an import: their
    storage parameter overrides a session's gin_pending_list_limit, changing it takes ACCESS
    EXCLUSIVE on the index until commit (searches and writers of accounts then wait for the
    import), and a long list would be scanned by every search while the import runs.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        built_after = _built_after_sqlite(session)
        yield True
        for definition in built_after or []:
            connection.exec_driver_sql(definition)
        return
    # Before any account id is taken (maintained_in_bulk takes it again, for other bulk writers).
    search.hold_off_reference_folds(connection)
    # Searches plan each statement for its values (store.db); the foreign-key checks of a bulk
    # insert run one prepared statement per row, and re-planning it each time cost 10x the check.
    connection.exec_driver_sql("SET LOCAL plan_cache_mode = auto")
    connection.exec_driver_sql(f"SET LOCAL work_mem = '{BULK_WORK_MEM}'")
    connection.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{BULK_WORK_MEM}'")
    # The search rows' statements expand table functions estimated at 1,000 rows a call, which
    # priced them past jit_above_cost: compiling took 0.2 s and bought nothing.
    connection.exec_driver_sql("SET LOCAL jit = off")
    built_after = _built_after(session)
    yield built_after is not None
    for definition in built_after or []:
        connection.exec_driver_sql(definition)


class _NotEmpty(Exception):
    pass


# The tables an import into an empty store writes alone (_built_after): their indexes that no
# constraint owns (so no foreign key depends on them), each as the statement that creates it again,
# options included.
_ALONE = ("accounts", "ledger_entries", "search_words", "search_pairs")
_SECONDARY_INDEXES = text(
    """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
    FROM pg_index AS i
    WHERE i.indrelid IN ('accounts'::regclass, 'ledger_entries'::regclass)
        AND NOT EXISTS (SELECT FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
    ORDER BY 1"""
)
# The search tables' primary keys: nothing refers to them, and sorted rows cost more to insert
# into them than the keys cost to build (a million accounts' words: 11.3 s against 7.3 + 2.6 s).
_SEARCH_KEYS = text(
    """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
    FROM pg_constraint
    WHERE conrelid IN ('search_words'::regclass, 'search_pairs'::regclass) AND contype = 'p'
    ORDER BY 1"""
)
# The ledger's foreign keys to accounts (added again, each checks every entry in one join, where
# the constraint's trigger looked up each account in turn) and its unique keys that no foreign key
# refers to (the idempotency key's: every imported entry inserted a NULL into it), each as the
# statement that adds it again.
_LEDGER_CONSTRAINTS = text(
    """SELECT conname, 'ALTER TABLE ledger_entries ADD CONSTRAINT ' || quote_ident(conname) || ' '
        || pg_get_constraintdef(oid)
    FROM pg_constraint AS c
    WHERE conrelid = 'ledger_entries'::regclass
        AND (contype = 'f' AND confrelid = 'accounts'::regclass
             OR contype = 'u' AND NOT EXISTS (
                SELECT FROM pg_constraint AS f WHERE f.contype = 'f' AND f.conindid = c.conindid))
    ORDER BY 1"""
)


def _built_after(session: Session) -> list[str] | None:
    """Into an empty store, drop the secondary indexes of accounts and ledger_entries, the
    ledger's constraints (_LEDGER_CONSTRAINTS) and the search tables' primary keys for the import, and
    return the statements that build them again; else None, and the import maintains them row by
    row.

    Building an index once the rows are in sorts them once, as pg_restore does: at a million
    accounts, inserting into eleven indexes took 24 s of the database's time and merging the
    trigram pending lists 4.7 s, against 3.5 s for the rows and 8.5 s for the builds. Dropping an
    index takes an ACCESS EXCLUSIVE lock on its table until the import commits, so the locks are
    taken only if no other transaction holds any lock on these tables (NOWAIT: nobody queues behind
    a waiting import, and two imports cannot deadlock upgrading their locks), and only while all
    of them are empty: nobody can be reading an account yet, and other writers wait for the import
    to end.
    """
    if session.scalar(select(Account.id).limit(1)) is not None:
        return None
    try:
        with session.begin_nested():  # a lock refused, or a table no longer empty, is let go
            session.execute(text(f"LOCK TABLE {', '.join(_ALONE)} IN ACCESS EXCLUSIVE MODE NOWAIT"))
            if not _empty(session):
                raise _NotEmpty
    except (OperationalError, _NotEmpty):
        return None
    indexes = session.execute(_SECONDARY_INDEXES).all()
    for name, _ in indexes:
        session.execute(text(f"DROP INDEX {name}"))
    constraints = session.execute(_LEDGER_CONSTRAINTS).all()
    for name, _ in constraints:
        session.execute(text(f'ALTER TABLE ledger_entries DROP CONSTRAINT "{name}"'))
    keys = session.execute(_SEARCH_KEYS).all()
    for table, name, _ in keys:
        session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    return [
        *(definition for _, definition in [*indexes, *constraints]),
        *(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition in keys),
    ]


# SQLite's indexes of accounts and ledger_entries that no constraint owns (theirs have no SQL).
_SQLITE_SECONDARY_INDEXES = text(
    """SELECT name, sql FROM sqlite_master
    WHERE type = 'index' AND tbl_name IN ('accounts', 'ledger_entries') AND sql IS NOT NULL
    ORDER BY 1"""
)


def _built_after_sqlite(session: Session) -> list[str] | None:
    """Into an empty store, drop the secondary indexes of accounts and ledger_entries for the
    import, and return the statements that build them again; else None.

    As on PostgreSQL (_built_after), building an index once the rows are in sorts them once,
    where inserting accounts in id order put each entry of the name indexes at a random place.
    The import holds SQLite's write lock, so nobody else writes meanwhile, and readers see the
    schema as it was committed until the import commits with its indexes built again.
    """
    if not _empty(session):
        return None
    indexes = session.execute(_SQLITE_SECONDARY_INDEXES).all()
    for name, _ in indexes:
        session.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _, definition in indexes]


def _empty(session: Session) -> bool:
    """Whether every table an import into an empty store writes alone is empty (a store whose
    accounts were emptied, by TRUNCATE say, may keep search rows)."""
    return not any(session.scalar(text(f"SELECT EXISTS (SELECT 1 FROM {table})")) for table in _ALONE)
