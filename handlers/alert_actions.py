"""The buttons on a low-credit alert: the suggested Move and Buy, I'm on it, and Snooze."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, Args
from sqlalchemy.orm import Session

from handlers import messages, parse
from handlers.alerts import (
    ACKNOWLEDGE_ACTION,
    SNOOZE_ACTION,
    SNOOZE_UNTIL_ACTION,
    SUGGESTED_BUY_ACTION,
    SUGGESTED_MOVE_ACTION,
    snooze_until,
    snoozed_line,
)
from handlers.buy import BUYING, CREDITS_INPUT, build_buy_modal
from handlers.common import escape, literal
from handlers.interaction import (
    Interaction,
    acknowledge,
    guarded,
    open_account_form,
    role_for,
    say_privately,
    show,
)
from handlers.messages import Refused
from handlers.move import AMOUNT_ACTION, DOING, INTO, SOURCE_ACTION, TITLE, account_label, build_move_modal
from jobs import alerts as live
from store import alerts
from store.db import unavailable
from store.models import Account, Alert, Role
from store.reminders import Recipient

log = logging.getLogger(__name__)


ACTING = "take or snooze an alert posted in a channel"


def _message(session: Session, it: Interaction) -> alerts.AlertMessage:
    """The alert copy the click came from, by where Slack says it is; refused if it is not ours.

    A DM's copy is its recipient's to act on, whom billing or an admin chose, while they stay on
    the reminder; anyone in a channel can click its copy, so there (and for someone taken off the
    reminder) the viewer role is needed, as for every other button.
    """
    container = it.body.get("container") or {}
    message = alerts.message_at(session, str(container.get("channel_id")), str(container.get("message_ts")))
    if message is None:
        raise Refused(messages.ALERT_UNTRACKED)
    if Recipient(message.address).is_channel or not alerts.still_reminded(
        session, message.account_id, message.address
    ):
        role_for(session, it.user_id, Role.VIEWER, ACTING)
    return message


def _refresh(it: Interaction, message: alerts.AlertMessage, saved: str | None) -> None:
    """Every copy of the alert redrawn now; the user hears what was `saved` if their copy could not
    be (Slack would not, or another click's redraw holds it: the next pass redraws what is behind)."""
    only = [(message.account_id, message.episode)]
    try:
        report = live.update_copies(
            it.services.session_factory, it.client, it.services.clock(), f"click:{it.user_id}", only=only
        )
    except Exception as error:  # noqa: BLE001 - the click is saved: say so, and keep the detail
        log.warning("redrawing alert %s after a click failed", message.id, exc_info=error)
        reason = "the database is unavailable" if unavailable(error) else "an error on our side"
    else:
        if not report.failed:
            if saved and message.id not in report.updated:
                say_privately(it, messages.ALERT_REDRAW_PENDING.format(saved=saved))
            return
        reason = report.failed[0][1]
    say_privately(it, messages.ALERT_NOT_REDRAWN.format(reason=reason))


def take_on_alert(args: Args) -> None:
    """I'm on it: the first to click is shown, with the time, on every recipient's copy."""
    it = Interaction(args)

    def take(session: Session, user_id: str) -> tuple[alerts.AlertMessage, tuple[Alert | None, bool]]:
        message = _message(session, it)
        return message, alerts.acknowledge(
            session, message.account_id, message.episode, user_id, it.services.clock()
        )

    # A database that went away is told where the user clicked, as everywhere else.
    taken = guarded(it, say_privately, take, writes=True)
    if taken is None:
        return
    message, (alert, took_it) = taken
    if alert is None or alert.resolved:
        say_privately(it, messages.ALERT_RESOLVED)
    elif alert.handler != it.user_id:
        say_privately(it, messages.ALERT_HANDLED_BY.format(user=alert.handler))
    elif not took_it:  # their copy already says so; a click that changes nothing still gets an answer
        say_privately(it, messages.ALERT_ALREADY_YOURS)
    _refresh(it, message, messages.YOU_HANDLE_IT if took_it else None)  # else it was answered above


def snooze_alert(args: Args) -> None:
    """Snooze this copy: no reminder until then, and one new reminder if the account is still low."""
    it = Interaction(args)
    try:
        until = snooze_until(parse.snooze_choice(args.action or {}), it.services.clock())
    except Refused as refused:
        say_privately(it, str(refused))
        return

    def snooze(session: Session, _: str) -> alerts.AlertMessage:
        message = _message(session, it)
        alerts.snooze(session, message.id, until)
        return message

    message = guarded(it, say_privately, snooze, writes=True)
    if message is not None:
        _refresh(it, message, snoozed_line(Recipient(message.address).is_channel, until))


def prefilled(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The form with these inputs filled in, by action id: a text's value, or a menu's option."""
    for block in view.get("blocks", []):
        element = block.get("element") or {}
        if element.get("action_id") in values:
            value = values[element["action_id"]]
            element["initial_option" if isinstance(value, dict) else "initial_value"] = value
    return view


def _suggested(it: Interaction) -> tuple[int, int, int | None] | None:
    try:
        return parse.suggested_fix(((it.body.get("actions") or [{}])[0]).get("value"))
    except Refused as stale:
        show(say_privately, it, str(stale), None)
        return None


def open_suggested_buy(args: Args) -> None:
    """The Buy form, prefilled with the suggested number of credits; all the usual checks apply."""
    it = Interaction(args)
    suggested = _suggested(it)
    if suggested is None:
        return
    account_id, credits, _ = suggested
    services = it.services
    maximum = services.limits.max_purchase_credits

    def build(session: Session, account: Account, role: Role) -> dict[str, Any]:
        form = build_buy_modal(account, services.pricing, maximum)
        return prefilled(form, {CREDITS_INPUT: str(min(credits, maximum))})

    open_account_form(it, Role.BILLING, BUYING, "Cannot buy credits", lambda: account_id, build)


def open_suggested_move(args: Args) -> None:
    """The Move form into the low account, prefilled with the suggested source and credits."""
    it = Interaction(args)
    suggested = _suggested(it)
    if suggested is None:
        return
    account_id, credits, source_id = suggested

    def build(session: Session, destination: Account, role: Role) -> dict[str, Any]:
        values: dict[str, Any] = {AMOUNT_ACTION: str(credits)}
        source = session.get(Account, source_id) if source_id else None
        if source is not None and source.active:
            values[SOURCE_ACTION] = {
                "text": {"type": "plain_text", "text": account_label(source)},
                "value": str(source.id),
            }
        view = prefilled(build_move_modal(destination, INTO), values)
        if source is not None and not source.active:  # else the picker is empty, and nothing says why
            note = messages.SUGGESTED_SOURCE_INACTIVE.format(
                name=literal(source.name), reference=escape(source.reference)
            )
            view["blocks"].insert(0, {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
        return view

    open_account_form(it, Role.ADMIN, DOING, TITLE, lambda: account_id, build)


def register(app: App) -> None:
    app.action(SUGGESTED_BUY_ACTION)(ack=acknowledge, lazy=[open_suggested_buy])
    app.action(SUGGESTED_MOVE_ACTION)(ack=acknowledge, lazy=[open_suggested_move])
    app.action(ACKNOWLEDGE_ACTION)(ack=acknowledge, lazy=[take_on_alert])
    for action_id in (SNOOZE_ACTION, SNOOZE_UNTIL_ACTION):
        app.action(action_id)(ack=acknowledge, lazy=[snooze_alert])
