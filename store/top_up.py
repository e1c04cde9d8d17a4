"""Auto top-up: when an account falls below its reminder level, buy credits, at most once per episode."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from store import audit, invoices, ledger
from store.db import indexed_flag
from store.errors import InvalidCredits, StoreError
from store.ledger import parse_credits
from store.models import Account, AutoTopUp, AutoTopUpAttempt, ReminderEpisode

ACTOR_PREFIX = "auto-top-up:"


class LimitUnit(enum.StrEnum):
    """What a monthly limit counts."""

    CREDITS = "credits"
    PURCHASES = "purchases"


@dataclass(frozen=True)
class Rule:
    """Buy `credits` whenever the balance falls below the level, up to `monthly_limit` a month."""

    credits: int
    monthly_limit: int
    unit: LimitUnit

    def describe(self) -> str:
        return f"buy {self.credits:,} credits, up to {_amount(self.monthly_limit, self.unit)} a month"


class InvalidRule(InvalidCredits):
    """A part of a rule that is wrong: its `part` is "credits", "limit" or "unit", so a form can say where."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part


def parse_rule(credits: str, limit: str, unit: str, *, max_credits: int) -> Rule:
    """A rule from user input, or InvalidRule naming what is wrong and where."""
    try:
        bought = parse_credits(credits, maximum=max_credits)
    except InvalidCredits as problem:
        raise InvalidRule("credits", str(problem)) from None
    try:
        counted = LimitUnit(unit.strip().lower())
    except ValueError:
        raise InvalidRule("unit", "Count the monthly limit in credits or purchases.") from None
    try:
        cap = parse_credits(limit)
    except InvalidCredits as problem:
        raise InvalidRule("limit", str(problem)) from None
    if counted is LimitUnit.CREDITS and cap < bought:
        raise InvalidRule(
            "limit", f"A monthly limit of {cap:,} credits would stop even one purchase of {bought:,}."
        )
    return Rule(bought, cap, counted)


class ReminderOff(StoreError):
    def __init__(self) -> None:
        super().__init__(
            "Switch the low credit reminder on first: auto top-up buys when the balance falls "
            "below the reminder level."
        )


def _amount(count: int, unit: LimitUnit) -> str:
    noun = unit.value if count != 1 else unit.value.removesuffix("s")
    return f"{count:,} {noun}"


def actor_for(set_by: str) -> str:
    """Who a purchase is recorded as: the rule, and the user who set it up."""
    return f"{ACTOR_PREFIX}{set_by}"


def rule_of(session: Session, account_id: int) -> Rule | None:
    row = session.get(AutoTopUp, account_id)
    return None if row is None else Rule(row.credits, row.monthly_limit, LimitUnit(row.limit_unit))


def describe(rule: Rule | None) -> str:
    """How auto top-up reads in confirmations and the audit log."""
    return f"on, {rule.describe()}" if rule else "off"


def configure(session: Session, account: Account, rule: Rule | None, actor: str, now: datetime) -> bool:
    """Switch an account's auto top-up on (with this rule) or off, audited; True if anything changed."""
    if rule is not None and not account.reminder_enabled:
        raise ReminderOff()
    before = rule_of(session, account.id)
    if before == rule:
        return False
    row = session.get(AutoTopUp, account.id)
    if rule is None:
        session.delete(row)
    elif row is None:
        session.add(
            AutoTopUp(
                account_id=account.id,
                credits=rule.credits,
                monthly_limit=rule.monthly_limit,
                limit_unit=rule.unit.value,
                set_by=actor,
                set_at=now,
            )
        )
    else:
        row.credits, row.monthly_limit, row.limit_unit = rule.credits, rule.monthly_limit, rule.unit.value
        row.set_by, row.set_at = actor, now
    audit.record(
        session, actor, "auto_top_up", account.reference, describe(before), describe(rule), account.id
    )
    session.flush()
    return True


