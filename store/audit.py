"""The audit log: who changed what, old value to new value."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import AuditEntry

# The audit_log columns' widths: a longer value is cut to fit, and says so, instead of failing.
ACTOR_WIDTH, SUBJECT_WIDTH, VALUE_WIDTH = 40, 100, 2000


def fit(value: object, width: int) -> str | None:
    """The value as text within `width` characters; a cut value ends with an ellipsis."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def record(
    session: Session,
    actor: str,
    action: str,
    subject: str,
    old_value: object = None,
    new_value: object = None,
    account_id: int | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor=fit(actor, ACTOR_WIDTH),
        action=action,
        subject=fit(subject, SUBJECT_WIDTH),
        account_id=account_id,
        old_value=fit(old_value, VALUE_WIDTH),
        new_value=fit(new_value, VALUE_WIDTH),
    )
    session.add(entry)
    return entry


def entries_for(session: Session, account_id: int) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.account_id == account_id).order_by(AuditEntry.id)
    return list(session.scalars(query))
