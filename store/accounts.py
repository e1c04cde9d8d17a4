"""Finding, creating and renaming accounts."""

from __future__ import annotations

import functools
import math
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    bindparam,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from store import audit
from store.errors import InactiveAccount, InvalidName, StoreError, UnknownAccount
from store.models import KEYWORD_MAX_LENGTH, NAME_MAX_LENGTH, REFERENCE_MAX_LENGTH, Account

# Line and paragraph separators break a name over lines; format characters (Cf) draw nothing or
# reorder what follows (U+202E turns "Invoice\u202efdp.exe" into "Invoiceexe.pdf"); surrogates
# cannot be stored. Control characters (Cc) are tabs, line breaks and the like, NUL included.
LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})
FORMATTING = frozenset({"Cf", "Cs"})
# Letters that draw nothing: a name made only of these (or of spaces) looks blank.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def clean_text(raw: str | None, what: str, max_length: int) -> str:
    """User-typed text as it will be stored (trimmed), or InvalidName saying what is wrong with it."""
    text = (raw or "").strip()
    visible = [
        c for c in text if not (c.isspace() or c in BLANK_LETTERS or unicodedata.category(c) in FORMATTING)
    ]
    if not visible:
        raise InvalidName(f"Enter a {what}: it cannot be blank.")
    categories = {unicodedata.category(char) for char in text}
    if categories & LINE_BREAKING:
        raise InvalidName(f"A {what} cannot contain control characters such as tabs or line breaks.")
    if categories & FORMATTING:
        raise InvalidName(
            f"A {what} cannot contain invisible formatting characters such as zero-width spaces "
            "or right-to-left marks."
        )
    if len(text) > max_length:
        raise InvalidName(f"A {what} can be at most {max_length} characters; this one has {len(text)}.")
    return text


def clean_name(raw: str | None) -> str:
    """The account name as it will be stored, or InvalidName saying what is wrong with it."""
    return clean_text(raw, "name", NAME_MAX_LENGTH)


def clean_reference(raw: str) -> str:
    reference = raw.strip().upper()
    if not reference or len(reference) > REFERENCE_MAX_LENGTH or not reference.isalnum():
        raise StoreError(
            f"{raw!r} is not an account reference: use 1-{REFERENCE_MAX_LENGTH} letters and digits."
        )
    return reference


def clean_keyword(raw: str | None) -> str | None:
    """The keyword as it will be stored (None when there is none), or InvalidName."""
    if not (raw or "").strip():
        return None
    return clean_text(raw, "keyword", KEYWORD_MAX_LENGTH)


