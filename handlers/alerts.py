"""Low-credit alert messages in each state of an episode, and the replies in their threads.

Pure builders: they take an AlertState and know nothing of the database or of Slack's API.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from handlers import messages
from handlers.common import bold, escape
from handlers.messages import Refused
from store import top_up
from store.alerts import AlertState, Reply
from store.forecast import Forecast
from store.models import EntryKind

ACKNOWLEDGE_ACTION = "alert_acknowledge"
SNOOZE_ACTION = "alert_snooze"  # a static select of SNOOZE_CHOICES
SNOOZE_UNTIL_ACTION = "alert_snooze_until"  # a date picker
SUGGESTED_MOVE_ACTION = "alert_suggested_move"  # value: "<account>:<credits>:<source>"
SUGGESTED_BUY_ACTION = "alert_suggested_buy"  # value: "<account>:<credits>"
SNOOZE_CHOICES = {
    "1h": ("1 hour", timedelta(hours=1)),
    "1d": ("1 day", timedelta(days=1)),
    "1w": ("1 week", timedelta(weeks=1)),
}
SNOOZE_MAX_DAYS = 90  # a snooze ends by then: an alert silenced for good is an alert lost
PICKED_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TEXT_LIMIT = 3000  # a section's text
SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,19}")


def _text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn[:TEXT_LIMIT]}}


def _context(*lines: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": line[:TEXT_LIMIT]} for line in lines]}


def slack_time(moment: datetime) -> str:
    """A time each reader sees in their own time zone, with a UTC fallback."""
    utc = moment.astimezone(UTC)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


@functools.lru_cache(maxsize=64)
def _who(account_name: str, reference: str) -> str:
    # Cached: every alert of a pass names the same suggested source.
    return f"{bold(account_name)} (`{escape(reference)}`)"


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": _text(label), "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


def _suggestion_blocks(
    state: AlertState, on_forecast: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The suggested fix's explanation and its two prefilled buttons."""
    suggestion = state.suggestion
    if suggestion is None:
        return [], []
    credits = f"{suggestion.credits:,}"
    buy = _button(f"Buy {credits} credits", SUGGESTED_BUY_ACTION, f"{state.account_id}:{suggestion.credits}")
    if suggestion.source is not None:
        source, move = suggestion.source, suggestion.move_credits
        line = (
            f"Suggested fix: move *{move:,}* credits in from "
            f"{_who(source.name, source.reference)}, which has {source.spare:,} to spare, or buy *{credits}*."
        )
        value = f"{state.account_id}:{move}:{source.account_id}"
        buttons = [_button(f"Move {move:,} credits", SUGGESTED_MOVE_ACTION, value, "primary"), buy]
    else:
        line = f"Suggested fix: buy *{credits}* credits; no other account has credits to spare."
        buttons = [buy]
    if on_forecast:
        days = f"{state.warning_days} day{'' if state.warning_days == 1 else 's'}"
        line += f" It brings the runway back to {days} and covers a week of usage."
    else:
        line += " It restores the level and covers a week of usage."
    return [_section(line)], buttons


# What every alert shows alike, built once (the pass draws an alert per DM) and shared by the
# messages, which are only ever serialized.
_ACKNOWLEDGE_LABEL = _text("I'm on it")
_SNOOZE_SELECT = {"type": "static_select", "action_id": SNOOZE_ACTION, "placeholder": _text("Snooze")}
_SNOOZE_LABELS = [(_text(label), key) for key, (label, _) in SNOOZE_CHOICES.items()]
_SNOOZE_UNTIL = {
    "type": "datepicker",
    "action_id": SNOOZE_UNTIL_ACTION,
    "placeholder": _text("Snooze until…"),
}


def _snooze_controls(value: str) -> list[dict[str, Any]]:
    """The snooze choices and date picker for the alert `value` names ("<account>:<episode>")."""
    options = [{"text": label, "value": f"{value}:{key}"} for label, key in _SNOOZE_LABELS]
    return [{**_SNOOZE_SELECT, "options": options}, _SNOOZE_UNTIL]


def build_alert(state: AlertState) -> dict[str, Any]:
    """The alert as one recipient sees it now: open with its buttons, or resolved without them."""
    reference = escape(state.reference)
    if state.resolved:
        summary, closed = _ended(state)
        blocks = [_section(f":white_check_mark: {bold(summary)} (`{reference}`).")]
        if closed:
            blocks.append(_context(f"It has {state.balance:,} credits."))
        # With a forecast warning, the runway it is back to says why it resolved.
        runway = state.forecast if state.warning_days else None
        notes = [line for line in (runway, state.top_up, _handled(state)) if line]
        if notes:
            blocks.append(_context(*notes))
        return {"text": escape(summary), "blocks": blocks}
    outlook = state.outlook if state.on_forecast else None
    blocks = [_section(_low_text(state, reference, outlook))]
    if state.first_alert_link:
        whose = "the" if state.in_channel else "your"
        blocks.append(
            _context(f"Still low after {whose} snooze. <{state.first_alert_link}|See the first alert>.")
        )
    # The forecast is the alert's own text when it is the reason.
    forecast = None if outlook else state.forecast
    notes = [line for line in (forecast, state.top_up, _handled(state), _snoozed(state)) if line]
    if notes:
        blocks.append(_context(*notes))
    fix, buttons = _suggestion_blocks(state, outlook is not None)
    blocks.extend(fix)
    value = f"{state.account_id}:{state.episode}"
    if not state.handler:
        buttons.append(
            {"type": "button", "text": _ACKNOWLEDGE_LABEL, "action_id": ACKNOWLEDGE_ACTION, "value": value}
        )
    buttons.extend(_snooze_controls(value))
    blocks.append(
        {"type": "actions", "block_id": f"alert-{state.account_id}-{state.episode}", "elements": buttons}
    )
    has = f"{outlook.runway()} of credits left" if outlook else f"{state.balance:,} credits"
    return {"text": f"Low credit: {escape(state.name)} ({reference}) has {has}", "blocks": blocks}


