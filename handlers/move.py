"""Move credits: an admin moves part of one account's balance to another account.

Two directions share one form: from a fixed account (the account box's button) or into a fixed
account (the low-credit DM's button), the other account being chosen in the picker.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from sqlalchemy.orm import Session

from handlers import messages, parse
from handlers.account_box import MOVE_ACTION, MOVE_INTO_ACTION
from handlers.common import bold, escape
from handlers.home import redraw_after_submit
from handlers.interaction import account_form, acknowledge, form, needs, no_options
from handlers.messages import Refused
from handlers.services import Services
from store import accounts as account_store
from store import ledger
from store.errors import (
    InactiveAccount,
    InsufficientCredits,
    InvalidCredits,
    SameAccount,
    StoreError,
    UnknownAccount,
)
from store.models import Account, Role
from store.search import Choice

MOVE_CREDITS_VIEW = "move_credits"
DESTINATION_BLOCK = "destination"
DESTINATION_ACTION = "destination_account"
SOURCE_BLOCK = "source_account"
SOURCE_ACTION = "source_account"
AMOUNT_BLOCK = "amount"
AMOUNT_ACTION = "credits"
MAX_OPTIONS = 100  # Slack shows at most 100 options in a select menu
OPTION_TEXT_LIMIT = 75  # Slack's limit for an option's text
TITLE = "Move credits"
DOING = "move credits"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Direction:
    """Which side of the move the button fixes; the picker chooses the other side."""

    fixed: str  # private_metadata key naming the fixed account
    fixed_block: str
    fixed_label: str
    picker_block: str
    picker_action: str
    picker_label: str
    choose: str
    gone: str  # said when the fixed account disappears before the move
    chosen_has_credits: bool  # offer only accounts with credits (they are the source)


OUT = Direction(
    "source", "source", "From", DESTINATION_BLOCK, DESTINATION_ACTION, "To account",
    messages.CHOOSE_DESTINATION, messages.MOVE_FROM_GONE, False,
)  # fmt: skip
INTO = Direction(
    "destination", "fixed_destination", "To", SOURCE_BLOCK, SOURCE_ACTION, "From account",
    messages.CHOOSE_SOURCE, messages.MOVE_TO_GONE, True,
)  # fmt: skip


def _direction(metadata: dict[str, Any]) -> Direction:
    return INTO if INTO.fixed in metadata else OUT


def account_label(account: Account | Choice) -> str:
    """An option's text, "Name (REF)", shortened inside the name so the reference stays visible."""
    label = f"{account.name} ({account.reference})"
    if len(label) <= OPTION_TEXT_LIMIT:
        return label  # most do: a picker draws a hundred per keystroke
    suffix = f" ({account.reference})"
    room = OPTION_TEXT_LIMIT - len(suffix)
    name = account.name if len(account.name) <= room else account.name[: max(room - 1, 0)] + "…"
    return (name + suffix)[:OPTION_TEXT_LIMIT]


def build_move_modal(fixed: Account, direction: Direction = OUT) -> dict[str, Any]:
    """The form: the fixed account with its balance, a picker for the other account and an amount."""
    # The source's balance at opening lets a later refusal say that it has changed since.
    metadata = {"source": fixed.id, "balance": fixed.balance} if direction is OUT else {INTO.fixed: fixed.id}
    limit = (
        f"A whole number from 1 to {fixed.balance:,}."
        if direction is OUT
        else "A whole number, at most the chosen account's balance."
    )
    return {
        "type": "modal",
        "callback_id": MOVE_CREDITS_VIEW,
        "title": {"type": "plain_text", "text": "Move credits"},
        "submit": {"type": "plain_text", "text": "Move"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(metadata),
        "blocks": [
            {
                "type": "section",
                "block_id": direction.fixed_block,
                "text": {
                    "type": "mrkdwn",
                    "text": f"{direction.fixed_label} {bold(fixed.name)} (`{escape(fixed.reference)}`)\n"
                    f"Balance: *{fixed.balance:,}* credits",
                },
            },
            {
                "type": "input",
                "block_id": direction.picker_block,
                "label": {"type": "plain_text", "text": direction.picker_label},
                "element": {
                    "type": "external_select",
                    "action_id": direction.picker_action,
                    "placeholder": {"type": "plain_text", "text": "Name, reference or keyword"},
                    "min_query_length": 0,
                },
            },
            {
                "type": "input",
                "block_id": AMOUNT_BLOCK,
                "label": {"type": "plain_text", "text": "Credits to move"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": AMOUNT_ACTION,
                    "placeholder": {"type": "plain_text", "text": "e.g. 500"},
                },
                "hint": {
                    "type": "plain_text",
                    "text": limit,
                },
            },
        ],
    }


def build_moved(moved: ledger.Transfer) -> dict[str, Any]:
    """The confirmation that replaces the form: what moved and both balances now."""
    source, destination = moved.source, moved.destination
    # A repeated submission (a double click, Slack's retry) is answered with the move it repeats.
    replayed = "This move was already made; it was not repeated.\n" if moved.replayed else ""
    return {
        "type": "modal",
        "callback_id": "move_credits_done",
        "title": {"type": "plain_text", "text": "Credits moved"},
        "close": {"type": "plain_text", "text": "Done"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"{replayed}Moved *{moved.credits:,}* credits from {bold(source.name)} "
                    f"to {bold(destination.name)}.",
                },
                "fields": [
                    {
                        "type": "mrkdwn",
                        "text": f"{bold(source.name)} (`{escape(source.reference)}`)\n"
                        f"{source.balance:,} credits",
                    },
                    {
                        "type": "mrkdwn",
                        "text": f"{bold(destination.name)} (`{escape(destination.reference)}`)\n"
                        f"{destination.balance:,} credits",
                    },
                ],
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"Transfer `{moved.transfer_id}`"}],
            },
        ],
    }