@dataclass(frozen=True)
class Outcome:
    """What auto top-up did for one episode, and how much of its monthly limit is used."""

    credits: int
    invoice_number: str | None  # None when it did not buy
    skipped: str | None  # why it did not buy
    used: int  # purchases or credits bought this month, in the rule's unit
    rule: Rule | None  # None once the rule is switched off

    @property
    def bought(self) -> bool:
        return self.invoice_number is not None

    def text(self) -> str:
        """One line for the alert."""
        if self.bought:
            bought = f"Auto top-up bought {self.credits:,} credits, {self.invoice_number}"
            if self.rule is None:
                return f"{bought}; auto top-up is now off."
            return (
                f"{bought}; {self.used:,} of {_amount(self.rule.monthly_limit, self.rule.unit)} this month."
            )
        return f"Auto top-up did not buy: {self.skipped}"


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _used_this_month(session: Session, account_id: int, unit: LimitUnit, now: datetime) -> int:
    measure = (
        func.count() if unit is LimitUnit.PURCHASES else func.coalesce(func.sum(AutoTopUpAttempt.credits), 0)
    )
    return int(
        session.scalar(
            select(measure).where(
                AutoTopUpAttempt.account_id == account_id,
                AutoTopUpAttempt.invoice_id.is_not(None),
                AutoTopUpAttempt.at >= _month_start(now),
            )
        )
        or 0
    )


def _why_not(account: Account, rule: Rule, used: int) -> str | None:
    if not account.active:
        return f"account {account.reference} is inactive."
    if rule.unit is LimitUnit.PURCHASES and used + 1 > rule.monthly_limit:
        return f"its limit of {_amount(rule.monthly_limit, rule.unit)} a month is used up."
    if rule.unit is LimitUnit.CREDITS and used + rule.credits > rule.monthly_limit:
        return (
            f"{rule.credits:,} more credits would pass its limit of "
            f"{_amount(rule.monthly_limit, rule.unit)} a month ({used:,} bought so far)."
        )
    return None


def _outcome(session: Session, attempt: AutoTopUpAttempt, rule: Rule, now: datetime) -> Outcome:
    number = attempt.invoice.number if attempt.invoice else None
    used = _used_this_month(session, attempt.account_id, rule.unit, now)
    return Outcome(attempt.credits, number, attempt.skipped, used, rule)


def due(session: Session) -> list[tuple[int, int]]:
    """(account id, episode) for each account below its level whose rule has not acted in this episode yet.

    An episode the forecast warning started, with the balance still above the level, waits: the
    rule buys only once the balance falls below it.
    """
    tried = exists().where(
        AutoTopUpAttempt.account_id == ReminderEpisode.account_id,
        AutoTopUpAttempt.episode == ReminderEpisode.number,
    )
    rows = session.execute(
        select(ReminderEpisode.account_id, ReminderEpisode.number)
        .join(AutoTopUp, AutoTopUp.account_id == ReminderEpisode.account_id)
        .join(Account, Account.id == ReminderEpisode.account_id)
        .where(
            indexed_flag("reminder_episodes.low"),
            ~tried,
            Account.balance < Account.reminder_level,
        )
        .order_by(ReminderEpisode.account_id)
    )
    return [(account_id, episode) for account_id, episode in rows]


def outcome_for(session: Session, account_id: int, episode: int, now: datetime) -> Outcome | None:
    """What auto top-up did for this episode, if it tried."""
    done = session.get(AutoTopUpAttempt, (account_id, episode))
    rule = rule_of(session, account_id)
    if done is None:
        return None
    if rule is None:  # switched off since: show the attempt as it was, against no limit
        return Outcome(done.credits, done.invoice.number if done.invoice else None, done.skipped, 0, None)
    return _outcome(session, done, rule, now)


def attempt(
    session: Session, account_id: int, episode: int, pricing: invoices.Pricing, now: datetime
) -> Outcome | None:
    """Buy for this episode if the rule allows, once across replicas and retries; None if no rule applies.

    The account's row lock serialises concurrent passes; the attempt's primary key and the
    purchase's idempotency key each make a second purchase for the episode impossible.
    """
    account = ledger.lock(session, account_id)[account_id]
    row = session.get(AutoTopUp, account_id)
    if row is None:
        return None
    rule = Rule(row.credits, row.monthly_limit, LimitUnit(row.limit_unit))
    earlier = session.get(AutoTopUpAttempt, (account_id, episode), populate_existing=True)
    if earlier is not None:
        return _outcome(session, earlier, rule, now)
    if not (account.reminder_enabled and account.balance < account.reminder_level):
        return None  # someone topped it up already
    done = AutoTopUpAttempt(account_id=account_id, episode=episode, at=now, credits=rule.credits)
    done.skipped = _why_not(account, rule, _used_this_month(session, account_id, rule.unit, now))
    if done.skipped is None:
        bought = invoices.purchase(
            session,
            account_id,
            rule.credits,
            pricing,
            actor=actor_for(row.set_by),
            key=f"{ACTOR_PREFIX}{account_id}:{episode}",
            today=now.date(),
        )
        done.invoice = bought.invoice
    session.add(done)
    session.flush()
    return _outcome(session, done, rule, now)
