"""An account's history, newest first: its ledger entries and audit records, read as events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Account, AuditEntry, EntryKind, Invoice, LedgerEntry

MAX_EVENTS = 1000  # the furthest offset history() reads from; a larger one reads from here


@dataclass(frozen=True)
class Event:
    """One thing that happened to an account."""

    at: datetime
    kind: str  # an EntryKind value, or the audit action: rename, reminder, status, ...
    reference: str | None  # the account's reference (None for role changes)
    actor: str
    credits: int | None = None  # the balance change, signed; None for settings changes
    balance_after: int | None = None
    invoice: str | None = None  # the purchase's invoice number
    other: str | None = None  # a move's other account, as "Name (REF)"
    old: str | None = None  # a settings change: the value before ...
    new: str | None = None  # ... and after

    @property
    def what(self) -> str:
        """What happened, as people say it: "Purchase, invoice INV-2026-000012"."""
        if self.kind == EntryKind.PURCHASE and self.invoice:
            return f"Purchase, invoice {self.invoice}"
        if self.kind == EntryKind.TRANSFER_OUT:
            return f"Moved to {self.other or 'another account'}"
        if self.kind == EntryKind.TRANSFER_IN:
            return f"Moved from {self.other or 'another account'}"
        if self.kind == "status":
            return "Activated" if self.new == "active" else "Deactivated"
        return _WHAT.get(self.kind, self.kind.replace("_", " ").capitalize())

    @property
    def change(self) -> str:
        """The change itself: "+500 credits", or "Acme → Acme Ltd" for a setting."""
        if self.credits is not None:
            return f"{self.credits:+,} credits"
        if self.kind == "status":
            return ""
        return f"{self.old or 'none'} → {self.new or 'none'}"


_WHAT = {
    EntryKind.OPENING.value: "Opening balance",
    EntryKind.PURCHASE.value: "Purchase",
    EntryKind.USAGE.value: "Usage",
    EntryKind.ADJUSTMENT.value: "Adjustment",
    "rename": "Renamed",
    "reminder": "Low credit reminder changed",
    "reminder_recipients": "Reminder recipients changed",
    "forecast_warning": "Forecast warning changed",
    "role": "Role changed",
}


@dataclass(frozen=True)
class HistoryPage:
    events: list[Event]
    offset: int
    limit: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.offset > 0


def history(session: Session, account_id: int | None, *, offset: int = 0, limit: int = 10) -> HistoryPage:
    """A page of one account's events (every account's, when account_id is None), newest first.

    Each table is read newest first by its primary key (within the account, by its account_id
    index), only as far as the page reaches, and the two are merged here.
    """
    offset = max(0, min(offset, MAX_EVENTS))
    wanted = offset + limit + 1
    entries = select(LedgerEntry, Account.reference).join(Account, Account.id == LedgerEntry.account_id)
    audits = select(AuditEntry)
    if account_id is not None:
        entries = entries.where(LedgerEntry.account_id == account_id)
        audits = audits.where(AuditEntry.account_id == account_id)
    ledger_rows = session.execute(entries.order_by(LedgerEntry.id.desc()).limit(wanted)).all()
    audit_rows = list(session.scalars(audits.order_by(AuditEntry.id.desc()).limit(wanted)))
    invoices = _invoice_numbers(session, [entry.id for entry, _ in ledger_rows])
    others = _other_legs(session, [entry for entry, _ in ledger_rows])
    events = [
        Event(
            entry.created_at,
            entry.kind,
            reference,
            entry.actor,
            credits=entry.credits,
            balance_after=entry.balance_after,
            invoice=invoices.get(entry.id),
            other=others.get(entry.id),
        )
        for entry, reference in ledger_rows
    ]
    references = _references(session, {row.account_id for row in audit_rows if row.account_id})
    events += [
        Event(row.at, row.action, references.get(row.account_id or 0, row.subject), row.actor,
              old=row.old_value, new=row.new_value)
        for row in audit_rows
    ]  # fmt: skip
    events.sort(key=lambda event: _aware(event.at), reverse=True)
    return HistoryPage(events[offset : offset + limit], offset, limit, len(events) > offset + limit)


def _aware(at: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; all of them were written in UTC.
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _invoice_numbers(session: Session, entry_ids: list[int]) -> dict[int, str]:
    if not entry_ids:
        return {}
    rows = session.execute(
        select(Invoice.ledger_entry_id, Invoice.number).where(Invoice.ledger_entry_id.in_(entry_ids))
    )
    return {entry_id: number for entry_id, number in rows if entry_id is not None}


def _other_legs(session: Session, entries: list[LedgerEntry]) -> dict[int, str]:
    """For each move leg, the other account, as "Name (REF)"."""
    moves = {entry.transfer_id for entry in entries if entry.transfer_id}
    if not moves:
        return {}
    rows = session.execute(
        select(LedgerEntry.transfer_id, LedgerEntry.id, Account.name, Account.reference)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.transfer_id.in_(moves))
    )
    legs: dict[str | None, list[tuple[int, str]]] = {}
    for transfer_id, leg_id, name, reference in rows:
        legs.setdefault(transfer_id, []).append((leg_id, f"{name} ({reference})"))
    return {
        entry.id: label
        for entry in entries
        for leg_id, label in legs.get(entry.transfer_id, [])
        if leg_id != entry.id
    }


def _references(session: Session, account_ids: set[int]) -> dict[int, str]:
    if not account_ids:
        return {}
    rows = session.execute(select(Account.id, Account.reference).where(Account.id.in_(account_ids)))
    return {account_id: reference for account_id, reference in rows}
