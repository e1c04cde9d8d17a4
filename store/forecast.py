"""Runway: how long an account's credits last at its recent usage, and how that reads."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, TextClause, bindparam, func, select, text
from sqlalchemy.orm import Session

from store.db import GENERIC_PLAN, connection_of, is_postgresql, membership, read_together
from store.models import Account, EntryKind, LedgerEntry

WINDOW_DAYS = 7
MIN_HISTORY = timedelta(days=1)  # less usage history than this is too little to forecast from
LONG_RUNWAY_DAYS = 365
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Forecast:
    """An account's usage over the last WINDOW_DAYS (or since its first usage, if later)."""

    balance: int
    used: int  # credits used in the window; only usage burns credits
    history: timedelta  # how much of the window that usage covers
    # Credits a day at the recent rate; 0.0 without a forecast. Worked out once, when the forecast
    # is made: the pass asks each alert's forecast for it several times (its fix, its text, its
    # wording), and functools.cached_property takes a lock for each first read on Python 3.11.
    per_day: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        per_day = self.used / (self.history / ONE_DAY) if self.known else 0.0
        object.__setattr__(self, "per_day", per_day)

    @property
    def known(self) -> bool:
        """True when there is enough usage to forecast from."""
        return self.used > 0 and self.history >= MIN_HISTORY

    @property
    def days_left(self) -> float | None:
        """Days until the balance runs out at the recent rate; None when there is no forecast."""
        return self.balance / self.per_day if self.known else None

    def credits_for(self, days: int) -> int:
        """Credits `days` of recent usage take, rounded up; 0 without a forecast."""
        return math.ceil(self.per_day * days)

    def runway_floor(self, warning_days: int | None) -> int | None:
        """The least balance that lasts `warning_days` more days at the recent rate; None if it cannot warn.

        The forecast warning fires while the balance is below this: one definition for the pass,
        the alert's wording and the suggested fix.
        """
        if warning_days is None or not self.known:
            return None
        return self.credits_for(warning_days)

    def short_of(self, warning_days: int | None) -> bool:
        """Whether fewer than `warning_days` days of credits are left; False without a forecast."""
        floor = self.runway_floor(warning_days)
        return floor is not None and self.balance < floor

    def runway(self) -> str:
        """How long the credits last, e.g. "about 6 days"; only for a known forecast."""
        days = self.days_left or 0.0
        if days < 1:
            return "less than a day"
        if days > LONG_RUNWAY_DAYS:
            return "more than a year"
        # Rounded down: a warning that comes a little early beats one that comes late.
        whole = math.floor(days)
        return f"about {whole} day{'' if whole == 1 else 's'}"

    def basis(self) -> str:
        """The usage it goes by, and its rate: "the last 7 days' usage (≈ 410 credits a day)"."""
        window = round(self.history / ONE_DAY)
        basis = "the last day's usage" if window <= 1 else f"the last {window} days' usage"
        rate = max(1, round(self.per_day))
        return f"{basis} (≈ {rate:,} credit{'' if rate == 1 else 's'} a day)"

    def text(self) -> str:
        """One line for alerts and the account box."""
        if self.used <= 0:
            return "No recent usage."
        if self.history < MIN_HISTORY:
            return "Less than a day of usage so far: too early to forecast."
        runway = self.runway()
        return f"{runway[0].upper()}{runway[1:]} left at {self.basis()}."


def from_usage(balance: int, used: int, first_usage: datetime | None, now: datetime) -> Forecast:
    """The forecast for `used` credits in the window, given when the account's usage began."""
    if first_usage is None:
        return Forecast(balance, 0, timedelta(0))
    start = max(as_utc(first_usage), now - timedelta(days=WINDOW_DAYS))
    return Forecast(balance, used, max(now - start, timedelta(0)))


def as_utc(moment: datetime) -> datetime:
    """A stored time with its zone: SQLite hands datetimes back without one, and all are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _usage() -> TextClause:
    # Written to match the WHERE clause of ix_ledger_entries_usage.
    # A literal, not a bound parameter: SQLite only uses a partial index for the very same term.
    return text(f"ledger_entries.kind = '{EntryKind.USAGE.value}'")


_MINE = (LedgerEntry.account_id == Account.id, _usage())
# An account's usage in the window (:since to :now), and when its usage began: columns for any
# statement that selects accounts, with the parameters window() gives.
USAGE = (
    select(func.coalesce(func.sum(-LedgerEntry.credits), 0))
    .where(*_MINE, LedgerEntry.created_at >= bindparam("since"), LedgerEntry.created_at <= bindparam("now"))
    .scalar_subquery(),
    select(func.min(LedgerEntry.created_at)).where(*_MINE).scalar_subquery(),
)
# Built once (building it cost as much as running it).
_FORECASTS = select(Account.id, Account.balance, *USAGE)


# The same for a list of accounts, built once for each database: building the statement and its
# cache key on every call cost twice as much as running it (8 ids on SQLite: 270 -> 100 µs). Its
# plan (a look-up by key per id) does not depend on the ids: PostgreSQL planned it for each list,
# 0.15 ms against 0.03 to run it.
_FORECASTS_AMONG = {
    postgresql: _FORECASTS.where(membership(Account.id, postgresql=postgresql, name="ids")).execution_options(
        **{GENERIC_PLAN: True}
    )
    for postgresql in (False, True)
}


def window(now: datetime) -> dict[str, datetime]:
    """The parameters of USAGE for forecasts at `now`."""
    return {"since": now - timedelta(days=WINDOW_DAYS), "now": now}


def for_accounts(session: Session, account_ids: Sequence[int], now: datetime) -> dict[int, Forecast]:
    """Each account's forecast, in one query whose cost grows with the window's usage entries."""
    if not account_ids:
        return {}
    # Plain rows straight from the driver, as a search's own reads come: SQLAlchemy's execution
    # machinery cost more than the statement.
    [rows] = read_together(
        connection_of(session),
        [(_FORECASTS_AMONG[is_postgresql(session)], {**window(now), "ids": list(account_ids)})],
    )
    return {
        account_id: from_usage(balance, int(spent), started, now)
        for account_id, balance, spent, started in rows
    }


def with_warnings(
    session: Session, condition: ColumnElement[bool] | TextClause, now: datetime
) -> dict[int, tuple[Forecast, int | None]]:
    """The forecast and warning days of each account matching `condition`, in one query."""
    rows = session.connection().execute(
        _FORECASTS.add_columns(Account.runway_warning_days).where(condition), window(now)
    )
    return {
        account_id: (from_usage(balance, int(spent), started, now), days)
        for account_id, balance, spent, started, days in rows
    }


def texts(forecasts: Mapping[int, Forecast]) -> dict[int, str]:
    """Each forecast's line, by account id."""
    return {account_id: outlook.text() for account_id, outlook in forecasts.items()}


def for_account(session: Session, account_id: int, now: datetime) -> Forecast:
    """One account's forecast."""
    return for_accounts(session, [account_id], now)[account_id]
