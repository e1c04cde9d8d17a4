"""Account search: a substring of name, reference or keyword, the exact reference first, then by name.

How a page is found, cheapest first:
  - when every match has the typed text at the start of a word of its name or keyword, or in a
    reference (the vocabulary in search_fragments says no word has it inside, or names the few
    words that have), the matches are read in list order, a page's worth at a time, from
    search_words (migration 0012: the words the text starts, or holds, merged in one statement)
    or, for two or more typed words, from search_pairs (0017: "alerts 7" is alerts followed by 7,
    70-79, the pairs search_pairs has in that range, merged in one statement; failing those, the
    earlier word or pair with fewest entries; on SQLite each entry's account is read from the
    name-order index, 0031); matches in references are fetched through the
    substring index by the needle's last characters, the exact reference first (SQLite: from the
    unique reference index alone when no reference is longer than the needle, 0023);
  - otherwise the exact reference is one look-up in the unique reference index;
  - matches are counted only up to COUNT_LIMIT, driven by the substring index (SQLite's FTS5
    trigram table `accounts_fts`, PostgreSQL's pg_trgm GIN indexes), never by the table;
  - a page of many matches is listed by walking ix_accounts_name_order and testing each row,
    for a bounded number of rows; a page of few matches (or a walk that ran out of budget, when
    the matches cluster late in name order) by fetching the matches and sorting them. The start
    of many references, held nowhere else, is a range of the unique index (0042): the walk
    compares each reference with its ends, for at most what sorting the range would cost.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import operator
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    String,
    and_,
    bindparam,
    case,
    column,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import CompoundSelect, TableClause, UnaryExpression
from sqlalchemy.sql.operators import custom_op

from store import forecast
from store.db import ALWAYS_GENERIC, GENERIC_PLAN, Read, connection_of, is_postgresql, read_together, rows_of
from store.forecast import Forecast
from store.models import (
    KEYWORD_MAX_LENGTH,
    LIST_ORDER,
    NAME_MAX_LENGTH,
    REFERENCE_MAX_LENGTH,
    Account,
    account_totals,
    by_code_point,
    search_fragments,
    search_pairs,
    search_reference_coverage,
    search_words,
)

# Counting every match of "ltd" among a million accounts costs more than the page itself, and
# nobody pages through hundreds of results: past this many, the count says "more than".
COUNT_LIMIT = 100

FTS_MIN_LENGTH = 3  # the trigram tokenizer cannot match anything shorter
# The substring indexes are asked for the needle's last PROBE_LENGTH characters, and each row they
# return is checked for the whole needle. Their cost is the posting lists of the needle's trigrams,
# and leading trigrams are the common ones: "BN000" starts every reference, "Acme " half the names.
PROBE_LENGTH = 6
# A walk reads at most this many names per row it needs before giving up and sorting: pages of
# matches shared by more than about 1 in WALK_BUDGET accounts come from a walk.
WALK_BUDGET = 40
# A needle too short for the substring indexes walks this many times further before its matches
# are sorted (which reads every account): "42" is in 5% of references, but by chance in few of the
# first names (ties in name order go by id, and low ids have few digits). A walk stops at the page's
# last match, so the reach costs only when the walk comes up short.
SHORT_NEEDLE_REACH = 64
# References starting with the needle (a range of the unique index) are sorted by name after
# reading each one's row, which costs as much as walking this many accounts in name order and
# comparing each one's reference with the range's ends (0.42 against 0.16 µs on PostgreSQL, 0.48
# against 0.24 on SQLite). A walk of a range is bounded by what sorting it costs.
RANGE_WALK_PER_SORTED = 2
# The range is counted up to this many references, to weigh the walk against the sort (0.3 ms on
# PostgreSQL, 0.1 on SQLite).
RANGE_COUNT_LIMIT = 5_000
# The word path reads at most this many search_words entries per match it needs (entries of a
# word whose accounts fail the filters or the rest of the typed text), then leaves it to the rest.
WORD_BUDGET = 20
# Of the typed words before the last, this many (the nearest) and their pairs are counted as drivers.
EARLIER_WORDS = 3
# A typed word that starts more distinct words than this ("a", "7") is listed the general way.
MAX_DRIVER_WORDS = 8
# Two typed words are listed from search_pairs when the last starts at most this many words
# ("alerts 7": alerts followed by 7, 70-79), each pair's entries read in list order, in one statement.
MAX_DRIVER_PAIRS = 16
LAST_CHARACTER = "\U0010ffff"  # every string that starts with p sorts before p + this


# An account on a page: an ORM object, or every column of accounts as a row or as a named tuple
# (the word path's pages: its boxes read each column a dozen times, and a Row's attribute costs
# ten times a named tuple's), read the same way, by attribute.
Listed = Account | Row[Any]
_COLUMNS = tuple(column.key for column in Account.__table__.c)
_account_row: Callable[[Iterable[Any]], Any] = namedtuple(  # type: ignore[misc, attr-defined]
    "AccountRow", _COLUMNS
)._make


def listed_with_forecasts(rows: Iterable[Any], now: datetime) -> tuple[list[Listed], dict[int, Forecast]]:
    """Rows of every column of accounts then forecast.USAGE's two: the accounts, as named tuples,
    and each one's forecast at `now`."""
    listed, forecasts = [], {}
    for row in rows:
        account = _account_row(row[: len(_COLUMNS)])
        used, first_usage = row[len(_COLUMNS) :]
        listed.append(account)
        forecasts[account.id] = forecast.from_usage(account.balance, int(used), first_usage, now)
    return listed, forecasts


@dataclass(frozen=True)
class Page:
    """One page of search results and how many matched: exactly, or "more than `total`"."""

    accounts: Sequence[Listed]
    total: int
    offset: int
    limit: int
    more: bool = False  # counting stopped at `total`; there are more matches than that
    forecasts: dict[int, Forecast] | None = None  # each listed account's, when asked for

    @property
    def has_next(self) -> bool:
        return self.more or self.offset + len(self.accounts) < self.total

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def counted(self) -> str:
        """The total as people read it: "12" or "more than 100"."""
        return f"more than {self.total:,}" if self.more else f"{self.total:,}"


@dataclass(frozen=True)
class _Shape:
    """What a search's statements depend on; each shape's statements are built once."""

    sqlite: bool
    fts: bool  # SQLite, with a needle the trigram index can serve
    like: bool  # a needle matched by LIKE (PostgreSQL, or a short needle on SQLite)
    probed: bool  # a needle longer than its probe: the index is asked for the probe alone
    bare: bool  # a needle no index serves and lower() cannot change: tested on the columns as they are
    include_inactive: bool
    excluding: bool
    with_credits_only: bool


@dataclass(frozen=True)
class _Query:
    """What one search asks for."""

    text: str
    include_inactive: bool
    exclude_id: int | None
    with_credits_only: bool
    sqlite: bool
    needle: str  # the text as the database folds it: folded(connection, text)

    @property
    def too_short(self) -> bool:
        """Whether the needle is too short for the substring indexes (and for the word path)."""
        return len(self.needle) < FTS_MIN_LENGTH

    @property
    def reference(self) -> str | None:
        reference = self.text.strip().upper()
        return reference if reference.isalnum() and len(reference) <= REFERENCE_MAX_LENGTH else None

    @property
    def shape(self) -> _Shape:
        fts = self.sqlite and not self.too_short
        return _Shape(
            self.sqlite,
            fts,
            bool(self.needle) and not fts,
            len(self.needle) > PROBE_LENGTH,
            self.too_short and self.needle.isascii() and not any(c.isalpha() for c in self.needle),
            self.include_inactive,
            self.exclude_id is not None,
            self.with_credits_only,
        )

    def parameters(self) -> dict[str, Any]:
        probe = self.needle[-PROBE_LENGTH:]
        return {
            # An FTS5 string literal: the trigram tokenizer matches it as a substring anywhere.
            "phrase": '"' + probe.replace('"', '""') + '"',
            "reference_phrase": 'reference : "' + probe.replace('"', '""') + '"',
            "probe": _contains(probe),
            "pattern": _contains(self.needle),
            "exclude_id": self.exclude_id,
            "reference": self.reference,
            # The references starting with the typed one, as a range of the unique index (none if
            # it cannot be a reference).
            "starts_from": self.reference or "",
            "starts_before": _next_after(self.reference or ""),
        }


_FOLDED = select(func.lower(bindparam("text", type_=String)))


def folded(connection: Connection, text: str) -> str:
    """`text` stripped and lower-cased as the database's lower(), which built the search's indexes,
    folds it. Python folds ASCII alike, so only other text is sent: Python makes a word's last "Σ"
    "ς" and "İ" two characters, where PostgreSQL makes "σ" and "i" and SQLite leaves them."""
    stripped = text.strip()
    if stripped.isascii():
        return stripped.lower()
    [(lowered,)] = rows_of(connection, _FOLDED, {"text": stripped})
    return str(lowered)


