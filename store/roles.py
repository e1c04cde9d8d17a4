"""Who may do what: one role per Slack user."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from store import audit
from store.db import GENERIC_PLAN, Ahead, connection_of, rows_of
from store.errors import StoreError
from store.models import Role, RoleGrant

# Slack user ids, as Slack writes them: U or W, then upper-case ASCII letters and digits (U012AB3CD,
# W0123ABCD). The requests' parser (handlers.parse) and the CLI both hold ids to this.
USER_ID_PATTERN = re.compile(r"[UW][A-Z0-9]{2,19}")

# Checked on every request, so built once and run on the session's connection: a column, not an
# ORM object, is all it needs, and Core execution skips the ORM's per-statement bookkeeping. A
# look-up by key: on PostgreSQL planned once per connection, not for each request's user.
_ROLE_OF = (
    select(RoleGrant.role)
    .where(RoleGrant.slack_user_id == bindparam("user_id"))
    .execution_options(**{GENERIC_PLAN: True})
)


def role_of(session: Session, slack_user_id: str) -> Role | None:
    rows = rows_of(connection_of(session), _ROLE_OF, {"user_id": slack_user_id})
    return _role(rows[0][0] if rows else None)


def role_ahead(session: Session, slack_user_id: str) -> Callable[[], Role | None]:
    """role_of, read with the session's next statement (a round trip fewer on PostgreSQL); call for it."""
    connection = connection_of(session)
    if connection.dialect.name == "sqlite":  # no round trip to save: read now, on the driver
        role = role_of(session, slack_user_id)
        return lambda: role
    ahead = Ahead(connection, _ROLE_OF, {"user_id": slack_user_id})
    return lambda: _role(None if (row := ahead.row()) is None else row[0])


def _role(raw: str | None) -> Role | None:
    return Role(raw) if raw else None


def parse_role(raw: str) -> Role:
    try:
        return Role(raw.strip().lower())
    except ValueError:
        names = ", ".join(role.value for role in Role)
        raise StoreError(f"Unknown role {raw!r}: choose one of {names}.") from None


def validate_user_id(raw: str) -> str:
    """A Slack user id typed by an operator (any case), as Slack writes it; or StoreError."""
    user_id = raw.strip()
    if not (user_id.isascii() and USER_ID_PATTERN.fullmatch(user_id.upper())):
        raise StoreError(f"{raw!r} is not a Slack user id (they look like U012AB3CD).")
    return user_id.upper()


def grant(session: Session, slack_user_id: str, role: Role, actor: str) -> None:
    existing = session.get(RoleGrant, slack_user_id)
    old = existing.role if existing else None
    if existing:
        existing.role, existing.granted_by = role.value, actor
        existing.granted_at = datetime.now(UTC)
    else:
        session.add(
            RoleGrant(
                slack_user_id=slack_user_id,
                role=role.value,
                granted_by=actor,
                granted_at=datetime.now(UTC),
            )
        )
    audit.record(session, actor, "role", slack_user_id, old, role.value)


def revoke(session: Session, slack_user_id: str, role: Role, actor: str) -> None:
    existing = session.get(RoleGrant, slack_user_id)
    if existing is None:
        raise StoreError(f"{slack_user_id} has no role to revoke.")
    if existing.role != role.value:
        raise StoreError(f"{slack_user_id} is {existing.role}, not {role.value}; nothing revoked.")
    session.delete(existing)
    audit.record(session, actor, "role", slack_user_id, existing.role, None)


def all_grants(session: Session) -> list[RoleGrant]:
    return list(session.scalars(select(RoleGrant).order_by(RoleGrant.slack_user_id)))
