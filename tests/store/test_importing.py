"""The streamed account import: bad lines named however large the file, flat memory, --update."""

from __future__ import annotations

import csv
import io
import itertools
import re
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from slack_sdk import WebClient
from sqlalchemy import delete, event, func, select, text
from sqlalchemy.exc import IntegrityError

from bot.config import Config
from bot.scheduler import FOLD_REFERENCES_JOB, fold_reference_grams, start_scheduler
from store import accounts, audit, db, importing, ledger, search
from store.errors import StoreError
from store.models import Account, LedgerEntry, search_fragments, search_pairs, search_words
from tests.conftest import balance_of, make_account

HEADER = "reference,name,keyword,credits\n"


def good_lines(count: int, first: int = 1) -> Iterator[str]:
    for number in range(first, first + count):
        yield f"BN{number:08d},Acme Alerts {number},KW{number % 97},{number % 1000}\n"


def problem(parse, raw: str, **options) -> str:
    """What the store says about a bad value, wherever the wording lives."""
    with pytest.raises(StoreError) as error:
        parse(raw, **options)
    return str(error.value)


def count_accounts(session_factory) -> int:
    with session_factory.begin() as session:
        return session.scalar(select(func.count()).select_from(Account))


def test_bad_rows_deep_in_a_large_file_are_named_by_line_and_nothing_is_imported(session_factory):
    # A million rows, streamed from a generator: line numbers come from the CSV reader as it goes.
    lines = itertools.chain(
        [HEADER, "BN99999991,,,5\n"],  # line 2: blank name
        good_lines(500_000),  # lines 3-500,002
        ['BN99999992,"Two\n', 'lines",,5\n'],  # lines 500,003-500,004: one row, a line break in its name
        good_lines(499_996, first=500_001),  # lines 500,005-1,000,000
        ["BN00000007,Again,,1\n", "BN99999993,Last,,-1\n"],  # lines 1,000,001 (first on line 9) and 1,000,002
    )

    with pytest.raises(importing.ImportRejected) as rejected, session_factory.begin() as session:
        importing.load(session, lines, "cli")

    message = str(rejected.value)
    assert message.startswith("Nothing imported: 4 problem(s).")
    assert f"line 2: {problem(accounts.clean_name, '')}" in message
    assert "line 500004: " + problem(accounts.clean_name, "Two\nlines") in message
    assert "line 1000001: reference BN00000007 already appears on line 9" in message
    assert f"line 1000002: {problem(ledger.parse_credits, '-1', allow_zero=True)}" in message
    assert count_accounts(session_factory) == 0


def test_a_file_of_only_bad_rows_shows_the_first_hundred_and_counts_the_rest(session_factory):
    lines = [HEADER, *(f"BN{n:08d},Name {n},,lots\n" for n in range(1, 1_001))]

    with pytest.raises(importing.ImportRejected) as rejected, session_factory.begin() as session:
        importing.load(session, lines, "cli")

    message = str(rejected.value)
    assert message.startswith("Nothing imported: 1,000 problem(s).")
    assert "line 101:" in message and "line 102:" not in message
    assert message.endswith("... and 900 more")


def renamed_lines(count: int) -> Iterator[str]:
    """good_lines(count) with every name and balance changed."""
    for number in range(1, count + 1):
        yield f"BN{number:08d},Acme Renamed {number},KW{number % 97},{number % 1000 + 1}\n"


def peak_memory(session_factory, rows: int, lines=good_lines, **options) -> int:
    """Peak bytes Python allocated while importing `rows` generated rows."""
    tracemalloc.start()
    try:
        with session_factory.begin() as session:
            importing.load(
                session, (line for part in ([HEADER], lines(rows)) for line in part), "cli", **options
            )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_import_memory_stays_flat_as_the_file_grows(session_factory):
    small = peak_memory(session_factory, 2_000)
    with session_factory.begin() as session:
        session.execute(LedgerEntry.__table__.delete())
        session.execute(Account.__table__.delete())

    large = peak_memory(session_factory, 20_000)

    assert count_accounts(session_factory) == 20_000
    assert large < small * 1.5, (small, large)


