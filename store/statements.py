"""What a weekly statement reports: the week's figures, the accounts to watch, daily series, and its runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.db import SessionFactory
from store.forecast import Forecast
from store.models import Account, EntryKind, Invoice, LedgerEntry, StatementRun

WEEK = 7
CHART_DAYS = 8 * WEEK
WATCH_COUNT = 5  # accounts with the shortest runway
BELOW_SHOWN = 10  # accounts below their level named in the message; the CSV has them all
CLAIM_LEASE = timedelta(minutes=10)  # a claim older than this, with nothing sent, was a dead replica's


@dataclass(frozen=True)
class Period:
    """The local days [first, last] a statement covers, in its time zone."""

    first: date
    last: date
    zone: ZoneInfo

    @classmethod
    def week_before(cls, moment: datetime, zone: ZoneInfo) -> Period:
        """The seven whole local days before the day of `moment`."""
        today = moment.astimezone(zone).date()
        return cls(today - timedelta(days=WEEK), today - timedelta(days=1), zone)

    def start_of(self, day: date) -> datetime:
        """Local midnight at the start of `day`, in UTC."""
        return datetime.combine(day, time(), self.zone).astimezone(UTC)

    @property
    def start(self) -> datetime:
        return self.start_of(self.first)

    @property
    def end(self) -> datetime:
        return self.start_of(self.last + timedelta(days=1))


@dataclass(frozen=True)
class DailySeries:
    """Credits used each day and the balance at each day's end; `level` is the reminder level to mark."""

    days: list[date]
    usage: list[int]
    balance: list[int]
    level: int | None


@dataclass(frozen=True)
class AccountLine:
    """One account's figures for the week."""

    reference: str
    name: str
    active: bool
    balance: int
    level: int | None  # its reminder level, when reminders are on
    used: int  # credits used in the week
    bought: int  # credits purchased in the week

    @property
    def days_left(self) -> float | None:
        """Days the balance lasts at this week's usage; None without usage."""
        return Forecast(self.balance, self.used, timedelta(days=WEEK)).days_left


@dataclass(frozen=True)
class Statement:
    """Everything the statement message and chart show."""

    period: Period
    total_credits: int
    used: int
    purchases: int
    bought: int
    invoiced: Decimal
    moves: int
    moved: int
    watch: list[AccountLine]
    below: list[AccountLine]  # the first BELOW_SHOWN, furthest below first
    below_count: int
    series: DailySeries


def _aware(moment: datetime) -> datetime:
    # SQLite hands datetimes back without their zone; everything is stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _in_period(period: Period) -> tuple[ColumnElement[bool], ...]:
    """Ledger entries made in the period's local days: the one window every figure counts in."""
    return LedgerEntry.created_at >= period.start, LedgerEntry.created_at < period.end


def _lines(period: Period) -> Select:
    """Every account with its week's usage and purchases."""

    def week_sum(kind: EntryKind, sign: int):  # type: ignore[no-untyped-def]
        return (
            select(LedgerEntry.account_id, (sign * func.sum(LedgerEntry.credits)).label("total"))
            .where(LedgerEntry.kind == kind.value, *_in_period(period))
            .group_by(LedgerEntry.account_id)
            .subquery()
        )

    used, bought = week_sum(EntryKind.USAGE, -1), week_sum(EntryKind.PURCHASE, 1)
    return (
        select(
            Account.reference,
            Account.name,
            Account.active,
            Account.balance,
            Account.reminder_enabled,
            Account.reminder_level,
            func.coalesce(used.c.total, 0).label("used"),
            func.coalesce(bought.c.total, 0).label("bought"),
        )
        .outerjoin(used, used.c.account_id == Account.id)
        .outerjoin(bought, bought.c.account_id == Account.id)
    )


def _line(row: tuple) -> AccountLine:  # type: ignore[type-arg]
    reference, name, active, balance, enabled, level, used, bought = row
    return AccountLine(reference, name, active, balance, level if enabled else None, int(used), int(bought))


def account_lines(session: Session, period: Period) -> Iterator[AccountLine]:
    """Every account's line, by reference, read in pages so any number of accounts fits in memory."""
    rows = session.execute(_lines(period).order_by(Account.reference).execution_options(yield_per=1000))
    for row in rows:
        yield _line(tuple(row))


