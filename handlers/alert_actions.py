"""The buttons on a low-credit alert: I'm on it and Snooze; every copy is brought up to date at once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.alerts import ACKNOWLEDGE_ACTION, SNOOZE_ACTION, SNOOZE_UNTIL_ACTION, snooze_until
from handlers.common import db
from jobs import alerts as live
from store import alerts

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


def register(app: App) -> None:
    app.action(ACKNOWLEDGE_ACTION)(ack=acknowledge, lazy=[take_on_alert])
    for action_id in (SNOOZE_ACTION, SNOOZE_UNTIL_ACTION):
        app.action(action_id)(ack=acknowledge, lazy=[snooze_alert])