def _next_after(prefix: str) -> str:
    """The first string past every one starting with `prefix` (code point order; "" for "")."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else ""


def _contains(needle: str) -> str:
    escaped = needle.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


_FTS = table("accounts_fts", literal_column("rowid"))


# The references starting with the typed text: a range of the unique index, compared by code
# point on both databases (migration 0042).
def _starts_with_the_needle(accounts: Any = Account) -> ColumnElement[bool]:
    return and_(
        accounts.reference >= bindparam("starts_from"), accounts.reference < bindparam("starts_before")
    )


def _filters(shape: _Shape, accounts: Any = Account) -> list[ColumnElement[bool]]:
    plus = shape.sqlite and accounts is Account
    # SQLite's unary + keeps these off the indexes: the FTS5 table must drive the search, not
    # ix_accounts_active_balance scanning every active account and probing FTS5 with each; and a
    # needle too short for FTS5 reads the table in order, not through that index and a look-up of
    # each row (counting 101 matches of "42" among a million: 1.9 -> 1.6 ms; reading every
    # account 1.15 -> 0.43 s).
    filters = []
    if not shape.include_inactive:
        filters.append((literal_column("+accounts.active") if plus else accounts.active).is_(True))
    if shape.excluding:
        filters.append(accounts.id != bindparam("exclude_id"))
    if shape.with_credits_only:
        filters.append((literal_column("+accounts.balance") if plus else accounts.balance) > 0)
    return filters


def _filtered(statement: Select[Any], shape: _Shape, accounts: Any = Account) -> Select[Any]:
    return statement.where(*_filters(shape, accounts))


def _like(accounts: Any = Account, pattern_name: str = "pattern", bare: bool = False) -> ColumnElement[bool]:
    """The needle (or its probe) in name, reference or keyword, tested on the row itself. `bare`:
    on the columns as they are, for a needle of ASCII digits, spaces and punctuation, which lower()
    leaves as they are and never makes; lower() of each column of each row read was most of the
    cost of testing a number ("42": counting its first 101 matches among a million, 0.53 -> 0.18 ms)."""
    pattern = bindparam(pattern_name, type_=String)
    columns = (accounts.name, accounts.reference, accounts.keyword)
    return or_(*((column if bare else func.lower(column)).like(pattern, escape="/") for column in columns))


@functools.cache
def _matches(shape: _Shape) -> Select[Any]:
    """Every match, in no particular order, found through the substring index by its probe."""
    statement = _filtered(select(Account), shape)
    if shape.fts:
        # A join the FTS5 table drives: `id IN (SELECT rowid ...)` built every match first.
        statement = statement.join(_FTS, _FTS.c.rowid == Account.id).where(text("accounts_fts MATCH :phrase"))
    elif shape.like and shape.probed:
        # Testing the probe as well as a needle no longer than it tested each row twice over.
        statement = statement.where(_like(pattern_name="probe"))
    return statement.where(_like(bare=shape.bare)) if shape.fts or shape.like else statement


@functools.cache
def _exact(shape: _Shape) -> Select[Any]:
    """The id of the account whose reference is the query, if it passes the filters."""
    return _filtered(select(Account.id), shape).where(Account.reference == bindparam("reference"))


@functools.cache
def _survey(shape: _Shape) -> Select[Any]:
    """One row: the exact-reference account's id, and the matches counted up to :count_limit."""
    first = _matches(shape).with_only_columns(Account.id).limit(bindparam("count_limit")).subquery()
    return select(_exact(shape).scalar_subquery(), select(func.count()).select_from(first).scalar_subquery())


def _accounts_in(page: Any, with_usage: bool) -> Select[Any]:
    """Every column of the accounts a page subquery (id, sort_name) holds, in its order; with
    `with_usage`, each one's forecast.USAGE too (forecast.window's parameters): the forecasts come
    in the page's own round trip."""
    columns = [*Account.__table__.c, *(forecast.USAGE if with_usage else ())]
    return (
        select(*columns)
        .join(page, Account.id == page.c.id)
        .order_by(by_code_point(page.c.sort_name), page.c.id)
    )


def _choices_in(page: Any) -> Select[Any]:
    """A page subquery's (id, reference, name), in its order: what a picker offers, from the
    statement that found them. Reading each account again cost most of a walked page's statement
    (0.54 of 0.79 ms for a picker's 100 of "e" at a million on PostgreSQL)."""
    return select(page.c.id, page.c.reference, page.c.name).order_by(
        by_code_point(page.c.sort_name), page.c.id
    )


@functools.cache
def _sorted_page(shape: _Shape, in_reference_range: bool = False) -> Any:
    """A slice of the matches other than the exact one, by name, after fetching them all:
    (id, sort_name, reference, name). `in_reference_range`: the matches are the references
    from :starts_from to :starts_before, a range of the unique index (migration 0042 on
    PostgreSQL), where the trigram index's postings for their first characters hold every
    reference ("bn0012" at a million: 25 -> 7 ms on PostgreSQL, 28 -> 3 on SQLite)."""
    # `|| ''` is an expression ix_accounts_name_order does not cover: the planner must fetch the
    # matches and sort them, rather than walk the index on a guess. PostgreSQL guesses 1% for
    # `reference LIKE '%008500%'` and would walk all 1M entries to find one account.
    by_name = by_code_point(func.lower(Account.name).concat("")).label("sort_name")
    matches = (
        _filtered(select(Account), shape).where(_starts_with_the_needle())
        if in_reference_range
        else _matches(shape)
    )
    return (
        matches.with_only_columns(Account.id, by_name, Account.reference, Account.name)
        .where(Account.id.is_distinct_from(bindparam("exact_id")))
        .order_by(by_name, Account.id)  # by the label: the expression once per match
        .offset(bindparam("skip"))
        .limit(bindparam("take"))
        .subquery()
    )


def _read_page(page: Any, with_usage: bool, choices: bool) -> Select[Any]:
    """A page subquery's accounts, read whole; with `choices`, as a picker offers them."""
    return _choices_in(page) if choices else _accounts_in(page, with_usage)


@functools.cache
def _sorted(
    shape: _Shape, with_usage: bool = False, choices: bool = False, in_reference_range: bool = False
) -> Select[Any]:
    return _read_page(_sorted_page(shape, in_reference_range), with_usage, choices)


@functools.cache
def _walked_page(shape: _Shape, in_reference_range: bool = False) -> Any:
    """The same slice from among the first :budget accounts in name order, each tested on its row:
    (id, sort_name, reference, name). `in_reference_range`: as _sorted_page's, the test is a
    comparison of the reference with the range's ends.

    Lazy: it stops reading as soon as it has the slice, so dense matches cost a page's worth. The
    walk reads only what it tests, which the name-order index holds (migrations 0031 and 0040), and
    the slice's accounts are read whole afterwards: reading each walked account's row cost four
    times as much. Its plan is the same whatever the values (PostgreSQL planned it for each, 0.2-0.3
    ms, as long as running it). SQLite's index lacks the balance: a picker's walk looks it up for
    the accounts that pass the other tests, not for every account walked (7.3 -> 3.1 ms for the
    first 100 of "42" at a million).
    """
    balance_apart = shape.with_credits_only and shape.sqlite
    columns = [Account.id, LIST_ORDER.label("sort_name"), Account.name, Account.reference, Account.keyword]
    columns += (
        [Account.active, Account.balance]
        if shape.with_credits_only and not balance_apart
        else [Account.active]
    )
    walk = select(*columns).order_by(LIST_ORDER, Account.id).limit(bindparam("budget")).subquery()
    # No ORDER BY in the slice: the walk is already in name order, and sorting it would read all of it.
    tested = replace(shape, with_credits_only=False) if balance_apart else shape
    found = _filtered(
        select(walk.c.id, walk.c.sort_name, walk.c.reference, walk.c.name), tested, walk.c
    ).where(walk.c.id.is_distinct_from(bindparam("exact_id")))
    if in_reference_range:
        found = found.where(_starts_with_the_needle(walk.c))
    elif shape.fts or shape.like:
        found = found.where(_like(walk.c, bare=shape.bare))
    if balance_apart:  # last, once the cheaper tests have passed
        found = found.where(select(Account.balance).where(Account.id == walk.c.id).scalar_subquery() > 0)
    return found.offset(bindparam("skip")).limit(bindparam("take")).subquery()


@functools.cache
def _walked(
    shape: _Shape, with_usage: bool = False, choices: bool = False, in_reference_range: bool = False
) -> Select[Any]:
    statement = _read_page(_walked_page(shape, in_reference_range), with_usage, choices)
    return statement.execution_options(**{GENERIC_PLAN: ALWAYS_GENERIC})


# ------------------------------------------------------------------------------ word path


def _fragment(kind: str, prefix_name: str, *, exact: bool = False) -> Any:
    """Fragments of a kind (w: words, s: proper suffixes of words) equal to, or starting with, a parameter."""
    fragment, prefix = search_fragments.c.fragment, bindparam(prefix_name, type_=String)
    where = [fragment == prefix] if exact else [fragment >= prefix, fragment < prefix + LAST_CHARACTER]
    return select(fragment).where(search_fragments.c.kind == kind, *where)


_INSIDE_A_WORD = {
    exact: select(exists(_fragment("s", "first", exact=exact))).scalar_subquery() for exact in (False, True)
}
# Whether some reference might hold the needle. SQLite: every three characters of it are in some
# reference. PostgreSQL: the trigram index on references is asked for the probe only, since the
# needle's leading trigrams ("bn0", "000") are in every reference, and each row it returns is
# checked for the whole needle (`|| ''` keeps that test out of the index).
_IN_A_REFERENCE = {
    True: select(func.count())
    .where(
        search_fragments.c.kind == "r", search_fragments.c.fragment.in_(bindparam("grams", expanding=True))
    )
    .scalar_subquery()
    == bindparam("gram_count"),
    False: exists().where(
        func.lower(Account.reference).like(bindparam("probe"), escape="/"),
        func.lower(Account.reference).concat("").like(bindparam("pattern"), escape="/"),
    ),
}
# SQLite, a needle of ASCII letters and digits: no reference is longer than it (an index range,
# migration 0023), so only the reference equal to it can hold it, one look-up in the unique index.
# References are stored upper-case (accounts.clean_reference), as :reference is.
_NONE_LONGER = {
    True: ~exists().where(func.length(Account.reference) > bindparam("needle_length")),
    False: literal_column("0") == 1,
}
# PostgreSQL: whether the vocabulary holds the trigrams of every account's reference. Those a bulk
# writer added (an import) have none until the next fold_reference_grams (`serve` runs it every
# FOLD_REFERENCES_SECONDS); until then a short needle is counted the general way. The newest id is
# one seek in the primary key.
_NEWEST_ID = select(func.coalesce(func.max(Account.id), 0)).correlate(None).scalar_subquery()
_COVERED_UPTO = select(func.coalesce(func.max(search_reference_coverage.c.upto), 0)).scalar_subquery()
_REFERENCES_COVERED = _COVERED_UPTO >= _NEWEST_ID
# Whether a reference can hold the needle only at its start: no trigram of any reference ends with
# the needle's first two characters (:lead), so none has them past its first character. The
# vocabulary holds every reference's trigrams (PostgreSQL's, once covered).
_LEAD_INSIDE = exists().where(
    search_fragments.c.kind == "r",
    func.substr(search_fragments.c.fragment, 2) == bindparam("lead", type_=String),
)
_AT_THE_START_ONLY = {True: ~_LEAD_INSIDE, False: and_(~_LEAD_INSIDE, _REFERENCES_COVERED)}