def test_update_memory_stays_flat_as_the_file_grows(session_factory):
    peaks = []
    for rows, first in ((2_000, 1), (20_000, 2_001)):
        with session_factory.begin() as session:  # the accounts the update changes
            importing.load(session, [HEADER, *good_lines(rows - first + 1, first)], "cli")
        peaks.append(peak_memory(session_factory, rows, renamed_lines, update_existing=True))

    small, large = peaks
    with session_factory.begin() as session:
        assert accounts.by_reference(session, "BN00020000").name == "Acme Renamed 20000"
    assert large < small * 1.5, (small, large)


def test_import_refuses_existing_accounts_by_line_without_update(session_factory):
    make_account(session_factory, "BN00000003", "Acme Alerts 3", credits=10)

    with pytest.raises(importing.ImportRejected) as rejected, session_factory.begin() as session:
        importing.load(session, [HEADER, *good_lines(5)], "cli")

    assert str(rejected.value) == (
        "Nothing imported: 1 problem(s).\n"
        "line 4: account BN00000003 already exists (use --update to change it)"
    )
    assert count_accounts(session_factory) == 1


def test_update_audits_renames_and_keywords_and_adjusts_balances_through_the_ledger(session_factory):
    renamed = make_account(session_factory, "BN00000001", "Old Name", credits=500, keyword="OLD")
    same = make_account(session_factory, "BN00000002", "Acme Alerts 2", credits=2, keyword="KW2")
    lines = [
        HEADER,
        "BN00000001,New Name,,800\n",
        "bn00000002,Acme Alerts 2,KW2,2\n",
        "BN00000003,Fresh,F,0\n",
    ]

    with session_factory.begin() as session:
        result = importing.load(session, lines, "cli", update_existing=True)

    assert result == importing.ImportResult(created=1, updated=1, unchanged=1)
    with session_factory.begin() as session:
        trail = [
            (e.action, e.old_value, e.new_value, e.actor) for e in audit.entries_for(session, renamed.id)
        ]
        assert trail == [("rename", "Old Name", "New Name", "cli"), ("keyword", "OLD", None, "cli")]
        assert audit.entries_for(session, same.id) == []
        entries = session.execute(
            select(LedgerEntry.account_id, LedgerEntry.kind, LedgerEntry.credits, LedgerEntry.balance_after)
            .where(LedgerEntry.actor == "cli")
            .order_by(LedgerEntry.id)
        ).all()
        fresh = session.scalar(select(Account).where(Account.reference == "BN00000003"))
        assert (fresh.name, fresh.keyword, fresh.balance) == ("Fresh", "F", 0)
    assert entries == [(renamed.id, "adjustment", 300, 800)]
    assert balance_of(session_factory, "BN00000001") == 800
    assert balance_of(session_factory, "BN00000002") == 2


def test_imported_accounts_are_found_by_search(session_factory):
    with session_factory.begin() as session:
        importing.load(session, [HEADER, *good_lines(300)], "cli")
    with session_factory.begin() as session:
        page = accounts.search(session, "alerts 12")
        assert [a.reference for a in page.accounts][:3] == ["BN00000012", "BN00000120", "BN00000121"]
        renamed = importing.load(
            session, [HEADER, "BN00000012,Renamed Zebra,,1\n"], "cli", update_existing=True
        )
        assert renamed.updated == 1
        assert [a.reference for a in accounts.search(session, "zebra").accounts] == ["BN00000012"]
        assert [a.reference for a in accounts.search(session, "alerts 12").accounts][:2] == [
            "BN00000120",
            "BN00000121",
        ]


# Names whose words are easy to get wrong: runs of spaces, repeated words and word pairs, a keyword
# that repeats a word or a pair of the name, quotes and backslashes (SQLite splits through JSON),
# non-ASCII letters.
SEARCH_TRICKY = [
    ("EX0000001", "Acme  Alerts 7", "ACME"),
    ("EX0000002", "Acme Acme", None),
    ("EX0000003", "Émile Zoë Ltd", "ÉTÉ"),
    ("EX0000004", 'O\'Brien "Q" A\\B, Inc', "A,B"),
    ("EX0000005", "Northwind", "NORTHWIND"),
    ("EX0000006", "x", None),
    ("EX0000008", "Acme Alerts Acme Alerts", "ACME ALERTS"),
    ("ETE2026AB", "Été Camp", None),  # a reference's trigrams, some with letters
    ("EX0000009", "Zenith", "ZEN ITH"),  # pairs in its keyword only
]
# Every kind of change --update makes: the name, the keyword, both, a keyword removed, nothing,
# and a new account.
SEARCH_RENAMED = [
    ("EX0000001", "Acme Alerts 8", "ACME"),
    ("EX0000002", "Acme Acme", "NEW KW"),
    ("EX0000003", "Zoë Émile", None),
    ("EX0000004", 'O\'Brien "Q" A\\B, Inc', None),
    ("EX0000005", "Northwind", "NORTHWIND"),
    ("EX0000007", "Fresh Acme", None),
    ("EX0000008", "Blue Team Blue Team", "blue team"),
]


