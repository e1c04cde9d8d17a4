"""The fix an alert suggests: move credits in from the account that can best spare them, or buy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, case, literal_column, select
from sqlalchemy.orm import Session

from store.db import Read
from store.forecast import Forecast
from store.models import Account

COVER_DAYS = 7  # besides restoring the level, the suggestion covers a week of forecast usage


def spare_credits() -> ColumnElement[int]:
    """Credits an account can give without going below its own reminder level (all, if it has none)."""
    # Written to match ix_accounts_spare_credits: its expression and its WHERE clause.
    return case(
        (literal_column("accounts.reminder_enabled"), Account.balance - Account.reminder_level),
        else_=Account.balance,
    )


@dataclass(frozen=True)
class Source:
    """An account to move credits from."""

    account_id: int
    reference: str
    name: str
    spare: int


@dataclass(frozen=True)
class Suggestion:
    """How many credits would fix the account, and where a move could take them from."""

    credits: int  # restores the level and covers COVER_DAYS of usage
    source: Source | None  # None when no other account has credits to spare

    @property
    def move_credits(self) -> int:
        """The move's prefilled amount: what is needed, or all the source can spare."""
        return min(self.credits, self.source.spare) if self.source else 0


def needed(balance: int, level: int, forecast: Forecast, warning_days: int | None = None) -> int:
    """Credits that bring the balance back to the level, and to `warning_days` of usage when the
    forecast warning is on, and keep it there for COVER_DAYS; at least 1."""
    target = max(level, forecast.runway_floor(warning_days) or 0)
    return max(1, max(0, target - balance) + forecast.credits_for(COVER_DAYS))


_SPARE = spare_credits()
# Built once: the pass asks for it with every batch it claims.
_BEST_SOURCES = cast(
    Select[Any],
    select(Account.id, Account.reference, Account.name, _SPARE)
    .where(literal_column("accounts.active"))
    .order_by(_SPARE.desc(), Account.id.desc())
    .limit(2),
)


# best_sources' read, for read_together with a caller's own reads; `sources` reads its rows.
BEST_SOURCES_READ: Read = (_BEST_SOURCES, {})


def sources(rows: Iterable[Sequence[Any]]) -> list[Source]:
    """best_sources from its read's rows."""
    return [Source(*row) for row in rows]


def best_sources(session: Session) -> list[Source]:
    """The two active accounts with the most spare credits, best first: an index walk of two rows."""
    return sources(session.connection().execute(_BEST_SOURCES))


def source_for(account_id: int, best: list[Source]) -> Source | None:
    """The best of `best_sources` other than the account itself, if it has credits to spare."""
    for source in best:
        if source.account_id != account_id:
            return source if source.spare > 0 else None
    return None


def best_source(session: Session, account_id: int) -> Source | None:
    """The active account, other than this one, with the most spare credits."""
    return source_for(account_id, best_sources(session))


def suggest(
    session: Session,
    account_id: int,
    balance: int,
    level: int,
    forecast: Forecast,
    warning_days: int | None = None,
) -> Suggestion:
    """What to suggest for an account that is low (or about to be)."""
    return Suggestion(needed(balance, level, forecast, warning_days), best_source(session, account_id))
