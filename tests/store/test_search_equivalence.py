"""Account search against a plain scan of every account, over generated names and typed text.

Whichever path a search takes (search_words, search_pairs, the references, the substring
indexes), what it lists and counts must be exactly what this file's `scan` finds.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from store import db, forecast, overview, search
from store.models import Account, EntryKind, LedgerEntry, search_fragments, search_pairs, search_words
from store.search import COUNT_LIMIT
from tests.conftest import POSTGRES_URL
from tests.databases import scratch_postgresql

NOW = datetime(2026, 11, 29, tzinfo=UTC)
# Lower-case letters only outside ASCII, so that names sort alike on both databases: SQLite's
# lower() folds ASCII alone (scan() folds a search as each database does).
WORDS = ["acme", "alerts", "eu", "support", "supportive", "north", "northwind", "café", "ünï", "al", "7x"]
ODD = ["50%", "a_b", "x/y", "o'brien", '"q"', "back\\slash", "%", "_"]


@dataclass(frozen=True)
class Row:
    id: int
    reference: str
    name: str
    keyword: str | None
    active: bool
    balance: int


def generated(count: int, seed: int, vocabulary: list[str] = WORDS) -> list[Row]:
    """Names as customers write them: a few shared words, numbers, odd characters, double spaces."""
    rng = random.Random(seed)
    rows = []
    for n in range(1, count + 1):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.4:
            words.append(str(rng.randint(1, 99)))
        if rng.random() < 0.1:
            words.insert(rng.randrange(len(words) + 1), rng.choice(ODD))
        name = ("  " if rng.random() < 0.05 else " ").join(words)
        if rng.random() < 0.3:
            name = name.title() if name.isascii() else name
        keyword = rng.choice([None, None, "NW", "ACME", "SUPPORT 7", "BN0001"])
        # References like the bench's, and some that hold others: "BN00012" is in "XBN000123".
        reference = rng.choice([f"BN{n:05d}", f"XBN{n:05d}3", f"AL{n}", f"{n}EU"])
        rows.append(Row(n, reference, name[:50], keyword, rng.random() < 0.9, rng.choice([0, 5])))
    return rows


ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def scan(
    rows: list[Row],
    query: str,
    *,
    sqlite=False,
    include_inactive=False,
    exclude_id=None,
    with_credits_only=False,
):
    """What a search must list: the exact reference first, then every match by lower-case name and id.

    Letters are folded as the database's lower() folds them: SQLite's folds ASCII letters alone.
    """

    def fold(text: str) -> str:
        return text.translate(ASCII_LOWER) if sqlite else text.lower()

    needle, reference = fold(query.strip()), query.strip().upper()
    kept = [
        row
        for row in rows
        if (include_inactive or row.active)
        and row.id != exclude_id
        and (not with_credits_only or row.balance > 0)
        and any(needle in fold(field or "") for field in (row.reference, row.name, row.keyword))
    ]
    exact = [row.id for row in kept if row.reference == reference]
    return exact + [
        row.id for row in sorted(kept, key=lambda row: (row.name.lower(), row.id)) if row.id not in exact
    ]


def needles(rows: list[Row], seed: int) -> list[str]:
    """What people type: words, word starts and ends, adjacent words, a word and a number,
    references whole and in part, odd characters, nothing, and too much."""
    rng = random.Random(seed)
    typed = [
        "",
        " ",
        "a",
        "7",
        "acme",
        "ACME",
        "alerts 7",
        "Alerts 7",
        "acme alerts",
        "acme alerts 7",
        "support 7",
    ]
    typed += ["north wind", "al 7", "eu 1", "%", "_", "/", "50%", "a_b", "x/y", "%_/", "ünï", "ÜNÏ", "café 1"]
    typed += [
        "bn0001",
        "BN00012",
        "xbn",
        "acme  alerts",
        " acme ",
        "x" * 300,
        "acme " * 30,
        "zzzq",
        'q"',
        "'",
    ]
    for row in rng.sample(rows, 40):
        words = [word for word in row.name.lower().split(" ") if word]
        first = rng.randrange(len(words))
        typed += [
            row.reference,
            row.reference.lower(),
            row.reference[1:-1],
            words[first][:3],
            words[first][1:],
        ]
        typed.append(" ".join(words[first:]))
        if first + 1 < len(words):
            typed.append(words[first] + " " + words[first + 1][: rng.randint(1, len(words[first + 1]))])
    return list(dict.fromkeys(typed))


def store(connection, rows: list[Row]) -> None:
    """Insert the rows in one statement, each balance with its opening ledger entry."""
    connection.execute(insert(Account), [{**row.__dict__, "created_at": NOW} for row in rows])
    opening = [
        {
            "account_id": row.id,
            "kind": EntryKind.OPENING,
            "credits": row.balance,
            "balance_after": row.balance,
            "actor": "test",
            "created_at": NOW,
        }
        for row in rows
        if row.balance
    ]
    connection.execute(insert(LedgerEntry), opening)


@pytest.fixture
def rows(session_factory) -> list[Row]:
    """400 generated accounts, stored."""
    rows = generated(400, seed=15)
    with session_factory.begin() as session:
        store(session, rows)
    return rows


def every_page(session, rows: list[Row], query: str, limit: int, **filters) -> tuple[list[int], list[str]]:
    """All matches page by page, as someone clicking Next sees them, and each page's count; each
    page's accounts are checked against `rows`, their forecasts against forecast.for_accounts."""
    ids: list[int] = []
    counts: list[str] = []
    offset = 0
    stored = {row.id: row for row in rows}
    while True:
        page = search.search(session, query, offset=offset, limit=limit, forecasts_at=NOW, **filters)
        listed = [account.id for account in page.accounts]
        shown = [(account.id, account.reference, account.name, account.balance) for account in page.accounts]
        assert shown == [(n, stored[n].reference, stored[n].name, stored[n].balance) for n in listed], query
        assert page.forecasts == forecast.for_accounts(session, listed, NOW), query
        ids += listed
        counts.append(page.counted)
        if not page.has_next:
            return ids, counts
        offset += limit


