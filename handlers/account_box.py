"""The account box every feature shows, and the ids of the buttons on it."""

from __future__ import annotations

import functools
from typing import Any

from handlers import messages
from handlers.common import bold, escape
from store.models import Account, Role
from store.search import Listed

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


def _reminder_line(account: Listed) -> str:
    if not account.reminder_enabled:
        return "Low credit reminder: off"
    level = account.reminder_level
    line = f"Low credit reminder: on, below {level:,}"
    days = account.runway_warning_days
    if days:
        line += f", or fewer than {days} day{'' if days == 1 else 's'} of credits left"
    if account.balance < level:
        line = f":warning: {line}; the balance is below it"
    if account.recipient_count == 0:
        line += "; no recipients, so nobody is told"
    return line


def build_account_box(
    account: Listed, role: Role | None = None, place: str | None = None, outlook: str | None = None
) -> list[dict[str, Any]]:
    """The blocks that show one account (an ORM object or a row of its columns), with the
    buttons `role` may use (none for no role).

    `outlook` is its forecast line (store.forecast), shown under the reminder when given.

    `place` names the page of results the box is drawn on, so a change made from it can redraw
    that page; it rides in the actions block's id because an ephemeral click carries nothing else.
    """
    # Each attribute is read once: a page draws eight boxes on every search, and an ORM
    # attribute costs more than the rest of a line.
    account_id, name, balance, active = account.id, account.name, account.balance, account.active
    named = bold(name)
    keyword = account.keyword
    details = f"{named}\n`{escape(account.reference)}`"
    if keyword:
        details += f" · keyword _{escape(keyword)}_"
    reminder = _reminder_line(account)
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "block_id": f"account-{account_id}",
            "text": {"type": "mrkdwn", "text": details},
            "fields": [
                {"type": "mrkdwn", "text": f"*Credits*\n{balance:,}"},
                {"type": "mrkdwn", "text": "*Status*\nactive" if active else "*Status*\ninactive"},
            ],
        },
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": reminder},
                {"type": "mrkdwn", "text": f"Forecast: {outlook}"},
            ]
            if outlook
            else [{"type": "mrkdwn", "text": reminder}],
        },
    ]
    if role is not None:
        blocks.append(_buttons(account_id, named, balance, active, role, place))
        if balance <= 0 and active and role.allows(Role.ADMIN):
            blocks.append(_no_credits_note())
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


def _status_button(account_id: int, named: str, balance: int, active: bool) -> dict[str, Any]:
    """Deactivate or Activate, each asking first and saying the credits stay."""
    if active:
        change, action_id, text = "Deactivate", DEACTIVATE_ACTION, messages.DEACTIVATE_CONFIRM
    else:
        change, action_id, text = "Activate", ACTIVATE_ACTION, messages.ACTIVATE_CONFIRM
    status = button(change, action_id, account_id)
    status["confirm"] = {
        "title": {"type": "plain_text", "text": f"{change} this account?"},
        "text": {"type": "mrkdwn", "text": text.format(name=named, credits=balance)},
        "confirm": {"type": "plain_text", "text": change},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    return status


@functools.cache
def _button_labels(role: Role, active: bool, has_credits: bool) -> tuple[tuple[str, str], ...]:
    """(text, action id) of the buttons before the status button, for a role and an account."""
    labels: list[tuple[str, str]] = []
    if active:
        if role.allows(Role.ADMIN):
            labels.append(("Rename", RENAME_ACTION))
        if role.allows(Role.BILLING):
            labels.append(("Buy credits", BUY_ACTION))
        if role.allows(Role.ADMIN) and has_credits:
            labels.append(("Move credits", MOVE_ACTION))
        labels.append(("Low credit reminder", REMINDER_ACTION))
    labels.append(("History", HISTORY_ACTION))
    return tuple(labels)


def _buttons(
    account_id: int, named: str, balance: int, active: bool, role: Role, place: str | None
) -> dict[str, Any]:
    """Only the buttons this role can use; Slack can't grey one out, so an empty account says so."""
    value = str(account_id)
    elements: list[dict[str, Any]] = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": text},
            "action_id": action_id,
            "value": value,
        }
        for text, action_id in _button_labels(role, active, balance > 0)
    ]
    if role.allows(Role.ADMIN):
        elements.append(_status_button(account_id, named, balance, active))
    block_id = f"manage-{account_id}{PLACE_SEPARATOR}{place}" if place else f"manage-{account_id}"
    return {"type": "actions", "block_id": block_id[:255], "elements": elements}


def place_of(block_id: object) -> str | None:
    """The page an account box was drawn on, from its actions block id; None if it names none."""
    if not isinstance(block_id, str) or PLACE_SEPARATOR not in block_id:
        return None
    return block_id.split(PLACE_SEPARATOR, 1)[1]


def _no_credits_note() -> dict[str, Any]:
    """Where Move credits would be for an admin, why it is not."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": messages.NO_CREDITS_TO_MOVE_NOTE}]}


def account_summary(account: Account) -> list[dict[str, Any]]:
    """The account box without its buttons, for confirmations inside a modal."""
    return [block for block in build_account_box(account) if block["type"] != "divider"]