def _ended(state: AlertState) -> tuple[str, bool]:
    """Why the alert ended, and whether it was closed rather than resolved.

    Resolved says where the balance stands against the level, which holds however it got there:
    credits in (the thread says whose), or the level lowered. Closed says what switched it off.
    """
    if not state.active:
        return f"Closed: {state.name} was deactivated", True
    if not state.reminder_on:
        return f"Closed: the low-credit reminder for {state.name} was switched off", True
    against = "at" if state.balance == state.level else "above"
    level = f", {against} its reminder level of {state.level:,}" if state.level else ""
    return f"Resolved: {state.name} has {state.balance:,} credits{level}", False


def _low_text(state: AlertState, reference: str, outlook: Forecast | None) -> str:
    """The open alert's own text. Plain formatting, not a template: the pass builds one per DM."""
    who = f"{bold(state.name)} (`{reference}`)"
    if outlook:
        reason = (
            f":warning: *Credits running out:* {who} has {escape(outlook.runway())} of credits left at "
            f"{escape(outlook.basis())}: below its {state.warning_days}-day warning. "
            f"Balance *{state.balance:,}* credits; reminder level {state.level:,}."
        )
    else:
        reason = (
            f":warning: *Low credit:* {who} has *{state.balance:,}* credits, "
            f"below its reminder level of {state.level:,}."
        )
    return f"{reason}\nBuy credits or move some in so its messages keep sending."


def _handled(state: AlertState) -> str | None:
    if not state.handler:
        return None
    since = f" since {slack_time(state.handled_at)}" if state.handled_at else ""
    return f":raising_hand: <@{state.handler}> is handling this{since}."


def _snoozed(state: AlertState) -> str | None:
    if state.snoozed_until is None:
        return None
    return f":zzz: {snoozed_line(state.in_channel, state.snoozed_until)}"


def snoozed_line(in_channel: bool, until: datetime) -> str:
    where = "in this channel" if in_channel else "for you"
    return f"Snoozed {where} until {slack_time(until)}."


def actor_mention(actor: str) -> str:
    """Who a ledger entry names, as mrkdwn: a Slack user, an auto top-up rule, or a tool (CLI, API)."""
    if actor.startswith(top_up.ACTOR_PREFIX):
        return f"Auto top-up (set up by {actor_mention(actor.removeprefix(top_up.ACTOR_PREFIX))})"
    if SLACK_USER.fullmatch(actor):
        return f"<@{actor}>"
    return escape(actor)


def build_reply(reply: Reply) -> dict[str, Any]:
    """The thread reply for credits that came in: bought (with its invoice) or moved in."""
    who = actor_mention(reply.actor)
    if reply.kind == EntryKind.PURCHASE:
        invoice = f" ({escape(reply.invoice_number)})" if reply.invoice_number else ""
        text = f"{who} bought {reply.credits:,} credits{invoice}. Balance {reply.balance_after:,}."
    else:
        source = _who(reply.source_name or "another account", reply.source_reference or "?")
        text = f"{who} moved {reply.credits:,} credits in from {source}. Balance {reply.balance_after:,}."
    return {"text": text, "blocks": [_section(text)]}


ARCHIVED = "is_archived"  # Slack's error for a post in an archived channel; the others need an invite


def build_channel_problem(
    problem: str, channel: str, name: str, reference: str, *, posted: bool = False
) -> dict[str, Any]:
    """The DM telling whoever added a channel why its alert cannot be posted (or, `posted`, kept up
    to date) there."""
    if problem == ARCHIVED:
        wording = messages.ARCHIVED_AFTER_ALERT if posted else messages.ARCHIVED_BEFORE_ALERT
    else:
        wording = messages.INVITE_AFTER_ALERT if posted else messages.INVITE_BEFORE_ALERT
    text = wording.format(channel=channel, account=_who(name, reference))
    return {"text": text, "blocks": [_section(text)]}


def snooze_until(choice: str, now: datetime) -> datetime:
    """When a snooze choice ("1h", "1d", "1w" or a picked YYYY-MM-DD) ends; Refused saying why if
    it is not one to take."""
    if choice in SNOOZE_CHOICES:
        return now + SNOOZE_CHOICES[choice][1]
    # Only the date picker's form: fromisoformat also takes weeks ("2026-W49-1") and bare digits.
    if not PICKED_DAY.fullmatch(choice):
        raise Refused(messages.SNOOZE_UNKNOWN)
    try:
        picked = date.fromisoformat(choice)
    except ValueError:  # 2026-02-30
        raise Refused(messages.SNOOZE_UNKNOWN) from None
    if picked <= now.date():
        raise Refused(messages.SNOOZE_NOT_AFTER_TODAY)
    if picked > now.date() + timedelta(days=SNOOZE_MAX_DAYS):
        raise Refused(messages.SNOOZE_TOO_FAR.format(days=SNOOZE_MAX_DAYS))
    return datetime(picked.year, picked.month, picked.day, tzinfo=UTC)
