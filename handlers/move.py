"""Move credits: an admin moves part of one account's balance to another account.

Two directions share one form: from a fixed account (the account box's button) or into a fixed
account (the low-credit DM's button), the other account being chosen in the picker.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from handlers.accounts import MOVE_ACTION, MOVE_INTO_ACTION
from handlers.common import Denied, check_role, db, escape, reads, require
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

MOVE_CREDITS_VIEW = "move_credits"
DESTINATION_BLOCK = "destination"
DESTINATION_ACTION = "destination_account"
SOURCE_BLOCK = "source_account"
SOURCE_ACTION = "source_account"
AMOUNT_BLOCK = "amount"
AMOUNT_ACTION = "credits"
MAX_OPTIONS = 100  # Slack shows at most 100 options in a select menu
OPTION_TEXT_LIMIT = 75  # Slack's limit for an option's text
MAX_QUERY_LENGTH = 100

DOING = "move credits"
NO_CREDITS = "No credits to move: {account} has 0 credits."
CHOOSE_DESTINATION = "Choose the account to move credits to."
CHOOSE_SOURCE = "Choose the account to move credits from."
NOT_OPENED = "The Move credits form could not be opened ({error}). Please try again in a moment."

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
    CHOOSE_DESTINATION, "Credits cannot be moved from it.", False,
)  # fmt: skip
INTO = Direction(
    "destination", "fixed_destination", "To", SOURCE_BLOCK, SOURCE_ACTION, "From account",
    CHOOSE_SOURCE, "Credits cannot be moved to it.", True,
)  # fmt: skip


def _direction(metadata: dict[str, Any]) -> Direction:
    return INTO if INTO.fixed in metadata else OUT


def account_label(account: Account) -> str:
    """An option's text, "Name (REF)", shortened inside the name so the reference stays visible."""
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
                    "text": f"{direction.fixed_label} *{escape(fixed.name)}* (`{escape(fixed.reference)}`)\n"
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