def search_rows(session) -> tuple[set, set, set]:
    """Every search_words row and every search_pairs row, by account reference, and every
    search_fragments row."""
    words, pairs = (
        session.execute(
            select(Account.reference, *table.c[:2]).join(table, table.c.account_id == Account.id)
        ).all()
        for table in (search_words, search_pairs)
    )
    return set(words), set(session.execute(select(search_fragments)).all()), set(pairs)


def as_csv(rows) -> list[str]:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([("reference", "name", "keyword", "credits")])
    csv.writer(out, lineterminator="\n").writerows((r, n, k or "", 5) for r, n, k in rows)
    return out.getvalue().splitlines(keepends=True)


def test_an_import_writes_the_search_rows_the_triggers_write_for_new_and_renamed_accounts(session_factory):
    # One account at a time, through the triggers: created, then renamed.
    with session_factory.begin() as session:
        for reference, name, keyword in SEARCH_TRICKY:
            accounts.create(session, reference, name, keyword)
    with session_factory.begin() as session:
        created_by_triggers = search_rows(session)
        for reference, name, keyword in SEARCH_RENAMED:
            account = session.scalar(select(Account).where(Account.reference == reference))
            if account is None:
                accounts.create(session, reference, name, keyword)
            else:
                account.name, account.keyword = name, keyword
    with session_factory.begin() as session:
        renamed_by_triggers = search_rows(session)
        session.execute(delete(Account))  # its trigger removes the words; fragments stay by design
        assert search_rows(session)[0] == search_rows(session)[2] == set()
        session.execute(delete(search_fragments))

    # The same through imports, which keep the search tables in bulk; on PostgreSQL the references'
    # trigrams once `serve` has folded them in.
    with session_factory.begin() as session:
        importing.load(session, as_csv(SEARCH_TRICKY), "cli")
    with session_factory.begin() as session:
        search.fold_reference_grams(session)
    with session_factory.begin() as session:
        assert search_rows(session) == created_by_triggers
        result = importing.load(session, as_csv(SEARCH_RENAMED), "cli", update_existing=True)
        assert result == importing.ImportResult(created=1, updated=5, unchanged=1)
    with session_factory.begin() as session:
        search.fold_reference_grams(session)
    with session_factory.begin() as session:
        assert search_rows(session) == renamed_by_triggers
    assert renamed_by_triggers != created_by_triggers
    assert ("EX0000002", "kw", "acme acme") in renamed_by_triggers[0]
    assert ("EX0000001", "7", "acme alerts 7") not in renamed_by_triggers[0]
    assert {
        ("EX0000002", "acme acme", "acme acme"),
        ("EX0000002", "new kw", "acme acme"),
    } <= renamed_by_triggers[2]


def test_accounts_written_after_an_import_in_its_transaction_get_search_rows_from_the_triggers(
    session_factory,
):
    # The import turns the triggers aside for itself only: later writes still keep search.
    with session_factory.begin() as session:
        importing.load(session, [HEADER, *good_lines(3)], "cli")
        accounts.create(session, "EX0000009", "Zebra Crossing")
        accounts.by_reference(session, "BN00000001").name = "Quokka Parade"
    with session_factory.begin() as session:
        assert [a.reference for a in accounts.search(session, "zebra").accounts] == ["EX0000009"]
        assert [a.reference for a in accounts.search(session, "quokka").accounts] == ["BN00000001"]
        assert ("BN00000001", "alerts", "acme alerts 1") not in search_rows(session)[0]
        assert ("BN00000001", "quokka parade", "quokka parade") in search_rows(session)[2]