FILTERS = [
    {},
    {"include_inactive": True},
    {"exclude_id": 3, "with_credits_only": True},
]


@pytest.mark.parametrize("filters", FILTERS, ids=["default", "inactive", "picker"])
def test_every_search_lists_and_counts_what_a_scan_finds(session_factory, rows, filters):
    with session_factory.begin() as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        for query in needles(rows, seed=7):
            expected = scan(rows, query, sqlite=sqlite, **filters)
            listed, counts = every_page(session, rows, query, 25, **filters)
            assert listed == expected, query
            first = min(len(expected), COUNT_LIMIT)
            assert counts[0] == (f"more than {COUNT_LIMIT}" if len(expected) > COUNT_LIMIT else f"{first}"), (
                query
            )
            if "include_inactive" not in filters:
                picked = search.first_matches(session, query, limit=100, **filters)
                assert [account.id for account in picked] == expected[:100], query


# Words whose code-point order (Python's, SQLite's) is not a linguistic one: ICU's en-US puts
# "acme z" after "acmé", "_" before "-" before "(", punctuation before digits, "ab c" with "abc".
UNORDERED = [
    "acme",
    "acme-b",
    "acme_d",
    "acme.e",
    "(acme)",
    "acmé",
    "äcme",
    "acme10",
    "acme9",
    "ab c",
    "ab-c",
    "abc",
]
UNORDERED_ROWS = generated(400, seed=15, vocabulary=UNORDERED)


@pytest.fixture(scope="module")
def linguistic_database(testrun_uid: str, worker_id: str) -> Iterator[db.SessionFactory]:
    """Sessions on a PostgreSQL database whose default collation is linguistic (ICU en-US), as
    production databases usually are, holding unordered_rows; the test servers' are C.UTF-8."""
    if not POSTGRES_URL:
        pytest.skip("SQLite compares names by their bytes whatever the locale")
    # No ICU on the server fails here, loudly: production may well have it.
    options = "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    with scratch_postgresql(POSTGRES_URL, f"admin_bot_icu_{testrun_uid[:8]}_{worker_id}", options) as url:
        engine = db.make_engine(url)
        session_factory = db.make_session_factory(engine)
        with session_factory.begin() as session:
            store(session, UNORDERED_ROWS)
        yield session_factory
        engine.dispose()


