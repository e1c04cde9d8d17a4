"""The credit ledger: every balance change is an entry written with the balance, in one transaction."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import overview
from store.accounts import clean_reference
from store.errors import (
    BalanceLimit,
    DuplicateOperation,
    InactiveAccount,
    InsufficientCredits,
    InvalidCredits,
    SameAccount,
    UnknownAccount,
)
from store.models import Account, EntryKind, LedgerEntry

MAX_CREDITS = 1_000_000_000  # the most one move, usage or adjustment can carry; far above any real order
MAX_BALANCE = 1_000_000_000_000  # the most one account can hold; sums stay far inside a 64-bit column
# ASCII digits, optionally in groups of three with commas: "1500" and "1,500", not "1,5" or "１２".
CREDITS_PATTERN = re.compile(r"-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)")
MAX_DIGITS = 18  # past this the number is out of range anyway; int() never sees a huge string


def as_typed(text: str) -> str:
    """What the user typed, for an error message that quotes it: cut at 20 characters."""
    return text if len(text) <= 20 else text[:19] + "…"


def parse_credits(raw: str | int, *, maximum: int = MAX_CREDITS, allow_zero: bool = False) -> int:
    """A whole number of credits from user input, or InvalidCredits saying what is wrong."""
    lowest = 0 if allow_zero else 1
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    else:
        text = str(raw).strip()
        # Plain ASCII digits, as in nearly every imported row, need no pattern: half a row's parsing.
        plain = text.isascii() and text.isdigit()
        if not plain and not CREDITS_PATTERN.fullmatch(text):
            raise InvalidCredits(
                f"Enter a whole number of credits, like 500 or 1,500 (not {as_typed(text)!r})."
            )
        digits = text if plain else text.replace(",", "")
        value = maximum + 1 if len(digits.lstrip("-")) > MAX_DIGITS else int(digits)
    if value < lowest or value > maximum:
        raise InvalidCredits(f"Enter a whole number of credits from {lowest:,} to {maximum:,}.")
    return value


def lock(session: Session, *account_ids: int) -> dict[int, Account]:
    """Load and row-lock accounts, always in id order so two opposite moves cannot deadlock.

    On SQLite the whole transaction already holds the write lock (BEGIN IMMEDIATE).
    """
    rows = session.scalars(
        select(Account)
        .where(Account.id.in_(account_ids))
        .order_by(Account.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found = {account.id: account for account in rows}
    for account_id in account_ids:
        if account_id not in found:
            raise UnknownAccount(account_id)
    return found


def entry_for_key(session: Session, key: str) -> LedgerEntry | None:
    return session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))


def post(
    session: Session,
    account: Account,
    kind: EntryKind,
    credits: int,
    actor: str,
    *,
    transfer_id: str | None = None,
    key: str | None = None,
    flush: bool = True,
) -> LedgerEntry:
    """Change a locked account's balance by `credits` and append the entry that explains it.

    flush=False leaves the writes to the session's next flush, so a batch inserts its entries together.
    """
    if account.balance + credits < 0:
        raise InsufficientCredits(account.reference, account.balance, -credits)
    if account.balance + credits > MAX_BALANCE:
        raise BalanceLimit(account.reference, account.balance, MAX_BALANCE)
    account.balance += credits
    entry = LedgerEntry(
        account_id=account.id,
        kind=kind.value,
        credits=credits,
        balance_after=account.balance,
        transfer_id=transfer_id,
        idempotency_key=key,
        actor=actor,
        created_at=datetime.now(UTC),
    )
    session.add(entry)
    if flush:
        session.flush()
    return entry


def record_usage(session: Session, reference: str, credits: int, actor: str) -> LedgerEntry:
    """Credits consumed by sending messages; refuses an inactive account and a balance below zero."""
    account = _locked_by_reference(session, reference)
    if not account.active:
        raise InactiveAccount(account.reference)
    return post(session, account, EntryKind.USAGE, -credits, actor)


def _locked_by_reference(session: Session, raw: str) -> Account:
    reference = clean_reference(raw)
    account_id = session.scalar(select(Account.id).where(Account.reference == reference))
    if account_id is None:
        raise UnknownAccount(reference)
    return lock(session, account_id)[account_id]


@dataclass(frozen=True)
class Transfer:
    """A completed move: its id and both balances afterwards."""

    transfer_id: str
    credits: int
    source: Account
    destination: Account
    replayed: bool  # True when this request had already been applied


def transfer(
    session: Session,
    source_id: int,
    destination_id: int,
    credits: int,
    actor: str,
    key: str,
) -> Transfer:
    """Move credits atomically: two legs sharing one transfer id, applied at most once per key."""
    if source_id == destination_id:
        raise SameAccount()
    if credits < 1:
        raise InvalidCredits("Enter a whole number of credits of at least 1.")
    accounts = lock(session, source_id, destination_id)
    source, destination = accounts[source_id], accounts[destination_id]
    earlier = entry_for_key(session, key)
    if earlier is not None:
        return _transfer_made(session, earlier, key)
    for account in (source, destination):
        if not account.active:
            raise InactiveAccount(account.reference)
    transfer_id = str(uuid.uuid4())
    post(session, source, EntryKind.TRANSFER_OUT, -credits, actor, transfer_id=transfer_id, key=key)
    post(session, destination, EntryKind.TRANSFER_IN, credits, actor, transfer_id=transfer_id)
    return Transfer(transfer_id, credits, source, destination, False)


def _transfer_made(session: Session, earlier: LedgerEntry, key: str) -> Transfer:
    """The move `key` already made, as recorded: a form sent again after Slack lost the answer may
    have been changed since (another account, another amount), and it is that move that was made."""
    if earlier.kind != EntryKind.TRANSFER_OUT:
        raise DuplicateOperation(key)
    destination_id = session.scalar(
        select(LedgerEntry.account_id).where(
            LedgerEntry.transfer_id == earlier.transfer_id, LedgerEntry.kind == EntryKind.TRANSFER_IN
        )
    )
    source, destination = session.get(Account, earlier.account_id), session.get(Account, destination_id)
    assert source is not None and destination is not None  # accounts are never deleted
    return Transfer(earlier.transfer_id or "", -earlier.credits, source, destination, True)


def balance_problems(session: Session) -> list[str]:
    """Every way the ledger fails to reconcile; empty when it does."""
    problems: list[str] = []
    sums = (
        select(LedgerEntry.account_id, func.sum(LedgerEntry.credits).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    mismatched = session.execute(
        select(Account.reference, Account.balance, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance != func.coalesce(sums.c.total, 0))
        .order_by(Account.reference)
    )
    for reference, balance, total in mismatched:
        problems.append(f"{reference}: balance {balance} but ledger entries sum to {total}")
    negative = session.scalars(select(Account.reference).where(Account.balance < 0))
    problems.extend(f"{reference}: balance is negative" for reference in negative)
    unbalanced = session.execute(
        select(LedgerEntry.transfer_id, func.sum(LedgerEntry.credits), func.count())
        .where(LedgerEntry.transfer_id.is_not(None))
        .group_by(LedgerEntry.transfer_id)
        .having((func.sum(LedgerEntry.credits) != 0) | (func.count() != 2))
        .order_by(LedgerEntry.transfer_id)
    )
    for transfer_id, total, legs in unbalanced:
        problems.append(f"transfer {transfer_id}: {legs} legs netting to {total}, not 2 legs netting to 0")
    kept = overview.summary(session)
    counted = overview.counted_totals(session, kept)
    if kept != counted:
        problems.append(f"Home totals: the summary says {kept.says()}, but the accounts say {counted.says()}")
    return problems
