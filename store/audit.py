"""The audit log: who changed what, old value to new value."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import AuditEntry


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
        actor=actor,
        action=action,
        subject=subject,
        account_id=account_id,
        old_value=None if old_value is None else str(old_value),
        new_value=None if new_value is None else str(new_value),
    )
    session.add(entry)
    return entry


def entries_for(session: Session, account_id: int) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.account_id == account_id).order_by(AuditEntry.id)
    return list(session.scalars(query))
