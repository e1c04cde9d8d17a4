"""What listeners reach through the Bolt context: the store and the settings as domain values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from slack_bolt import BoltContext

from store.db import SessionFactory
from store.invoices import Pricing, Supplier


@dataclass(frozen=True)
class Limits:
    """Bounds and contacts from MAX_PURCHASE_CREDITS, INVOICE_HISTORY_START and ACCOUNT_MANAGER."""

    max_purchase_credits: int
    invoice_history_start: date
    account_manager: str


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    """Built once by create_app and put in every request's context."""

    session_factory: SessionFactory
    reads: SessionFactory  # read-only transactions for lookups and searches
    pricing: Pricing
    supplier: Supplier
    limits: Limits
    clock: Callable[[], datetime] = field(default=utc_now)  # tests fix it

    def __deepcopy__(self, memo: dict[int, Any]) -> Services:
        # Bolt deep-copies the context for lazy listeners; share, don't copy, the engine.
        return self


def services(context: BoltContext) -> Services:
    return context["services"]  # type: ignore[no-any-return]
