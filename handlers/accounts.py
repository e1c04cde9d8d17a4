"""`/accounts`: list and search accounts, shown as account boxes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from handlers import messages, parse
from handlers.account_box import build_account_box
from handlers.common import bold
from handlers.help import help_text
from handlers.interaction import dm, needs, reply, say_privately
from handlers.services import Services, services
from store import accounts as account_store
from store import forecast
from store.models import Role

log = logging.getLogger(__name__)

ACCOUNTS_COMMAND = "/accounts"
NEXT_PAGE_ACTION = "accounts_next_page"
PREVIOUS_PAGE_ACTION = "accounts_previous_page"
PAGE_SIZE = 8  # eight boxes of at most five blocks, plus header and paging, stay under 50 blocks
SEEING = "see accounts"


def page_value(query: str, offset: int, *, inactive: bool = False) -> str:
    """Where a page of results is: read back by parse.page (and parse.lists_inactive) from buttons,
    boxes and forms."""
    where: dict[str, object] = {"q": query, "offset": max(offset, 0)}
    if inactive:
        where[parse.LIST] = parse.INACTIVE_LIST
    # Compact, and letters as themselves: escaped, a search of 100 characters in any script but
    # Latin took 600, past a block id's 255, and its boxes forgot their page.
    return json.dumps(where, ensure_ascii=False, separators=(",", ":"))


def build_results(
    page: account_store.Page, query: str, role: Role | None = None, outlooks: dict[int, str] | None = None
) -> list[dict[str, Any]]:
    """The reply to `/accounts [QUERY]`: a count, the boxes, or a hint when nothing matched."""
    outlooks = outlooks or {}
    if page.total == 0:
        hint = (
            f"No accounts match {bold(query)}. Search by part of a name, a reference "
            "such as `EX0123456`, or a keyword; `/accounts` alone lists every active account."
            if query
            else "There are no active accounts yet. An admin can load them with "
            "`admin-bot accounts import FILE.csv`."
        )
        return [{"type": "section", "text": {"type": "mrkdwn", "text": hint}}]
    first, last = page.offset + 1, page.offset + len(page.accounts)
    what = f"matching {bold(query)}" if query else "active"
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"{page.counted.capitalize()} {what} account(s); showing {first}-{last}."
                + (" Add more of a name, reference or keyword to narrow it down." if page.more else ""),
            },
        }
    ]
    place = page_value(query, page.offset)
    for account in page.accounts:
        blocks.extend(build_account_box(account, role, place, outlooks.get(account.id)))
    paging = [
        _page_button("Previous", PREVIOUS_PAGE_ACTION, query, page.offset - page.limit)
        for _ in range(page.has_previous)
    ] + [
        _page_button("Next", NEXT_PAGE_ACTION, query, page.offset + page.limit) for _ in range(page.has_next)
    ]
    if paging:
        blocks.append({"type": "actions", "block_id": "paging", "elements": paging})
    return blocks


def _page_button(text: str, action_id: str, query: str, offset: int) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": page_value(query, offset),
    }


def search_reply(
    session: Session, query: str, now: datetime, offset: int = 0, *, role: Callable[[], Role]
) -> dict[str, Any]:
    """The message for one page of results, each with its forecast and the buttons role() may use.

    role() is called once the page is read, so its read can go with the search's first statement.
    """
    page = account_store.search(session, query, offset=offset, limit=PAGE_SIZE, forecasts_at=now)
    allowed = role()  # the buttons depend on it, and a refusal must come before anything is drawn
    outlooks = forecast.texts(page.forecasts or {})
    return {
        "text": f"{page.counted.capitalize()} account(s)",
        "blocks": build_results(page, query, allowed, outlooks),
    }


def asks_for_help(command: dict[str, Any]) -> bool:
    return parse.command_text(command.get("text")).lower() == "help"


def show_help(ack: Ack, context: BoltContext) -> None:
    """`/accounts help`, for everyone: it also says how to get access."""
    limits = services(context).limits
    ack(response_type="ephemeral", text=help_text(limits.invoice_history_start, limits.account_manager))


@needs(Role.VIEWER, SEEING, reply, role_ahead=True)
def list_accounts(
    command: dict[str, Any], session: Session, role: Callable[[], Role], services: Services
) -> dict[str, Any]:
    """Answer `/accounts [QUERY]` privately, straight in the acknowledgement."""
    query = parse.command_text(command.get("text"))
    return {"response_type": "ephemeral", **search_reply(session, query, services.clock(), role=role)}


def acknowledge_page(ack: Ack) -> None:
    ack()


@needs(Role.VIEWER, SEEING, say_privately, role_ahead=True)
def turn_page(
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    session: Session,
    role: Callable[[], Role],
    services: Services,
    user_id: str,
) -> None:
    """Next / Previous: replace the results message with the requested page (search_reply checks the
    role before anything is sent); if Slack will not, the user is told by DM, else the click is silent."""
    query, offset = parse.page(action.get("value"))
    reply = search_reply(session, query, services.clock(), offset, role=role)
    reason = _replace_results(respond, reply)
    if reason is not None:
        dm(client, user_id, messages.PAGE_NOT_SHOWN.format(reason=reason))


def _replace_results(respond: Respond, reply: dict[str, Any]) -> str | None:
    """Post the page over the results message; None once Slack took it, else why it did not."""
    try:
        answer = respond(replace_original=True, response_type="ephemeral", **reply)
    except Exception as error:  # noqa: BLE001 - no connection to Slack: the caller tells the user
        reason = type(error).__name__
    else:
        if 200 <= answer.status_code < 300:
            return None
        reason = str(answer.status_code)
    log.warning("could not show a page of /accounts results: %s", reason)
    return reason


def register(app: App) -> None:
    app.command(ACCOUNTS_COMMAND, matchers=[asks_for_help])(show_help)
    app.command(ACCOUNTS_COMMAND)(list_accounts)
    app.action(NEXT_PAGE_ACTION)(ack=acknowledge_page, lazy=[turn_page])
    app.action(PREVIOUS_PAGE_ACTION)(ack=acknowledge_page, lazy=[turn_page])
