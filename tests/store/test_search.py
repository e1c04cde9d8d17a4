"""Account search: what matches, in which order, and how matches are counted."""

from __future__ import annotations

import pytest

from store import accounts
from store.accounts import COUNT_LIMIT
from store.models import Account
from tests.conftest import make_account


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
