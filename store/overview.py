"""The Administration area's overview: totals over active accounts, and those needing attention."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.orm import Session

from store.accounts import COUNT_LIMIT, Page
from store.models import UNADDRESSED, UNHEARD, Account
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


def _not_low() -> ColumnElement[bool]:
    return or_(~Account.reminder_enabled, Account.balance - Account.reminder_level >= 0)


# An active account's spare credits are negative exactly when its reminder is on and its balance is
# under the level (a balance is never negative), so ix_accounts_spare_credits counts and orders the
# accounts below their level without reading a table row for each.
_SPARE = spare_credits()
_LOW = select(Account).where(_SPARE < 0, _ACTIVE)
# One pass over ix_accounts_active_balance (covering) gives the count and the credits; the other
# counts read ix_accounts_spare_credits and ix_accounts_reminder_unaddressed, whose predicates these match.
_SUMMARY = select(
    func.count(),
    func.coalesce(func.sum(Account.balance), 0),
    _LOW.with_only_columns(func.count()).scalar_subquery(),
    select(func.count()).select_from(Account).where(text(UNADDRESSED)).scalar_subquery(),
    select(func.count()).select_from(Account).where(_INACTIVE).scalar_subquery(),
).where(_ACTIVE)
_UNHEARD = select(Account).where(text(UNHEARD), _not_low())


def summary(session: Session) -> Summary:
    """The Home tab's totals, in one round trip."""
    accounts, credits, below, unaddressed, inactive = session.connection().execute(_SUMMARY).one()
    return Summary(int(accounts), int(credits), int(below), int(unaddressed), int(inactive))


def needs_attention(session: Session, *, offset: int = 0, limit: int = 10, low: int | None = None) -> Page:
    """Accounts below their reminder level (furthest below first), then, by name, active accounts
    whose reminder is off or has no recipients. The second group is counted up to COUNT_LIMIT.

    `low` is how many are below their level when the caller has counted them already (the
    summary's `below_level`, in the same transaction): counting them costs a look-up per account.
    """
    if low is None:
        low = session.connection().scalar(_LOW.with_only_columns(func.count()).order_by(None)) or 0
    enough = max(COUNT_LIMIT, offset + limit)
    unheard_ids = _UNHEARD.with_only_columns(Account.id).limit(enough + 1).subquery()
    unheard = session.connection().scalar(select(func.count()).select_from(unheard_ids)) or 0
    total = low + min(unheard, enough)
    if offset >= total and offset:
        offset = max(total - 1, 0) // limit * limit  # the list shrank since the page was drawn
    shown: list[Account] = list(
        session.scalars(_LOW.order_by(_SPARE, Account.id).offset(offset).limit(limit))
    )
    if len(shown) < limit:
        shown += session.scalars(
            _UNHEARD.order_by(func.lower(Account.name), Account.id)
            .offset(max(offset - low, 0))
            .limit(limit - len(shown))
        )
    return Page(shown, total, offset, limit, more=unheard > enough)


def inactive(session: Session, *, offset: int = 0, limit: int = 10) -> Page:
    """Inactive accounts by name, so an admin can find one to activate again."""
    total = session.connection().scalar(select(func.count()).select_from(Account).where(_INACTIVE)) or 0
    if offset >= total and offset:
        offset = max(total - 1, 0) // limit * limit  # the list shrank since the page was drawn
    shown = session.scalars(
        select(Account)
        .where(_INACTIVE)
        .order_by(func.lower(Account.name), Account.id)
        .offset(offset)
        .limit(limit)
    )
    return Page(list(shown), total, offset, limit)