def same_meaning(definition: str) -> str:
    """An index definition without its casts and parentheses: PostgreSQL shows a predicate built
    again from its own text (an import into an empty store rebuilds the indexes) with the casts
    moved, `(ARRAY['a'::character varying])::text[]` becoming `ARRAY[('a'::character varying)::text]`."""
    return re.sub(r"::[a-z ]+(\[\])?|[()]", "", definition)


def schema_of(session) -> set:
    """Every index and constraint definition of the store's tables, as the database shows them."""
    if session.get_bind().dialect.name == "sqlite":
        return set(session.execute(text("SELECT type, name, sql FROM sqlite_master WHERE type <> 'table'")))
    indexes = [
        (table, same_meaning(definition))
        for table, definition in session.execute(
            text("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'")
        )
    ]
    constraints = session.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace"
        )
    )
    return set(indexes) | set(constraints)


def test_an_import_into_an_empty_table_leaves_every_index_and_constraint_as_it_was(session_factory):
    # It drops the secondary indexes of accounts and the ledger (on PostgreSQL also the ledger's
    # foreign key) to build them once the rows are in; into a table with accounts it keeps them
    # and maintains them.
    with session_factory.begin() as session:
        before = schema_of(session)
    with session_factory.begin() as session:
        importing.load(session, [HEADER, *good_lines(50)], "cli")
    with session_factory.begin() as session:
        assert schema_of(session) == before
        importing.load(session, [HEADER, *good_lines(5, first=51)], "cli")
    with session_factory.begin() as session:
        assert schema_of(session) == before
        if session.get_bind().dialect.name == "sqlite":  # every index built again holds every row
            assert session.scalar(text("PRAGMA integrity_check")) == "ok"
        assert [a.reference for a in accounts.search(session, "alerts 53").accounts] == ["BN00000053"]
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 55
    assert count_accounts(session_factory) == 55


def test_a_rejected_first_import_leaves_nothing_behind_even_if_its_transaction_commits(session_factory):
    # Into an empty PostgreSQL store the rows are copied into accounts (its reference key
    # dropped) before they are checked, each account's id counted from its line: a rejection
    # undoes the rows, the dropped indexes and constraints, and names the lines.
    with session_factory.begin() as session:
        before = schema_of(session)
    lines = [
        HEADER,
        *good_lines(3),  # lines 2-4
        "\n",  # line 5: blank, skipped
        'BN99999991,"Two\n',  # lines 6-7: one row, a line break in its name
        'lines",,5\n',
        "BN00000002,Again,,1\n",  # line 8: first on line 3
        "BN99999992,,,1\n",  # line 9: blank name
    ]

    # The rejection is caught inside the caller's transaction, which commits what is left of it.
    with session_factory.begin() as session, pytest.raises(importing.ImportRejected) as rejected:
        importing.load(session, lines, "cli")

    two_lines = problem(accounts.clean_name, "Two\nlines")
    assert str(rejected.value) == (
        "Nothing imported: 3 problem(s).\n"
        f"line 7: {two_lines}\n"
        "line 8: reference BN00000002 already appears on line 3\n"
        f"line 9: {problem(accounts.clean_name, '')}"
    )
    assert count_accounts(session_factory) == 0
    with session_factory.begin() as session:
        assert schema_of(session) == before
        assert search_rows(session) == (set(), set(), set())
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
        importing.load(session, [HEADER, *good_lines(3)], "cli")
    with session_factory.begin() as session:
        assert [a.reference for a in accounts.search(session, "alerts 2").accounts] == ["BN00000002"]


def test_a_first_import_whose_only_problems_are_repeated_references_names_each_repeat(session_factory):
    # Into an empty PostgreSQL store, building the reference key is what finds the repeats.
    with session_factory.begin() as session:
        before = schema_of(session)
    lines = [HEADER, *good_lines(3), "BN00000001,Again,,1\n", "\n", "BN00000003,Thrice,,1\n"]

    with pytest.raises(importing.ImportRejected) as rejected, session_factory.begin() as session:
        importing.load(session, lines, "cli")

    assert str(rejected.value) == (
        "Nothing imported: 2 problem(s).\n"
        "line 5: reference BN00000001 already appears on line 2\n"
        "line 7: reference BN00000003 already appears on line 4"
    )
    assert count_accounts(session_factory) == 0
    with session_factory.begin() as session:
        assert schema_of(session) == before