def get(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise UnknownAccount(f"#{account_id}")
    return account


def by_reference(session: Session, reference: str) -> Account:
    account = session.scalar(select(Account).where(Account.reference == reference.strip().upper()))
    if account is None:
        raise UnknownAccount(reference.strip().upper())
    return account


def active(session: Session, account_id: int) -> Account:
    account = get(session, account_id)
    if not account.active:
        raise InactiveAccount(account.reference)
    return account


def create(
    session: Session, reference: str, name: str, keyword: str | None = None, active: bool = True
) -> Account:
    account = Account(
        reference=clean_reference(reference),
        name=clean_name(name),
        keyword=clean_keyword(keyword),
        active=active,
        balance=0,
        created_at=datetime.now(UTC),
        reminder_enabled=False,
        reminder_level=0,
    )
    session.add(account)
    session.flush()
    return account


def rename(session: Session, account: Account, new_name: str, actor: str) -> Account:
    name = clean_name(new_name)
    if name != account.name:
        audit.record(session, actor, "rename", account.reference, account.name, name, account.id)
        account.name = name
    return account


def set_active(session: Session, account: Account, active: bool, actor: str) -> bool:
    """Make an account active or inactive, audited; True if it changed.

    An inactive account keeps its balance, ledger and invoices; it is only left out of lists,
    pickers and reminders, and refuses new purchases, moves and usage.
    """
    if account.active == active:
        return False
    audit.record(
        session,
        actor,
        "status",
        account.reference,
        "active" if account.active else "inactive",
        "active" if active else "inactive",
        account.id,
    )
    account.active = active
    session.flush()
    return True


def status_message(account: Account, changed: bool) -> str:
    """What an activate or deactivate did, in plain text: the CLI and Slack say the same."""
    who = f"{account.name} ({account.reference})"
    if not changed:
        return f"{who} is already {'active' if account.active else 'inactive'}; nothing changed."
    if account.active:
        return f"{who} is active again: it is listed, can be chosen, and its reminder works."
    return (
        f"{who} is now inactive. It keeps its {account.balance:,} credits, its history and its "
        "invoices; it is left out of lists, pickers and reminders until it is activated again."
    )


@dataclass(frozen=True)
class Page:
    """One page of search results and how many matched: exactly, or "more than `total`"."""

    accounts: list[Account]
    total: int
    offset: int
    limit: int
    more: bool = False  # counting stopped at `total`; there are more matches than that

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


# Counting every match of "ltd" among a million accounts costs more than the page itself, and
# nobody pages through hundreds of results: past this many, the count says "more than".
COUNT_LIMIT = 100

FTS_MIN_LENGTH = 3  # the trigram tokenizer cannot match anything shorter
SEARCHED_COLUMNS = (Account.name, Account.reference, Account.keyword)


@dataclass(frozen=True)
class _Query:
    """What one search asks for; its `shape` picks the prepared statements it runs."""

    text: str
    include_inactive: bool = False
    exclude_id: int | None = None
    with_credits_only: bool = False
    sqlite_fts: bool = False  # the database is SQLite, with its accounts_fts index

    @property
    def needle(self) -> str:
        return self.text.strip().lower()

    @property
    def fts_phrase(self) -> str | None:
        """An FTS5 string literal, which the trigram tokenizer matches as a substring anywhere."""
        if not self.sqlite_fts or len(self.needle) < FTS_MIN_LENGTH:
            return None
        return '"' + self.needle.replace('"', '""') + '"'

    @property
    def reference(self) -> str | None:
        reference = self.text.strip().upper()
        return reference if reference.isalnum() and len(reference) <= REFERENCE_MAX_LENGTH else None

    def shape(self, walk_name_order: bool = False) -> _Shape:
        return _Shape(
            fts=self.fts_phrase is not None,
            like=self.fts_phrase is None and bool(self.needle),
            include_inactive=self.include_inactive,
            excluding=self.exclude_id is not None,
            with_credits_only=self.with_credits_only,
            walk_name_order=walk_name_order,
        )

    def parameters(self) -> dict[str, Any]:
        escaped = self.needle.replace("/", "//").replace("%", "/%").replace("_", "/_")
        return {
            "phrase": self.fts_phrase,
            "pattern": f"%{escaped}%",
            "exclude_id": self.exclude_id,
            "reference": self.reference,
        }


@dataclass(frozen=True)
class _Shape:
    fts: bool
    like: bool
    include_inactive: bool
    excluding: bool
    with_credits_only: bool
    walk_name_order: bool


# The rowids of accounts whose name, reference or keyword contain the FTS5 phrase.
_FTS_ROWS = select(text("rowid")).select_from(text("accounts_fts")).where(text("accounts_fts MATCH :phrase"))


# Statements are built once per shape and run with parameters: building and hashing a fresh
# statement for every keystroke in a picker cost more than SQLite took to answer it.
@functools.cache
def _candidates(shape: _Shape) -> Select[Account]:
    """Accounts whose name, reference or keyword contains the needle, case-insensitively.

    SQLite serves needles of 3+ characters from the accounts_fts trigram index (migration 0002);
    PostgreSQL serves the LIKEs from pg_trgm indexes. With walk_name_order, SQLite walks
    accounts in name order and probes the FTS5 matches instead of fetching and sorting them all.
    """
    statement = select(Account)
    if not shape.include_inactive:
        statement = statement.where(Account.active.is_(True))
    if shape.excluding:
        statement = statement.where(Account.id != bindparam("exclude_id"))
    if shape.with_credits_only:
        statement = statement.where(Account.balance > 0)
    if shape.fts:
        # `id + 0` hides the rowid from SQLite's planner, leaving ix_accounts_name_order to drive.
        probed = Account.id + 0 if shape.walk_name_order else Account.id
        statement = statement.where(probed.in_(_FTS_ROWS))
    elif shape.like:
        pattern = bindparam("pattern", type_=String)
        statement = statement.where(
            or_(*(func.lower(column).like(pattern, escape="/") for column in SEARCHED_COLUMNS))
        )
    return statement


_ACCOUNTS = select(func.max(Account.id))  # how many accounts, near enough, from the primary key


@functools.cache
def _survey(shape: _Shape) -> Select[Any]:
    """One row: the exact-reference account's id, the matches counted up to :count_limit, and on
    SQLite the FTS5 matches counted up to :walk_point."""
    candidates = _candidates(shape).with_only_columns(Account.id)
    first = candidates.limit(bindparam("count_limit")).subquery()
    columns: list[Any] = [
        candidates.where(Account.reference == bindparam("reference")).scalar_subquery(),
        select(func.count()).select_from(first).scalar_subquery(),
    ]
    if shape.fts:
        fts_rows = _FTS_ROWS.limit(bindparam("walk_point")).subquery()
        columns.append(select(func.count()).select_from(fts_rows).scalar_subquery())
    return select(*columns)


@functools.cache
def _listing(shape: _Shape) -> Select[Account]:
    """The matches other than the exact-reference one, by name, a slice at a time."""
    by_name: ColumnElement[Any] = func.lower(Account.name)
    if not shape.walk_name_order:
        # An expression ix_accounts_name_order does not cover: the planner must fetch the
        # matches and sort them, rather than walk the index on an estimate. PostgreSQL guesses
        # 1% for `reference LIKE '%008500%'` and would walk all 1M entries to find one account.
        by_name = by_name.concat("")
    return (
        _candidates(shape)
        .where(Account.id.is_distinct_from(bindparam("exact_id")))
        .order_by(by_name, Account.id)
        .offset(bindparam("skip"))
        .limit(bindparam("take"))
    )


def search(
    session: Session,
    query: str = "",
    *,
    offset: int = 0,
    limit: int = 10,
    include_inactive: bool = False,
    exclude_id: int | None = None,
    with_credits_only: bool = False,
) -> Page:
    """A page of matching accounts: the account whose reference is the query first, then by name.

    The cost grows with the page and with at most √(limit × accounts) matches, never with the
    whole table: see _Matches.find. Matches are counted up to COUNT_LIMIT (or the page's end).
    """
    enough = max(COUNT_LIMIT, offset + limit)  # always enough to know whether a next page exists
    found = _Matches.find(session, query, limit, include_inactive, exclude_id, with_credits_only, enough)
    listed = found.listing(offset, limit)
    if not listed and offset:
        # Accounts closed since the Next button was drawn: show the last page there still is.
        offset = max(found.counted - 1, 0) // limit * limit
        listed = found.listing(offset, limit)
    return Page(listed, min(found.counted, enough), offset, limit, more=found.counted > enough)


def first_matches(
    session: Session,
    query: str,
    *,
    limit: int,
    exclude_id: int | None = None,
    with_credits_only: bool = False,
) -> list[Account]:
    """The first `limit` matches in search order, uncounted: what a picker offers."""
    return _Matches.find(session, query, limit, False, exclude_id, with_credits_only).listing(0, limit)


@dataclass(frozen=True)
class _Matches:
    """A search ready to list: the exact-reference account, and how many matched."""

    session: Session
    query: _Query
    shape: _Shape  # how to list the others
    exact: Account | None
    counted: int  # all matches, counted up to count_up_to + 1

    @classmethod
    def find(
        cls,
        session: Session,
        query: str,
        limit: int,
        include_inactive: bool,
        exclude_id: int | None,
        with_credits_only: bool,
        count_up_to: int = 0,
    ) -> _Matches:
        """Find the exact-reference account, count, and pick how to list, in two round trips.

        Listing a page by name either walks ix_accounts_name_order until it has a page, reading
        about limit × accounts / matches entries, or fetches every match and sorts, so walking
        wins from matches² > limit × accounts: the walk point. Neither planner can see the number
        of matches: SQLite cannot look into FTS5, and PostgreSQL's estimates for LIKE '%…%' are
        guesses. So count, only up to the walk point: the FTS5 matches on SQLite (cheap: no table
        rows), the matches themselves elsewhere.
        """
        asked = _Query(
            query,
            include_inactive,
            exclude_id,
            with_credits_only,
            session.get_bind().dialect.name == "sqlite",
        )
        shape = asked.shape()
        # Both statements return plain values, so they run on the connection (Core), skipping
        # the ORM's per-statement bookkeeping: a tenth of a search's time.
        walk_point = math.isqrt(limit * (session.connection().scalar(_ACCOUNTS) or 0)) + 1
        count_limit = count_up_to if shape.fts else max(count_up_to, walk_point)
        survey: tuple[Any, ...] = tuple(
            session.connection()
            .execute(
                _survey(shape),
                {**asked.parameters(), "count_limit": count_limit + 1, "walk_point": walk_point},
            )
            .one()
        )
        exact_id, counted, *fts_counted = survey
        walk = (fts_counted[0] if shape.fts else counted) >= walk_point
        exact = session.get(Account, exact_id) if exact_id is not None else None
        return cls(session, asked, asked.shape(walk_name_order=walk), exact, counted)

    def listing(self, offset: int, limit: int) -> list[Account]:
        """Entries offset..offset+limit of [exact, *others by name]."""
        ahead = [self.exact] if self.exact is not None else []
        others = self.session.scalars(
            _listing(self.shape),
            {
                **self.query.parameters(),
                "exact_id": self.exact.id if self.exact is not None else None,
                "skip": max(offset - len(ahead), 0),
                "take": limit - len(ahead) if offset == 0 else limit,
            },
        )
        return (ahead if offset == 0 else []) + list(others)
