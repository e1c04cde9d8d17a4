"""Account search: what matches, in which order, and how matches are counted."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from store import accounts, forecast, importing, ledger, search
from store.accounts import COUNT_LIMIT
from store.models import Account, EntryKind, search_words
from tests.conftest import make_account
from tests.store.test_forecast import NOW as FORECAST_NOW
from tests.store.test_forecast import spend


def add_accounts(session_factory, rows: list[tuple[str, str]]) -> None:
    with session_factory.begin() as session:
        for reference, name in rows:
            accounts.create(session, reference, name)


def every_page(session_factory, query: str, limit: int = 8) -> list[str]:
    """Names of all matches, page after page, as someone clicking Next would see them."""
    names: list[str] = []
    offset = 0
    while True:
        with session_factory.begin() as session:
            page = accounts.search(session, query, offset=offset, limit=limit)
        names += [account.name for account in page.accounts]
        if not page.has_next:
            return names
        offset += limit


def test_the_exact_reference_leads_and_the_rest_follow_by_name_across_pages(session_factory):
    add_accounts(session_factory, [(f"EX{n:07d}", f"Shop {n:02d}") for n in range(10, 0, -1)])
    add_accounts(session_factory, [("SHOP", "Zulu Shop"), ("EX0000099", "Closed Shop")])
    with session_factory.begin() as session:
        accounts.by_reference(session, "EX0000099").active = False

    assert every_page(session_factory, "shop") == ["Zulu Shop"] + [f"Shop {n:02d}" for n in range(1, 11)]
    with session_factory.begin() as session:
        first = accounts.search(session, "shop", limit=8)
    assert (first.total, first.more, first.counted) == (11, False, "11")


@pytest.mark.parametrize("query", ["ab", "abc", "gamma", "EX00000", "zz", "top", "ray 1"])
def test_common_and_rare_needles_list_the_same_way(session_factory, query):
    # Whether SQLite walks the name index or sorts the matches depends on how many match;
    # what people see must not.
    names = ["Abc Gamma", "abc delta", "Gamma Ray", "Beta abc", "Alpha", "Zz Top", "gamma abc"] * 3
    add_accounts(session_factory, [(f"EX{n:07d}", f"{name} {n}") for n, name in enumerate(names, 1)])
    needle = query.lower()
    expected = sorted(
        (
            f"{name} {n}"
            for n, name in enumerate(names, 1)
            if needle in f"{name} {n}".lower() or needle in f"ex{n:07d}"
        ),
        key=lambda name: (name.lower(), int(name.rsplit(" ", 1)[1])),
    )
    assert every_page(session_factory, query, limit=3) == expected


def test_past_the_count_limit_the_total_reads_more_than(session_factory):
    add_accounts(session_factory, [(f"EX{n:07d}", f"Florist {n:03d}") for n in range(1, COUNT_LIMIT + 6)])
    with session_factory.begin() as session:
        page = accounts.search(session, "florist", limit=8)
        assert [a.name for a in page.accounts] == [f"Florist {n:03d}" for n in range(1, 9)]
        assert (page.total, page.more, page.counted, page.has_next) == (
            COUNT_LIMIT,
            True,
            "more than 100",
            True,
        )
        # Deep pages still know whether another follows.
        last = accounts.search(session, "florist", offset=COUNT_LIMIT, limit=8)
        assert [a.name for a in last.accounts] == [f"Florist {n:03d}" for n in range(101, 106)]
        assert last.has_next is False and last.total == COUNT_LIMIT + 5


def test_search_filters_still_apply_to_the_exact_reference(session_factory):
    make_account(session_factory, "SHOP", "Zulu Shop", credits=0)
    make_account(session_factory, "EX0000001", "Shop One", credits=5)
    with session_factory.begin() as session:
        with_credits = accounts.search(session, "shop", with_credits_only=True)
        assert [a.reference for a in with_credits.accounts] == ["EX0000001"]
        excluded = accounts.search(
            session, "shop", exclude_id=session.query(Account.id).filter_by(reference="SHOP").scalar()
        )
        assert [a.reference for a in excluded.accounts] == ["EX0000001"]


def test_many_matches_that_sort_late_are_listed_in_name_order(session_factory):
    # More than COUNT_LIMIT matches, all behind 800 other names: a bounded walk of the name
    # index finds none of them and the search sorts the matches instead.
    add_accounts(session_factory, [(f"AL{n:07d}", f"Alpha {n:03d}") for n in range(800)])
    add_accounts(session_factory, [(f"ZT{n:07d}", f"Zeta {n:03d}") for n in range(120, 0, -1)])
    with session_factory.begin() as session:
        page = accounts.search(session, "zeta", offset=8, limit=8)
        picked = accounts.first_matches(session, "ZETA", limit=5)
    assert [a.name for a in page.accounts] == [f"Zeta {n:03d}" for n in range(9, 17)]
    assert page.counted == "more than 100"
    assert [a.name for a in picked] == [f"Zeta {n:03d}" for n in range(1, 6)]


@pytest.mark.parametrize("needle", ["qx", "Q"])
def test_a_needle_too_short_for_the_indexes_walks_on_past_a_sparse_start_instead_of_sorting(
    engine, session_factory, needle
):
    # One or two characters are too few for the substring indexes, so sorting the matches reads
    # every account: at a million, "42" (in 5% of references, few of them among the first names)
    # took 280 ms on PostgreSQL and 580 ms on SQLite. The walk reaches further, in one statement:
    # it stops at the page's last match, and walking again from the start cost a round trip.
    # (Inside a word, as here, the words cannot list it.)
    alphas = [f"AL{n:07d},Alpha {n:04d},,0\n" for n in range(5000)]  # past the picker's first walk
    with session_factory.begin() as session:
        importing.load(session, ["reference,name,keyword,credits\n", *alphas], "cli")
    add_accounts(session_factory, [(f"BT{n:07d}", f"Beta Aqx {n:03d}") for n in range(150)])
    page, picked, sent = page_and_picks(engine, session_factory, needle, offset=8)
    assert [a.name for a in page.accounts] == [f"Beta Aqx {n:03d}" for n in range(8, 16)]
    assert page.counted == "more than 100"
    assert [choice.name for choice in picked] == [f"Beta Aqx {n:03d}" for n in range(100)]
    assert not any(sorts_matches(statement) for statement in sent), "a page was sorted, not walked"
    assert len([statement for statement in sent if walks_names(statement)]) == 2, "one walk each"
    # Name, reference and keyword, each tested once: the needle is its own probe.
    assert [statement.count(" LIKE ") for statement in sent if counts_matches(statement)] == [3, 3]


@pytest.mark.parametrize("needle", ["qx", "eta aqx"])
def test_a_picker_walking_the_names_offers_only_accounts_with_credits(engine, session_factory, needle):
    # SQLite's name-order index lacks the balance, so the walk looks it up for the accounts that
    # pass the other tests: every other one here has none. The options come from the walk itself,
    # which holds each one's reference and name: reading the accounts again cost more than the walk.
    betas = [f"BT{n:07d},Beta Aqx {n:03d},,{n % 2 * 5}\n" for n in range(250)]
    picked: list[search.Choice] = []
    with session_factory.begin() as session:
        importing.load(session, ["reference,name,keyword,credits\n", *betas], "cli")
        sent = statements_while(
            engine,
            lambda: picked.extend(accounts.first_matches(session, needle, limit=100, with_credits_only=True)),
        )
    assert [(choice.reference, choice.name) for choice in picked] == [
        (f"BT{n:07d}", f"Beta Aqx {n:03d}") for n in range(1, 201, 2)
    ]
    walks = [statement for statement in sent if walks_names(statement)]
    assert walks, "the matches were not walked"
    assert not any("FROM accounts JOIN (" in statement for statement in walks), "the accounts were read again"


def test_a_number_is_tested_on_the_columns_as_they_are(engine, session_factory):
    # lower() leaves digits as they are: lowering each column of each account read was most of the
    # cost of counting a number's matches (counting the first 101 of "42" among a million: 0.53 ->
    # 0.18 ms at the server).
    add_accounts(session_factory, [(f"NB{n:07d}", f"ACME {n:03d}") for n in range(150)])
    with session_factory.begin() as session:
        found: dict[str, Any] = {}
        sent = statements_while(engine, lambda: found.update(page=accounts.search(session, "42")))
    assert [a.name for a in found["page"].accounts] == ["ACME 042", "ACME 142"]
    counts = [statement for statement in sent if counts_matches(statement)]
    assert counts and not any("lower(" in statement for statement in counts)


def statements_while(engine, search) -> list[str]:
    """The SQL a search sends, one entry per round trip."""
    sent: list[str] = []

    def keep(_conn, _cursor, statement, _parameters, _context, _many) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", keep)
    try:
        search()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    return sent


def page_and_picks(engine, session_factory, query: str, *, offset: int = 0, limit: int = 8, **options):
    """The page of `query` /accounts shows from `offset`, what the Move picker offers for it (100),
    and the SQL the two sent, one entry per round trip."""
    with session_factory.begin() as session:
        found: dict[str, Any] = {}

        def both() -> None:
            found["page"] = accounts.search(session, query, offset=offset, limit=limit, **options)
            found["picked"] = accounts.first_matches(session, query, limit=100)

        sent = statements_while(engine, both)
    return found["page"], found["picked"], sent


def sorts_matches(statement: str) -> bool:
    # The general path's sorted page: every match fetched and sorted by `lower(name) || ''`.
    return "accounts.name) ||" in statement


def walks_names(statement: str) -> bool:
    # The general path's walk: accounts read in name order, up to a budget, and tested one by one.
    return re.search(r"FROM accounts ORDER BY \(?lower\(accounts.name\)", statement) is not None


def counts_matches(statement: str) -> bool:
    # The general path's survey: the exact reference and the matches counted up to a limit.
    return "count(*)" in statement and "FROM (SELECT accounts.id" in statement


@pytest.mark.parametrize("query", ["rf0099", "RF00990", "f009"])
def test_more_matches_in_references_than_a_page_are_counted_once(engine, session_factory, query):
    # "BN0099" starts 1% of a million references, and its trigrams ("bn0", "n00") are in all of
    # them: reading the references that hold it took 12 ms, and counting the matches afterwards as
    # many again. Past the count limit, the read already says "more than 100".
    add_accounts(session_factory, [(f"AL{n:07d}", f"Alpha {n:03d}") for n in range(50)])
    add_accounts(
        session_factory, [(f"RF00990{n:03d}", f"Zeta {n:03d}") for n in range(COUNT_LIMIT + 20, 0, -1)]
    )
    make_account(session_factory, "RF00990", "Omega exact")
    with session_factory.begin() as session:
        sent = statements_while(engine, lambda: accounts.search(session, query, offset=8, limit=8))
        page = accounts.search(session, query, offset=8, limit=8)
        first = accounts.search(session, query, limit=8)
        picked = accounts.first_matches(session, query, limit=5)
    zetas = [f"Zeta {n:03d}" for n in range(1, COUNT_LIMIT + 21)]
    exact = ["Omega exact"] if query.upper() == "RF00990" else []
    expected = exact + sorted([*zetas, *([] if exact else ["Omega exact"])])
    assert [a.name for a in first.accounts] == expected[:8]
    assert [a.name for a in page.accounts] == expected[8:16]
    assert (page.counted, first.counted) == ("more than 100", "more than 100")
    assert [choice.name for choice in picked] == expected[:5]
    assert not any(counts_matches(statement) for statement in sent), sent


@pytest.mark.parametrize("elsewhere", [None, "XRF0099001"], ids=["starts-only", "also-inside"])
def test_the_start_of_many_references_is_sorted_from_their_range_of_the_unique_index(
    engine, session_factory, elsewhere
):
    # "BN0012" starts 1% of a million references and no name holds it. Sorting its matches asked
    # the trigram index, whose postings for "bn0" and "n00" hold every reference: 25 ms on
    # PostgreSQL, 28 on SQLite. When no reference has "rf" past its first character (the
    # vocabulary's trigrams say), the references starting with it are all its matches: a range
    # of the unique index, sorted by name.
    alphas = [f"AL{n:07d},Alpha {n:04d},,0\n" for n in range(5000)]  # past every walk's budget
    with session_factory.begin() as session:
        importing.load(session, ["reference,name,keyword,credits\n", *alphas], "cli")
    add_accounts(
        session_factory, [(f"RF0099{n:03d}", f"Zeta {n:03d}") for n in range(COUNT_LIMIT + 20, 0, -1)]
    )
    if elsewhere:
        make_account(session_factory, elsewhere, "Omega inside")
    with session_factory.begin() as session:  # as `serve` covers every account within 30 s
        search.fold_reference_grams(session)
    page, picked, sent = page_and_picks(
        engine, session_factory, "RF0099", offset=8, forecasts_at=FORECAST_NOW
    )
    expected = sorted(
        [f"Zeta {n:03d}" for n in range(1, COUNT_LIMIT + 21)] + (["Omega inside"] if elsewhere else [])
    )
    assert [a.name for a in page.accounts] == expected[8:16]
    assert page.counted == "more than 100"
    assert [choice.name for choice in picked] == expected[:100]
    sorted_reads = [statement for statement in sent if sorts_matches(statement)]
    assert len(sorted_reads) == 2, sent
    from_the_range = [" LIKE " not in statement.split(" FROM accounts ")[-1] for statement in sorted_reads]
    assert from_the_range == [not elsewhere] * 2, sorted_reads


@pytest.mark.parametrize("layout", ["spread", "late"])
def test_the_start_of_many_references_is_walked_in_name_order_when_that_costs_less_than_sorting(
    engine, session_factory, layout
):
    # "BN0012" starts 1% of a million references: sorting them by name read each one's row (4.3
    # ms on PostgreSQL, 4.8 on SQLite), where walking the names finds a page in about a thousand
    # accounts, comparing each one's reference with the range's ends. The walk is bounded by what
    # the sort costs; past that ("late": the matches sit after more accounts than that), sorted,
    # and not walked at all when the walk would be expected to need more than half of it (the
    # picker's hundred, here).
    matches = [(f"RF0099{n:03d}", f"Name {n:03d} match") for n in range(1, 301)]
    others = (
        [(f"AL{n:07d}", f"Name {n:03d} other") for n in range(1, 301)]
        if layout == "spread"
        else [(f"AL{n:07d}", f"Alpha {n:03d}") for n in range(1, 701)]
    )
    add_accounts(session_factory, [*others, *matches, ("RF0099", "Omega exact")])
    with session_factory.begin() as session:  # as `serve` covers every account within 30 s
        search.fold_reference_grams(session)
    page, picked, sent = page_and_picks(engine, session_factory, "rf0099", offset=8)
    expected = ["Omega exact"] + [name for _, name in matches]
    assert [a.name for a in page.accounts] == expected[8:16]
    assert page.counted == "more than 100"
    assert [choice.name for choice in picked] == expected[:100]
    walks = [statement for statement in sent if walks_names(statement)]
    assert all(" LIKE " not in statement for statement in walks), walks  # a range, not a pattern
    assert (len(walks), sum(map(sorts_matches, sent))) == ((2, 0) if layout == "spread" else (1, 2)), sent
    # The Move picker's destinations: not the source, and only accounts with credits to send.
    with session_factory.begin() as session:
        funded = session.scalars(select(Account).where(Account.reference.like("RF0099_%"))).all()
        for account in funded[::2]:
            ledger.post(session, account, EntryKind.OPENING, 5, "test")
        source = accounts.by_reference(session, "RF0099001").id
        picked = accounts.first_matches(
            session, "rf0099", limit=100, exclude_id=source, with_credits_only=True
        )
    assert [choice.name for choice in picked] == [name for _, name in matches[2::2]][:100]


def test_a_search_nothing_matches_lists_nothing_after_counting_none(engine, session_factory):
    # One character is too short for the substring indexes: each read of the matches reads every
    # account, and with none counted there is nothing to list. Only a closed account holds "q", so
    # the vocabulary cannot tell.
    add_accounts(session_factory, [(f"AL{n:07d}", f"Alpha {n:03d}") for n in range(20)])
    make_account(session_factory, "CL0000001", "Closed Qq", active=False)
    with session_factory.begin() as session:
        sent = statements_while(engine, lambda: accounts.search(session, "q"))
        page = accounts.search(session, "q")
    assert (page.accounts, page.counted, page.has_next) == ([], "0", False)
    assert sum(counts_matches(statement) for statement in sent) == 1
    assert counts_matches(sent[-1]), sent  # nothing read after the count


@pytest.mark.parametrize(
    ("needle", "expected"), [("qx", []), ("x", []), ("ZQ", ["Alpha zq"]), ("z", ["Alpha zq"])]
)
def test_a_short_needle_no_word_or_reference_holds_is_answered_from_the_vocabulary(
    database_url, engine, session_factory, needle, expected
):
    # One or two characters no word, suffix or reference trigram holds match nothing, and counting
    # them read every account (0.53 s at a million on SQLite, 0.34 s on PostgreSQL): the vocabulary
    # answers, and with them only at the start of a word ("zq"), the words list them.
    add_accounts(session_factory, [(f"AL{n:07d}", f"Alpha {n:03d}") for n in range(30)])
    make_account(session_factory, "RF1", "Alpha zq")
    with session_factory.begin() as session:  # as `serve` covers every account within 30 s
        search.fold_reference_grams(session)
    with session_factory.begin() as session:
        sent = statements_while(engine, lambda: accounts.search(session, needle))
        page = accounts.search(session, needle)
        picked = accounts.first_matches(session, needle, limit=100)
    assert [a.name for a in page.accounts] == expected
    assert [choice.name for choice in picked] == expected
    assert not any(counts_matches(statement) for statement in sent), sent


@pytest.mark.parametrize("needle", ["eu", "EU", "e"])
def test_a_short_needle_only_ever_starting_words_is_listed_from_the_words(engine, session_factory, needle):
    # "EU" starts a word of 7% of the names ("Acme EU"), late in name order and in no reference:
    # the walks found none, and sorting its matches read every account (0.39 s at a million on
    # PostgreSQL). No word holds it inside and no reference holds it, so the words list it.
    alphas = [f"AL{n:07d},Alpha {n:04d},,0\n" for n in range(5000)]  # past every walk's budget
    with session_factory.begin() as session:
        importing.load(session, ["reference,name,keyword,credits\n", *alphas], "cli")
    add_accounts(session_factory, [(f"BT{n:07d}", f"Zulu EU {n:03d}") for n in range(150)])
    make_account(session_factory, "CL0000001", "Zulu EU shut", active=False)
    with session_factory.begin() as session:  # as `serve` covers every account within 30 s
        search.fold_reference_grams(session)
    with session_factory.begin() as session:
        sent = statements_while(engine, lambda: accounts.search(session, needle, offset=8, limit=8))
        page = accounts.search(session, needle, offset=8, limit=8)
        picked = accounts.first_matches(session, needle, limit=100)
    assert [a.name for a in page.accounts] == [f"Zulu EU {n:03d}" for n in range(8, 16)]
    assert page.counted == "more than 100"
    assert [choice.name for choice in picked] == [f"Zulu EU {n:03d}" for n in range(100)]
    assert not any(counts_matches(statement) for statement in sent), sent
    assert not any(sorts_matches(statement) for statement in sent), "the matches were sorted"


@pytest.mark.parametrize("needle", ["l", "q"])
def test_a_short_needle_the_words_cannot_list_asks_the_vocabulary_once_per_connection(
    engine, session_factory, needle
):
    # "l" is inside "alpha" and "q" in every reference: the word path can never list them (the
    # vocabulary only grows), and asking again cost each search a round trip on PostgreSQL.
    add_accounts(session_factory, [(f"QX{n:07d}", f"Alpha {n:03d}") for n in range(30)])
    with session_factory.begin() as session:  # as `serve` covers every account within 30 s
        search.fold_reference_grams(session)
    with session_factory.begin() as session:
        first = statements_while(engine, lambda: accounts.search(session, needle))
        again = statements_while(engine, lambda: accounts.search(session, needle.upper()))
        page = accounts.search(session, needle, limit=3)
    assert any("search_fragments" in statement for statement in first), first
    assert not any("search_fragments" in statement for statement in again), again
    assert [a.name for a in page.accounts] == ["Alpha 000", "Alpha 001", "Alpha 002"]
    assert page.counted == "30"


def test_a_short_needle_in_a_reference_too_short_for_trigrams_is_still_found(session_factory):
    make_account(session_factory, "Q7", "Alpha")
    make_account(session_factory, "EX0000001", "Beta")
    with session_factory.begin() as session:
        assert [a.name for a in accounts.search(session, "q7").accounts] == ["Alpha"]
        assert [a.name for a in accounts.search(session, "7").accounts] == ["Alpha"]
        assert [a.name for a in accounts.search(session, "x0").accounts] == ["Beta"]


# Names as customers write them, with words inside other words, repeated words, a double space,
# quotes and backslashes (which SQLite's trigger splits through JSON), and keywords.
MIXED = [
    ("Acme Alerts 2", None),
    ("Acme Support", "OTP"),
    ("acme support 7", None),
    ("Northwind Support", "ACME"),
    ("Tacme EU", None),
    ("Acme  EU", None),
    ('Quote "Acme" Ltd', None),
    ("Back\\slash acme", "SUPPORTIVE"),
    ("ünïcode Acme", None),
    ("Acme Acme", None),
    ("Supportive Acmes", None),
    ("Zeta", "XACMEX"),
]
NEEDLES = [
    "acme",
    "ACME SUPPORT",
    "northwind",
    "cme",
    "me sup",
    "support 7",
    "eu",
    "acme eu",
    "acme  eu",
    "xyzzy",
    "tacme",
    '"acme"',
    "\\slash",
    "ünïcode",
    "acmes",
    "support",
    "supp",
    "acme acme",
    "ex00000",
    "t 7",
    # Too short for the trigram indexes: at word starts only ("z", '"a'), inside words too ("x",
    # "7"), not ASCII ("ü").
    "z",
    '"a',
    "x",
    "7",
    "ü",
    # No letters: tested on the columns as they are.
    "2",
    '"',
    "\\",
]


def brute_force_rows(rows: list[tuple[str, str, str | None]], needle: str) -> list[tuple[str, str]]:
    """What a search must list: (reference, name) of every row holding the needle, by lower-case
    name then id."""
    needle = needle.strip().lower()
    hits = [
        (name.lower(), n, reference, name)
        for n, (reference, name, keyword) in enumerate(rows)
        if any(needle in (field or "").lower() for field in (reference, name, keyword))
    ]
    return [(reference, name) for *_, reference, name in sorted(hits)]


def brute_force(rows: list[tuple[str, str, str | None]], needle: str) -> list[str]:
    """The names of brute_force_rows."""
    return [name for _, name in brute_force_rows(rows, needle)]


@pytest.mark.parametrize("needle", NEEDLES)
def test_every_needle_lists_what_a_scan_of_every_account_would(session_factory, needle):
    # Whichever path a search takes (search_words for word starts, the substring indexes
    # otherwise), the pages must be exactly those of a scan.
    rows = [(f"EX{n:07d}", name, keyword) for n, (name, keyword) in enumerate(MIXED * 3, 1)]
    with session_factory.begin() as session:
        for reference, name, keyword in rows:
            accounts.create(session, reference, name, keyword)

    assert every_page(session_factory, needle, limit=3) == brute_force(rows, needle)


@pytest.mark.parametrize("needle", ["cme", "me sup", "x", "7", '"'])
def test_a_picker_offers_what_a_scan_would_from_the_statement_that_found_them(
    engine, session_factory, needle
):
    # Few matches, some inside words: the general path sorts them, and a picker's options (reference
    # and name) come from that statement, where reading each account again cost more.
    rows = [(f"EX{n:07d}", name, keyword) for n, (name, keyword) in enumerate(MIXED * 3, 1)]
    with session_factory.begin() as session:
        for reference, name, keyword in rows:
            accounts.create(session, reference, name, keyword)
    picked: list[search.Choice] = []
    with session_factory.begin() as session:
        sent = statements_while(
            engine, lambda: picked.extend(accounts.first_matches(session, needle, limit=100))
        )
    assert [(choice.reference, choice.name) for choice in picked] == brute_force_rows(rows, needle)
    sorts = [statement for statement in sent if sorts_matches(statement)]
    assert not any("FROM accounts JOIN (" in statement for statement in sorts), "the accounts were read again"


def test_needles_list_what_a_scan_would_once_analyze_has_sampled_the_references(session_factory, engine):
    # PostgreSQL plans a search's read of the references by what ANALYZE sampled of them ("acme"
    # through the trigram index, "ex00000" for its values): only the plan may differ.
    rows = [(f"EX{n:07d}", name, keyword) for n, (name, keyword) in enumerate(MIXED * 3, 1)]
    with session_factory.begin() as session:
        for reference, name, keyword in rows:
            accounts.create(session, reference, name, keyword)
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE accounts")
    for needle in ["acme", "ex00000", "xacmex", "000", "zeta", "acmes", "00002"]:
        assert every_page(session_factory, needle, limit=3) == brute_force(rows, needle), needle


def test_renames_and_keyword_changes_are_seen_by_the_next_search(session_factory):
    make_account(session_factory, "EX0000001", "Northwind Alerts", keyword="NW")
    make_account(session_factory, "EX0000002", "Northwind Billing")
    make_account(session_factory, "EX0000003", "Acme Billing")
    with session_factory.begin() as session:
        accounts.rename(session, accounts.by_reference(session, "EX0000001"), "Zeta Alerts", "U012AB3CD")
        accounts.by_reference(session, "EX0000003").keyword = "NORTHWIND"
        accounts.by_reference(session, "EX0000002").keyword = "KEPT"

    assert every_page(session_factory, "northwind") == ["Acme Billing", "Northwind Billing"]
    assert every_page(session_factory, "zeta") == ["Zeta Alerts"]
    assert every_page(session_factory, "nw") == ["Zeta Alerts"]
    assert every_page(session_factory, "kept") == ["Northwind Billing"]
    with session_factory.begin() as session:
        words = session.execute(
            select(search_words.c.word, search_words.c.sort_name).order_by(search_words.c.word)
        ).all()
    assert ("northwind", "northwind alerts") not in words
    assert ("nw", "northwind alerts") not in words and ("nw", "zeta alerts") in words
    assert ("northwind", "acme billing") in words
    assert ("zeta", "zeta alerts") in words


def test_a_word_inside_another_word_is_still_found_after_many_word_start_matches(session_factory):
    # 120 word-start matches would fill every page; one match inside a word sorts first.
    add_accounts(session_factory, [(f"EX{n:07d}", f"Florist {n:03d}") for n in range(1, 121)])
    add_accounts(session_factory, [("AAFLORIST", "Aaa Goldflorist")])
    with session_factory.begin() as session:
        page = accounts.search(session, "florist", limit=8)
        picked = accounts.first_matches(session, "florist", limit=3)
    assert [a.name for a in page.accounts] == ["Aaa Goldflorist"] + [f"Florist {n:03d}" for n in range(1, 8)]
    assert [a.name for a in picked] == ["Aaa Goldflorist", "Florist 001", "Florist 002"]


@pytest.mark.parametrize("needle", ["arketing", "ARKET"])
def test_a_word_inside_few_words_is_listed_from_those_words(engine, session_factory, needle):
    # "arketing" is in marketing (and a keyword's supermarketing) alone: its matches, behind every
    # Alpha name, were sorted all (95 ms at a million on PostgreSQL); the words holding it list them.
    add_accounts(session_factory, [(f"AL{n:07d}", f"Alpha Alerts {n:03d}") for n in range(400)])
    add_accounts(session_factory, [(f"MK{n:07d}", f"Beta Marketing {n:03d}") for n in range(120)])
    make_account(session_factory, "ZZARKETING1", "Zulu Reference")
    make_account(session_factory, "ZZ0000001", "Zulu Keyword", keyword="SUPERMARKETING")
    make_account(session_factory, "ZZ0000002", "Beta Marketing shut", active=False)
    last, picked, sent = page_and_picks(engine, session_factory, needle, offset=120)
    assert [a.name for a in last.accounts] == ["Zulu Keyword", "Zulu Reference"]
    assert last.counted == "122"
    assert [choice.name for choice in picked] == [f"Beta Marketing {n:03d}" for n in range(100)]
    assert not any(sorts_matches(statement) or walks_names(statement) for statement in sent), sent


# (reference, name, keyword) rows for the paths a word and a number, a pair, and a reference take.
PAIRS_AND_REFERENCES = [
    ("BN00012345", "Acme Alerts 7", None),
    ("BN00012346", "Acme Alerts 70", None),
    ("BN00012347", "Acme Alerts 17", None),
    ("XBN000123456", "Zeta Alerts", None),
    ("BN12345", "Acme Alerts", "OTP 7"),
    ("BN00099999", "Beta alerts 7x", None),
    ("PCT1", "Half 50% off", None),
    ("PCT2", "Half 50x off", None),
    ("USC1", "snake_case 7", None),
    ("USC2", "snakeXcase 7", None),
    ("SLH1", "a/b 7", None),
    ("UNI1", "ünï 7 café", None),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # A number starting many words: 7 and 70-79, never 17.
        ("alerts 7", ["Acme Alerts 7", "Acme Alerts 70", "Beta alerts 7x"]),
        ("ALERTS 70", ["Acme Alerts 70"]),
        ("acme alerts 7", ["Acme Alerts 7", "Acme Alerts 70"]),
        ("otp 7", ["Acme Alerts"]),  # a pair of the keyword
        ("alerts otp", []),  # the name's last word and the keyword's first are not adjacent
        # The exact reference first, then references holding it, by name.
        ("bn00012345", ["Acme Alerts 7", "Zeta Alerts"]),
        ("BN12345", ["Acme Alerts"]),
        ("BN0001234", ["Acme Alerts 17", "Acme Alerts 7", "Acme Alerts 70", "Zeta Alerts"]),
        ("00012345", ["Acme Alerts 7", "Zeta Alerts"]),
        ("12345", ["Acme Alerts", "Acme Alerts 7", "Zeta Alerts"]),
        # LIKE's wildcards and escape character are plain text.
        ("50% off", ["Half 50% off"]),
        ("snake_case 7", ["snake_case 7"]),
        ("a/b 7", ["a/b 7"]),
        ("ünï 7", ["ünï 7 café"]),
        ("7 café", ["ünï 7 café"]),
        ("alerts " + "7" * 300, []),
    ],
)
def test_word_and_number_pairs_and_references_list_exactly_their_matches(session_factory, query, expected):
    with session_factory.begin() as session:
        for reference, name, keyword in PAIRS_AND_REFERENCES:
            accounts.create(session, reference, name, keyword)
    assert every_page(session_factory, query, limit=2) == expected
    with session_factory.begin() as session:
        assert [a.name for a in accounts.first_matches(session, query, limit=100)] == expected


def test_a_whole_reference_lists_the_longer_references_that_hold_it_however_they_came(session_factory):
    # Typed whole, a reference is held by itself or by a longer one: the filters apply to it, and
    # longer ones created, imported or renamed since are listed after it.
    make_account(session_factory, "BN00000012", "Zulu Alerts 12")
    make_account(session_factory, "BN00000013", "Acme Alerts 13", credits=5)
    with session_factory.begin() as session:
        exact_id = accounts.by_reference(session, "BN00000013").id
        assert [a.name for a in accounts.first_matches(session, "bn00000013", limit=5)] == ["Acme Alerts 13"]
        assert accounts.first_matches(session, "BN00000013", limit=5, exclude_id=exact_id) == []
        assert accounts.first_matches(session, "BN00000012", limit=5, with_credits_only=True) == []
        accounts.by_reference(session, "BN00000013").active = False
    assert every_page(session_factory, "BN00000013") == []
    assert every_page(session_factory, "bn00000012") == ["Zulu Alerts 12"]
    make_account(session_factory, "XBN000000123", "Beta Alerts")
    with session_factory.begin() as session:
        importing.load(session, ["reference,name,keyword,credits\n", "BN000000120,Acme Imported,,1\n"], "cli")
    with session_factory.begin() as session:
        accounts.rename(session, accounts.by_reference(session, "BN00000012"), "Renamed Alerts", "U012AB3CD")
    assert every_page(session_factory, "BN00000012") == ["Renamed Alerts", "Acme Imported", "Beta Alerts"]
    assert every_page(session_factory, "bn000000120") == ["Acme Imported"]


def test_a_word_and_a_number_lists_in_name_order_across_every_number_it_starts(session_factory):
    # "alerts 7" is read from the pairs "alerts 7" and "alerts 70" to "alerts 79" in one ordered
    # statement, chunk after chunk while too few of them have credits for the picker's page.
    numbers = ["7", *(f"7{n}" for n in range(10))]
    names = [f"{owner} Alerts {number}" for owner in ("Acme", "Beta", "Zeta") for number in numbers]
    for n, name in enumerate(names):
        make_account(session_factory, f"EX{n:07d}", name, credits=5 if n % 4 == 0 else 0)
    with_credits = sorted((name for n, name in enumerate(names) if n % 4 == 0), key=str.lower)
    with session_factory.begin() as session:
        picked = accounts.first_matches(session, "Alerts 7", limit=5, with_credits_only=True)
        assert [a.name for a in picked] == with_credits[:5]
    assert every_page(session_factory, "alerts 7", limit=4) == sorted(names, key=str.lower)


def test_the_words_a_needle_starts_are_walked_together_in_one_statement(engine, session_factory):
    # "nor" starts northwind, nora and norek: walked one word after another, each word cost its
    # own round trip (six of them, 5.8 ms at a million on PostgreSQL), and the screen's first
    # chunk, read for all three together, was thrown away.
    owners = ["Nora", "Norek", "Northwind"]
    names = [f"{owner} {n:03d}" for n in range(50) for owner in owners] + ["Nora Norek 999"]
    add_accounts(session_factory, [(f"NR{n:07d}", name) for n, name in enumerate(names)])
    expected = sorted(names, key=str.lower)
    page, picked, sent = page_and_picks(engine, session_factory, "nor")
    assert [a.name for a in page.accounts] == expected[:8]
    assert page.counted == "more than 100"
    # Nora Norek 999 holds two of the words, and is offered once.
    assert [choice.name for choice in picked] == expected[:100]
    entries_read = [statement for statement in sent if "search_words" in statement]
    assert len(entries_read) == 2, entries_read  # one each: the merged words' first chunk
    assert not any(sorts_matches(statement) or walks_names(statement) for statement in sent), sent


@pytest.mark.parametrize("query", ["beta alerts 1", " Beta Alerts 1"])
def test_three_words_are_listed_from_the_fewest_entries_of_the_earlier_words_and_pairs(
    engine, session_factory, query
):
    # "northwind support 1": each word, and the pairs "support 1" to "support 19", hold the
    # matches thinly, so every walk gave up and the matches were sorted (34 ms at a million).
    # 700 accounts have the pair "northwind support", 30 of them match: read whole, at once.
    add_accounts(session_factory, [(f"ZA{n:07d}", f"Zeta Alerts {n % 20 + 1}") for n in range(300)])
    add_accounts(session_factory, [(f"BS{n:07d}", f"Beta Support {n}") for n in range(300)])
    matching = [f"Beta Alerts {n}" for n in (1, 12, 13, 2, 12)]
    add_accounts(session_factory, [(f"BA{n:07d}", name) for n, name in enumerate(matching)])
    expected = sorted((name for name in matching if query.strip().lower() in name.lower()), key=str.lower)
    page, picked, sent = page_and_picks(engine, session_factory, query, limit=3)
    assert [a.name for a in page.accounts] == expected[:3]
    assert page.counted == str(len(expected))
    assert [choice.name for choice in picked] == expected
    assert not any(sorts_matches(statement) or walks_names(statement) for statement in sent), sent
    assert every_page(session_factory, query, limit=2) == expected


def test_many_typed_words_count_only_the_nearest_earlier_words(engine, session_factory):
    # Each earlier word and pair is counted up to 20 entries a match wanted: for the 100 characters
    # a search may have, every one of them counted took 18 ms at a million.
    add_accounts(
        session_factory, [(f"BA{n:07d}", f"Beta Alerts Beta Alerts Beta Alerts {n}") for n in range(3)]
    )
    add_accounts(session_factory, [(f"ZA{n:07d}", f"Zeta Alerts {n % 20 + 1}") for n in range(300)])
    query = "beta alerts beta alerts beta alerts 1"
    page, picked, sent = page_and_picks(engine, session_factory, query)
    assert [a.name for a in page.accounts] == ["Beta Alerts Beta Alerts Beta Alerts 1"]
    assert [choice.name for choice in picked] == ["Beta Alerts Beta Alerts Beta Alerts 1"]
    counted = [statement.count("count(*)") for statement in sent if "search_pairs.pair = " in statement]
    assert counted and max(counted) == 5, counted  # three words and the two pairs they make


@pytest.mark.parametrize("query", ["acme m", "ACME MA", "acme alerts m"])
def test_two_words_whose_last_starts_many_words_are_listed_from_the_pairs_they_are_in(
    engine, session_factory, query
):
    # Typing "acme marketing", the picker asks at each key: "acme m" is followed in one pair,
    # "acme marketing", where twenty words start with "m". Listed from every match sorted (no pair
    # driver: too many words start with "m"; "acme" is dense with matches only late in name
    # order), it took 70 ms at a million.
    add_accounts(session_factory, [(f"MW{n:07d}", f"Ma{chr(97 + n)}lo Support") for n in range(20)])
    add_accounts(session_factory, [(f"AL{n:07d}", f"Acme Alerts {n:03d}") for n in range(400)])
    owner = "Acme Alerts" if "alerts" in query else "Acme"
    expected = [f"{owner} Marketing {n:03d}" for n in range(COUNT_LIMIT + 20)]
    add_accounts(session_factory, [(f"MK{n:07d}", name) for n, name in enumerate(expected)])
    page, picked, sent = page_and_picks(engine, session_factory, query, offset=8)
    assert [a.name for a in page.accounts] == expected[8:16]
    assert page.counted == "more than 100"
    assert [choice.name for choice in picked] == expected[:100]
    assert not any(sorts_matches(statement) or walks_names(statement) for statement in sent), sent


@pytest.mark.parametrize("query", ["acme", "alerts 7"])
def test_a_word_search_reads_its_accounts_from_the_name_order_index_not_the_table(
    database_url, engine, session_factory, query
):
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL chooses its plan from statistics; SQLite's is fixed by the query")
    add_accounts(session_factory, [(f"EX{n:07d}", f"Acme Alerts {n}") for n in range(60, 90)])
    statements: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if "search_words" in statement or "search_pairs" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with session_factory.begin() as session:
            found = accounts.first_matches(session, query, limit=10)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert len(found) == 10
    entries, parameters = statements[-1]
    with engine.connect() as connection:
        plan = " ".join(
            str(row) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {entries}", parameters)
        )
    # Read from the table, each entry's account was a page of its own, read cold at a million.
    assert "COVERING INDEX ix_accounts_name_order" in plan and "INTEGER PRIMARY KEY" not in plan, plan


def counted_and_first(session_factory, query: str, **options) -> tuple[str, list[str], list[str]]:
    """What /accounts (with forecasts, as the handlers ask), the Move picker and a later page show."""
    with session_factory.begin() as session:
        page = accounts.search(session, query, limit=8, forecasts_at=datetime.now(UTC), **options)
        picked = accounts.first_matches(
            session, query, limit=COUNT_LIMIT, exclude_id=options.get("exclude_id")
        )
        assert page.forecasts is not None and set(page.forecasts) == {a.id for a in page.accounts}
    return page.counted, [a.name for a in page.accounts], [choice.name for choice in picked]


@pytest.mark.parametrize("query", ["florist", "Florist Shop"])
def test_word_searches_count_and_list_only_active_accounts_as_they_change(session_factory, query):
    # The count of a word search ("100" or "more than 100") is read from the word's entries,
    # with whether each account is active asked of the accounts that are not.
    add_accounts(
        session_factory, [(f"FL{n:07d}", f"Florist Shop {n:03d}") for n in range(1, COUNT_LIMIT + 5)]
    )
    names = [f"Florist Shop {n:03d}" for n in range(1, COUNT_LIMIT + 5)]
    assert counted_and_first(session_factory, query) == ("more than 100", names[:8], names[:COUNT_LIMIT])

    with session_factory.begin() as session:  # deactivated: left out of the count, pages and picker
        for n in (1, 3, 50, 104):
            accounts.set_active(session, accounts.by_reference(session, f"FL{n:07d}"), False, "U012AB3CD")
    active = [name for n, name in enumerate(names, 1) if n not in (1, 3, 50, 104)]
    assert counted_and_first(session_factory, query) == ("100", active[:8], active)
    assert every_page(session_factory, query) == active
    with session_factory.begin() as session:
        excluded = accounts.by_reference(session, "FL0000002").id
    assert counted_and_first(session_factory, query, exclude_id=excluded) == ("99", active[1:9], active[1:])
    with session_factory.begin() as session:
        every = accounts.search(session, query, limit=8, include_inactive=True)
        assert (every.counted, [a.name for a in every.accounts]) == ("more than 100", names[:8])

    with session_factory.begin() as session:  # active again, renamed away, created, imported
        accounts.set_active(session, accounts.by_reference(session, "FL0000003"), True, "U012AB3CD")
        accounts.rename(session, accounts.by_reference(session, "FL0000004"), "Baker 004", "U012AB3CD")
    active = [name for n, name in enumerate(names, 1) if n not in (1, 4, 50, 104)]
    assert counted_and_first(session_factory, query) == ("100", active[:8], active)
    make_account(session_factory, "FL0000000", "Florist Shop 000", active=False)
    make_account(session_factory, "FL0000200", "Florist Shop 200")
    assert counted_and_first(session_factory, query)[0] == "more than 100"
    with session_factory.begin() as session:
        accounts.set_active(session, accounts.by_reference(session, "FL0000200"), False, "U012AB3CD")
        importing.load(
            session, ["reference,name,keyword,credits\n", "FL0000150,Florist Shop 150,,0\n"], "cli"
        )
    active.append("Florist Shop 150")
    assert counted_and_first(session_factory, query) == ("more than 100", active[:8], active[:COUNT_LIMIT])
    assert every_page(session_factory, query) == active


def test_word_searches_count_only_active_accounts_after_an_import_into_an_empty_store(session_factory):
    # PostgreSQL's import into an empty store drops the indexes of accounts and builds them again.
    rows = [f"IM{n:07d},Importer {n:03d},,0\n" for n in range(1, COUNT_LIMIT + 3)]
    with session_factory.begin() as session:
        importing.load(session, ["reference,name,keyword,credits\n", *rows], "cli")
    with session_factory.begin() as session:
        for n in (2, 7):
            accounts.set_active(session, accounts.by_reference(session, f"IM{n:07d}"), False, "U012AB3CD")
    active = [f"Importer {n:03d}" for n in range(1, COUNT_LIMIT + 3) if n not in (2, 7)]
    assert counted_and_first(session_factory, "importer") == ("100", active[:8], active)
    hundreds = [name for name in active if name.startswith("Importer 1")]
    assert counted_and_first(session_factory, "IMPORTER 1") == (str(len(hundreds)), hundreds, hundreds)


@pytest.mark.parametrize(
    ("needle", "listed"),
    [
        ("lpha", [f"Alpha {n:03d}" for n in range(8)]),  # many, inside ten words: walked
        ("pha 01", [f"Alpha {n:03d}" for n in range(10, 18)]),  # few: sorted
        ("RF0000003", ["Alpha 003", "Copy of XRF0000003"]),  # the exact reference, then the rest
    ],
)
def test_a_page_found_the_general_way_carries_each_listed_account_s_forecast(
    engine, session_factory, needle, listed
):
    # A needle inside a word is listed by walking the names or by sorting the matches. The page's
    # forecasts come in that statement (in one of their own, they cost a round trip: 0.3 ms on
    # PostgreSQL); the exact-reference account's, read apart, is there too.
    for n in range(150):
        make_account(session_factory, f"RF{n:07d}", f"Alpha {n:03d}", credits=5000)
    make_account(session_factory, "CP0000001", "Copy of XRF0000003", credits=5000)
    # More words hold "lpha" than the word path merges (MAX_DRIVER_WORDS).
    add_accounts(session_factory, [(f"ZL{n:07d}", f"Zulu Xlpha{n}") for n in range(9)])
    for reference, used in [("RF0000000", 700), ("RF0000003", 1400), ("RF0000011", 350), ("CP0000001", 70)]:
        spend(session_factory, reference, used, timedelta(days=7))
    with session_factory.begin() as session:
        sent = statements_while(
            engine, lambda: accounts.search(session, needle, limit=8, forecasts_at=FORECAST_NOW)
        )
        page = accounts.search(session, needle, limit=8, forecasts_at=FORECAST_NOW)
        ids = [account.id for account in page.accounts]
        expected = forecast.for_accounts(session, ids, FORECAST_NOW)
    assert [account.name for account in page.accounts] == listed
    assert page.forecasts == expected
    assert any(outlook.used for outlook in expected.values())
    if needle != "RF0000003":  # nothing is read after the page
        assert "ledger_entries" in sent[-1] and "LIMIT" in sent[-1], sent[-1]


@pytest.mark.parametrize("typed", ["ΟΔΟΣ", "ΟΔΟΣ Street", "İstanbul", "İstanbul Taksi", "ΣΟΦΙΑ", "İ"])
def test_a_name_typed_as_it_is_shown_finds_it_whatever_its_letters(session_factory, typed):
    # Python folds "Σ" at a word's end to "ς" and "İ" to two characters, where the database's
    # lower() (which built the search's indexes) makes "σ" and "i", or, on SQLite, leaves them.
    add_accounts(
        session_factory,
        [
            ("EX0000001", "ΟΔΟΣ Street"),
            ("EX0000002", "İstanbul Taksi"),
            ("EX0000003", "ΣΟΦΙΑ"),
            ("EX0000004", "Kelp Co"),
        ],
    )
    wanted = next(name for name in ("ΟΔΟΣ Street", "İstanbul Taksi", "ΣΟΦΙΑ") if typed in name)
    assert wanted in every_page(session_factory, typed)
    assert "Kelp Co" not in every_page(session_factory, typed)
