"""Usage from the messaging platform: each keyed item is applied at most once, or refused on its own.

The API (`api/`) and `admin-bot usage import` share these rules: one parser per item, one
function that applies a batch.
"""

from __future__ import annotations

import enum
import itertools
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from store import importing, ledger
from store.accounts import as_reference
from store.db import SessionFactory
from store.errors import InsufficientCredits, InvalidCredits, StoreError
from store.models import Account, EntryKind, UsageRecord

KEY_MAX_LENGTH = 200
BATCH_RETRIES = 3  # a key recorded by a concurrent batch is seen on the next attempt


class Reason(enum.StrEnum):
    """Why a usage item was refused; machine-readable, listed in the OpenAPI document."""

    INVALID_ITEM = "invalid_item"
    INVALID_KEY = "invalid_key"
    INVALID_CREDITS = "invalid_credits"
    INVALID_OCCURRED_AT = "invalid_occurred_at"
    UNKNOWN_REFERENCE = "unknown_reference"
    INACTIVE_ACCOUNT = "inactive_account"
    INSUFFICIENT_CREDITS = "insufficient_credits"
    KEY_CONFLICT = "key_conflict"


@dataclass(frozen=True)
class UsageItem:
    """Credits one account used, under the caller's idempotency key."""

    key: str
    reference: str
    credits: int
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class Refused:
    """An item that changed nothing, and why."""

    reason: Reason
    message: str
    key: str | None = None


@dataclass(frozen=True)
class Applied:
    """An item recorded now or earlier (`replayed`), with the balance it left."""

    item: UsageItem
    balance_after: int
    replayed: bool


Outcome = Applied | Refused


def parse_item(raw: object) -> UsageItem | Refused:
    """A usage item from a JSON object or a CSV row, or the refusal that names what is wrong."""
    if not isinstance(raw, Mapping):
        return Refused(Reason.INVALID_ITEM, "Each item must be an object with reference, credits and key.")
    key = raw.get("key")
    if not isinstance(key, str) or not key or len(key) > KEY_MAX_LENGTH or not key.isprintable():
        return Refused(
            Reason.INVALID_KEY,
            f"key must be 1-{KEY_MAX_LENGTH} printable characters, unique to this usage.",
            key if isinstance(key, str) else None,
        )
    reference = raw.get("reference")
    if not isinstance(reference, str) or not reference.strip():
        return Refused(Reason.INVALID_ITEM, "reference must be an account reference such as EX0123456.", key)
    wanted = as_reference(reference)
    if wanted is None:  # no account has it; PostgreSQL text cannot even hold a NUL
        return Refused(Reason.UNKNOWN_REFERENCE, f"No account has the reference {reference.strip()!r}.", key)
    credits = raw.get("credits")
    if isinstance(credits, bool) or not isinstance(credits, int | str):
        return Refused(Reason.INVALID_CREDITS, "credits must be a whole number of at least 1.", key)
    try:
        amount = ledger.parse_credits(credits)
    except InvalidCredits as error:
        return Refused(Reason.INVALID_CREDITS, str(error), key)
    occurred_at = parse_occurred_at(raw.get("occurred_at"))
    if isinstance(occurred_at, Refused):
        return Refused(occurred_at.reason, occurred_at.message, key)
    return UsageItem(key, wanted, amount, occurred_at)


def is_reference_like(text: str) -> bool:
    """True if `text` could be an account reference (accounts.as_reference), so worth looking up."""
    return as_reference(text) is not None


def parse_occurred_at(raw: object) -> datetime | None | Refused:
    """An ISO 8601 time (UTC when it has no offset), None when absent."""
    if raw is None or raw == "":
        return None
    refusal = Refused(
        Reason.INVALID_OCCURRED_AT, "occurred_at must be an ISO 8601 time such as 2026-11-02T10:15:00Z."
    )
    if not isinstance(raw, str) or any(unicodedata.category(c) == "Cc" for c in raw):
        return refusal
    try:
        return _utc(datetime.fromisoformat(raw.strip()))
    except (ValueError, OverflowError):  # OverflowError: year 1 with a positive offset
        return refusal


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _replay(record: UsageRecord, item: UsageItem) -> Outcome:
    earlier = UsageItem(
        record.key,
        record.account.reference,
        record.credits,
        _utc(record.occurred_at) if record.occurred_at else None,
    )
    if earlier != item:
        return Refused(
            Reason.KEY_CONFLICT,
            f"key {item.key!r} was already used for {earlier.credits:,} credits on {earlier.reference}"
            + (f" at {earlier.occurred_at.isoformat()}" if earlier.occurred_at else "")
            + "; send new usage under a new key.",
            item.key,
        )
    return Applied(earlier, record.entry.balance_after, replayed=True)


