"""The Administration area's overview: totals over active accounts, and those needing attention."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, bindparam, func, or_, select, text
from sqlalchemy.orm import Session

from store.accounts import COUNT_LIMIT, Page
from store.db import is_postgresql
from store.models import LIST_ORDER, UNADDRESSED, UNHEARD, Account, account_totals
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


def _not_low() -> ColumnElement[bool]:
    return or_(~Account.reminder_enabled, Account.balance - Account.reminder_level >= 0)


# An active account's spare credits are negative exactly when its reminder is on and its balance is
# under the level (a balance is never negative), so ix_accounts_spare_credits lists the accounts
# below their level, furthest below first, without reading a table row for each.
_SPARE = spare_credits()
_LOW = select(Account).where(_SPARE < 0, _ACTIVE)
# The summary's numbers come from account_totals (migration 0019), a few rows whatever the number
# of accounts, but for reminders without recipients, counted from ix_accounts_reminder_unaddressed.
_TOTALS = account_totals.c
_SUMMARY = select(
    func.coalesce(func.sum(_TOTALS.accounts), 0),
    func.coalesce(func.sum(_TOTALS.credits), 0),
    func.coalesce(func.sum(_TOTALS.below_level), 0),
    func.coalesce(func.sum(_TOTALS.inactive), 0),
    select(func.count()).select_from(Account).where(text(UNADDRESSED)).scalar_subquery(),
)
_UNHEARD = select(Account).where(text(UNHEARD), _not_low())


def summary(session: Session) -> Summary:
    """The Home tab's totals, in one round trip."""
    accounts, credits, below, inactive, unaddressed = session.connection().execute(_SUMMARY).one()
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
_UNHEARD_COUNTED = select(func.count()).select_from(
    _UNHEARD.with_only_columns(Account.id).limit(bindparam("up_to")).subquery()
)
_LOW_PAGE = _LOW.order_by(_SPARE, Account.id).offset(bindparam("skip")).limit(bindparam("take"))
_UNHEARD_PAGE = _UNHEARD.order_by(LIST_ORDER, Account.id).offset(bindparam("skip")).limit(bindparam("take"))


def needs_attention(session: Session, *, offset: int = 0, limit: int = 10, low: int | None = None) -> Page:
    """Accounts below their reminder level (furthest below first), then, by name, active accounts
    whose reminder is off or has no recipients. The second group is counted up to COUNT_LIMIT.

    `low` is how many are below their level when the caller has the summary already.
    """
    if low is None:
        low = summary(session).below_level
    enough = max(COUNT_LIMIT, offset + limit)
    unheard = session.connection().scalar(_UNHEARD_COUNTED, {"up_to": enough + 1}) or 0
    total = low + min(unheard, enough)
    if offset >= total and offset:
        offset = max(total - 1, 0) // limit * limit  # the list shrank since the page was drawn
    shown: list[Account] = list(session.scalars(_LOW_PAGE, {"skip": offset, "take": limit}))
    if len(shown) < limit:
        shown += session.scalars(_UNHEARD_PAGE, {"skip": max(offset - low, 0), "take": limit - len(shown)})
    return Page(shown, total, offset, limit, more=unheard > enough)


def inactive(session: Session, *, offset: int = 0, limit: int = 10) -> Page:
    """Inactive accounts by name, so an admin can find one to activate again."""
    total = session.connection().scalar(select(func.count()).select_from(Account).where(_INACTIVE)) or 0
    if offset >= total and offset:
        offset = max(total - 1, 0) // limit * limit  # the list shrank since the page was drawn
    shown = session.scalars(
        select(Account).where(_INACTIVE).order_by(LIST_ORDER, Account.id).offset(offset).limit(limit)
    )
    return Page(list(shown), total, offset, limit)
