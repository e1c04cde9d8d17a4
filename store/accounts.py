"""Finding, creating and renaming accounts."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, case, func, or_, select, text
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
    """One page of search results and how many matched in all."""

    accounts: list[Account]
    total: int
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.accounts) < self.total

    @property
    def has_previous(self) -> bool:
        return self.offset > 0


FTS_MIN_LENGTH = 3  # the trigram tokenizer cannot match anything shorter


def matching(
    query: str = "",
    *,
    include_inactive: bool = False,
    exclude_id: int | None = None,
    sqlite_fts: bool = False,
) -> Select[Account]:
    """Accounts whose name, reference or keyword contains `query`, case-insensitively.

    With sqlite_fts, needles of 3+ characters use the accounts_fts trigram index (migration
    0002) instead of a table scan; on PostgreSQL the LIKEs below are served by pg_trgm indexes.
    """
    statement = select(Account)
    if not include_inactive:
        statement = statement.where(Account.active.is_(True))
    if exclude_id is not None:
        statement = statement.where(Account.id != exclude_id)
    needle = query.strip().lower()
    if sqlite_fts and len(needle) >= FTS_MIN_LENGTH:
        # An FTS5 string literal: the trigram tokenizer matches it as a substring anywhere.
        phrase = '"' + needle.replace('"', '""') + '"'
        statement = statement.where(
            Account.id.in_(
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
    """A page of matching accounts: an exact reference first, then by name."""
    statement = matching(
        query,
        include_inactive=include_inactive,
        exclude_id=exclude_id,
        sqlite_fts=session.get_bind().dialect.name == "sqlite",
    )
    if with_credits_only:
        statement = statement.where(Account.balance > 0)
    exact_first = case((Account.reference == query.strip().upper(), 0), else_=1)
    # One pass over the matches gives both the page and, as a window count, the total.
    ordered = (
        statement.add_columns(func.count().over())
        .order_by(exact_first, func.lower(Account.name), Account.id)
        .limit(limit)
    )
    rows = session.execute(ordered.offset(offset)).all()
    if not rows and offset:
        # Accounts closed since the Next button was drawn: show the last page there still is.
        total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
        offset = max(total - 1, 0) // limit * limit
        rows = session.execute(ordered.offset(offset)).all()
    total = rows[0][1] if rows else 0
    return Page([account for account, _ in rows], total, offset, limit)