def build_notice(title: str, text: str) -> dict[str, Any]:
    """A small modal that only tells the user something."""
    return {
        "type": "modal",
        "callback_id": "move_credits_notice",
        "title": {"type": "plain_text", "text": title},
        "close": {"type": "plain_text", "text": "OK"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def build_moved(moved: ledger.Transfer) -> dict[str, Any]:
    """The confirmation that replaces the form: what moved and both balances now."""
    source, destination = moved.source, moved.destination
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
                    "text": f"Moved *{moved.credits:,}* credits from *{escape(source.name)}* "
                    f"to *{escape(destination.name)}*.",
                },
                "fields": [
                    {
                        "type": "mrkdwn",
                        "text": f"*{escape(source.name)}* (`{escape(source.reference)}`)\n"
                        f"{source.balance:,} credits",
                    },
                    {
                        "type": "mrkdwn",
                        "text": f"*{escape(destination.name)}* (`{escape(destination.reference)}`)\n"
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


def acknowledge(ack: Ack) -> None:
    ack()


def open_move_modal(
    body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """After the click is acknowledged: the form, or a small modal saying why not."""
    direction = INTO if action.get("action_id") == MOVE_INTO_ACTION else OUT
    view = _move_modal_for(context, body["user"]["id"], action.get("value", ""), direction)
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as error:
        log.warning("views.open failed for Move credits: %s", error.response.get("error"))
        _tell(client, body, NOT_OPENED.format(error=error.response.get("error", "Slack error")))


def _move_modal_for(context: BoltContext, user_id: str, raw_id: str, direction: Direction) -> dict[str, Any]:
    try:
        require(context, user_id, Role.ADMIN, DOING)
        with db(context).begin() as session:
            fixed = account_store.active(session, int(raw_id))
            if direction is OUT and fixed.balance <= 0:
                return build_notice(
                    "Move credits",
                    NO_CREDITS.format(account=f"*{escape(fixed.name)}* (`{escape(fixed.reference)}`)"),
                )
            return build_move_modal(fixed, direction)
    except (Denied, StoreError) as refusal:
        return build_notice("Move credits", escape(refusal))
    except ValueError:
        return build_notice("Move credits", "That button does not name an account; run `/accounts` again.")


def _tell(client: WebClient, body: dict[str, Any], text: str) -> None:
    """Say something privately when no modal can be shown."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    if not channel:
        return
    try:
        client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)
    except SlackApiError as error:
        log.warning("could not tell %s: %s", body["user"]["id"], error.response.get("error"))


def suggest_destinations(
    ack: Ack, body: dict[str, Any], payload: dict[str, Any], context: BoltContext
) -> None:
    """Options for the picker: active accounts other than the fixed one (with credits if a source)."""
    try:
        metadata = json.loads(body["view"]["private_metadata"])
        direction = _direction(metadata)
        fixed_id = int(metadata[direction.fixed])
    except (ValueError, KeyError, TypeError):
        ack(options=[])
        return
    query = str(payload.get("value") or "")[:MAX_QUERY_LENGTH]
    with reads(context).begin() as session:
        try:
            check_role(session, body["user"]["id"], Role.ADMIN, DOING)
        except Denied:
            ack(options=[])
            return
        found = account_store.first_matches(
            session,
            query,
            limit=MAX_OPTIONS,
            exclude_id=fixed_id,
            with_credits_only=direction.chosen_has_credits,
        )
        options = [
            {"text": {"type": "plain_text", "text": account_label(account)}, "value": str(account.id)}
            for account in found
        ]
    ack(options=options)


def submit_move(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """Validate and apply the move in the acknowledgement; each problem is shown on its field."""
    user_id = body["user"]["id"]
    try:
        require(context, user_id, Role.ADMIN, DOING)
    except Denied as denied:
        ack(response_action="update", view=build_notice("Move credits", escape(denied)))
        return
    try:
        opened = json.loads(view["private_metadata"])
        direction = _direction(opened)
        fixed_id = int(opened[direction.fixed])
        opened_balance = int(opened["balance"]) if direction is OUT else None
    except (ValueError, KeyError, TypeError):
        ack(
            response_action="update",
            view=build_notice("Move credits", "This form is out of date; run `/accounts` and try again."),
        )
        return
    values = view["state"]["values"]
    picker = values.get(direction.picker_block, {}).get(direction.picker_action) or {}
    chosen = picker.get("selected_option") or {}
    raw_amount = (values.get(AMOUNT_BLOCK, {}).get(AMOUNT_ACTION) or {}).get("value") or ""
    errors: dict[str, str] = {}
    chosen_id: int | None = None
    try:
        chosen_id = int(chosen.get("value", ""))
    except ValueError:
        errors[direction.picker_block] = direction.choose
    try:
        credits = ledger.parse_credits(raw_amount)
    except InvalidCredits as invalid:
        errors[AMOUNT_BLOCK] = str(invalid)
    if chosen_id is not None and chosen_id == fixed_id:
        errors[direction.picker_block] = str(SameAccount())
    if errors or chosen_id is None:
        ack(response_action="errors", errors=errors)
        return
    source_id, destination_id = (fixed_id, chosen_id) if direction is OUT else (chosen_id, fixed_id)
    try:
        with db(context).begin() as session:
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
    except FieldError as problem:
        ack(response_action="errors", errors={problem.block: str(problem)})
        return
    log.info(
        "%s moved %s credits from #%s to #%s (transfer %s%s)",
        user_id,
        moved.credits,
        source_id,
        destination_id,
        moved.transfer_id,
        ", replayed" if moved.replayed else "",
    )
    ack(response_action="update", view=build_moved(moved))


class FieldError(Exception):
    """A refusal to show on one field of the form."""

    def __init__(self, block: str, message: str):
        super().__init__(message)
        self.block = block


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
    """The transfer, or FieldError naming the field that explains the refusal."""
    chosen_id = destination_id if direction is OUT else source_id
    try:
        account_store.active(session, chosen_id)
    except UnknownAccount:
        raise FieldError(direction.picker_block, "That account does not exist; choose another.") from None
    except InactiveAccount as inactive:
        raise FieldError(direction.picker_block, f"{inactive} Choose an active account.") from None
    try:
        return ledger.transfer(session, source_id, destination_id, credits, actor=actor, key=key)
    except InsufficientCredits as short:
        raise FieldError(AMOUNT_BLOCK, _too_many(short, credits, opened_balance)) from None
    except (InactiveAccount, UnknownAccount) as gone:
        raise FieldError(AMOUNT_BLOCK, f"{gone} {direction.gone}") from None
    except StoreError as refused:
        raise FieldError(AMOUNT_BLOCK, str(refused)) from None


def _too_many(short: InsufficientCredits, credits: int, opened_balance: int | None) -> str:
    if opened_balance is not None and short.balance != opened_balance:
        return (
            f"The balance changed since this form was opened: it is now {short.balance:,} "
            f"credits, so {credits:,} cannot be moved."
        )
    return f"Only {short.balance:,} credits are available, so {credits:,} cannot be moved."


def register(app: App) -> None:
    for action_id in (MOVE_ACTION, MOVE_INTO_ACTION):
        app.action(action_id)(ack=acknowledge, lazy=[open_move_modal])
    for picker in (DESTINATION_ACTION, SOURCE_ACTION):
        app.options(picker)(suggest_destinations)
    app.view(MOVE_CREDITS_VIEW)(submit_move)
