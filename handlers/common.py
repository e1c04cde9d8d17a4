"""What every feature handler shares: the store, roles, escaping and templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from slack_bolt import BoltContext
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Config
from store import roles
from store.models import Role

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class Mrkdwn(str):
    """Text that is already safe mrkdwn and must not be escaped again."""


def escape(text: object) -> str:
    """Escape user-controlled text so Slack shows it literally: no pings, no spoofed links."""
    if isinstance(text, Mrkdwn):
        return text
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    finalize=escape,  # every {{ value }} is escaped for mrkdwn, not for HTML
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
    auto_reload=False,  # templates ship with the code; skip a stat() on every render
)


def render(template: str, **values: Any) -> str:
    return templates.get_template(template).render(**values).strip()


def db(context: BoltContext) -> sessionmaker[Session]:
    return context["services"].session_factory


def reads(context: BoltContext) -> sessionmaker[Session]:
    """Sessions for listeners that change nothing."""
    return context["services"].reads


def config(context: BoltContext) -> Config:
    return context["services"].config


class Denied(Exception):
    """The user lacks the role an action needs; the message says how to get it."""


def require(context: BoltContext, user_id: str, needed: Role, doing: str) -> Role:
    """The user's role if it allows `needed`, checked on every request, else Denied."""
    with reads(context).begin() as session:
        return check_role(session, user_id, needed, doing)


def check_role(session: Session, user_id: str, needed: Role, doing: str) -> Role:
    """require() inside a transaction the caller already has open."""
    role = roles.role_of(session, user_id)
    if role is None:
        raise Denied(
            f"You don't have access to admin-bot yet. Ask an admin to run "
            f"`admin-bot roles grant {user_id} viewer` (or billing / admin)."
        )
    if not role.allows(needed):
        raise Denied(
            f"You need the {needed.value} role to {doing}; you are a {role.value}. "
            f"An admin can run `admin-bot roles grant {user_id} {needed.value}`."
        )
    return role