def move_form(direction: Direction) -> Any:
    """The form builder for one direction; an empty source has nothing to move."""

    def build(fixed: Account, role: Role, services: Services) -> dict[str, Any]:
        if direction is OUT and fixed.balance <= 0:
            named = f"{bold(fixed.name)} (`{escape(fixed.reference)}`)"
            raise Refused(messages.NO_CREDITS_TO_MOVE.format(account=named))
        return build_move_modal(fixed, direction)

    return build


open_move_modal = account_form(Role.ADMIN, DOING, TITLE, move_form(OUT))
open_move_into_modal = account_form(Role.ADMIN, DOING, TITLE, move_form(INTO))


@needs(Role.ADMIN, DOING, no_options, role_ahead=True)
def suggest_destinations(body: dict[str, Any], payload: dict[str, Any], session: Session) -> dict[str, Any]:
    """Options for the picker: active accounts other than the fixed one (with credits if a source)."""
    opened = parse.metadata((body.get("view") or {}).get("private_metadata"))
    direction = _direction(opened)
    found = account_store.first_matches(
        session,
        parse.text(payload.get("value")),
        limit=MAX_OPTIONS,
        exclude_id=parse.metadata_id(opened, direction.fixed),
        with_credits_only=direction.chosen_has_credits,
    )
    options = [
        {"text": {"type": "plain_text", "text": account_label(account)}, "value": str(account.id)}
        for account in found
    ]
    return {"options": options}


@needs(Role.ADMIN, DOING, form(TITLE), writes=True)
def submit_move(view: dict[str, Any], user_id: str, session: Session) -> dict[str, Any]:
    """Validate and apply the move in the acknowledgement; each problem is shown on its field."""
    opened = parse.metadata(view.get("private_metadata"))
    direction = _direction(opened)
    fixed_id = parse.metadata_id(opened, direction.fixed)
    opened_balance = parse.metadata_count(opened, "balance") if direction is OUT else None
    values = view["state"]["values"]
    picker = values.get(direction.picker_block, {}).get(direction.picker_action) or {}
    chosen_id = parse.database_id((picker.get("selected_option") or {}).get("value"))
    raw_amount = (values.get(AMOUNT_BLOCK, {}).get(AMOUNT_ACTION) or {}).get("value") or ""
    errors: dict[str, str] = {}
    if chosen_id is None:
        errors[direction.picker_block] = direction.choose
    elif chosen_id == fixed_id:
        errors[direction.picker_block] = str(SameAccount())
    try:
        credits = ledger.parse_credits(raw_amount)
    except InvalidCredits as invalid:
        errors[AMOUNT_BLOCK] = str(invalid)
    if errors or chosen_id is None:
        return {"response_action": "errors", "errors": errors}
    source_id, destination_id = (fixed_id, chosen_id) if direction is OUT else (chosen_id, fixed_id)
    moved = _apply(
        session,
        source_id,
        destination_id,
        credits,
        opened_balance,
        direction,
        actor=user_id,
        key=f"view:{view['id']}",
    )
    log.info(
        "%s moved %s credits from #%s to #%s (transfer %s%s)",
        user_id,
        moved.credits,
        source_id,
        destination_id,
        moved.transfer_id,
        ", replayed" if moved.replayed else "",
    )
    return {"response_action": "update", "view": build_moved(moved)}


def _apply(
    session: Session,
    source_id: int,
    destination_id: int,
    credits: int,
    opened_balance: int | None,
    direction: Direction,
    *,
    actor: str,
    key: str,
) -> ledger.Transfer:
    """The transfer (or the one this form already made), or Refused naming the field that explains
    the refusal: the picker when it is the chosen account that is gone or inactive."""
    chosen_id = destination_id if direction is OUT else source_id
    try:
        return ledger.transfer(session, source_id, destination_id, credits, actor=actor, key=key)
    except InsufficientCredits as short:
        raise Refused(_too_many(short, credits, opened_balance), block=AMOUNT_BLOCK) from None
    except UnknownAccount as gone:
        if gone.reference == chosen_id:
            raise Refused(messages.CHOSEN_ACCOUNT_GONE, block=direction.picker_block) from None
        raise Refused(f"{gone} {direction.gone}", block=AMOUNT_BLOCK) from None
    except InactiveAccount as inactive:
        chosen = session.get(Account, chosen_id)  # locked by the transfer: no read
        if chosen is not None and inactive.reference == chosen.reference:
            raise Refused(
                messages.CHOOSE_ACTIVE.format(problem=inactive), block=direction.picker_block
            ) from None
        raise Refused(f"{inactive} {direction.gone}", block=AMOUNT_BLOCK) from None
    except StoreError as refused:
        raise Refused(str(refused), block=AMOUNT_BLOCK) from None


def _too_many(short: InsufficientCredits, credits: int, opened_balance: int | None) -> str:
    if opened_balance is not None and short.balance != opened_balance:
        return messages.BALANCE_CHANGED.format(balance=short.balance, credits=credits)
    return messages.TOO_MANY.format(balance=short.balance, credits=credits)


def register(app: App) -> None:
    app.action(MOVE_ACTION)(ack=acknowledge, lazy=[open_move_modal])
    app.action(MOVE_INTO_ACTION)(ack=acknowledge, lazy=[open_move_into_modal])
    for picker in (DESTINATION_ACTION, SOURCE_ACTION):
        app.options(picker)(suggest_destinations)
    app.view(MOVE_CREDITS_VIEW)(ack=submit_move, lazy=[redraw_after_submit])
