"""What every feature handler shares: mrkdwn escaping and templates."""

from __future__ import annotations

import re
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


# Characters that start mrkdwn formatting, and look-alikes that do not: a name inside *bold* must
# not end the bold early or start italics, strike-through or code.
FORMATTING_LOOKALIKES = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})
# Translating to non-ASCII look-alikes costs a dict lookup per character; most names have none.
_FORMATTING = re.compile("[" + re.escape("".join(map(chr, FORMATTING_LOOKALIKES))) + "]")


def literal(text: object) -> Mrkdwn:
    """User text shown in mrkdwn as typed: escaped, with formatting characters drawn as look-alikes."""
    escaped = escape(text)
    if _FORMATTING.search(escaped):
        escaped = escaped.translate(FORMATTING_LOOKALIKES)
    return Mrkdwn(escaped)


def bold(text: object) -> Mrkdwn:
    """User text shown in bold, literally."""
    return Mrkdwn(f"*{literal(text)}*")


def join_within(items: list[str], limit: int, separator: str = ", ") -> str:
    """The items joined, cut to fit `limit` characters with "and N more" when they do not."""
    shown: list[str] = []
    for index, item in enumerate(items):
        rest = len(items) - index - 1
        tail = f" and {rest + 1:,} more" if rest else ""
        candidate = separator.join([*shown, item])
        if len(candidate) + len(f" and {rest:,} more" if rest else "") > limit:
            return separator.join(shown) + tail if shown else f"{len(items):,} in all"
        shown.append(item)
    return separator.join(shown)


templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    finalize=escape,  # every {{ value }} is escaped for mrkdwn, not for HTML
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
    auto_reload=False,  # templates ship with the code; skip a stat() on every render
)
templates.filters["bold"] = bold


def render(template: str, **values: Any) -> str:
    return templates.get_template(template).render(**values).strip()
