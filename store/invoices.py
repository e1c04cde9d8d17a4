"""Pricing, purchases and the invoices they issue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from store import ledger
from store.db import is_postgresql
from store.errors import DuplicateOperation, InactiveAccount
from store.models import Account, CopyRequest, EntryKind, Invoice, LedgerEntry

PENNY = Decimal("0.01")


@dataclass(frozen=True)
class Pricing:
    """What a credit costs: the CREDIT_PRICE, VAT_RATE and CURRENCY settings."""

    unit_price: Decimal
    vat_rate: Decimal
    currency: str


@dataclass(frozen=True)
class Supplier:
    """Who invoices are from: the SUPPLIER_* settings."""

    name: str
    address: tuple[str, ...]
    vat_number: str


@dataclass(frozen=True)
class Quote:
    credits: int
    unit_price: Decimal
    net: Decimal
    vat_rate: Decimal
    vat: Decimal
    total: Decimal
    currency: str


def quote(pricing: Pricing, credits: int) -> Quote:
    net = (pricing.unit_price * credits).quantize(PENNY, ROUND_HALF_UP)
    vat = (net * pricing.vat_rate).quantize(PENNY, ROUND_HALF_UP)
    return Quote(credits, pricing.unit_price, net, pricing.vat_rate, vat, net + vat, pricing.currency)


def format_money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount.quantize(PENNY):,}"


@dataclass(frozen=True)
class Purchase:
    """Credits bought: the account afterwards and the invoice issued for them."""

    account: Account
    invoice: Invoice
    replayed: bool


def purchase(
    session: Session,
    account_id: int,
    credits: int,
    pricing: Pricing,
    actor: str,
    key: str,
    today: date,
) -> Purchase:
    """Add credits and issue their invoice in one transaction, at most once per key."""
    account = ledger.lock(session, account_id)[account_id]
    earlier = ledger.entry_for_key(session, key)
    if earlier is not None:
        invoice = session.scalar(select(Invoice).where(Invoice.ledger_entry_id == earlier.id))
        if earlier.kind != EntryKind.PURCHASE or earlier.account_id != account_id or invoice is None:
            raise DuplicateOperation(key)
        return Purchase(account, invoice, True)
    if not account.active:
        raise InactiveAccount(account.reference)
    entry = ledger.post(session, account, EntryKind.PURCHASE, credits, actor, key=key)
    invoice = issue(session, account, entry, quote(pricing, credits), today, actor)
    return Purchase(account, invoice, False)


def issue(
    session: Session,
    account: Account,
    entry: LedgerEntry,
    priced: Quote,
    issued_on: date,
    actor: str,
) -> Invoice:
    invoice = Invoice(
        # A unique placeholder until the id, which numbers the invoice, is known.
        number=f"pending-{entry.id}",
        account_id=account.id,
        ledger_entry_id=entry.id,
        issued_on=issued_on,
        credits=priced.credits,
        unit_price=priced.unit_price,
        net=priced.net,
        vat_rate=priced.vat_rate,
        vat=priced.vat,
        total=priced.total,
        currency=priced.currency,
        created_by=actor,
    )
    session.add(invoice)
    session.flush()
    invoice.number = invoice_number(invoice.id, issued_on)
    session.flush()
    return invoice


def invoice_number(invoice_id: int, issued_on: date) -> str:
    return f"INV-{issued_on.year}-{invoice_id:06d}"


def listing(
    *, since: date, date_from: date | None = None, date_to: date | None = None, number: str = ""
) -> Select[Invoice]:
    """Invoices on or after `since` (the history cut-off), filtered, newest first."""
    statement = (
        select(Invoice)
        .options(joinedload(Invoice.account))
        .where(Invoice.issued_on >= max(since, date_from or since))
    )
    if date_to is not None:
        statement = statement.where(Invoice.issued_on <= date_to)
    if number.strip():
        statement = statement.where(
            func.upper(Invoice.number).contains(number.strip().upper(), autoescape=True)
        )
    return statement.order_by(Invoice.issued_on.desc(), Invoice.id.desc())


def count_listed(session: Session, statement: Select[Invoice]) -> int:
    """How many invoices a `listing(...)` statement matches, however few of them are shown."""
    counting = statement.with_only_columns(func.count(Invoice.id)).order_by(None)
    return session.scalar(counting) or 0


def available(session: Session, ids: list[int], *, since: date) -> list[Invoice]:
    """The invoices with these ids dated on or after `since`; unknown or older ids are left out."""
    if not ids:
        return []
    statement = listing(since=since).where(Invoice.id.in_(ids))
    return list(session.scalars(statement).unique())


def first_request_for_copies(session: Session, view_id: str, user_id: str, now: datetime) -> bool:
    """Record that this download form's copies are being sent; False if they already were.

    The form's view id names one request: Slack never submits a replaced form again, so a second
    submission of it is a replay or a duplicate, and its copies would be sent twice.
    """
    insert = postgresql_insert if is_postgresql(session) else sqlite_insert
    statement = (
        insert(CopyRequest)
        .values(view_id=view_id, user_id=user_id, requested_at=now)
        .on_conflict_do_nothing(index_elements=["view_id"])
        .returning(CopyRequest.view_id)
    )
    return session.scalar(statement) is not None
