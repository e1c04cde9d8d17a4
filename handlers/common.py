"""What every feature handler shares: mrkdwn escaping and templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

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