# Another writer creating an account while a PostgreSQL import runs (SQLite has one writer at a
# time, so there it waits for the import's transaction by construction). Into an empty store,
# once the import holds the tables the writer waits for it to commit; into a store with accounts
# only rows are locked, and the writer goes on. Between the import's check of the file and its
# insert, the writer goes first.
@pytest.fixture
def postgres_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("concurrent writers need PostgreSQL")


# The first statement after the file is checked (into an empty store: before it is read).
BEFORE_THE_LOCKS = "SET LOCAL plan_cache_mode"
# The opening entries' insert: the accounts are being inserted in the same statement or, into an
# empty store, were copied in by this transaction.
AT_THE_OPENING_ENTRIES = "INSERT INTO ledger_entries"


@contextmanager
def another_writer(engine, when: str, write: Callable[[], None]) -> Iterator[list]:
    """Run `write` in a thread, on a connection of its own, just before the import sends its
    first statement starting with `when`; yields the writer's outcome, there once it has ended."""
    outcome: list = []
    threads: list[threading.Thread] = []

    def run() -> None:
        try:
            write()
            outcome.append("written")
        except Exception as error:  # noqa: BLE001 - the test looks at what it was
            outcome.append(error)

    def before(conn, cursor, statement, *args) -> None:
        if not threads and when in statement and "EX0000" not in str(args[0]):
            threads.append(threading.Thread(target=run))
            threads[0].start()
            threads[0].join(timeout=2)  # it is done, or it waits for the import

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield outcome
    finally:
        event.remove(engine, "before_cursor_execute", before)
        for thread in threads:
            thread.join(timeout=30)
    assert threads, f"the import never sent {when}"


def create_account(session_factory, reference: str, name: str) -> Callable[[], None]:
    def write() -> None:
        with session_factory.begin() as session:
            accounts.create(session, reference, name)

    return write


def words_of(session_factory, reference: str) -> list[str]:
    with session_factory.begin() as session:
        return sorted(
            session.scalars(
                select(search_words.c.word)
                .join(Account, Account.id == search_words.c.account_id)
                .where(Account.reference == reference)
            )
        )


@pytest.mark.parametrize("store", ["empty", "with accounts"])
def test_another_writer_creating_an_account_during_an_import_and_the_import_are_both_kept(
    postgres_only, engine, session_factory, store
):
    if store == "with accounts":
        make_account(session_factory, "EX0000001", "Already Here")

    with (
        another_writer(
            engine, AT_THE_OPENING_ENTRIES, create_account(session_factory, "EX0000009", "Someone Else")
        ) as outcome,
        session_factory.begin() as session,
    ):
        result = importing.load(session, [HEADER, *good_lines(5)], "cli")

    assert outcome == ["written"]
    assert result == importing.ImportResult(created=5, updated=0)
    assert count_accounts(session_factory) == (7 if store == "with accounts" else 6)
    assert words_of(session_factory, "EX0000009") == ["else", "someone"]
    assert words_of(session_factory, "BN00000003") == ["3", "acme", "alerts", "kw3"]
    with session_factory.begin() as session:
        assert [a.reference for a in accounts.search(session, "someone").accounts] == ["EX0000009"]


def test_another_writer_creating_one_of_the_files_accounts_during_a_first_import_is_refused(
    postgres_only, engine, session_factory
):
    # The import holds the empty tables, so the file's account is in first: the writer is told
    # the reference is taken. (Into a store with accounts the writer goes first: next test.)
    with (
        another_writer(
            engine, AT_THE_OPENING_ENTRIES, create_account(session_factory, "BN00000002", "Someone Else")
        ) as outcome,
        session_factory.begin() as session,
    ):
        importing.load(session, [HEADER, *good_lines(5)], "cli")

    assert len(outcome) == 1 and isinstance(outcome[0], IntegrityError)
    assert "accounts_reference_key" in str(outcome[0])
    assert words_of(session_factory, "BN00000002") == ["2", "acme", "alerts", "kw2"]