_IN_RANGE = (
    select(func.count())
    .select_from(
        select(literal_column("1")).where(_starts_with_the_needle()).limit(RANGE_COUNT_LIMIT).subquery()
    )
    .scalar_subquery()
)
_ACCOUNTS = select(func.coalesce(func.sum(account_totals.c.accounts), 0)).scalar_subquery()


@functools.cache
def _exact_and_where(shape: _Shape) -> Select[Any]:
    """One row: the exact-reference account's id, whether the needle can be in a reference only
    at its start (then the references holding it are those from :starts_from to :starts_before),
    how many start with it (up to RANGE_COUNT_LIMIT), and how many accounts there are."""
    statement = select(
        _exact(shape).scalar_subquery(), _AT_THE_START_ONLY[shape.sqlite], _IN_RANGE, _ACCOUNTS
    )
    return statement.execution_options(**{GENERIC_PLAN: True})  # index look-ups, whatever the values


def _short_needle_in_a_reference(sqlite: bool) -> ColumnElement[bool]:
    """A needle of one or two characters, too short for the trigram indexes: whether some reference
    might hold it, from the vocabulary (the word path's screen: if none can, and no word has it
    inside, its matches are all in search_words, where counting them read every account). Every
    piece of a reference of three or more characters is in one of its trigrams (PostgreSQL's once
    covered: the screen asks that apart, _REFERENCES_COVERED); shorter references are few, and
    indexed by length (0023). Once true, true for good: trigrams are never removed."""
    position = func.instr if sqlite else func.strpos
    # Constants, not parameters: planned once for any values (the screen's generic plan), the tests
    # read every fragment (0.4 ms), and every account (58 ms at 1M), where indexes find the few.
    tests = [
        exists().where(
            search_fragments.c.kind == literal_column("'r'"),
            position(search_fragments.c.fragment, bindparam("needle")) > 0,
        ),
        exists().where(func.length(Account.reference) < literal_column(str(FTS_MIN_LENGTH))),
    ]
    return or_(*tests)


_SHORT_NEEDLE_IN_A_REFERENCE = {sqlite: _short_needle_in_a_reference(sqlite) for sqlite in (True, False)}
# PostgreSQL: the length of the longest reference (migration 0034's index: one seek), or None. The
# screen reads it in the same round trip as the reference read, so it can only tell the next
# search on the connection whether that read may skip the trigram index.
_LONGEST_REFERENCE = select(func.max(func.length(Account.reference))).scalar_subquery()
_LONGEST_SEEN = "admin_bot_longest_reference"  # the connection's last reading of it (its pool record's info)
_MAX_STARTING = max(MAX_DRIVER_WORDS, MAX_DRIVER_PAIRS) + 1
_STARTING = _fragment("w", "last").order_by(search_fragments.c.fragment).limit(_MAX_STARTING).subquery()


def _starting_pairs() -> Any:
    """The pairs (search_pairs) starting with :pair_prefix (the last but one typed word and a
    space) followed by :last, at most _MAX_STARTING, in order: a walk of the primary key, one seek
    from each pair to the next. Two typed words are in one of those pairs, and they are few where
    the words starting with the last are many: "acme m" is in "acme marketing" alone, where a
    hundred words start with "m" and the search was listed by sorting every match (70 ms at 1M)."""
    pair = search_pairs.c.pair
    start = bindparam("pair_prefix", type_=String) + bindparam("last", type_=String)

    def after(previous: Any) -> Any:  # the first pair past `previous`: min() of an index range
        return select(func.min(pair)).where(previous, pair < start + LAST_CHARACTER).scalar_subquery()

    first = select(after(pair >= start).label("pair"), literal_column("1").label("n"))
    found = first.cte("starting_pairs", recursive=True)
    found = found.union_all(
        select(after(pair > found.c.pair), found.c.n + 1).where(
            found.c.pair.is_not(None), found.c.n < _MAX_STARTING
        )
    )
    return select(found.c.pair).where(found.c.pair.is_not(None)).subquery()


_STARTING_PAIRS = _starting_pairs()
# The words starting with the last typed word (of two or more: the words after the last but one in
# _STARTING_PAIRS), at most _MAX_STARTING, joined by spaces (a word has none): the screen's own
# column, saving a round trip.
_STARTING_WORDS = {
    False: select(func.aggregate_strings(_STARTING.c.fragment, " ")).scalar_subquery(),
    True: select(
        func.aggregate_strings(
            func.substr(_STARTING_PAIRS.c.pair, func.length(bindparam("pair_prefix", type_=String)) + 1), " "
        )
    ).scalar_subquery(),
}
# A page's accounts as plain rows of every column: the page only shows them, and loading ORM
# objects (and tracking them until the session closes) cost more than the statement.
_LISTED = (
    select(*Account.__table__.c)
    .where(Account.id.in_(bindparam("ids", expanding=True)))
    .execution_options(**{GENERIC_PLAN: True})
)
# The same with each account's usage (forecast.window's parameters), its last two columns: one
# round trip, not two.
_LISTED_WITH_USAGE = _LISTED.add_columns(*forecast.USAGE)
_LISTED_ID = _COLUMNS.index("id")  # where a _LISTED row holds the account id
# PostgreSQL: the exact-reference account as _LISTED_WITH_USAGE reads it, from the unique index
# (_guessed_with_first_page's).
_EXACT_LISTED = select(*_LISTED_WITH_USAGE.selected_columns).where(
    Account.reference == bindparam("reference")
)


@functools.cache
def _screen(sqlite: bool, alnum: bool, ascii_needle: bool, exact: bool, short: bool = False) -> Select[Any]:
    """One row: whether some word has the needle inside, whether some reference might, whether
    only the exact reference can, and the words that start with the last typed word (`exact`: of
    two or more typed words, those following the last but one); on PostgreSQL also the longest
    reference's length. `short`: a needle too short for the trigram indexes, whose references are
    screened by the vocabulary (PostgreSQL's read of the references is not sent; its row ends with
    whether the vocabulary does not cover every reference yet)."""
    if short:
        in_reference = _SHORT_NEEDLE_IN_A_REFERENCE[sqlite]
    else:
        in_reference = _IN_A_REFERENCE[sqlite] if alnum else literal_column("0") == 1
    columns = [
        _INSIDE_A_WORD[exact],
        in_reference,
        _NONE_LONGER[sqlite and alnum and ascii_needle],
        _STARTING_WORDS[exact],
    ]
    if not sqlite:
        columns.append(_LONGEST_REFERENCE)
        if short:
            columns.append(~_REFERENCES_COVERED)
    # Look-ups of index ranges, the same plan whatever the words: PostgreSQL planned it for its
    # values each time, which took longer than running it (0.1-0.2 ms against 0.05).
    return select(*columns).execution_options(**{GENERIC_PLAN: True})


@functools.cache
def _in_references(
    shape: _Shape, exact_only: bool, planned_once: bool = False
) -> Select[Any] | CompoundSelect:
    """At most :take matches in a reference, as _Match and whether it is the exact reference.

    `planned_once` (PostgreSQL): the generic plan, through the trigram index, for a probe few
    references hold (_rare_in_references); planning it for its values cost 0.1 ms, more than the read."""
    exact = Account.reference == bindparam("reference")
    columns = (func.lower(Account.name), Account.id, Account.reference, Account.name, exact)
    holds = func.lower(Account.reference).concat("").like(bindparam("pattern"), escape="/")
    statement = _filtered(select(*columns), shape).where(holds)
    if exact_only:  # a look-up in the unique index, whatever the values
        return statement.where(exact).limit(bindparam("take")).execution_options(**{GENERIC_PLAN: True})
    if shape.fts:
        indexed = statement.join(_FTS, _FTS.c.rowid == Account.id).where(
            text("accounts_fts MATCH :reference_phrase")
        )
    else:
        indexed = statement.where(func.lower(Account.reference).like(bindparam("probe"), escape="/"))
    # The references starting with the needle come first, from a range of the unique index: "bn0099"
    # starts 1% of a million references, and the substring index's posting lists for its leading
    # trigrams hold them all (12 ms). With :take of them, the rest is never read. A probe the sample
    # calls rare can still start many: "bn0012" (7 ms through the trigram index alone).
    starting = _starts_with_the_needle()
    read = union_all(statement.where(starting), indexed.where(~starting)).limit(bindparam("take"))
    return read.execution_options(**{GENERIC_PLAN: ALWAYS_GENERIC}) if planned_once else read


# PostgreSQL: the references ANALYZE sampled (pg_stats' histogram: up to 101, spread evenly over
# them), lower-cased as the trigram index reads them; none before the first ANALYZE.
_REFERENCE_SAMPLE = text(
    "SELECT lower(sampled) FROM pg_stats, unnest(histogram_bounds::text::text[]) AS sampled"
    " WHERE schemaname = current_schema() AND tablename = 'accounts' AND attname = 'reference'"
)
# The connection's reading of it, as trigrams (its pool record's info): references are added, but
# what a sample of them holds hardly changes.
_SAMPLED_GRAMS = "admin_bot_reference_sample"


def _trigrams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)}


