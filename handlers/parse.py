"""The boundary: every value from Slack becomes a domain value here, or a user-facing refusal.

Nothing past these parsers calls int() or json.loads() on user data. Domain rules that the CLI
and CSV import share (credits, names) live in store/; this module applies them to Slack's shapes.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from handlers import messages
from handlers.messages import Malformed, Refused
from store import reminders
from store.accounts import FORMATTING, LINE_BREAKING
from store.roles import USER_ID_PATTERN

# Database ids are positive 32-bit integers; a longer value was crafted and names nothing.
MAX_ID = 2**31 - 1
ID_PATTERN = re.compile(r"[0-9]{1,10}")
MAX_OFFSET = 1_000_000  # far past any real result list; bounds what a crafted page link can ask
QUERY_MAX_LENGTH = 100
LIST, INACTIVE_LIST = "list", "inactive"  # a page link's key and value for the inactive accounts
SLACK_ESCAPES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def user_of(body: dict[str, Any]) -> str:
    """The Slack user behind a request; Malformed if the payload names none."""
    user = body.get("user")
    raw = user.get("id") if isinstance(user, dict) else user if isinstance(user, str) else None
    raw = raw or body.get("user_id") or (body.get("event") or {}).get("user")
    if not isinstance(raw, str) or not USER_ID_PATTERN.fullmatch(raw):
        raise Malformed("request names no Slack user")
    return raw


def slack_user_id(raw: object) -> str | None:
    """A Slack user id as Slack writes it, or None."""
    return raw if isinstance(raw, str) and USER_ID_PATTERN.fullmatch(raw) else None


def slack_channel_id(raw: object) -> str | None:
    """A Slack channel id (public or private) as Slack writes it, or None; never a DM."""
    return raw if isinstance(raw, str) and reminders.CHANNEL_ID_PATTERN.fullmatch(raw) else None


def database_id(raw: object) -> int | None:
    """A positive id in range, from a button value, option value or metadata; else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 0 < raw <= MAX_ID else None
    text = raw.strip() if isinstance(raw, str) else ""
    if not ID_PATTERN.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def account_id(raw: object) -> int:
    """The account a button names, or Refused saying the button is out of date."""
    found = database_id(raw)
    if found is None:
        raise Refused(messages.STALE_BUTTON)
    return found


def _json_object(raw: object) -> dict[str, Any] | None:
    try:
        decoded = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):  # deeply nested crafted JSON too
        return None
    return decoded if isinstance(decoded, dict) else None


def metadata(raw: object) -> dict[str, Any]:
    """A form's private_metadata as a JSON object, or Refused: the form is out of date."""
    decoded = _json_object(raw)
    if decoded is None:
        raise Refused(messages.STALE_FORM)
    return decoded


def metadata_id(fields: dict[str, Any], key: str) -> int:
    """An id the form's metadata carries under `key`, or Refused: the form is out of date."""
    found = database_id(fields.get(key))
    if found is None:
        raise Refused(messages.STALE_FORM)
    return found


def metadata_count(fields: dict[str, Any], key: str) -> int:
    """A whole number (such as a balance shown) the form's metadata carries, or Refused."""
    value = fields.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise Refused(messages.STALE_FORM)
    return value


def form_account_id(raw: object) -> int:
    """The account id a form carries in its private_metadata, alone or as "account" beside the
    form's origin; or Refused: the form is out of date."""
    if isinstance(raw, str) and raw.startswith("{"):
        raw = metadata(raw).get("account")
    found = database_id(raw)
    if found is None:
        raise Refused(messages.STALE_FORM)
    return found


def text(raw: object, limit: int = QUERY_MAX_LENGTH) -> str:
    """Typed text (a search box, a filter): trimmed and bounded, with no character a name may not hold.

    Tabs and line breaks become spaces; other control characters (NUL, which no database stores)
    and invisible formatting such as a right-to-left override are dropped, never echoed back.
    """
    typed = raw if isinstance(raw, str) else ""
    if typed.isascii() and typed.isprintable():
        # Printable ASCII holds no character to drop or turn into a space; every search comes
        # through here, and looking up each character's category cost more than the rest.
        return typed.strip()[:limit]
    kept = (
        " " if char.isspace() else char
        for char in typed
        if char.isspace() or unicodedata.category(char) not in FORMATTING | LINE_BREAKING
    )
    return "".join(kept).strip()[:limit]


def command_text(raw: object, limit: int = QUERY_MAX_LENGTH) -> str:
    """Slash-command text as the user typed it: Slack's &amp; &lt; &gt; undone, then as text()."""
    typed = raw if isinstance(raw, str) else ""
    for escaped, plain in SLACK_ESCAPES:
        typed = typed.replace(escaped, plain)
    return text(typed, limit)


def page(raw: object) -> tuple[str, int]:
    """A Next/Previous button's query and offset, or Refused saying the link is stale."""
    wanted = _json_object(raw)
    if wanted is None:
        raise Refused(messages.STALE_PAGE)
    query, offset = wanted.get("q"), wanted.get("offset")
    if not isinstance(query, str) or isinstance(offset, bool) or not isinstance(offset, int):
        raise Refused(messages.STALE_PAGE)
    if not 0 <= offset <= MAX_OFFSET:
        raise Refused(messages.STALE_PAGE)
    # The bot wrote this query itself (a button, a view's metadata, a box's place): Slack's
    # slash-command escaping never applied to it, so "&amp;" here is what the user typed.
    return text(query), offset


def lists_inactive(raw: object) -> bool:
    """Whether a page link names the inactive accounts' list rather than a search."""
    wanted = _json_object(raw)
    return wanted is not None and wanted.get(LIST) == INACTIVE_LIST


def suggested_fix(raw: object) -> tuple[int, int, int | None]:
    """An alert's suggested-fix button: (account id, credits, source account id or None)."""
    parts = raw.split(":") if isinstance(raw, str) else []
    found = [database_id(part) for part in parts]
    if len(found) not in (2, 3) or None in found:
        raise Refused(messages.STALE_BUTTON)
    account, credits, *source = (value for value in found if value is not None)
    return account, credits, source[0] if source else None


def snooze_choice(action: dict[str, Any]) -> str:
    """What a Snooze control was set to: "1h", "1d" or "1w" from the menu, or the picked YYYY-MM-DD."""
    if isinstance(action.get("selected_date"), str):
        return str(action["selected_date"])
    option = action.get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    return value.rsplit(":", 1)[-1] if isinstance(value, str) else ""
