"""The account box every feature shows, and the ids of the buttons on it."""

from __future__ import annotations

from typing import Any

from handlers import messages
from handlers.common import bold, escape
from store.models import Account

# Buttons on an account box (and in low-credit DMs); each carries the account id as its value.
RENAME_ACTION = "open_rename"
BUY_ACTION = "open_buy"
MOVE_ACTION = "open_move"
MOVE_INTO_ACTION = "open_move_into"  # value: the destination account id
REMINDER_ACTION = "open_reminder"


def build_account_box(account: Account) -> list[dict[str, Any]]:
    """The blocks that show one account: its name, reference, keyword and balance."""
    details = f"{bold(account.name)}\n`{escape(account.reference)}`"
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


def button(text: str, action_id: str, account_id: int) -> dict[str, Any]:
    """A button that names an account; the shared form opener reads its value back."""
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": str(account_id),
    }


def build_account_buttons(account: Account) -> dict[str, Any]:
    """Rename / Buy / Move / Reminder; Slack can't grey a button out, so an empty account says so."""
    elements: list[dict[str, Any]] = [
        button("Rename", RENAME_ACTION, account.id),
        button("Buy credits", BUY_ACTION, account.id),
    ]
    if account.balance > 0:
        elements.append(button("Move credits", MOVE_ACTION, account.id))
    elements.append(button("Low credit reminder", REMINDER_ACTION, account.id))
    return {"type": "actions", "block_id": f"manage-{account.id}", "elements": elements}


def build_no_credits_note(account: Account) -> list[dict[str, Any]]:
    if account.balance > 0:
        return []
    text = messages.NO_CREDITS_TO_MOVE_NOTE
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]


def account_summary(account: Account) -> list[dict[str, Any]]:
    """The account box without its buttons, for confirmations inside a modal."""
    note = build_no_credits_note(account)
    return [
        block
        for block in build_account_box(account)
        if block["type"] not in ("actions", "divider") and block not in note
    ]