def _rare_in_references(probe: str, sampled_grams: frozenset[str]) -> bool:
    """Whether some three characters of the probe are in none of the sampled references, and so
    in few references (about 3% at most): the trigram index finds them fast whatever they are.
    Otherwise ("000", "bn0001": in most references) the read is planned for its values, which
    reads the table in order until it has :take rows rather than the index's long posting lists.
    Only the plan depends on it, never what is found."""
    return bool(sampled_grams) and not _trigrams(probe) <= sampled_grams


# A match as the word path finds it: (sort_name, id, reference, name), in list order (reference
# and name None where they were not asked for: _by_words' `named`). A plain
# tuple, sliced from its row: the word path reads up to COUNT_LIMIT + 1 of them per search, and
# a NamedTuple's constructor is a Python call each.
_Match = tuple[str, int, str | None, str | None]
_ID = 1  # where a _Match holds the account id
_IN_LIST_ORDER = operator.itemgetter(0, _ID)


@dataclass(frozen=True)
class _Driver:
    """Entries of search_words holding any of some words, or of search_pairs holding any of some pairs."""

    keys: tuple[str, ...]
    pairs: bool = False


@functools.cache
def _entries(keys: int, pairs: bool, sqlite: bool) -> Any:
    """The next :take entries of any of :key_0..:key_<keys - 1> (words, or pairs) after
    (:after_name, :after_id), in list order: an account holding two of them comes twice in a row."""
    entries = search_pairs if pairs else search_words
    key = entries.c.pair if pairs else entries.c.word
    after = tuple_(entries.c.sort_name, entries.c.account_id) > tuple_(
        bindparam("after_name", type_=String), bindparam("after_id")
    )
    in_order = (entries.c.sort_name, entries.c.account_id)
    arms = [select(*in_order).where(key == bindparam(f"key_{n}", type_=String), after) for n in range(keys)]
    if len(arms) == 1:
        chunk = arms[0].order_by(*in_order).limit(bindparam("take")).subquery()
    elif sqlite:
        # One ordered compound: SQLite merges the keys' index ranges and stops at :take. An arm
        # with a LIMIT of its own was read whole (up to :take) into a temporary b-tree, and sorted.
        chunk = union_all(*arms).order_by(*in_order).limit(bindparam("take")).subquery()
    else:
        # Each key's entries are an index range already in list order: :take of each, then of all.
        arms = [arm.order_by(*in_order).limit(bindparam("take")) for arm in arms]
        merged = union_all(*(select(arm.subquery()) for arm in arms)).subquery()
        chunk = (
            select(merged)
            .order_by(merged.c.sort_name, merged.c.account_id)
            .limit(bindparam("take"))
            .subquery()
        )
    return chunk


class _IndexedBy(TableClause):
    """A table read through one index it names (SQLite's INDEXED BY), as a copy of its columns."""

    inherit_cache = True

    def __init__(self, table: Any, index: str) -> None:
        super().__init__(table.name, *(column(c.key, c.type) for c in table.c))
        self.index = index


@compiles(_IndexedBy, "sqlite")
def _indexed_by(element: _IndexedBy, compiler: SQLCompiler, **kw: Any) -> str:
    table = compiler.visit_table(element, **kw)
    return f"{table} INDEXED BY {element.index}" if kw.get("asfrom") else table


# SQLite: accounts as the name-order index holds them (migration 0031: with every column a word
# search reads). Entries come in name order, so their accounts sit together there, where in the
# table each was a page of its own; looked up by id, SQLite would read the table.
_ACCOUNTS_IN_NAME_ORDER = _IndexedBy(Account.__table__, "ix_accounts_name_order")


@functools.cache
def _guessed_entries(pairs: bool) -> Any:
    """PostgreSQL: _entries of the driver the screen is likely to choose, its keys read in the
    statement itself: the words starting with :last (pairs: _STARTING_PAIRS). Sent with the
    screen, it saves the round trip that waited for the screen's answer."""
    entries = search_pairs if pairs else search_words
    key = _STARTING_PAIRS.c.pair if pairs else _STARTING.c.fragment
    keys = select(key.label("key")).subquery("keys")
    in_order = (entries.c.sort_name, entries.c.account_id)
    after = tuple_(*in_order) > tuple_(bindparam("after_name", type_=String), bindparam("after_id"))
    # Each key's entries are an index range already in list order: :take of each, then of all.
    each = (
        select(*in_order)
        .where((entries.c.pair if pairs else entries.c.word) == keys.c.key, after)
        .order_by(*in_order)
        .limit(bindparam("take"))
        .lateral("each_key")
    )
    return (
        select(each.c.sort_name, each.c.account_id)
        .select_from(keys)
        .join(each, literal_column("true"))
        .order_by(each.c.sort_name, each.c.account_id)
        .limit(bindparam("take"))
        .subquery()
    )


def _matching(shape: _Shape, accounts: Any = Account, holds_text: bool = False) -> ColumnElement[bool]:
    """Whether an entry's account matches, as a CASE: an expression no index serves. `holds_text`:
    the entry's key holds the typed text (_holds_text), so only the other filters are tested."""
    tests = (
        _filters(shape, accounts)
        if holds_text
        else [*_filters(shape, accounts), _like(accounts, bare=shape.bare)]
    )
    return case((and_(literal_column("true"), *tests), True), else_=False)


@functools.cache
def _chunk(shape: _Shape, keys: int, pairs: bool, sqlite: bool) -> Select[Any]:
    """_entries, each with whether it matches."""
    return _chunk_of(shape, _entries(keys, pairs, sqlite), sqlite)


@functools.cache
def _guessed_chunk(shape: _Shape, pairs: bool, holds_text: bool) -> Select[Any]:
    """_guessed_entries (PostgreSQL), each with whether it matches."""
    return _chunk_of(shape, _guessed_entries(pairs), sqlite=False, holds_text=holds_text)


def _chunk_of(shape: _Shape, chunk: Any, sqlite: bool, holds_text: bool = False) -> Select[Any]:
    accounts: Any = _ACCOUNTS_IN_NAME_ORDER.c if sqlite else Account
    found = accounts.id == chunk.c.account_id
    if sqlite:
        # A unary + drops sort_name's TEXT affinity, which the index's lower(name) lacks: with
        # it, SQLite could not seek the index by name, and would scan it.
        found = and_(
            func.lower(accounts.name) == UnaryExpression(chunk.c.sort_name, operator=custom_op("+")), found
        )
    else:
        # By name and id, so that the look-up is an index-only scan of ix_accounts_name_order
        # (migration 0038): where each entry's account was a page of the table, often cold, at 1M.
        found = and_(chunk.c.sort_name == LIST_ORDER, found)
    return (
        select(
            chunk.c.sort_name,
            chunk.c.account_id,
            accounts.reference,
            accounts.name,
            _matching(shape, accounts, holds_text),
        )
        .select_from(chunk)
        .join(_ACCOUNTS_IN_NAME_ORDER if sqlite else Account, found)
        .execution_options(**{GENERIC_PLAN: True})
    )


# PostgreSQL: accounts that are not active, as the probe of _entry_matches reads them (migration
# 0036's partial index: a few entries, where looking up each entry's account read the table).
_INACTIVE = Account.__table__.alias("inactive")


def _entry_matches(shape: _Shape, entries: Any) -> ColumnElement[bool]:
    """Whether an entry's account matches, for entries whose key holds the typed text: the rest
    of the filters, tested without reading the account."""
    filters: list[ColumnElement[bool]] = []
    if not shape.include_inactive:
        filters.append(~exists().where(_INACTIVE.c.id == entries.c.account_id, ~_INACTIVE.c.active))
    if shape.excluding:
        filters.append(entries.c.account_id != bindparam("exclude_id"))
    return and_(*filters) if filters else literal_column("true")


@functools.cache
def _guessed_matches(shape: _Shape, pairs: bool) -> Select[Any]:
    """_guessed_entries (PostgreSQL), each with whether it matches, as _guessed_chunk's rows without
    the reference and name: for a search whose typed text every entry holds (see _holds_text),
    tested on the entries alone.

    Counting "more than 100" read each entry's account, 109 look-ups in the table; a page of
    results reads its few accounts afterwards."""
    chunk = _guessed_entries(pairs)
    nothing: ColumnElement[Any] = literal_column("NULL")
    return select(
        chunk.c.sort_name, chunk.c.account_id, nothing, nothing, _entry_matches(shape, chunk)
    ).execution_options(**{GENERIC_PLAN: True})


def _holds_text(words: list[str]) -> bool:
    """Whether each of _guessed_entries' entries holds the typed words, so that only the filters
    that are not about text are left to test: one typed word starts each entry's word, and two
    typed words start each entry's pair (of more, the pair holds the last two only)."""
    return len(words) <= 2


# The columns of a guessed chunk's row, named for _guessed_with_first_page, which reads them back.
_CHUNK_COLUMNS = ("sort_name", "account_id", "reference", "name", "matches")


@functools.cache
def _guessed_with_first_page(chunk: Select[Any]) -> Any:
    """A guessed chunk's rows (_guessed_matches' or _guessed_chunk's), then the first :page_size
    matches among them and the account whose reference is :reference, as _LISTED_WITH_USAGE reads
    them: a chunk row has its five columns then NULLs, a listed row five NULLs first.

    One statement (PostgreSQL), so the entries are read and tested once: a first page found there
    needs no round trip of its own, and no second read of the entries.
    """
    flagged = chunk.with_only_columns(
        *(value.label(name) for value, name in zip(chunk.selected_columns, _CHUNK_COLUMNS, strict=True)),
        maintain_column_froms=True,
    ).cte("flagged")
    first_matches = (
        select(flagged.c.sort_name, flagged.c.account_id)
        # As the chunk tested each entry's own row: the planner must not fetch the needle's matches
        # through the trigram indexes and join them to the entries ("alerts 7" took 1.5-2.5 ms so).
        .where(flagged.c.matches)
        # The entries' own order (sort_name is compared by code point, as the walk compares it).
        .order_by(flagged.c.sort_name, flagged.c.account_id)
        .limit(bindparam("page_size"))
        .subquery()
    )
    listed = _LISTED_WITH_USAGE.selected_columns
    return union_all(
        select(flagged, *_nothing(len(listed))),
        select(*_nothing(len(_CHUNK_COLUMNS)), *listed)
        .select_from(first_matches)
        .join(Account, Account.id == first_matches.c.account_id),
        _EXACT_LISTED.with_only_columns(
            *_nothing(len(_CHUNK_COLUMNS)), *_EXACT_LISTED.selected_columns, maintain_column_froms=True
        ),
    ).execution_options(**{GENERIC_PLAN: True})


