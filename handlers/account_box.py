"""The account box every feature shows, and the ids of the buttons on it."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from handlers import messages
from handlers.common import Mrkdwn, bold, escape, literal
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
BLOCK_ID_LIMIT = 255  # Slack's
CONFIRM_TEXT_LIMIT = 300  # Slack's, on a confirmation dialog's text
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


class _Controls(NamedTuple):
    """What a box under one role shows for an account in one state: the same for every such box."""

    buttons: tuple[tuple[str, str], ...]  # (text, action id) of the plain buttons, in order
    status: tuple[str, str, str] | None  # (change, action id, confirmation) of Deactivate/Activate
    no_credits_note: bool  # an admin's active account with no credits says why Move is missing


@functools.cache
def _controls(role: Role, active: bool, has_credits: bool) -> _Controls:
    """Only the buttons this role can use; Slack can't grey one out, so an empty account says so."""
    admin = role.allows(Role.ADMIN)
    buttons: list[tuple[str, str]] = []
    if active:
        if admin:
            buttons.append(("Rename", RENAME_ACTION))
        if role.allows(Role.BILLING):
            buttons.append(("Buy credits", BUY_ACTION))
        if admin and has_credits:
            buttons.append(("Move credits", MOVE_ACTION))
        buttons.append(("Low credit reminder", REMINDER_ACTION))
    buttons.append(("History", HISTORY_ACTION))
    status = None
    if admin:
        # Deactivate or Activate, each asking first and saying the credits stay.
        status = (
            ("Deactivate", DEACTIVATE_ACTION, messages.DEACTIVATE_CONFIRM)
            if active
            else ("Activate", ACTIVATE_ACTION, messages.ACTIVATE_CONFIRM)
        )
    return _Controls(tuple(buttons), status, admin and active and not has_credits)


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
    keyword = account.keyword
    details = f"{bold(name)}\n`{escape(account.reference)}`"
    if keyword:
        details += f" · keyword _{literal(keyword)}_"
    reminder = {"type": "mrkdwn", "text": _reminder_line(account)}
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
            "elements": [reminder, {"type": "mrkdwn", "text": f"Forecast: {outlook}"}]
            if outlook
            else [reminder],
        },
    ]
    if role is not None:
        controls = _controls(role, active, balance > 0)
        blocks.append(_actions(account_id, name, balance, controls, place))
        if controls.no_credits_note:
            blocks.append(_no_credits_note())
    blocks.append({"type": "divider"})
    return blocks


def button(text: str, action_id: str, value: str, confirm: dict[str, Any] | None = None) -> dict[str, Any]:
    """A button whose value is an account's id (str), which the shared form opener reads back;
    with `confirm`, Slack asks before sending the click."""
    made = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if confirm is not None:
        made["confirm"] = confirm
    return made


def _actions(
    account_id: int, name: str, balance: int, controls: _Controls, place: str | None
) -> dict[str, Any]:
    """The box's actions block: its buttons, each naming the account."""
    value = str(account_id)
    elements = [button(text, action_id, value) for text, action_id in controls.buttons]
    if controls.status is not None:
        change, action_id, confirmation = controls.status
        confirm = {
            "title": {"type": "plain_text", "text": f"{change} this account?"},
            "text": {"type": "mrkdwn", "text": _confirmation_text(confirmation, name, balance)},
            "confirm": {"type": "plain_text", "text": change},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
        elements.append(button(change, action_id, value, confirm))
    block_id = f"manage-{account_id}"
    if place and len(placed := f"{block_id}{PLACE_SEPARATOR}{place}") <= BLOCK_ID_LIMIT:
        block_id = placed  # a place cut short would name another page: none is better
    return {"type": "actions", "block_id": block_id, "elements": elements}


def _confirmation_text(confirmation: str, name: str, credits: int) -> str:
    """The confirmation naming the account in bold, inside Slack's limit: escaping can make a
    50-character name 250 long, so a name too long is cut, with an ellipsis."""
    text = confirmation.format(name=bold(name), credits=credits)
    over = len(text) - CONFIRM_TEXT_LIMIT
    if over <= 0:
        return text
    drawn = literal(name)
    kept = drawn[: max(len(drawn) - over - 1, 0)]  # one character for the ellipsis
    entity = kept.rfind("&")
    if entity != -1 and ";" not in kept[entity:]:
        kept = kept[:entity]  # half an entity, such as "&am", would show as text
    return confirmation.format(name=Mrkdwn(f"*{kept}…*"), credits=credits)


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
