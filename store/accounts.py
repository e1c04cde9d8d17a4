"""Finding, creating and renaming accounts."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, func, literal_column, null, or_, select, text
from sqlalchemy.orm import Session

from store import audit
from store.errors import InactiveAccount, InvalidName, StoreError, UnknownAccount
from store.models import KEYWORD_MAX_LENGTH, NAME_MAX_LENGTH, REFERENCE_MAX_LENGTH, Account


def clean_name(raw: str) -> str:
    """The name as it will be stored, or InvalidName saying what is wrong with it."""
    name = raw.strip()
    if not name:
        raise InvalidName("Enter a name: it cannot be blank.")
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise InvalidName("Names cannot contain control characters such as tabs or line breaks.")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidName(f"Names can be at most {NAME_MAX_LENGTH} characters; this one has {len(name)}.")
    return name


def clean_reference(raw: str) -> str:
    reference = raw.strip().upper()
    if not reference or len(reference) > REFERENCE_MAX_LENGTH or not reference.isalnum():
        raise StoreError(
            f"{raw!r} is not an account reference: use 1-{REFERENCE_MAX_LENGTH} letters and digits."
        )
    return reference


def clean_keyword(raw: str | None) -> str | None:
    keyword = (raw or "").strip()
    if not keyword:
        return None
    if len(keyword) > KEYWORD_MAX_LENGTH or any(unicodedata.category(c) == "Cc" for c in keyword):
        raise StoreError(f"Keywords are 1-{KEYWORD_MAX_LENGTH} characters without control characters.")
    return keyword


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


def matching(
    query: str = "",
    *,
    include_inactive: bool = False,
    exclude_id: int | None = None,
    sqlite_fts: bool = False,
    walk_name_order: bool = False,
) -> Select[Account]:
    """Accounts whose name, reference or keyword contains `query`, case-insensitively.

    With sqlite_fts, needles of 3+ characters use the accounts_fts trigram index (migration
    0002) instead of a table scan; on PostgreSQL the LIKEs below are served by pg_trgm indexes.
    With walk_name_order too, SQLite walks accounts in name order and probes the FTS5 matches
    instead of fetching and sorting them all (see _fts_matches_many).
    """
    statement = select(Account)
    if not include_inactive:
        statement = statement.where(Account.active.is_(True))
    if exclude_id is not None:
        statement = statement.where(Account.id != exclude_id)
    needle = query.strip().lower()
    phrase = _fts_phrase(needle)
    if sqlite_fts and phrase:
        # `id + 0` hides the rowid from SQLite's planner, leaving ix_accounts_name_order to drive.
        probed = Account.id + 0 if walk_name_order else Account.id
        statement = statement.where(
            probed.in_(
                select(text("rowid"))
                .select_from(text("accounts_fts"))
                .where(text("accounts_fts MATCH :fts_query").bindparams(fts_query=phrase))
            )
        )
    elif needle:
        statement = statement.where(
            or_(
                *(
                    func.lower(column).contains(needle, autoescape=True)
                    for column in (Account.name, Account.reference, Account.keyword)
                )
            )
        )
    return statement


def _fts_phrase(needle: str) -> str | None:
    """An FTS5 string literal, which the trigram tokenizer matches as a substring anywhere."""
    return '"' + needle.replace('"', '""') + '"' if len(needle) >= FTS_MIN_LENGTH else None


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

    Pages walk ix_accounts_name_order, so a common word costs about as much as a rare one.
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
    """A search ready to list: the exact-reference account, the rest, and how many there are."""

    session: Session
    exact: Account | None
    others: Select[Account]  # in the form that lists them fastest
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
        """One round trip finds the exact-reference account, counts, and picks how to list.

        SQLite's planner cannot see how many rows an FTS5 phrase matches, so left alone it always
        fetches and sorts every match: right for a reference, slow for a common word. Walking the
        name index instead reads about limit × accounts / matches entries, against `matches` rows
        sorted, so it walks from matches² > limit × accounts.
        """
        sqlite_fts = session.get_bind().dialect.name == "sqlite"

        def matches(walk_name_order: bool = False) -> Select[Account]:
            statement = matching(
                query,
                include_inactive=include_inactive,
                exclude_id=exclude_id,
                sqlite_fts=sqlite_fts,
                walk_name_order=walk_name_order,
            )
            return statement.where(Account.balance > 0) if with_credits_only else statement

        candidates = matches()
        reference = query.strip().upper()
        might_be_reference = reference.isalnum() and len(reference) <= REFERENCE_MAX_LENGTH
        exact_id = candidates.with_only_columns(Account.id).where(Account.reference == reference)
        first = candidates.with_only_columns(Account.id).limit(count_up_to + 1).subquery()
        columns = [
            exact_id.scalar_subquery() if might_be_reference else null(),
            select(func.count()).select_from(first).scalar_subquery() if count_up_to else null(),
        ]
        phrase = _fts_phrase(query.strip().lower())
        if sqlite_fts and phrase:
            fts_matches = (
                select(literal_column("1"))
                .select_from(text("accounts_fts"))
                .where(text("accounts_fts MATCH :phrase").bindparams(phrase=phrase))
                .limit(4096)
                .subquery()
            )
            columns += [
                select(func.max(Account.id)).scalar_subquery(),
                select(func.count()).select_from(fts_matches).scalar_subquery(),
            ]
        survey = session.execute(select(*columns)).one()
        exact = session.get(Account, survey[0]) if survey[0] is not None else None
        walk = sqlite_fts and phrase is not None and survey[3] ** 2 > limit * (survey[2] or 0)
        others = matches(walk_name_order=True) if walk else candidates
        if exact is not None:
            others = others.where(Account.id != exact.id)
        return cls(session, exact, others, survey[1] or 0)

    def listing(self, offset: int, limit: int) -> list[Account]:
        """Entries offset..offset+limit of [exact, *others by name]."""
        ahead = [self.exact] if self.exact is not None else []
        skip = max(offset - len(ahead), 0)
        take = limit - len(ahead) if offset == 0 else limit
        ordered = self.others.order_by(func.lower(Account.name), Account.id)
        return (ahead if offset == 0 else []) + list(self.session.scalars(ordered.offset(skip).limit(take)))