def apply(session: Session, items: Sequence[UsageItem | Refused], actor: str) -> list[Outcome]:
    """Apply each parsed item once per key, refusing the others; one outcome per item, in order.

    Raises IntegrityError when a concurrent transaction recorded one of the keys first;
    `apply_batch` retries, and the retry sees that record as a replay or a conflict.
    """
    parsed = [item for item in items if isinstance(item, UsageItem)]
    references = {item.reference for item in parsed}
    ids = session.scalars(select(Account.id).where(Account.reference.in_(references))).all()
    # Lock first, then look the keys up: a concurrent batch for the same account has committed
    # by the time the lock is granted, so its keys are seen here as replays.
    locked = {account.reference: account for account in ledger.lock(session, *ids).values()}
    records = {
        record.key: record
        for record in session.scalars(
            select(UsageRecord)
            .where(UsageRecord.key.in_({item.key for item in parsed}))
            .options(joinedload(UsageRecord.account), joinedload(UsageRecord.entry))
        )
    }
    outcomes: list[Outcome] = []
    for item in items:
        if isinstance(item, Refused):
            outcomes.append(item)
        elif item.key in records:
            outcomes.append(_replay(records[item.key], item))
        else:
            outcome, record = _apply_one(session, locked.get(item.reference), item, actor)
            if record is not None:
                records[item.key] = record
            outcomes.append(outcome)
    return outcomes


def _apply_one(
    session: Session, account: Account | None, item: UsageItem, actor: str
) -> tuple[Outcome, UsageRecord | None]:
    if account is None:
        return Refused(
            Reason.UNKNOWN_REFERENCE, f"No account has the reference {item.reference}.", item.key
        ), None
    if not account.active:
        return Refused(
            Reason.INACTIVE_ACCOUNT, f"Account {item.reference} is inactive: no usage is recorded.", item.key
        ), None
    try:
        entry = ledger.post(session, account, EntryKind.USAGE, -item.credits, actor, flush=False)
    except InsufficientCredits as error:
        return Refused(Reason.INSUFFICIENT_CREDITS, str(error), item.key), None
    record = UsageRecord(
        key=item.key,
        account=account,
        credits=item.credits,
        occurred_at=item.occurred_at,
        entry=entry,
    )
    session.add(record)  # flushed with the whole batch; `apply` finds a key repeated within it
    return Applied(item, entry.balance_after, replayed=False), record


def apply_batch(
    session_factory: SessionFactory, items: Iterable[UsageItem | Refused], actor: str
) -> list[Outcome]:
    """Apply a batch in one transaction of its own, retrying when a concurrent batch took a key first."""
    batch = list(items)
    for attempt in range(BATCH_RETRIES):
        try:
            with session_factory.begin() as session:
                return apply(session, batch, actor)
        except IntegrityError:
            if attempt == BATCH_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


CSV_COLUMNS = ("reference", "credits", "key", "occurred_at")
CSV_CHUNK = 500  # rows per transaction: memory stays flat however long the file is


def read_csv(lines: Iterable[str]) -> Iterator[list[tuple[int, UsageItem | Refused]]]:
    """Parsed rows of a usage CSV (opened by importing.open_csv) with their line numbers, a chunk
    at a time, as the file is read."""
    rows = importing.csv_rows(lines)
    _, cells, problem = next(rows, (1, [], None))
    if problem := problem or importing.header_problem(cells):
        raise StoreError(_sentence(problem))
    header = importing.header_names(cells)
    missing = [column for column in CSV_COLUMNS[:3] if column not in header]
    unknown = [column for column in header if column not in CSV_COLUMNS]
    if missing or unknown:
        raise StoreError(
            f"The header must be {','.join(CSV_COLUMNS)} (occurred_at optional); "
            f"got {','.join(header) or 'nothing'}."
        )
    parsed = ((line, _parse_row(header, cells, problem)) for line, cells, problem in rows)
    while chunk := list(itertools.islice(parsed, CSV_CHUNK)):
        yield chunk


def _parse_row(header: list[str], cells: list[str], problem: str | None) -> UsageItem | Refused:
    if problem:
        return Refused(Reason.INVALID_ITEM, _sentence(problem))
    row = dict(zip(header, cells, strict=False))  # a missing field is absent, as a missing key is
    if len(cells) > len(header):
        return Refused(Reason.INVALID_ITEM, "The row has more fields than the header.", row.get("key"))
    return parse_item(row)


def _sentence(problem: str) -> str:
    """An import's problem with a line (importing's wording) as a refusal's sentence."""
    return f"{problem[0].upper()}{problem[1:]}."
