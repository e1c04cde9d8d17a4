"""Account history: a paged modal of an account's events, and the Home tab's recent activity."""

from __future__ import annotations

import json
import re
from typing import Any

from handlers.common import escape
from store.history import Event, HistoryPage
from store.models import Account

HISTORY_VIEW = "account_history"
HISTORY_ACTION = "open_history"  # on an account box; value: the account id
RECENT_ACTION = "open_recent_activity"  # on the Home tab
HISTORY_PAGE_ACTION = "history_page"  # Newer / Older; value: {"account": id or null, "offset": n}
PAGE_SIZE = 10
SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,19}")


def who(actor: str) -> str:
    """The actor as mrkdwn: a Slack mention for a Slack user, else the name in code (`cli`)."""
    return f"<@{actor}>" if SLACK_USER.fullmatch(actor) else f"`{escape(actor)}`"


def event_line(event: Event, with_account: bool) -> str:
    """One row: when, what, who, the change and the balance after."""
    when = event.at.strftime("%Y-%m-%d %H:%M")
    account = f"`{escape(event.reference)}` · " if with_account and event.reference else ""
    head = f"*{when}* · {account}{escape(event.what)} · {who(event.actor)}"
    if event.credits is not None:
        return f"{head}\n{escape(event.change)} · balance after *{event.balance_after:,}*"
    return f"{head}\n{escape(event.change)}" if event.change else head


def _page_button(text: str, account_id: int | None, offset: int) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": f"{HISTORY_PAGE_ACTION}_{text.lower()}",
        "value": json.dumps({"account": account_id, "offset": max(offset, 0)}),
    }


def build_history_modal(account: Account | None, page: HistoryPage) -> dict[str, Any]:
    """One page of history, newest first; `account` None means every account's recent activity."""
    account_id = account.id if account is not None else None
    heading = (
        f"History of *{escape(account.name)}* (`{escape(account.reference)}`), newest first. "
        f"Credits now: *{account.balance:,}*."
        if account is not None
        else "Recent activity on every account, newest first."
    )
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": heading}}]
    if page.events:
        blocks.append({"type": "divider"})
        blocks += [
            {"type": "section", "text": {"type": "mrkdwn", "text": event_line(event, account is None)}}
            for event in page.events
        ]
    else:
        nothing = "Nothing has happened yet." if not page.offset else "There is nothing older."
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": nothing}]})
    paging = [_page_button("Newer", account_id, page.offset - page.limit)] * page.has_previous + [
        _page_button("Older", account_id, page.offset + page.limit)
    ] * page.has_next
    if paging:
        blocks.append({"type": "actions", "block_id": "history_paging", "elements": paging})
    return {
        "type": "modal",
        "callback_id": HISTORY_VIEW,
        "title": {"type": "plain_text", "text": "History" if account is not None else "Recent activity"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": blocks,
    }
