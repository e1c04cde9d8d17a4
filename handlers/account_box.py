"""The account box every feature shows, and the ids of the buttons on it."""

from __future__ import annotations

from typing import Any

from handlers import messages
from handlers.common import bold, escape
from store.models import Account, Role

# Buttons on an account box (and in low-credit DMs); each carries the account id as its value.
RENAME_ACTION = "open_rename"
BUY_ACTION = "open_buy"
MOVE_ACTION = "open_move"
MOVE_INTO_ACTION = "open_move_into"  # value: the destination account id
REMINDER_ACTION = "open_reminder"


HISTORY_ACTION = "open_history"
DEACTIVATE_ACTION = "deactivate_account"
ACTIVATE_ACTION = "activate_account"
PLACE_SEPARATOR = "|"  # an actions block id: manage-ID|PLACE, where PLACE names the page drawn


def _reminder_line(account: Account) -> str:
    if not account.reminder_enabled:
        return "Low credit reminder: off"
    line = f"Low credit reminder: on, below {account.reminder_level:,}"
    if account.runway_warning_days:
        days = account.runway_warning_days
        line += f", or fewer than {days} day{'' if days == 1 else 's'} of credits left"
    if account.balance < account.reminder_level:
        line = f":warning: {line}; the balance is below it"
    if account.recipient_count == 0:
        line += "; no recipients, so nobody is told"
    return line


def build_account_box(
    account: Account, role: Role | None = None, place: str | None = None, outlook: str | None = None
) -> list[dict[str, Any]]:
    """The blocks that show one account, with the buttons `role` may use (none for no role).

    `outlook` is its forecast line (store.forecast), shown under the reminder when given.

    `place` names the page of results the box is drawn on, so a change made from it can redraw
    that page; it rides in the actions block's id because an ephemeral click carries nothing else.
    """
    details = f"{bold(account.name)}\n`{escape(account.reference)}`"
    if account.keyword:
        details += f" · keyword _{escape(account.keyword)}_"
    blocks: list[dict[str, Any]] = [
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
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": line}
                for line in (_reminder_line(account), outlook and f"Forecast: {outlook}")
                if line
            ],
        },
    ]
    if role is not None:
        blocks.append(build_account_buttons(account, role, place))
        blocks.extend(build_no_credits_note(account, role))
    blocks.append({"type": "divider"})
    return blocks


def button(text: str, action_id: str, account_id: int) -> dict[str, Any]:
    """A button that names an account; the shared form opener reads its value back."""
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": str(account_id),
    }


def _status_button(account: Account) -> dict[str, Any]:
    """Deactivate or Activate, each asking first and saying the credits stay."""
    if account.active:
        change, action_id, text = "Deactivate", DEACTIVATE_ACTION, messages.DEACTIVATE_CONFIRM
    else:
        change, action_id, text = "Activate", ACTIVATE_ACTION, messages.ACTIVATE_CONFIRM
    status = button(change, action_id, account.id)
    status["confirm"] = {
        "title": {"type": "plain_text", "text": f"{change} this account?"},
        "text": {"type": "mrkdwn", "text": text.format(name=bold(account.name), credits=account.balance)},
        "confirm": {"type": "plain_text", "text": change},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    return status


def build_account_buttons(account: Account, role: Role, place: str | None = None) -> dict[str, Any]:
    """Only the buttons this role can use; Slack can't grey one out, so an empty account says so."""
    elements: list[dict[str, Any]] = []
    if account.active:
        if role.allows(Role.ADMIN):
            elements.append(button("Rename", RENAME_ACTION, account.id))
        if role.allows(Role.BILLING):
            elements.append(button("Buy credits", BUY_ACTION, account.id))
        if role.allows(Role.ADMIN) and account.balance > 0:
            elements.append(button("Move credits", MOVE_ACTION, account.id))
        elements.append(button("Low credit reminder", REMINDER_ACTION, account.id))
    elements.append(button("History", HISTORY_ACTION, account.id))
    if role.allows(Role.ADMIN):
        elements.append(_status_button(account))
    block_id = f"manage-{account.id}" + (f"{PLACE_SEPARATOR}{place}" if place else "")
    return {"type": "actions", "block_id": block_id[:255], "elements": elements}


def place_of(block_id: object) -> str | None:
    """The page an account box was drawn on, from its actions block id; None if it names none."""
    if not isinstance(block_id, str) or PLACE_SEPARATOR not in block_id:
        return None
    return block_id.split(PLACE_SEPARATOR, 1)[1]


def build_no_credits_note(account: Account, role: Role | None = None) -> list[dict[str, Any]]:
    """Where Move credits would be for an admin, why it is not."""
    if account.balance > 0 or not account.active or role is None or not role.allows(Role.ADMIN):
        return []
    text = messages.NO_CREDITS_TO_MOVE_NOTE
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]


def account_summary(account: Account) -> list[dict[str, Any]]:
    """The account box without its buttons, for confirmations inside a modal."""
    return [block for block in build_account_box(account) if block["type"] != "divider"]