def _nothing(count: int) -> list[ColumnElement[Any]]:
    return [literal_column("NULL").label(f"nothing_{n}") for n in range(count)]


def _split_first_page(rows: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """_guessed_with_first_page's rows: the chunk's, and the listed accounts'."""
    width = len(_CHUNK_COLUMNS)
    chunk = [row[:width] for row in rows if row[0] is not None]  # an entry always has its sort name
    return chunk, [row[width:] for row in rows if row[0] is None]


@dataclass(frozen=True)
class _Sources:
    """Where every match of a search is: search_words or search_pairs entries, and references."""

    words: list[str]  # the typed words
    starting: list[str]  # the words starting with the last typed word, up to _MAX_STARTING
    in_reference: bool  # some matches may be in a reference, not in the entries
    exact_reference_only: bool = False  # no reference but the exact one can hold the needle

    def candidates(self) -> Iterator[_Driver | None]:
        """Drivers whose entries hold every match, most specific first; None: no name or keyword
        can match (a typed word that none has), only references.

        "alerts 7" is found through its pairs, "acme support" through its pair, "nor" through
        the words it starts (northwind, nora, norek...), one driver merged in one statement, as
        the screen's first chunk read them.
        """
        words, starting = self.words, self.starting
        if len(words) > 1 and 0 < len(starting) <= MAX_DRIVER_PAIRS:
            yield _starting_driver(words, starting, pairs=True)
        if len(starting) <= MAX_DRIVER_WORDS:
            yield _starting_driver(words, starting, pairs=False) if starting else None

    def earlier(self) -> list[_Driver]:
        """The last EARLIER_WORDS typed words before the last, and the pairs they make: each whole
        in every match (the first typed word is no word's proper suffix, or the needle would be
        inside a word), pairs first."""
        before = self.words[:-1][-EARLIER_WORDS:]
        pairs = [_Driver((f"{first} {second}",), pairs=True) for first, second in itertools.pairwise(before)]
        return [*pairs, *(_Driver((word,)) for word in before)]


def _word_drivers(connection: Connection, asked: _Query) -> _Sources | None:
    """Where the matches are; None when some match might be inside a word, where neither
    search_words nor search_pairs has it.

    A match starts at a word start, or inside a word (a proper suffix of some word starts with
    the first typed word), or in a reference: the first is in search_words, and search_pairs has
    the last two typed words of it as a pair ("acme alerts 7" is in the range of "alerts 7").
    """
    needle = asked.needle
    words = needle.split(" ")
    if _no_word_path(connection, asked, words):
        return None
    grams = sorted({needle[i : i + 3] for i in range(len(needle) - 2)})
    # Followed by a space, a match inside a word ends that word with the first typed word.
    [(inside, in_reference, none_longer, starting)] = rows_of(
        connection,
        _screen(asked.sqlite, needle.isalnum(), needle.isascii(), len(words) > 1, asked.too_short),
        {
            **asked.parameters(),
            "first": words[0],
            "grams": grams,
            "gram_count": len(grams),
            "last": words[-1],
            "needle": needle,
            "needle_length": len(needle),
            "pair_prefix": _pair_prefix(words),
        },
    )
    starting_words = starting.split(" ") if starting else []
    holding = _words_holding(connection, asked, words, inside, starting_words)
    if holding is None and _declined_for_good(connection, asked, inside, in_reference):
        return None
    return _Sources(words, holding or starting_words, bool(in_reference), bool(none_longer))


def _pair_prefix(words: list[str]) -> str:
    """The start of the pairs holding the last two typed words: the last but one and a space."""
    return f"{words[-2]} " if len(words) > 1 else ""


def _starting_driver(words: list[str], starting: Sequence[str], pairs: bool) -> _Driver:
    """The driver of `starting`, the words that start with the last typed word; with `pairs`, each
    after the last but one, as the pairs search_pairs holds (and _STARTING_PAIRS finds)."""
    prefix = _pair_prefix(words) if pairs else ""
    return _Driver(tuple(prefix + word for word in starting), pairs)


def _no_word_path(connection: Connection, asked: _Query, words: list[str]) -> bool:
    """Whether the word path cannot list this search, without asking the vocabulary: a typed word
    is empty (two spaces), or the needle is too short for the trigram indexes and not ASCII (the
    connection remembers declined short needles of ASCII alone, a few thousand at most, and the
    general path lists the rest) or one this connection's screen already found the word path can
    never list."""
    if "" in words:
        return True
    needle = asked.needle
    declined = connection.connection.info.get(_NEVER_BY_WORDS, ())
    return asked.too_short and (not needle.isascii() or needle in declined)


# The short needles the connection's screens found inside some word or in some reference (its pool
# record's info): fragments are never removed, so the word path can never list them, and a letter
# or a number need not pay for the screen each time (0.25-0.5 ms of a 1.5 ms search on PostgreSQL).
# ASCII of one or two characters: a few thousand needles at the most.
_NEVER_BY_WORDS = "admin_bot_never_by_words"


# Words of the vocabulary read at most, looking for those that hold a needle inside: past that
# many, the vocabulary is too large to read for a search, and the general path lists it.
VOCABULARY_READ = 20_000
_VOCABULARY = (
    select(search_fragments.c.fragment)
    .where(search_fragments.c.kind == "w")
    .limit(literal_column(str(VOCABULARY_READ + 1)))
    .subquery()
)


def _holding_statement() -> Select[Any]:
    """One row: the words holding :pattern (joined by spaces), and how many words were read."""
    holds = _VOCABULARY.c.fragment.like(bindparam("pattern", type_=String), escape="/")
    holding = func.aggregate_strings(_VOCABULARY.c.fragment, " ").filter(holds)
    columns: list[ColumnElement[Any]] = [holding, func.count()]
    return select(*columns).execution_options(**{GENERIC_PLAN: True})


_WORDS_HOLDING = _holding_statement()


def _words_holding(
    connection: Connection, asked: _Query, words: list[str], inside: bool, starting: list[str]
) -> list[str] | None:
    """A typed word (one, long enough for the trigram indexes) that some word has inside: the words
    holding it, if at most MAX_DRIVER_WORDS, which hold every match in a name or keyword.
    "arketing" is in marketing alone, but the matches sat late in name order (after every other
    Acme purpose) and were sorted: 95 ms at a million on PostgreSQL. None: not such a word, or
    too many words hold it (as `starting`, the words it starts, may show already)."""
    if not inside or len(words) > 1 or asked.too_short or len(starting) > MAX_DRIVER_WORDS:
        return None
    [[(holding, read)]] = read_together(connection, [(_WORDS_HOLDING, {"pattern": _contains(asked.needle)})])
    found = holding.split(" ") if holding else []
    return found if read <= VOCABULARY_READ and 0 < len(found) <= MAX_DRIVER_WORDS else None


def _declined_for_good(connection: Connection, asked: _Query, inside: bool, in_reference: bool) -> bool:
    """Whether the screen found a short needle inside a word or in a reference (remembered), or
    any needle inside a word: the word path cannot list it. A longer needle's `in_reference` only
    says its references must be read."""
    if asked.too_short and (inside or in_reference):
        connection.connection.info.setdefault(_NEVER_BY_WORDS, set()).add(asked.needle)
        return True
    return bool(inside)


def _first_chunk(asked: _Query, driver: _Driver, wanted: int) -> dict[str, Any]:
    """The parameters of a driver's first chunk (_chunk's; _guessed_chunk's take as many)."""
    keys = {f"key_{n}": key for n, key in enumerate(driver.keys)}
    return {**asked.parameters(), **keys, "after_name": "", "after_id": 0, "take": wanted + 8}


def _walk(
    connection: Connection,
    asked: _Query,
    driver: _Driver,
    wanted: int,
    first: Sequence[Any] | None = None,
    counted: int | None = None,
) -> list[_Match] | None:
    """The first `wanted` matches among the driver's entries, in list order; all of them if fewer.
    None when fewer than 1 in WORD_BUDGET entries read so far matched. `first`: its first chunk's
    rows, if they were read already. `counted`: how many entries the driver has, few enough to
    read at once, however few of them match."""
    statement = _chunk(asked.shape, len(driver.keys), driver.pairs, asked.sqlite)
    parameters = _first_chunk(asked, driver, wanted)
    if counted is not None:
        parameters["take"] = counted + 1  # entries added since are read in further chunks
    found: list[_Match] = []
    after: tuple[str, int] = ("", 0)
    read, take = 0, parameters["take"]
    while True:
        if first is None:
            [first] = read_together(
                connection,
                [(statement, {**parameters, "after_name": after[0], "after_id": after[1], "take": take})],
            )
        # Plain tuples: they compare in C, where sorting the Rows compared each pair in Python.
        entries = sorted(map(tuple, first))
        first = None
        for entry in entries:
            # An account holding two of the keys comes twice in a row: it is one match.
            if entry[4] and (not found or found[-1][_ID] != entry[_ID]):
                found.append(entry[:4])
        read += len(entries)
        if len(found) >= wanted or len(entries) < take:
            return found[:wanted]
        if counted is not None:
            after, take = entries[-1][:2], take * 2
            continue
        if read >= WORD_BUDGET * max(len(found), 1) or read >= WORD_BUDGET * wanted:
            return None
        after, take = entries[-1][:2], min(take * 2, WORD_BUDGET * wanted - read)


class _WordPath(NamedTuple):
    """What the word path found: the matches in list order, or None where it could not tell."""

    ordered: list[_Match] | None
    page: Sequence[Any]  # rows likely to make the first page (PostgreSQL, with `first_page`)
    many_in_references: bool = False  # None because more references hold the needle than wanted
    only_in_references: bool = False  # and no name or keyword holds it


_CANNOT = _WordPath(None, ())
# A needle in many references ("000", "bn0099"): the count is past the limit, and the general path
# lists the page without counting again.
_MANY_IN_REFERENCES = {
    only: _WordPath(None, (), many_in_references=True, only_in_references=only) for only in (False, True)
}


def _by_words(
    connection: Connection,
    asked: _Query,
    wanted: int,
    first_page: dict[str, Any] | None = None,
    named: bool = True,
) -> _WordPath:
    """The first `wanted` matches in list order (all, if fewer), read from search_words,
    search_pairs and the references; None when that cannot be done exactly and cheaply, saying
    whether that is because more than `wanted` references hold the needle.

    With `first_page` (_guessed_with_first_page's :page_size and forecast.window's parameters) on
    PostgreSQL, also rows (as _LISTED_WITH_USAGE reads them) likely to make the first page.
    `named` False: the caller lists the matches by id only, and on PostgreSQL their reference and
    name may be None (they were not read).
    """
    if not asked.sqlite:
        return _by_words_in_one_trip(connection, asked, wanted, first_page, named)
    sources = _word_drivers(connection, asked)
    if sources is None:
        return _CANNOT
    exact: list[_Match] = []
    in_references: list[_Match] = []
    if sources.in_reference:
        rows = rows_of(
            connection,
            _in_references(asked.shape, sources.exact_reference_only),
            {**asked.parameters(), "take": wanted + 1},
        )
        if len(rows) > wanted:
            return _MANY_IN_REFERENCES[not sources.starting]
        exact = [tuple(row[:4]) for row in rows if row[4]]
        in_references = sorted(tuple(row[:4]) for row in rows if not row[4])
    walk = _walked_driver(connection, asked, sources, wanted)
    return _WordPath(None if walk is None else _merged(exact, in_references, walk, wanted), ())


def _by_words_in_one_trip(
    connection: Connection, asked: _Query, wanted: int, first_page: dict[str, Any] | None, named: bool
) -> _WordPath:
    """_by_words on PostgreSQL: the screen, the matches in references, and the guessed driver's first
    chunk (and with `first_page`, its first page and the exact reference's row) in one round trip.

    The references are read whenever the needle could be in one: the screen asking the trigram
    index whether any is, and then the look-up asking again, read it twice. A reference typed
    whole is looked up alone when, as the connection's last screen found, no reference is
    longer: asked of the trigram index, its last characters matched most references' postings.
    This screen checks that still holds, else the trigram index is asked after all.
    """
    needle = asked.needle
    words = needle.split(" ")
    if _no_word_path(connection, asked, words):
        return _CANNOT
    pairs, holds_text = len(words) > 1, _holds_text(words)
    parameters = {
        **asked.parameters(),
        "first": words[0],
        "last": words[-1],
        "needle": needle,
        "pair_prefix": _pair_prefix(words),
        "after_name": "",
        "after_id": 0,
        "take": wanted + 8,  # as _first_chunk's
    }
    guessed_chunk = (
        _guessed_matches(asked.shape, pairs)
        if holds_text and not named and not asked.with_credits_only  # a balance is the account's
        else _guessed_chunk(asked.shape, pairs, holds_text)
    )
    reads: list[Read] = [
        (_screen(False, False, False, pairs, asked.too_short), parameters),
        (guessed_chunk, parameters)
        if first_page is None
        else (_guessed_with_first_page(guessed_chunk), {**parameters, **first_page}),
    ]
    known = connection.connection.info
    sampling = _SAMPLED_GRAMS not in known  # read once per connection, with its first word search
    if sampling:
        reads.append((_REFERENCE_SAMPLE, {}))
    longest_known = known.get(_LONGEST_SEEN)
    exact_only = longest_known is not None and needle.isascii() and len(needle) >= longest_known
    planned_once = not exact_only and _rare_in_references(
        needle[-PROBE_LENGTH:], known.get(_SAMPLED_GRAMS, frozenset())
    )
    in_a_reference = (
        _in_references(asked.shape, exact_only, planned_once),
        {**parameters, "take": wanted + 1},
    )
    read_references = needle.isalnum() and not asked.too_short
    if read_references:
        reads.append(in_a_reference)
    [(inside, in_reference, _, starting, longest, *uncovered)], guessed, *rest = read_together(
        connection, reads
    )
    page: Sequence[Any] = ()
    if first_page is not None:
        guessed, page = _split_first_page(guessed)
    known[_LONGEST_SEEN] = longest or 0
    if sampling:
        known[_SAMPLED_GRAMS] = frozenset(gram for [sampled] in rest.pop(0) for gram in _trigrams(sampled))
    # A short needle's screen says whether a reference might hold it (and, apart, whether some
    # reference's trigrams are not in the vocabulary yet); a longer one's references are read below.
    starting_words = starting.split(" ") if starting else []
    holding = _words_holding(connection, asked, words, inside, starting_words)
    if holding is None and (_declined_for_good(connection, asked, inside, in_reference) or any(uncovered)):
        return _CANNOT
    rows: Sequence[Any] = []
    if read_references:
        rows = rest.pop(0)
        if exact_only and len(needle) < (longest or 0):  # a longer reference came since the last screen
            [rows] = read_together(connection, [(_in_references(asked.shape, False), in_a_reference[1])])
    if len(rows) > wanted:
        return _MANY_IN_REFERENCES[not (holding or starting_words)]
    exact = [row[:4] for row in rows if row[4]]
    in_references = sorted(row[:4] for row in rows if not row[4])
    sources = _Sources(words, holding or starting_words, bool(rows))
    # The driver _guessed_entries read for: every starting word (pairs: after the last but one word).
    # Its statement saw these words or more (words are only ever added), and every row it flags
    # is a match: its rows are this driver's first chunk.
    walk = _walked_driver(
        connection, asked, sources, wanted, (_starting_driver(words, starting_words, pairs), guessed)
    )
    return _WordPath(None if walk is None else _merged(exact, in_references, walk, wanted), page)


def _walked_driver(
    connection: Connection,
    asked: _Query,
    sources: _Sources,
    wanted: int,
    guessed: tuple[_Driver, Sequence[Any]] | None = None,
) -> list[_Match] | None:
    """The walk of the first driver small and dense enough; None if none is. `guessed`: a driver
    whose first chunk was read already, and its rows.

    Last, of the earlier typed words and their pairs, the one with fewest entries: read whole if
    they are few ("northwind support 1": 700 accounts have "northwind support", 30 of them
    match), else walked. Walked one after another, each of them was too sparse, and the matches
    were sorted (25 ms at 1M); counted, they cost one round trip."""
    for driver in sources.candidates():
        if driver is None:
            return []  # only references can match
        walk = _walk(
            connection, asked, driver, wanted, guessed[1] if guessed and driver == guessed[0] else None
        )
        if walk is not None:
            return walk
    earlier = sources.earlier()
    if not earlier:
        return None
    few = WORD_BUDGET * wanted
    [[counts]] = read_together(
        connection,
        [(_entry_counts(tuple(driver.pairs for driver in earlier)), _count_parameters(earlier, few))],
    )
    entries, fewest = min((count, n) for n, count in enumerate(counts))
    return _walk(connection, asked, earlier[fewest], wanted, counted=entries if entries <= few else None)


@functools.cache
def _entry_counts(pairs: tuple[bool, ...]) -> Select[Any]:
    """One row: how many entries each of some drivers of one key (:count_key_<n>, a pair or a word)
    has, each counted up to :few + 1 in its index range."""
    counts = []
    for n, paired in enumerate(pairs):
        entries = search_pairs if paired else search_words
        key = entries.c.pair if paired else entries.c.word
        some: Select[Any] = select(literal_column("1")).where(
            key == bindparam(f"count_key_{n}", type_=String)
        )
        counts.append(
            select(func.count()).select_from(some.limit(bindparam("few_more")).subquery()).scalar_subquery()
        )
    return select(*counts).execution_options(**{GENERIC_PLAN: True})


def _count_parameters(drivers: list[_Driver], few: int) -> dict[str, Any]:
    return {"few_more": few + 1, **{f"count_key_{n}": driver.keys[0] for n, driver in enumerate(drivers)}}


def _merged(
    exact: list[_Match], in_references: list[_Match], walk: list[_Match], wanted: int
) -> list[_Match]:
    """The first `wanted` of the exact reference, then the other matches in list order, each once."""
    if not exact and not in_references:
        return walk[:wanted]  # a walk holds each account once
    found = list(exact)
    exact_ids = {match[_ID] for match in exact}
    # In list order only: a match from the entries alone has no reference or name to compare.
    for match in heapq.merge(in_references, walk, key=_IN_LIST_ORDER):
        # An account found twice (a word and its reference) comes twice in a row.
        if match[_ID] not in exact_ids and (len(found) == len(exact) or found[-1][_ID] != match[_ID]):
            found.append(match)
    return found[:wanted]


def search(
    session: Session,
    query: str = "",
    *,
    offset: int = 0,
    limit: int = 10,
    include_inactive: bool = False,
    exclude_id: int | None = None,
    with_credits_only: bool = False,
    forecasts_at: datetime | None = None,
) -> Page:
    """A page of matching accounts: the account whose reference is the query first, then by name.

    Matches are counted up to COUNT_LIMIT (or the page's end); see the module docstring for cost.
    With `forecasts_at`, the page carries each listed account's forecast at that time, read with
    the accounts where the search allows.
    """
    enough = max(COUNT_LIMIT, offset + limit)  # always enough to know whether a next page exists
    first_page = (
        {"page_size": limit, **forecast.window(forecasts_at)}
        if forecasts_at is not None and offset == 0 and is_postgresql(session)
        else None
    )
    found = _Found.find(
        session, query, include_inactive, exclude_id, with_credits_only, enough, first_page, named=False
    )
    listed, forecasts = found.listing(offset, limit, forecasts_at)
    if not listed and offset:
        # Accounts closed since the Next button was drawn: show the last page there still is.
        offset = max(found.counted - 1, 0) // limit * limit
        listed, forecasts = found.listing(offset, limit, forecasts_at)
    if forecasts_at is not None:
        # Those the listing did not read with the accounts (the exact-reference account's, say).
        unread = [account.id for account in listed if forecasts is None or account.id not in forecasts]
        forecasts = {**(forecasts or {}), **forecast.for_accounts(session, unread, forecasts_at)}
    return Page(
        listed, min(found.counted, enough), offset, limit, more=found.counted > enough, forecasts=forecasts
    )


class Choice(NamedTuple):
    """An account as a picker offers it (a tuple: a picker builds up to 100 per keystroke)."""

    id: int
    reference: str
    name: str


def first_matches(
    session: Session,
    query: str,
    *,
    limit: int,
    exclude_id: int | None = None,
    with_credits_only: bool = False,
) -> list[Choice]:
    """The first `limit` matches in search order, counted only as far as the page: what a picker offers."""
    found = _Found.find(session, query, False, exclude_id, with_credits_only, limit)
    if found.ordered is not None:
        # The word path read each option's reference and name already (find's `named`): no ORM
        # objects, no look-up.
        return [
            Choice(account_id, reference, name)  # type: ignore[arg-type]
            for _, account_id, reference, name in found.ordered[:limit]
        ]
    listed, _ = found.listing(0, limit, choices=True)
    return [Choice(account.id, account.reference, account.name) for account in listed]


@dataclass(frozen=True)
class _Found:
    """A search ready to list: the exact-reference account, and how many matched."""

    session: Session
    query: _Query
    exact: Account | None
    counted: int  # all matches, counted up to count_up_to + 1
    ordered: list[_Match] | None = None  # the first count_up_to + 1 matches, from the word path
    # Rows read with the word path, as _LISTED_WITH_USAGE reads them, likely to make the first page.
    fetched: Sequence[Any] = ()
    # Every match is a reference starting with the needle: how many references start with it (up
    # to RANGE_COUNT_LIMIT), and how many accounts there are.
    reference_range: tuple[int, int] | None = None

    @classmethod
    def find(
        cls,
        session: Session,
        query: str,
        include_inactive: bool,
        exclude_id: int | None,
        with_credits_only: bool,
        count_up_to: int,
        first_page: dict[str, Any] | None = None,
        named: bool = True,
    ) -> _Found:
        # Plain values come back, so these run on the connection (Core), skipping the ORM.
        connection = connection_of(session)
        asked = _Query(
            query,
            include_inactive,
            exclude_id,
            with_credits_only,
            not is_postgresql(session),
            folded(connection, query),
        )
        ordered, page, many_in_references, only_in_references = _by_words(
            connection, asked, count_up_to + 1, first_page, named
        )
        if ordered is not None:  # the exact reference, if any, is first
            return cls(session, asked, None, len(ordered), ordered, page)
        reference_range = None
        if many_in_references:
            parameters = {**asked.parameters(), "lead": asked.needle[:2]}
            [(exact_id, at_the_start_only, in_range, accounts)] = rows_of(
                connection, _exact_and_where(asked.shape), parameters
            )
            counted = count_up_to + 1
            if only_in_references and at_the_start_only:
                reference_range = (in_range, int(accounts))
        else:
            parameters = {**asked.parameters(), "count_limit": count_up_to + 1}
            [(exact_id, counted)] = rows_of(connection, _survey(asked.shape), parameters)
        exact = session.get(Account, exact_id) if exact_id is not None else None
        return cls(session, asked, exact, counted, reference_range=reference_range)

    def _walk_budget(self, needed: int) -> int:
        """How many accounts in name order a walk for the first `needed` matches may read (0: none)."""
        if self.reference_range is None:
            return WALK_BUDGET * needed * (SHORT_NEEDLE_REACH if self.query.too_short else 1)
        in_range, accounts = self.reference_range
        budget = RANGE_WALK_PER_SORTED * in_range
        # A walk meets one of the range about every accounts / in_range accounts (more often if
        # the count stopped at its limit): walk only if the page is expected within half the budget.
        return budget if 2 * needed * accounts <= budget * in_range else 0

    def listing(
        self, offset: int, limit: int, forecasts_at: datetime | None = None, *, choices: bool = False
    ) -> tuple[list[Any], dict[int, Forecast] | None]:
        """Entries offset..offset+limit of [exact, *others by name]; with `forecasts_at`, the
        forecasts of those read in the same statement (not the exact-reference account's). With
        `choices` (and no forecasts), the others are Choices: a picker reads only id, reference and name."""
        if self.ordered is not None:
            ids = [match[_ID] for match in self.ordered[offset : offset + limit]]
            if not ids:
                return [], {} if forecasts_at is not None else None
            connection = connection_of(self.session)
            if forecasts_at is None:
                listed = map(_account_row, rows_of(connection, _LISTED, {"ids": ids}))
                loaded = {account.id: account for account in listed}
                return [loaded[account_id] for account_id in ids], None
            fetched = {row[_LISTED_ID]: row for row in self.fetched} if offset == 0 else {}
            rows = (
                [fetched[account_id] for account_id in ids]
                if all(account_id in fetched for account_id in ids)
                else rows_of(connection, _LISTED_WITH_USAGE, {"ids": ids, **forecast.window(forecasts_at)})
            )
            accounts, forecasts = listed_with_forecasts(rows, forecasts_at)
            loaded = {account.id: account for account in accounts}
            return [loaded[account_id] for account_id in ids], forecasts
        if not self.counted:  # nothing matched: reading for a page would read every match again
            return [], {} if forecasts_at is not None else None
        ahead: list[Listed] = [self.exact] if self.exact is not None else []
        skip = max(offset - len(ahead), 0)
        take = limit - len(ahead) if offset == 0 else limit
        parameters = {
            **self.query.parameters(),
            "exact_id": self.exact.id if self.exact is not None else None,
            "skip": skip,
            "take": take,
            **(forecast.window(forecasts_at) if forecasts_at is not None else {}),
        }
        shape, with_usage = self.query.shape, forecasts_at is not None
        connection = connection_of(self.session)
        others: list[Any] | None = None
        choices = choices and not with_usage
        in_range = self.reference_range is not None
        if self.counted > COUNT_LIMIT and self.counted > skip + take:
            # Many matches: walk the names for a bounded number of rows, in case they are dense
            # where the page is; matches that share a first word sit together, perhaps late.
            budget = self._walk_budget(skip + take + 1)
            walked = (
                rows_of(
                    connection,
                    _walked(shape, with_usage, choices, in_range),
                    {**parameters, "budget": budget},
                )
                if budget
                else []
            )
            if len(walked) == take:
                others = walked
        if others is None:
            others = rows_of(connection, _sorted(shape, with_usage, choices, in_range), parameters)
        ahead = ahead if offset == 0 else []
        if forecasts_at is None:
            read_row = Choice._make if choices else _account_row
            return ahead + [read_row(row) for row in others], None
        read, forecasts = listed_with_forecasts(others, forecasts_at)
        return ahead + read, forecasts


# ----------------------------------------------------------------------- bulk maintenance

# The triggers of migrations 0012 and 0017 keep the search tables for one account at a time
# (SQLite) or one statement at a time (PostgreSQL). A bulk writer turns them aside for its own
# transaction (migration 0018) and writes the same rows here, for every account a condition on `a`
# (an alias of accounts) selects, in one sorted set-based statement per table. A new search table
# adds its statements to these lists.
BULK_SETTING = "admin_bot.search_in_bulk"  # PostgreSQL: 'on' turns the triggers aside


def _sqlite_words(text: str) -> str:
    """The JSON array of the words of `text`: json_quote escapes, and each space splits."""
    return f"""'[' || replace(json_quote({text}), ' ', '","') || ']'"""


def _sqlite_split(text: str) -> str:
    """json_each() of the words of `text`."""
    return f"json_each({_sqlite_words(text)})"


# The words of account `a`'s name and keyword.
_SQLITE_WORDS = _sqlite_split("lower(a.name || ' ' || coalesce(a.keyword, ''))")
# Migration 0017's row trigger: the adjacent word pairs of each name, then of each keyword, as
# (pair, sort name, id) (one without a space has none: most keywords, so they are not split at all).
# Each account's arrays are made once (MATERIALIZED): as arguments of the joined json_each()
# they were made again for every word of the first, a third of the statement.
_SQLITE_PAIRS = f"""WITH s AS MATERIALIZED (
        SELECT a.id, lower(a.name) AS sort_name,
            CASE WHEN instr(a.name, ' ') > 0 THEN {_sqlite_words("lower(a.name)")} END AS name_words,
            CASE WHEN instr(a.keyword, ' ') > 0 THEN {_sqlite_words("lower(a.keyword)")} END AS keyword_words
        FROM accounts AS a WHERE ({{accounts}}) AND (instr(a.name, ' ') > 0 OR instr(a.keyword, ' ') > 0))
    """ + " UNION ALL ".join(
    f"""SELECT w1.value || ' ' || w2.value, s.sort_name, s.id
        FROM s, json_each(s.{words}) AS w1, json_each(s.{words}) AS w2
        WHERE w2.key = w1.key + 1 AND w1.value <> '' AND w2.value <> ''"""
    for words in ("name_words", "keyword_words")
)
_SUFFIX_STARTS = "[" + ",".join(map(str, range(2, max(NAME_MAX_LENGTH, KEYWORD_MAX_LENGTH) + 1))) + "]"
_GRAM_STARTS = "[" + ",".join(map(str, range(1, REFERENCE_MAX_LENGTH - 1))) + "]"
# The references' trigrams are lowered once found distinct, not once per account: SQLite's
# lower() folds ASCII letters only, one character for one, so the order makes the same rows.
_SQLITE_ADD = [
    f"""INSERT OR IGNORE INTO search_words (word, sort_name, account_id)
        SELECT w.value, lower(a.name), a.id FROM accounts AS a, {_SQLITE_WORDS} AS w
        WHERE ({{accounts}}) AND w.value <> '' ORDER BY 1, 2, 3""",
    f"""INSERT OR IGNORE INTO search_fragments (kind, fragment)
        WITH added (word) AS (
            SELECT DISTINCT w.value FROM accounts AS a, {_SQLITE_WORDS} AS w
            WHERE ({{accounts}}) AND w.value <> '')
        SELECT 'w', word FROM added
        UNION ALL
        SELECT 's', substr(word, p.value) FROM added, json_each('{_SUFFIX_STARTS}') AS p
        WHERE p.value <= length(word)
        UNION ALL
        SELECT 'r', lower(gram) FROM (
            SELECT DISTINCT substr(a.reference, p.value, 3) AS gram
            FROM accounts AS a, json_each('{_GRAM_STARTS}') AS p
            WHERE ({{accounts}}) AND p.value <= length(a.reference) - 2)""",
    f"INSERT OR IGNORE INTO search_pairs (pair, sort_name, account_id) SELECT * FROM ({_SQLITE_PAIRS}) "
    "ORDER BY 1, 2, 3",
]
_SQLITE_REMOVE = [
    f"""DELETE FROM search_words WHERE (word, sort_name, account_id) IN (
        SELECT w.value, lower(a.name), a.id FROM accounts AS a, {_SQLITE_WORDS} AS w WHERE ({{accounts}}))""",
    f"DELETE FROM search_pairs WHERE (pair, sort_name, account_id) IN ({_SQLITE_PAIRS})",
]
# As search_words_added() does with its transition table. No ON CONFLICT for the words, which
# cost 40% more: the accounts selected are the caller's, inserted or renamed with the triggers aside.
# The sorts only order the inserts (the rows are the same either way), so they compare names by
# their bytes (COLLATE "C": abbreviated keys, no strcoll()); the index keeps its own order.
# An account's repeated word or pair is dropped where it repeats (array_position finds an earlier
# copy), not by a DISTINCT over every account's rows: that hashed millions of rows, and spilled.
# OFFSET 0 computes each account's array and sort name once. The arrays are expanded by functions
# in the select list, which stream their rows; in FROM, each call's rows were first stored.
_POSTGRESQL_ADD = [
    # search_words_of() inlined, for each word's position.
    """WITH new_words AS MATERIALIZED (
            SELECT w AS word, sort_name, account_id
            FROM (SELECT unnest(ws) AS w, generate_subscripts(ws, 1) AS i, ws, sort_name, account_id
                  FROM (SELECT string_to_array(lower(a.name || ' ' || coalesce(a.keyword, '')), ' '),
                            lower(a.name) COLLATE "C", a.id
                        FROM accounts AS a WHERE ({accounts}) OFFSET 0) AS s (ws, sort_name, account_id)
                  ) AS t
            WHERE w <> '' AND array_position(ws, w) = i
            {order}),
        inserted AS (
            INSERT INTO search_words (word, sort_name, account_id) SELECT * FROM new_words)
    INSERT INTO search_fragments (kind, fragment)
    SELECT DISTINCT f.kind, f.fragment
    FROM (SELECT DISTINCT word FROM new_words) AS words (w),
        LATERAL (SELECT 'w', words.w
                 UNION ALL
                 SELECT 's', substr(words.w, p) FROM generate_series(2, length(words.w)) AS p)
        AS f (kind, fragment)
    ORDER BY f.kind, f.fragment
    ON CONFLICT DO NOTHING""",
    # search_pairs_of() inlined: its DISTINCT, one hash table per account, cost half the statement.
    # The name's words, a NULL (no pair spans it), the keyword's; a pair whose first word repeats
    # an earlier one (rare) is checked against every earlier pair.
    """INSERT INTO search_pairs (pair, sort_name, account_id)
    SELECT w[i] || ' ' || w[i + 1], sort_name, account_id
    FROM (SELECT w, generate_series(1, cardinality(w) - 1) AS i, sort_name, account_id
          FROM (SELECT string_to_array(lower(a.name), ' ') || NULL::text
                       || string_to_array(lower(a.keyword), ' '),
                    lower(a.name) COLLATE "C", a.id
                FROM accounts AS a WHERE ({accounts}) OFFSET 0) AS s (w, sort_name, account_id)
          ) AS p
    WHERE w[i] <> '' AND w[i + 1] <> ''
        AND (array_position(w, w[i]) = i
             OR NOT EXISTS (SELECT FROM generate_series(1, i - 1) AS j
                            WHERE w[j] = w[i] AND w[j + 1] = w[i + 1]))
    {order}""",
]
_POSTGRESQL_REMOVE = [
    """DELETE FROM search_words AS s USING (
        SELECT DISTINCT w, lower(a.name), a.id
        FROM accounts AS a, search_words_of(a.name, a.keyword) AS w WHERE {accounts}
    ) AS old (word, sort_name, account_id)
    WHERE (s.word, s.sort_name, s.account_id) = (old.word, old.sort_name, old.account_id)""",
    """DELETE FROM search_pairs AS s USING (
        SELECT p, lower(a.name), a.id
        FROM accounts AS a, search_pairs_of(a.name, a.keyword) AS p WHERE {accounts}
    ) AS old (pair, sort_name, account_id)
    WHERE (s.pair, s.sort_name, s.account_id) = (old.pair, old.sort_name, old.account_id)""",
]


class BulkSearchRows:
    """The search rows of many accounts, written by the caller while the triggers stand aside.

    `indexed` False: the caller has dropped the search tables' primary keys and adds them back
    afterwards, so PostgreSQL's rows need not be sorted into index order first."""

    def __init__(self, connection: Connection, *, indexed: bool = True):
        self.connection = connection
        self._order = "ORDER BY 1, 2, 3" if indexed else ""
        sqlite = connection.dialect.name == "sqlite"
        self._add = _SQLITE_ADD if sqlite else _POSTGRESQL_ADD
        self._remove = _SQLITE_REMOVE if sqlite else _POSTGRESQL_REMOVE

    def add(self, accounts: str, **parameters: Any) -> None:
        """After the accounts `accounts` selects were inserted, or renamed, inside: the rows their
        names, keywords and references make, exactly as the triggers would have made them.

        Select only those accounts: one whose rows the triggers made (another writer's) would
        collide with them."""
        for statement in self._add:
            self.connection.execute(text(statement.format(accounts=accounts, order=self._order)), parameters)

    def remove(self, accounts: str, **parameters: Any) -> None:
        """Before the accounts `accounts` selects are renamed: drop the rows their names made."""
        for statement in self._remove:
            self.connection.execute(text(statement.format(accounts=accounts)), parameters)


@contextmanager
def maintained_in_bulk(connection: Connection, *, indexed: bool = True) -> Iterator[BulkSearchRows]:
    """Inside, this transaction's inserts and renames of accounts leave the search tables to the
    caller, who keeps them with the BulkSearchRows given: a sorted statement per table for a
    million accounts, rather than SQLite's row triggers (one account at a time) or PostgreSQL's
    rename trigger (one statement per renamed account). No other transaction is affected: on
    SQLite the caller holds the write lock, on PostgreSQL the setting is local to the transaction.
    """
    if connection.dialect.name == "sqlite":
        connection.execute(text("INSERT INTO search_words_deferred (since) VALUES (0)"))
    else:
        hold_off_reference_folds(connection)
        connection.execute(text("SELECT set_config(:name, 'on', true)"), {"name": BULK_SETTING})
    yield BulkSearchRows(connection, indexed=indexed)
    if connection.dialect.name == "sqlite":
        connection.execute(text("DELETE FROM search_words_deferred"))
    else:
        connection.execute(text("SELECT set_config(:name, 'off', true)"), {"name": BULK_SETTING})


# ------------------------------------------------------------ reference trigrams (PostgreSQL)

# Any constant: it names the lock that bulk writers of accounts share and a fold takes alone.
FOLD_LOCK_KEY = 0x52464F4C  # "RFOL"
# Migration 0041's trigger, for the accounts after :upto up to :newest.
_FOLDED_GRAMS = text(
    """INSERT INTO search_fragments (kind, fragment)
    SELECT DISTINCT 'r', substr(lower(a.reference), p, 3)
    FROM accounts AS a, generate_series(1, length(a.reference) - 2) AS p
    WHERE a.id > :upto AND a.id <= :newest
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING"""
)


def hold_off_reference_folds(connection: Connection) -> None:
    """PostgreSQL, a bulk writer of accounts, before it takes any account id: no fold until this
    transaction ends. A fold covers every id up to the newest it sees, and would cover ids this
    writer takes now and commits later, without their trigrams."""
    connection.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": FOLD_LOCK_KEY})


def fold_reference_grams(session: Session) -> int | None:
    """PostgreSQL: add the reference trigrams of the accounts bulk writers added since the last
    fold, and cover them (migration 0041); how many ids it covered, or None while a bulk writer is
    at work (the next fold does it). SQLite's bulk writers add them themselves."""
    if not is_postgresql(session):
        return 0
    if not session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": FOLD_LOCK_KEY}):
        return None
    upto, newest = session.execute(select(_COVERED_UPTO, _NEWEST_ID)).one()
    if newest <= upto:
        return 0
    session.execute(_FOLDED_GRAMS, {"upto": upto, "newest": newest})
    session.execute(delete(search_reference_coverage))  # one row, or none: nothing covered
    session.execute(insert(search_reference_coverage).values(upto=newest))
    return int(newest - upto)