@pytest.mark.parametrize("filters", FILTERS, ids=["default", "inactive", "picker"])
def test_a_linguistic_database_lists_by_code_point_as_sqlite_does(linguistic_database, filters):
    # Every kind of search (words, pairs, references, the substring indexes), page after page.
    with linguistic_database.begin() as session:
        for query in ["acme", "acm", "cme", "acme 9", "acme a", "ab", "ab c", "abc", "bc", "acme-", "(acme"]:
            listed, _ = every_page(session, UNORDERED_ROWS, query, 25, **filters)
            assert listed == scan(UNORDERED_ROWS, query, **filters), query


def test_a_linguistic_database_orders_the_home_tabs_lists_as_search_does(linguistic_database):
    # Accounts no reminder reaches and inactive accounts, listed on the Home tab by name: by code
    # point too, so a name sits at the same place there as in /accounts.
    def by_name(rows: list[Row]) -> list[int]:
        return [row.id for row in sorted(rows, key=lambda row: (row.name.lower(), row.id))]

    with linguistic_database.begin() as session:
        inactive = overview.inactive(session, limit=len(UNORDERED_ROWS)).accounts
        unheard = overview.needs_attention(session, limit=len(UNORDERED_ROWS)).accounts
    assert [account.id for account in inactive] == by_name([row for row in UNORDERED_ROWS if not row.active])
    assert [account.id for account in unheard] == by_name([row for row in UNORDERED_ROWS if row.active])


def test_renamed_accounts_are_found_by_their_new_pairs_only(session_factory):
    with session_factory.begin() as session:
        session.execute(
            insert(Account),
            [
                {"reference": "R1", "name": "Acme Alerts 7", "keyword": "KEPT WORDS", "created_at": NOW},
                {"reference": "R2", "name": "Acme Alerts 70", "created_at": NOW},
            ],
        )
    with session_factory.begin() as session:
        first = session.scalar(select(Account).where(Account.reference == "R1"))
        first.name = "Zeta Alerts 8"
        session.delete(session.scalar(select(Account).where(Account.reference == "R2")))
    with session_factory.begin() as session:
        assert [a.name for a in search.search(session, "alerts 7").accounts] == []
        assert [a.name for a in search.search(session, "alerts 8").accounts] == ["Zeta Alerts 8"]
        assert [a.name for a in search.search(session, "kept w").accounts] == ["Zeta Alerts 8"]
        pairs = session.execute(select(search_pairs.c.pair, search_pairs.c.sort_name)).all()
    assert sorted(pairs) == [
        ("alerts 8", "zeta alerts 8"),
        ("kept words", "zeta alerts 8"),
        ("zeta alerts", "zeta alerts 8"),
    ]


def test_accounts_added_in_bulk_get_the_same_words_and_pairs_as_one_at_a_time(session_factory, engine):
    rows = generated(60, seed=3)

    def indexed() -> tuple[list, list, list]:
        with engine.connect() as connection:
            return tuple(  # type: ignore[return-value]
                sorted(connection.execute(select(*table.c)).all())
                for table in (search_words, search_pairs, search_fragments)
            )

    with session_factory.begin() as session:
        for row in rows:  # one statement per account: SQLite's row trigger, PostgreSQL's per statement
            session.execute(insert(Account), [{**row.__dict__, "balance": 0, "created_at": NOW}])
    one_at_a_time = indexed()
    with session_factory.begin() as session:
        session.query(Account).delete()
    with engine.begin() as connection, search.maintained_in_bulk(connection) as search_rows:
        connection.execute(
            insert(Account), [{**row.__dict__, "balance": 0, "created_at": NOW} for row in rows]
        )
        search_rows.add("a.id > :after", after=0)
    assert indexed() == one_at_a_time
