"""`/accounts`: list and search accounts, shown as account boxes."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from handlers.common import Denied, check_role, config, escape, reads
from handlers.help import help_text
from store import accounts as account_store
from store.models import Account, Role

ACCOUNTS_COMMAND = "/accounts"
# Buttons on an account box; each carries the account id as its value.
RENAME_ACTION = "open_rename"
BUY_ACTION = "open_buy"
MOVE_ACTION = "open_move"
MOVE_INTO_ACTION = "open_move_into"  # value: the destination account id
REMINDER_ACTION = "open_reminder"
NEXT_PAGE_ACTION = "accounts_next_page"
PREVIOUS_PAGE_ACTION = "accounts_previous_page"
PAGE_SIZE = 8  # eight boxes of at most five blocks, plus header and paging, stay under 50 blocks
MAX_QUERY_LENGTH = 100


def build_account_box(account: Account) -> list[dict[str, Any]]:
    """The blocks that show one account: its name, reference, keyword and balance."""
    details = f"*{escape(account.name)}*\n`{escape(account.reference)}`"
    if account.keyword:
        details += f" · keyword _{escape(account.keyword)}_"
    reminder = (
        f"Low credit reminder: on, below {account.reminder_level:,}"
        if account.reminder_enabled
        else "Low credit reminder: off"
    )
    return [
        {
            "type": "section",
            "block_id": f"account-{account.id}",
            "text": {"type": "mrkdwn", "text": details},
            "fields": [
                {"type": "mrkdwn", "text": f"*Credits*\n{account.balance:,}"},
                {
                    "type": "mrkdwn",
                    "text": f"*Status*\n{'active' if account.active else 'inactive'}",
                },
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": reminder}]},
        build_account_buttons(account),
        *build_no_credits_note(account),
        {"type": "divider"},
    ]


def _button(text: str, action_id: str, account: Account) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": str(account.id),
    }


def build_account_buttons(account: Account) -> dict[str, Any]:
    """Rename / Buy / Move / Reminder; Slack can't grey a button out, so an empty account says so."""
    elements: list[dict[str, Any]] = [
        _button("Rename", RENAME_ACTION, account),
        _button("Buy credits", BUY_ACTION, account),
    ]
    if account.balance > 0:
        elements.append(_button("Move credits", MOVE_ACTION, account))
    elements.append(_button("Low credit reminder", REMINDER_ACTION, account))
    block: dict[str, Any] = {
        "type": "actions",
        "block_id": f"manage-{account.id}",
        "elements": elements,
    }
    return block


def build_no_credits_note(account: Account) -> list[dict[str, Any]]:
    if account.balance > 0:
        return []
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": "No credits to move"}]}]


def build_results(page: account_store.Page, query: str) -> list[dict[str, Any]]:
    """The reply to `/accounts [QUERY]`: a count, the boxes, or a hint when nothing matched."""
    if page.total == 0:
        hint = (
            f"No accounts match *{escape(query)}*. Search by part of a name, a reference "
            "such as `EX0123456`, or a keyword; `/accounts` alone lists every active account."
            if query
            else "There are no active accounts yet. An admin can load them with "
            "`admin-bot accounts import FILE.csv`."
        )
        return [{"type": "section", "text": {"type": "mrkdwn", "text": hint}}]
    first, last = page.offset + 1, page.offset + len(page.accounts)
    what = f"matching *{escape(query)}*" if query else "active"
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
    for account in page.accounts:
        blocks.extend(build_account_box(account))
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
    value = json.dumps({"q": query, "offset": max(offset, 0)})
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }


def search_reply(context: BoltContext, user_id: str, query: str, offset: int = 0) -> dict[str, Any]:
    """The message for one page of results; the role check shares the search's transaction."""
    with reads(context).begin() as session:
        check_role(session, user_id, Role.VIEWER, "see accounts")
        page = account_store.search(session, query, offset=offset, limit=PAGE_SIZE)
        blocks = build_results(page, query)
    return {"text": f"{page.counted.capitalize()} account(s)", "blocks": blocks}


def list_accounts(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
    """Answer `/accounts [QUERY|help]` privately, straight in the acknowledgement."""
    query = command.get("text", "").strip()[:MAX_QUERY_LENGTH]
    if query.lower() == "help":
        settings = config(context)
        ack(
            response_type="ephemeral",
            text=help_text(settings.invoice_history_start, settings.account_manager),
        )
        return
    try:
        reply = search_reply(context, command["user_id"], query)
    except Denied as denied:
        ack(response_type="ephemeral", text=str(denied))
        return
    ack(response_type="ephemeral", **reply)


def turn_page(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    """Next / Previous: replace the results message with the requested page."""
    ack()
    try:
        wanted = json.loads(action["value"])
        query, offset = str(wanted["q"])[:MAX_QUERY_LENGTH], max(int(wanted["offset"]), 0)
        reply = search_reply(context, body["user"]["id"], query, offset)
    except Denied as denied:
        respond(text=str(denied), response_type="ephemeral", replace_original=False)
        return
    except (ValueError, KeyError, TypeError):
        respond(
            text="That page link is not valid any more; run `/accounts` again.",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    respond(replace_original=True, response_type="ephemeral", **reply)


def register(app: App) -> None:
    app.command(ACCOUNTS_COMMAND)(list_accounts)
    app.action(NEXT_PAGE_ACTION)(turn_page)
    app.action(PREVIOUS_PAGE_ACTION)(turn_page)
