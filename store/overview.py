"""The Administration area's overview: totals over active accounts, and those needing attention."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from store import forecast
from store.accounts import COUNT_LIMIT, Page
from store.db import ALWAYS_GENERIC, GENERIC_PLAN, Ahead, is_postgresql
from store.models import LIST_ORDER, UNADDRESSED, UNHEARD, Account, account_totals
from store.search import listed_with_forecasts
from store.suggestions import spare_credits

_ACTIVE = text("accounts.active")
_INACTIVE = Account.active == False  # noqa: E712 - "= false" lets both databases seek ix_accounts_active_balance


@dataclass(frozen=True)
class Summary:
    """What the Home tab's summary line says."""

    accounts: int  # active accounts
    credits: int  # their credits together
    below_level: int  # active accounts below their reminder level
    unaddressed: int  # active accounts whose reminder is on but has no recipients
    inactive: int = 0  # accounts made inactive (only admins are shown these)

    def says(self) -> str:
        """The counted figures in one line, for `ledger check`."""
        return (
            f"{self.accounts} active accounts holding {self.credits} credits, {self.below_level} below "
            f"their level, {self.inactive} inactive"
        )


# Zero written into the SQL, not bound: a generic plan then sees it, and estimates from the
# statistics on these expressions (migration 0019) instead of a third of the table.
_ZERO = literal_column("0", Integer)


def _not_low() -> ColumnElement[bool]:
    return or_(~Account.reminder_enabled, Account.balance - Account.reminder_level >= _ZERO)


# An active account's spare credits are negative exactly when its reminder is on and its balance is
# under the level (a balance is never negative), so ix_accounts_spare_credits lists the accounts
# below their level, furthest below first, without reading a table row for each.
_SPARE = spare_credits()
_LOW = select(Account).where(_SPARE < _ZERO, _ACTIVE)
# The summary's numbers come from account_totals (migration 0019), a few rows whatever the number
# of accounts, but for reminders without recipients, counted from ix_accounts_reminder_unaddressed.
_TOTALS = account_totals.c
_SUMMARY = select(
    func.coalesce(func.sum(_TOTALS.accounts), 0),
    func.coalesce(func.sum(_TOTALS.credits), 0),
    func.coalesce(func.sum(_TOTALS.below_level), 0),
    func.coalesce(func.sum(_TOTALS.inactive), 0),
    select(func.count()).select_from(Account).where(text(UNADDRESSED)).scalar_subquery(),
).execution_options(**{GENERIC_PLAN: ALWAYS_GENERIC})
_UNHEARD = select(Account).where(text(UNHEARD), _not_low())


def summary(session: Session) -> Summary:
    """The Home tab's totals, in one round trip."""
    return _summary(session.connection().execute(_SUMMARY).one())


def summary_ahead(session: Session) -> Callable[[], Summary]:
    """summary, read with the session's next statement (a round trip fewer on PostgreSQL); call for it."""
    ahead = Ahead(session.connection(), _SUMMARY, {})
    return lambda: _summary(ahead.row())


def _summary(row: Sequence[Any]) -> Summary:
    accounts, credits, below, inactive, unaddressed = row
    return Summary(int(accounts), int(credits), int(below), int(unaddressed), int(inactive))


def counted_totals(session: Session, kept: Summary) -> Summary:
    """The summary `kept` with what account_totals should say, counted from every account."""
    accounts, credits, below, inactive = session.execute(
        select(
            func.count().filter(Account.active),
            func.coalesce(func.sum(Account.balance).filter(Account.active), 0),
            func.count().filter(
                Account.active, Account.reminder_enabled, Account.balance < Account.reminder_level
            ),
            func.count().filter(_INACTIVE),
        )
    ).one()
    return replace(kept, accounts=accounts, credits=credits, below_level=below, inactive=inactive)


# The rows it deletes are the rows it adds, in one statement: a concurrent fold or writer neither
# loses nor doubles a difference.
_FOLD = text(
    """WITH gone AS (DELETE FROM account_totals WHERE id <> 0 RETURNING *)
    INSERT INTO account_totals (id, accounts, credits, inactive, below_level)
    SELECT 0, coalesce(sum(accounts), 0), coalesce(sum(credits), 0), coalesce(sum(inactive), 0),
        coalesce(sum(below_level), 0) FROM gone
    ON CONFLICT (id) DO UPDATE SET accounts = account_totals.accounts + excluded.accounts,
        credits = account_totals.credits + excluded.credits,
        inactive = account_totals.inactive + excluded.inactive,
        below_level = account_totals.below_level + excluded.below_level"""
)


def fold_totals(session: Session) -> None:
    """Add PostgreSQL's waiting differences into account_totals' base row, so the summary reads few
    rows; SQLite's triggers update the base row themselves."""
    if is_postgresql(session):
        session.execute(_FOLD)


# Built once, with the page's place as parameters: building them cost about as much as running them.
# Their plans do not depend on the place, and planning the page for each run's values cost more
# than running it (about a millisecond on a cold connection).
_UNHEARD_COUNTED = (
    select(func.count())
    .select_from(_UNHEARD.with_only_columns(Account.id).limit(bindparam("up_to")).subquery())
    .execution_options(**{GENERIC_PLAN: ALWAYS_GENERIC})
)
# A page of needs attention (:skip, and `take` accounts) in one statement: the accounts below their
# level on it, then as many unheard as there is room for, after the unheard the earlier pages
# showed (:skip less those below their level, which account_totals counts, in the same snapshot).
# Each account shown comes with its usage (forecast.window's parameters), and as a plain row:
# loading ORM objects cost more than the statement. `take` is written into the SQL: a generic plan
# that took it for a tenth of the accounts cost above PostgreSQL's JIT threshold at 1M accounts,
# and compiling it took 20 ms.
_NO_SPARE, _NO_NAME = cast(null(), BigInteger), cast(null(), String)  # typed, for UNION ALL
_BELOW_LEVEL = select(func.coalesce(func.sum(_TOTALS.below_level), 0)).scalar_subquery()


