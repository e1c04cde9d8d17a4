"""Account history: a paged modal of an account's events, and the Home tab's recent activity."""

from __future__ import annotations

import json
import re
from typing import Any

from slack_bolt import App
from slack_bolt.kwargs_injection.args import Args
from sqlalchemy.orm import Session

from handlers import messages, parse
from handlers.account_box import HISTORY_ACTION
from handlers.common import bold, escape, literal
from handlers.interaction import Interaction, acknowledge, checked, notice, open_view, redraw, redraw_in_place
from store import accounts as account_store
from store import history
from store.history import Event, HistoryPage
from store.models import Account, Role

HISTORY_VIEW = "account_history"
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
    # What happened and the change name accounts (a move's other one, a rename's two names).
    head = f"*{when}* · {account}{literal(event.what)} · {who(event.actor)}"
    if event.credits is not None:
        return f"{head}\n{literal(event.change)} · balance after *{event.balance_after:,}*"
    return f"{head}\n{literal(event.change)}" if event.change else head


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
        f"History of {bold(account.name)} (`{escape(account.reference)}`), newest first. "
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
    # Slack pages through the newest MAX_EVENTS entries; history() reads no further back.
    older = page.has_next and page.offset + page.limit < history.MAX_EVENTS
    if page.has_next and not older:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _stops_in_slack(account)}]})
    paging = [_page_button("Newer", account_id, page.offset - page.limit)] * page.has_previous + [
        _page_button("Older", account_id, page.offset + page.limit)
    ] * older
    if paging:
        blocks.append({"type": "actions", "block_id": "history_paging", "elements": paging})
    return {
        "type": "modal",
        "callback_id": HISTORY_VIEW,
        "title": {"type": "plain_text", "text": "History" if account is not None else "Recent activity"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": blocks,
    }


def _stops_in_slack(account: Account | None) -> str:
    """Where the history in Slack ends, and the CLI command that reads on from there."""
    command = (
        f"admin-bot accounts history {escape(account.reference)} --offset {history.MAX_EVENTS}"
        if account is not None
        else "admin-bot accounts history REFERENCE"
    )
    return messages.HISTORY_STOPS_IN_SLACK.format(count=history.MAX_EVENTS, command=command)


# Listeners

SEEING = "see account history"


def history_view(session: Session, account_id: int | None, offset: int = 0) -> dict[str, Any]:
    """The modal for one page of an account's history (every account's, for None)."""
    account = account_store.get(session, account_id) if account_id is not None else None
    return build_history_modal(account, history.history(session, account_id, offset=offset, limit=PAGE_SIZE))


def open_history(args: Args) -> None:
    """History on an account box (inactive accounts too), or Recent activity on the Home tab."""
    it = Interaction(args)
    action = (it.body.get("actions") or [{}])[0]
    everyone = action.get("action_id") == RECENT_ACTION

    def load(session: Session, role: Role) -> dict[str, Any]:
        return history_view(session, None if everyone else parse.account_id(action.get("value")))

    view = checked(it, Role.VIEWER, SEEING, notice("History"), load)
    if view is not None:
        open_view(it, view)


def turn_history_page(args: Args) -> None:
    """Newer / Older: the modal is redrawn in place with that page."""
    it = Interaction(args)
    action = (it.body.get("actions") or [{}])[0]

    def load(session: Session, role: Role) -> dict[str, Any]:
        fields = parse.metadata(action.get("value"))
        account_id = None if fields.get("account") is None else parse.metadata_id(fields, "account")
        return history_view(session, account_id, parse.metadata_count(fields, "offset"))

    view = checked(it, Role.VIEWER, SEEING, redraw("History"), load)
    if view is not None:
        redraw_in_place(it, view, messages.FORM_NOT_REDRAWN)


def register(app: App) -> None:
    for action_id in (HISTORY_ACTION, RECENT_ACTION):
        app.action(action_id)(ack=acknowledge, lazy=[open_history])
    for action_id in (f"{HISTORY_PAGE_ACTION}_newer", f"{HISTORY_PAGE_ACTION}_older"):
        app.action(action_id)(ack=acknowledge, lazy=[turn_history_page])