@pytest.mark.parametrize("store", ["empty", "with accounts"])
def test_an_import_is_rejected_by_line_when_another_writer_created_one_of_its_accounts_after_the_check(
    postgres_only, engine, session_factory, store
):
    # The writer's account is in first: an insert that skipped it would lose the file's row and
    # count it as created; the import is refused instead, naming the line. (Into an empty store
    # the import takes its locks before it reads the file, so there the writer's account is
    # found like any existing one.)
    if store == "with accounts":
        make_account(session_factory, "EX0000001", "Already Here")

    with (
        pytest.raises(importing.ImportRejected) as rejected,
        another_writer(
            engine, BEFORE_THE_LOCKS, create_account(session_factory, "BN00000002", "Someone Else")
        ) as outcome,
        session_factory.begin() as session,
    ):
        importing.load(session, [HEADER, *good_lines(5)], "cli")

    assert outcome == ["written"]
    assert str(rejected.value) == (
        "Nothing imported: 1 problem(s).\n"
        + (
            "line 3: account BN00000002 already exists (use --update to change it)"
            if store == "empty"
            else "line 3: account BN00000002 was created by someone else during the import"
        )
    )
    assert count_accounts(session_factory) == (2 if store == "with accounts" else 1)
    assert words_of(session_factory, "BN00000002") == ["else", "someone"]


def found(session_factory, needle: str) -> list[str]:
    with session_factory.begin() as session:
        return [account.name for account in accounts.search(session, needle).accounts]


def test_imported_accounts_are_found_by_two_characters_of_their_reference_before_and_after_the_fold(
    database_url, session_factory
):
    # One or two characters are answered from the vocabulary's reference trigrams where it covers
    # every account. An import adds none on PostgreSQL (a tenth of its time at 100k): its accounts
    # are counted the general way until `serve` folds their trigrams in.
    make_account(session_factory, "EX0000001", "Alpha")  # one at a time: its trigrams come with it
    with session_factory.begin() as session:
        importing.load(session, as_csv([("QZ0000002", "Beta", None), ("BN0000003", "Gamma", None)]), "cli")
    assert (found(session_factory, "qz"), found(session_factory, "x0"), found(session_factory, "qx")) == (
        ["Beta"],
        ["Alpha"],
        [],
    )
    with session_factory.begin() as session:
        covered = search.fold_reference_grams(session)
        grams = set(
            session.scalars(select(search_fragments.c.fragment).where(search_fragments.c.kind == "r"))
        )
    assert covered == (3 if database_url.startswith("postgresql") else 0)
    assert {"qz0", "ex0", "bn0"} <= grams
    assert (found(session_factory, "qz"), found(session_factory, "x0"), found(session_factory, "qx")) == (
        ["Beta"],
        ["Alpha"],
        [],
    )
    with session_factory.begin() as session:  # nothing new since
        assert search.fold_reference_grams(session) == 0


def test_a_fold_leaves_an_import_at_work_to_the_next_fold(database_url, session_factory):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's imports add the trigrams themselves")
    with session_factory.begin() as session:
        importing.load(session, as_csv([("QZ0000001", "Beta", None)]), "cli")
        # The import's ids are taken but not committed: covering them now would cover them empty.
        with session_factory.begin() as other:
            assert search.fold_reference_grams(other) is None
    with session_factory.begin() as session:
        assert search.fold_reference_grams(session) == 1
    assert found(session_factory, "qz") == ["Beta"]


def test_serve_folds_imported_references_every_30_seconds(session_factory, caplog):
    scheduler = start_scheduler(Config(), session_factory, WebClient(token="xoxb-test"))
    try:
        assert scheduler.get_job(FOLD_REFERENCES_JOB).trigger.interval.total_seconds() == 30
    finally:
        scheduler.shutdown(wait=False)
    with session_factory.begin() as session:
        importing.load(session, as_csv([("QZ0000001", "Beta", None)]), "cli")
    fold_reference_grams(session_factory)
    with session_factory.begin() as session:
        assert search.fold_reference_grams(session) == 0  # the scheduled run covered it
    fold_reference_grams(
        db.make_session_factory(db.make_engine("postgresql+psycopg://postgres@127.0.0.1:1/gone"))
    )
    assert "could not fold the references into the search vocabulary: OperationalError" in caplog.text