@functools.cache
def _page(take: int) -> Select[Any]:
    taken = literal_column(str(int(take)), Integer)
    low = (
        _LOW.with_only_columns(
            Account.id, literal_column("0").label("part"), _SPARE.label("spare"), _NO_NAME.label("name_order")
        )
        .order_by(_SPARE, Account.id)
        .offset(bindparam("skip"))
        .limit(taken)
        .cte("low_shown")
    )
    unheard = (
        _UNHEARD.with_only_columns(
            Account.id,
            literal_column("1").label("part"),
            _NO_SPARE.label("spare"),
            LIST_ORDER.label("name_order"),
        )
        .order_by(LIST_ORDER, Account.id)
        .offset(case((bindparam("skip") > _BELOW_LEVEL, bindparam("skip") - _BELOW_LEVEL), else_=0))
        .limit(taken - select(func.count()).select_from(low).scalar_subquery())
        .subquery()
    )
    # The whole's limit too: the planner cannot tell it from the parts'.
    shown = union_all(select(*low.c), select(*unheard.c)).limit(taken).subquery("shown")
    return (
        select(*Account.__table__.c, *forecast.USAGE)
        .join_from(Account, shown, Account.id == shown.c.id)
        .order_by(shown.c.part, shown.c.spare, shown.c.name_order, shown.c.id)
        .execution_options(**{GENERIC_PLAN: ALWAYS_GENERIC})
    )


def needs_attention_ahead(
    session: Session, *, offset: int = 0, limit: int = 10, forecasts_at: datetime
) -> Callable[[Summary], Page]:
    """needs_attention's reads, sent with the session's next statement (on PostgreSQL, in its round
    trip: with the summary's, a Home tab's whole list); call with the summary for the page."""
    enough = max(COUNT_LIMIT, offset + limit)
    unheard_read = Ahead(session.connection(), _UNHEARD_COUNTED, {"up_to": enough + 1})
    listing = _listing_ahead(session, _page(limit), offset, limit, forecasts_at)

    def page(summary: Summary) -> Page:
        unheard = unheard_read.row()[0]
        return listing(summary.below_level + min(unheard, enough), unheard > enough)

    return page


def needs_attention(
    session: Session, *, offset: int = 0, limit: int = 10, forecasts_at: datetime | None = None
) -> Page:
    """Accounts below their reminder level (furthest below first), then, by name, active accounts
    whose reminder is off or has no recipients. The second group is counted up to COUNT_LIMIT.
    The page carries each listed account's forecast at `forecasts_at` (now, if not given)."""
    page = needs_attention_ahead(
        session, offset=offset, limit=limit, forecasts_at=forecasts_at or datetime.now(UTC)
    )
    return page(summary(session))


@functools.cache
def _inactive_page(take: int) -> Select[Any]:
    shown = (
        select(Account.id)
        .where(_INACTIVE)
        .order_by(LIST_ORDER, Account.id)
        .offset(bindparam("skip"))
        .limit(literal_column(str(int(take)), Integer))
        .subquery("shown")
    )
    return (
        select(*Account.__table__.c, *forecast.USAGE)
        .join_from(Account, shown, Account.id == shown.c.id)
        .order_by(LIST_ORDER, Account.id)
    )


def inactive_ahead(
    session: Session, *, offset: int = 0, limit: int = 10, forecasts_at: datetime
) -> Callable[[Summary], Page]:
    """inactive's page, read with the session's next statement; call with the summary (which
    counts them) for the page."""
    listing = _listing_ahead(session, _inactive_page(limit), offset, limit, forecasts_at)
    return lambda summary: listing(summary.inactive, False)


def inactive(
    session: Session, *, offset: int = 0, limit: int = 10, forecasts_at: datetime | None = None
) -> Page:
    """Inactive accounts by name, so an admin can find one to activate again, with each one's
    forecast at `forecasts_at` (now, if not given)."""
    page = inactive_ahead(session, offset=offset, limit=limit, forecasts_at=forecasts_at or datetime.now(UTC))
    return page(summary(session))


def _listing_ahead(
    session: Session, statement: Select[Any], offset: int, limit: int, forecasts_at: datetime
) -> Callable[[int, bool], Page]:
    """A page of `statement`'s accounts with their usage (rows of every column, then
    forecast.USAGE's), read with the session's next statement; call with how many the list has
    (and whether there are more than that) for the page, read again further up if the list shrank
    under it."""
    connection = session.connection()
    window = forecast.window(forecasts_at)
    read = Ahead(connection, statement, {"skip": offset, **window})

    def page(total: int, more: bool) -> Page:
        first = offset
        if first >= total and first:
            first = max(total - 1, 0) // limit * limit  # the list shrank since the page was drawn
        rows = (
            read.rows() if first == offset else connection.execute(statement, {"skip": first, **window}).all()
        )
        shown, forecasts = listed_with_forecasts(rows, forecasts_at)
        return Page(shown, total, first, limit, more=more, forecasts=forecasts)

    return page
