"""The buttons on a low-credit alert: the suggested Move and Buy, I'm on it, and Snooze."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.alerts import (
    ACKNOWLEDGE_ACTION,
    SNOOZE_ACTION,
    SNOOZE_UNTIL_ACTION,
    SUGGESTED_BUY_ACTION,
    SUGGESTED_MOVE_ACTION,
    parse_suggested,
    snooze_until,
)
from handlers.buy import BUYING, CREDITS_INPUT, build_buy_modal
from handlers.common import config, db, reads
from handlers.modals import open_account_form
from handlers.move import AMOUNT_ACTION, DOING, INTO, SOURCE_ACTION, account_label, build_move_modal
from jobs import alerts as live
from store import alerts
from store.errors import StoreError
from store.models import Account, Role

OUT_OF_DATE = "This alert is no longer tracked; the account's latest alert has the current buttons."


def acknowledge(ack: Ack) -> None:
    ack()


def _tell(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


def _message(context: BoltContext, body: dict[str, Any]) -> alerts.AlertMessage | None:
    """The alert copy the click came from, by where Slack says it is."""
    container = body.get("container") or {}
    with db(context).begin() as session:
        return alerts.message_at(session, str(container.get("channel_id")), str(container.get("message_ts")))


def _refresh(context: BoltContext, client: WebClient, message: alerts.AlertMessage, user_id: str) -> None:
    # Whatever fails here stays behind and the next pass finishes it.
    only = [(message.account_id, message.episode)]
    live.update_copies(db(context), client, datetime.now(UTC), f"click:{user_id}", only=only)


def take_on_alert(
    body: dict[str, Any], client: WebClient, context: BoltContext, respond: Respond, logger: logging.Logger
) -> None:
    """I'm on it: the first to click is shown, with the time, on every recipient's copy."""
    user_id = body["user"]["id"]
    message = _message(context, body)
    if message is None:
        _tell(respond, OUT_OF_DATE)
        return
    with db(context).begin() as session:
        alert = alerts.acknowledge(session, message.account_id, message.episode, user_id, datetime.now(UTC))
    if alert is None or alert.resolved:
        _tell(respond, "This alert is already resolved.")
    elif alert.handler != user_id:
        _tell(respond, f"<@{alert.handler}> is already handling this.")
    _refresh(context, client, message, user_id)


def snooze_alert(
    body: dict[str, Any],
    action: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    respond: Respond,
    logger: logging.Logger,
) -> None:
    """Snooze this copy: no reminder until then, and one new reminder if the account is still low."""
    user_id = body["user"]["id"]
    choice = (
        action.get("selected_date")
        or str((action.get("selected_option") or {}).get("value", "")).split(":")[-1]
    )
    until = snooze_until(choice, datetime.now(UTC))
    if until is None:
        _tell(respond, "Pick a day after today to snooze until.")
        return
    message = _message(context, body)
    if message is None:
        _tell(respond, OUT_OF_DATE)
        return
    with db(context).begin() as session:
        alerts.snooze(session, message.id, until)
    _refresh(context, client, message, user_id)


def prefilled(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The form with these inputs filled in, by action id: a text's value, or a menu's option."""
    for block in view.get("blocks", []):
        element = block.get("element") or {}
        if element.get("action_id") in values:
            value = values[element["action_id"]]
            element["initial_option" if isinstance(value, dict) else "initial_value"] = value
    return view


def _suggested(action: dict[str, Any], respond: Respond) -> tuple[int, int, int | None] | None:
    try:
        return parse_suggested(action.get("value"))
    except StoreError:
        _tell(respond, "That button does not name an account; use the latest alert.")
        return None


def open_suggested_buy(
    body: dict[str, Any],
    action: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    respond: Respond,
    logger: logging.Logger,
) -> None:
    """The Buy form, prefilled with the suggested number of credits; all the usual checks apply."""
    suggested = _suggested(action, respond)
    if suggested is None:
        return
    account_id, credits, _ = suggested
    settings = config(context)
    amount = str(min(credits, settings.max_purchase_credits))
    open_account_form(
        {**body, "actions": [{**action, "value": str(account_id)}]},
        client,
        context,
        respond,
        logger,
        needed=Role.BILLING,
        doing=BUYING,
        refusal_title="Cannot buy credits",
        build=lambda account: prefilled(build_buy_modal(account, settings), {CREDITS_INPUT: amount}),
    )


def open_suggested_move(
    body: dict[str, Any],
    action: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    respond: Respond,
    logger: logging.Logger,
) -> None:
    """The Move form into the low account, prefilled with the suggested source and credits."""
    suggested = _suggested(action, respond)
    if suggested is None:
        return
    account_id, credits, source_id = suggested
    values: dict[str, Any] = {AMOUNT_ACTION: str(credits)}
    with reads(context).begin() as session:
        source = session.get(Account, source_id) if source_id else None
        if source is not None and source.active:
            label = {"type": "plain_text", "text": account_label(source)}
            values[SOURCE_ACTION] = {"text": label, "value": str(source.id)}

    def build(destination: Account) -> dict[str, Any]:
        return prefilled(build_move_modal(destination, INTO), values)

    open_account_form(
        {**body, "actions": [{**action, "value": str(account_id)}]},
        client,
        context,
        respond,
        logger,
        needed=Role.ADMIN,
        doing=DOING,
        refusal_title="Move credits",
        build=build,
    )


def register(app: App) -> None:
    app.action(SUGGESTED_BUY_ACTION)(ack=acknowledge, lazy=[open_suggested_buy])
    app.action(SUGGESTED_MOVE_ACTION)(ack=acknowledge, lazy=[open_suggested_move])
    app.action(ACKNOWLEDGE_ACTION)(ack=acknowledge, lazy=[take_on_alert])
    for action_id in (SNOOZE_ACTION, SNOOZE_UNTIL_ACTION):
        app.action(action_id)(ack=acknowledge, lazy=[snooze_alert])