def gather(session: Session, period: Period, now: datetime) -> Statement:
    """The statement for `period`, as the ledger stands at `now`."""
    lines = _lines(period).subquery()
    runway = (
        select(lines)
        .where(lines.c.active, lines.c.used > 0)
        .order_by(lines.c.balance * 1.0 / lines.c.used, lines.c.reference)
        .limit(WATCH_COUNT)
    )
    watch = [_line(tuple(row)) for row in session.execute(runway)]
    shortfall = Account.balance - Account.reminder_level
    low = Account.reminder_enabled & (shortfall < 0) & Account.active
    below_rows = session.execute(
        _lines(period).where(low).order_by(shortfall, Account.reference).limit(BELOW_SHOWN)
    )
    below = [_line(tuple(row)) for row in below_rows]
    if len(watch) < WATCH_COUNT:  # fill up with the accounts lowest against their level
        named = {line.reference for line in watch}
        watch += [line for line in below if line.reference not in named][: WATCH_COUNT - len(watch)]
    moves, moved = session.execute(
        select(func.count(), func.coalesce(-func.sum(LedgerEntry.credits), 0)).where(
            LedgerEntry.kind == EntryKind.TRANSFER_OUT.value, *_in_period(period)
        )
    ).one()
    # By the purchase's entry, not the invoice's date: Buy dates invoices in UTC, not in the period's zone.
    purchases, bought, invoiced = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(LedgerEntry.credits), 0),
            func.coalesce(func.sum(Invoice.total), 0),
        )
        .select_from(LedgerEntry)
        .outerjoin(Invoice, Invoice.ledger_entry_id == LedgerEntry.id)
        .where(LedgerEntry.kind == EntryKind.PURCHASE.value, *_in_period(period))
    ).one()
    series = total_series(session, period, now)
    return Statement(
        period=period,
        total_credits=int(session.scalar(select(func.coalesce(func.sum(Account.balance), 0))) or 0),
        used=sum(series.usage[-WEEK:]),
        purchases=int(purchases),
        bought=int(bought),
        invoiced=Decimal(invoiced).quantize(Decimal("0.01")),
        moves=int(moves),
        moved=int(moved),
        watch=watch,
        below=below,
        below_count=int(session.scalar(select(func.count()).select_from(Account).where(low)) or 0),
        series=series,
    )


def _series(
    session: Session, period: Period, now: datetime, balance_now: int, level: int | None
) -> DailySeries:
    """Daily usage and end-of-day balance over CHART_DAYS ending with the period's last day."""
    days = [period.last - timedelta(days=n) for n in reversed(range(CHART_DAYS))]
    index = {day: n for n, day in enumerate(days)}
    used = [0] * CHART_DAYS
    change_after = [0] * CHART_DAYS  # credits that changed after each day ended, up to now
    after_window = 0
    rows = session.execute(
        select(LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.credits)
        .where(LedgerEntry.created_at >= period.start_of(days[0]), LedgerEntry.created_at <= now)
        .execution_options(yield_per=5000)
    )
    for created_at, kind, credits in rows:
        n = index.get(_aware(created_at).astimezone(period.zone).date())
        if n is None:  # after the period: only the balance walk needs it
            after_window += credits
            continue
        if kind == EntryKind.USAGE.value:
            used[n] -= credits
        change_after[n] += credits
    balances = [0] * CHART_DAYS
    running = balance_now - after_window
    for n in reversed(range(CHART_DAYS)):
        balances[n] = running
        running -= change_after[n]
    return DailySeries(days, used, balances, level)


def total_series(session: Session, period: Period, now: datetime) -> DailySeries:
    """All accounts together; the level marked is the sum of the reminder levels that are on."""
    total, levels = session.execute(
        select(
            func.coalesce(func.sum(Account.balance), 0),
            func.coalesce(func.sum(Account.reminder_level).filter(Account.reminder_enabled), 0),
        )
    ).one()
    return _series(session, period, now, int(total), int(levels) or None)


# Statement runs: one row per scheduled slot makes each statement post once across replicas.


class RunState:
    """What became of a scheduled statement."""

    CLAIMED = "claimed"  # being drawn; nothing sent yet
    SENDING = "sending"  # the upload was started
    POSTED = "posted"
    FAILED = "failed"  # refused, or failed before the post: nothing was posted, so a later pass retries
    UNKNOWN = "unknown"  # the post's answer was lost: it may have been posted, so it is never resent


def claim(session_factory: SessionFactory, slot: datetime, now: datetime) -> bool:
    """True if this replica may post the statement for `slot`: nobody has, and nobody is."""
    with session_factory.begin() as session:
        run = session.get(StatementRun, slot)
        if run is not None and run.state in (RunState.SENDING, RunState.POSTED, RunState.UNKNOWN):
            return False  # the usual answer, read without provoking a unique violation
    try:
        with session_factory.begin() as session:
            session.add(StatementRun(slot=slot, state=RunState.CLAIMED, claimed_at=now))
        return True
    except IntegrityError:
        pass
    stale = StatementRun.claimed_at < now - CLAIM_LEASE
    with session_factory.begin() as session:
        taken = session.execute(
            update(StatementRun)
            .where(
                StatementRun.slot == slot,
                (StatementRun.state == RunState.FAILED) | ((StatementRun.state == RunState.CLAIMED) & stale),
            )
            .values(state=RunState.CLAIMED, claimed_at=now)
        )
        return bool(taken.rowcount)  # type: ignore[attr-defined]


def start_sending(session_factory: SessionFactory, slot: datetime, claimed_at: datetime) -> bool:
    """Move our claim to SENDING; False if another replica took the slot over after our lease ran out."""
    with session_factory.begin() as session:
        moved = session.execute(
            update(StatementRun)
            .where(
                StatementRun.slot == slot,
                StatementRun.state == RunState.CLAIMED,
                StatementRun.claimed_at == claimed_at,
            )
            .values(state=RunState.SENDING)
        )
        return bool(moved.rowcount)  # type: ignore[attr-defined]


def mark(
    session_factory: SessionFactory, slot: datetime, state: str, now: datetime, detail: str = ""
) -> None:
    """Record what became of the run for `slot`."""
    with session_factory.begin() as session:
        session.execute(
            update(StatementRun)
            .where(StatementRun.slot == slot)
            .values(state=state, finished_at=now, detail=detail[:500] or None)
        )


def run_state(session: Session, slot: datetime) -> str | None:
    return session.scalar(select(StatementRun.state).where(StatementRun.slot == slot))
