"""Low credit reminders: the settings modal; the pass that sends them is jobs.low_credit."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt import App, Args
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session, object_session

from handlers import messages, parse
from handlers.account_box import REMINDER_ACTION
from handlers.common import bold, escape, join_within
from handlers.home import redraw_after_submit
from handlers.interaction import (
    SECTION_LIMIT,
    Interaction,
    account_form,
    acknowledge,
    checked,
    field_error,
    needs,
    redraw_submitted,
    replace_submitted,
)
from handlers.messages import Refused
from handlers.origin import in_place_of
from handlers.services import Services
from store import accounts as account_store
from store import reminders, top_up
from store.errors import StoreError
from store.models import Account, Role

REMINDER_VIEW = "low_credit_reminder"
ENABLED_BLOCK, ENABLED_INPUT, ENABLED_VALUE = "enabled", "enabled_input", "on"
LEVEL_BLOCK, LEVEL_INPUT = "level", "level_input"
WARNING_BLOCK, WARNING_INPUT = "runway_warning", "runway_warning_input"
EMAILS_BLOCK, EMAILS_INPUT = "emails", "emails_input"
PEOPLE_BLOCK, PEOPLE_INPUT = "people", "people_input"
CHANNELS_BLOCK, CHANNELS_INPUT = "channels", "channels_input"
TOP_UP_BLOCK, TOP_UP_INPUT, TOP_UP_VALUE = "top_up", "top_up_input", "on"
TOP_UP_CREDITS_BLOCK, TOP_UP_CREDITS_INPUT = "top_up_credits", "top_up_credits_input"
TOP_UP_LIMIT_BLOCK, TOP_UP_LIMIT_INPUT = "top_up_limit", "top_up_limit_input"
TOP_UP_UNIT_BLOCK, TOP_UP_UNIT_INPUT = "top_up_unit", "top_up_unit_input"
# Where each part of an auto top-up rule is entered, for its field error.
TOP_UP_PARTS = {"credits": TOP_UP_CREDITS_BLOCK, "limit": TOP_UP_LIMIT_BLOCK, "unit": TOP_UP_UNIT_BLOCK}
CHECKING_VIEW = "low_credit_reminder_checking"
TITLE = "Low credit reminder"
CHANGING = "change low credit reminders"
RECIPIENTS_TEXT_LIMIT = 2500  # leaves room in the section for the reminder's state

log = logging.getLogger(__name__)


# builders


def _text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def _split(account: Account) -> tuple[list[str], list[str], list[str]]:
    """The account's recipients as (emails, people, channels)."""
    recipients = [reminders.Recipient(r.address) for r in account.recipients]
    emails = [r.address for r in recipients if r.is_email]
    channels = [r.address for r in recipients if r.is_channel]
    people = [r.address for r in recipients if not (r.is_email or r.is_channel)]
    return emails, people, channels


def _heading(account: Account) -> dict[str, Any]:
    return _section(
        f"{bold(account.name)} `{escape(account.reference)}`\nBalance: {account.balance:,} credits"
    )


@dataclass(frozen=True)
class TopUpEntered:
    """Auto top-up as entered: the fields as typed, to show again, and the rule they make (None: off)."""

    on: bool = False
    credits: str = ""
    limit: str = ""
    unit: str = top_up.LimitUnit.PURCHASES.value
    rule: top_up.Rule | None = None

    @classmethod
    def of(cls, rule: top_up.Rule | None) -> TopUpEntered:
        """The fields that show a saved rule."""
        if rule is None:
            return cls()
        return cls(True, str(rule.credits), str(rule.monthly_limit), rule.unit.value, rule)


@dataclass(frozen=True)
class Entered:
    """The settings as submitted, before the email addresses are looked up."""

    enabled: bool
    level: int
    emails: list[str]
    people: list[str]
    channels: list[str]
    top_up: TopUpEntered | None = None  # None: the form had no auto top-up fields, so leave it be
    warning_days: int | None = None  # the forecast warning; None is off
    has_warning: bool = True  # False: the form had no forecast warning field, so leave it be


def _top_up_blocks(top: TopUpEntered) -> list[dict[str, Any]]:
    """Auto top-up's switch, amount and monthly limit."""
    switch: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": TOP_UP_INPUT,
        "options": [
            {"text": _text("Buy credits when the balance falls below the level"), "value": TOP_UP_VALUE}
        ],
    }
    if top.on:
        switch["initial_options"] = switch["options"]
    units = [{"text": _text(f"{unit.value} a month"), "value": unit.value} for unit in top_up.LimitUnit]
    unit: dict[str, Any] = {"type": "radio_buttons", "action_id": TOP_UP_UNIT_INPUT, "options": units}
    unit["initial_option"] = next((u for u in units if u["value"] == top.unit), units[-1])

    def number(block_id: str, action_id: str, label: str, value: str, hint: str) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id}
        if value:
            element["initial_value"] = value
        return {
            "type": "input",
            "block_id": block_id,
            "optional": True,
            "label": _text(label),
            "element": element,
            "hint": _text(hint),
        }

    return [
        {"type": "divider"},
        _section(messages.TOP_UP_EXPLAINED),
        {
            "type": "input",
            "block_id": TOP_UP_BLOCK,
            "optional": True,
            "label": _text("Auto top-up"),
            "element": switch,
        },
        number(
            TOP_UP_CREDITS_BLOCK,
            TOP_UP_CREDITS_INPUT,
            "Credits to buy each time",
            top.credits,
            messages.TOP_UP_CREDITS_HINT,
        ),
        number(
            TOP_UP_LIMIT_BLOCK, TOP_UP_LIMIT_INPUT, "Monthly limit", top.limit, messages.TOP_UP_LIMIT_HINT
        ),
        {"type": "input", "block_id": TOP_UP_UNIT_BLOCK, "label": _text("The limit counts"), "element": unit},
    ]


def build_settings_modal(
    account: Account,
    entered: Entered | None = None,
    problem: str | None = None,
    saved_top_up: top_up.Rule | None = None,
) -> dict[str, Any]:
    """The editable settings: the account's current ones, or what was entered with the problem in it."""
    top = entered.top_up if entered and entered.top_up else TopUpEntered.of(saved_top_up)
    emails, people, channels = (
        (entered.emails, entered.people, entered.channels) if entered else _split(account)
    )
    enabled = entered.enabled if entered else account.reminder_enabled
    level = entered.level if entered else account.reminder_level
    days = entered.warning_days if entered and entered.has_warning else account.runway_warning_days
    warning: dict[str, Any] = {"type": "plain_text_input", "action_id": WARNING_INPUT}
    if days is not None:
        warning["initial_value"] = str(days)
    switch: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": ENABLED_INPUT,
        "options": [{"text": _text("Send low credit reminders"), "value": ENABLED_VALUE}],
    }
    if enabled:
        switch["initial_options"] = switch["options"]
    emails_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": EMAILS_INPUT,
        "multiline": True,
        "placeholder": _text("ops@example.com, finance@example.com"),
    }
    if emails:
        emails_input["initial_value"] = "\n".join(emails)
    picker: dict[str, Any] = {
        "type": "multi_users_select",
        "action_id": PEOPLE_INPUT,
        "placeholder": _text("Choose people"),
    }
    if people:
        picker["initial_users"] = people
    channel_picker: dict[str, Any] = {
        "type": "multi_conversations_select",
        "action_id": CHANNELS_INPUT,
        "placeholder": _text("Choose channels"),
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if channels:
        channel_picker["initial_conversations"] = channels
    return {
        "type": "modal",
        "callback_id": REMINDER_VIEW,
        "private_metadata": str(account.id),
        "title": _text(TITLE),
        "submit": _text("Save"),
        "close": _text("Cancel"),
        "blocks": [
            _heading(account),
            *([_section(f":warning: {escape(problem)}"[:SECTION_LIMIT])] if problem else []),
            {
                "type": "input",
                "block_id": ENABLED_BLOCK,
                "optional": True,
                "label": _text("Reminder"),
                "element": switch,
            },
            {
                "type": "input",
                "block_id": LEVEL_BLOCK,
                "label": _text("Remind when credits fall below"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": LEVEL_INPUT,
                    "initial_value": str(level),
                },
                "hint": _text("A whole number of credits, 0 or more."),
            },
            {
                "type": "input",
                "block_id": WARNING_BLOCK,
                "optional": True,
                "label": _text("Warn when fewer than this many days of credits are left"),
                "element": warning,
                "hint": _text(messages.WARNING_HINT),
            },
            {
                "type": "input",
                "block_id": EMAILS_BLOCK,
                "optional": True,
                "label": _text("Email addresses to DM"),
                "element": emails_input,
                "hint": _text(
                    "Separate with commas, spaces or new lines; each must belong to "
                    "someone in this Slack workspace."
                ),
            },
            {
                "type": "input",
                "block_id": PEOPLE_BLOCK,
                "optional": True,
                "label": _text("People to DM"),
                "element": picker,
            },
            {
                "type": "input",
                "block_id": CHANNELS_BLOCK,
                "optional": True,
                "label": _text("Channels to post in"),
                "element": channel_picker,
                "hint": _text(messages.CHANNELS_HINT),
            },
            *_top_up_blocks(top),
        ],
    }


def _summary(account: Account) -> str:
    emails, people, channels = _split(account)
    who = (
        [escape(address) for address in emails]
        + [f"<@{user}>" for user in people]
        + [f"<#{channel}>" for channel in channels]
    )
    return (
        f"Reminder: *{reminders.describe(account.reminder_enabled, account.reminder_level)}*\n"
        f"Forecast warning: *{reminders.describe_warning(account.runway_warning_days)}*\n"
        f"Recipients: {join_within(who, RECIPIENTS_TEXT_LIMIT) or 'none'}"
    )


def build_readonly_modal(account: Account) -> dict[str, Any]:
    """What a viewer sees: the settings, no way to change them."""
    return {
        "type": "modal",
        "title": _text(TITLE),
        "close": _text("Close"),
        "blocks": [
            _heading(account),
            _section(_summary(account)),
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": messages.READ_ONLY_REMINDER}],
            },
        ],
    }


def build_saved_modal(
    account: Account, warnings: list[str] | None = None, rule: top_up.Rule | None = None
) -> dict[str, Any]:
    """The confirmation after saving: the reminder, auto top-up, and what its channels need."""
    return {
        "type": "modal",
        "title": _text(TITLE),
        "close": _text("Done"),
        "blocks": [
            _section(
                f"Saved the low credit reminder for {bold(account.name)} `{escape(account.reference)}`."
            ),
            _section(_summary(account) + f"\nAuto top-up: *{top_up.describe(rule)}*"),
            *([_section(join_within(warnings, SECTION_LIMIT, "\n"))] if warnings else []),
        ],
    }


# settings listeners


def settings_form(account: Account, role: Role, services: Services) -> dict[str, Any]:
    """The settings for billing and admin, a read-only view of them for a viewer."""
    if not role.allows(Role.BILLING):
        return build_readonly_modal(account)
    session = object_session(account)
    assert session is not None  # the opener loaded it in the transaction this runs in
    return build_settings_modal(account, saved_top_up=top_up.rule_of(session, account.id))


open_reminder_modal = account_form(Role.VIEWER, "see reminders", TITLE, settings_form)


def build_checking_modal() -> dict[str, Any]:
    """Shown while the email addresses are looked up in Slack, after the submission is acknowledged."""
    return {
        "type": "modal",
        "callback_id": CHECKING_VIEW,
        "title": _text(TITLE),
        "close": _text("Close"),
        "blocks": [_section(messages.CHECKING_RECIPIENTS)],
    }


def _read_top_up(
    values: dict[str, Any], reminder_on: bool, max_credits: int, errors: dict[str, str]
) -> TopUpEntered | None:
    """Auto top-up as submitted, adding any field errors to `errors`; None if the form had none of it."""
    if TOP_UP_BLOCK not in values:
        return None
    on = bool((values[TOP_UP_BLOCK].get(TOP_UP_INPUT) or {}).get("selected_options"))
    credits = str((values.get(TOP_UP_CREDITS_BLOCK, {}).get(TOP_UP_CREDITS_INPUT) or {}).get("value") or "")
    limit = str((values.get(TOP_UP_LIMIT_BLOCK, {}).get(TOP_UP_LIMIT_INPUT) or {}).get("value") or "")
    unit_choice = (values.get(TOP_UP_UNIT_BLOCK, {}).get(TOP_UP_UNIT_INPUT) or {}).get(
        "selected_option"
    ) or {}
    unit = str(unit_choice.get("value") or top_up.LimitUnit.PURCHASES.value)[:20]
    if not on:
        return TopUpEntered(False, credits, limit, unit)
    if not reminder_on:
        errors[TOP_UP_BLOCK] = str(top_up.ReminderOff())
        return TopUpEntered(True, credits, limit, unit)
    try:
        rule = top_up.parse_rule(credits, limit, unit, max_credits=max_credits)
    except top_up.InvalidRule as problem:
        errors[TOP_UP_PARTS[problem.part]] = str(problem)
        return TopUpEntered(True, credits, limit, unit)
    return TopUpEntered(True, credits, limit, unit, rule)


def read_settings(view: dict[str, Any], max_credits: int) -> Entered:
    """The submitted settings, or Refused naming the field that is wrong."""
    values = view["state"]["values"]
    enabled = bool((values.get(ENABLED_BLOCK, {}).get(ENABLED_INPUT) or {}).get("selected_options"))
    errors: dict[str, str] = {}
    level = 0
    try:
        level = reminders.parse_level((values.get(LEVEL_BLOCK, {}).get(LEVEL_INPUT) or {}).get("value") or "")
    except StoreError as problem:
        errors[LEVEL_BLOCK] = str(problem)
    has_warning, warning_days = WARNING_BLOCK in values, None
    try:
        raw = (values.get(WARNING_BLOCK, {}).get(WARNING_INPUT) or {}).get("value")
        warning_days = reminders.parse_warning_days(None if raw is None else str(raw))
    except StoreError as problem:
        errors[WARNING_BLOCK] = str(problem)
    emails: list[str] = []
    try:
        emails = reminders.parse_emails((values.get(EMAILS_BLOCK, {}).get(EMAILS_INPUT) or {}).get("value"))
    except StoreError as problem:
        errors[EMAILS_BLOCK] = str(problem)
    picked = (values.get(PEOPLE_BLOCK, {}).get(PEOPLE_INPUT) or {}).get("selected_users")
    people = list(dict.fromkeys(picked if isinstance(picked, list) else []))
    crafted = [person for person in people if parse.slack_user_id(person) is None]
    if crafted:
        errors[PEOPLE_BLOCK] = messages.NOT_SLACK_USERS.format(
            values=", ".join(repr(p)[:24] for p in crafted[:3])
        )
    picked = (values.get(CHANNELS_BLOCK, {}).get(CHANNELS_INPUT) or {}).get("selected_conversations")
    channels = list(dict.fromkeys(picked if isinstance(picked, list) else []))
    crafted = [channel for channel in channels if parse.slack_channel_id(channel) is None]
    if crafted:
        errors[CHANNELS_BLOCK] = messages.NOT_CHANNELS.format(
            values=", ".join(repr(c)[:24] for c in crafted[:3])
        )
    if enabled and not emails and not people and not channels and EMAILS_BLOCK not in errors:
        errors[EMAILS_BLOCK] = messages.NO_RECIPIENTS
    try:
        reminders.check_recipient_count(len(emails) + len(people) + len(channels))
    except StoreError as problem:
        errors.setdefault(EMAILS_BLOCK, str(problem))
    top = _read_top_up(values, enabled, max_credits, errors)
    if errors:
        raise FormErrors(errors)
    return Entered(enabled, level, emails, people, channels, top, warning_days, has_warning)


class FormErrors(Exception):
    """Problems on several fields of one form, each shown under its field."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _save(
    session: Session,
    view: dict[str, Any],
    entered: Entered,
    found: dict[str, str],
    actor: str,
    now: datetime,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """Save the reminder and auto top-up (each audited); the confirmation."""
    # One person, one DM: an email of someone also picked, or of another email's person, is one
    # recipient, not two (deliveries go by address).
    people, emails, notes = set(entered.people), list[str](), list(warnings or [])
    for email in entered.emails:
        if found[email] in people:
            notes.append(messages.SAME_PERSON_ONCE.format(email=escape(email), user=found[email]))
            continue
        people.add(found[email])
        emails.append(email)
    recipients = (
        [reminders.Recipient(email, found[email]) for email in emails]
        + [reminders.Recipient(person, person) for person in entered.people]
        + [reminders.Recipient(channel) for channel in entered.channels]
    )
    account = account_store.active(session, parse.form_account_id(view.get("private_metadata")))
    reminders.configure(session, account, entered.enabled, entered.level, recipients, actor)
    if entered.has_warning:
        reminders.set_warning(session, account, entered.warning_days, actor)
    if entered.top_up is not None:
        top_up.configure(session, account, entered.top_up.rule, actor, now)
    return build_saved_modal(account, notes, top_up.rule_of(session, account.id))


@needs(Role.BILLING, CHANGING, field_error(ENABLED_BLOCK), writes=True)
def submit_reminder(
    view: dict[str, Any], user_id: str, session: Session, services: Services
) -> dict[str, Any]:
    """Check the form; save at once, or, when emails need Slack, say so and finish after the ack."""
    parse.form_account_id(view.get("private_metadata"))  # a stale form is refused before any lookup
    try:
        entered = read_settings(view, services.limits.max_purchase_credits)
    except FormErrors as problems:
        return {"response_action": "errors", "errors": {k: v[:2000] for k, v in problems.errors.items()}}
    if entered.emails or entered.channels:
        # Looking recipients up may be slow (rate limits): never inside the 3-second acknowledgement.
        return {"response_action": "update", "view": build_checking_modal()}
    saved = _save(session, view, entered, {}, user_id, services.clock())
    return {"response_action": "update", "view": saved}


def finish_reminder(args: Args) -> None:
    """After the acknowledgement: look the emails up, then save and show the result in the same modal."""
    it, view, client = Interaction(args), args.view or {}, args.client
    try:
        entered = read_settings(view, it.services.limits.max_purchase_credits)
    except FormErrors:
        return  # shown under the fields in the acknowledgement
    try:
        parse.form_account_id(view.get("private_metadata"))  # alone, or beside where it was opened
    except Refused:
        return  # refused as out of date in the acknowledgement
    if not (entered.emails or entered.channels):
        redraw_after_submit(args.body, client, args.context)  # saved in the acknowledgement
        return
    answer = redraw_submitted(TITLE, messages.RESULT_NOT_SHOWN)  # never leave the user at "Checking…"
    if not checked(it, Role.BILLING, CHANGING, answer, lambda session, role: True):
        return  # refused: look nothing up for them
    found, problems = _lookup_errors(client, entered.emails)
    warnings = [] if problems else _channel_warnings(client, entered.channels)

    def save(session: Session, role: Role) -> dict[str, Any]:
        if problems:
            account = account_store.active(session, parse.form_account_id(view.get("private_metadata")))
            problem = join_within(problems, SECTION_LIMIT - 20, " ")
            return in_place_of(build_settings_modal(account, entered, problem), view)
        return _save(session, view, entered, found, it.user_id, it.services.clock(), warnings)

    result = checked(it, Role.BILLING, CHANGING, answer, save, writes=True)
    if result is not None:
        replace_submitted(it, result, messages.RESULT_NOT_SHOWN)
        if not problems:
            redraw_after_submit(args.body, client, args.context)


def _lookup_errors(client: WebClient, emails: list[str]) -> tuple[dict[str, str], list[str]]:
    """Each email's Slack user id, and a line naming every address that has none."""
    found: dict[str, str] = {}
    problems: list[str] = []
    for email in emails:
        try:
            user = client.users_lookupByEmail(email=email)["user"]
        except SlackApiError as error:
            code = error.response.get("error")
            if code == "users_not_found":
                problems.append(messages.NO_SUCH_EMAIL.format(email=email))
            else:
                log.warning("users.lookupByEmail failed: %s", code)
                problems.append(messages.EMAIL_NOT_CHECKED.format(email=email))
            continue
        except (SlackClientError, OSError) as error:
            log.warning("users.lookupByEmail failed: %s", type(error).__name__)
            problems.append(messages.EMAIL_NOT_CHECKED.format(email=email))
            continue
        if user.get("deleted"):
            problems.append(messages.DEACTIVATED_EMAIL.format(email=email))
        else:
            found[email] = user["id"]
    return found, problems


def _channel_warnings(client: WebClient, channels: list[str]) -> list[str]:
    """A line for each channel alerts cannot be posted in yet: the bot is not in it, or it is archived."""
    warnings = []
    for channel in channels:
        try:
            found = client.conversations_info(channel=channel)["channel"]
        except SlackApiError as error:
            code = str(error.response.get("error"))
            if code == "channel_not_found":  # a private channel the bot is not in
                warnings.append(messages.INVITE_AT_SAVE.format(channel=channel))
            else:
                log.warning("conversations.info failed: %s", code)
                warnings.append(messages.CHANNEL_NOT_CHECKED.format(channel=channel, reason=code))
            continue
        except (SlackClientError, OSError) as error:
            log.warning("conversations.info failed: %s", type(error).__name__)
            warnings.append(messages.CHANNEL_NOT_CHECKED.format(channel=channel, reason=type(error).__name__))
            continue
        if found.get("is_archived"):
            warnings.append(messages.ARCHIVED_AT_SAVE.format(channel=channel))
        elif not found.get("is_member"):
            warnings.append(messages.INVITE_AT_SAVE.format(channel=channel))
    return warnings


def register(app: App) -> None:
    app.action(REMINDER_ACTION)(ack=acknowledge, lazy=[open_reminder_modal])
    app.view(REMINDER_VIEW)(ack=submit_reminder, lazy=[finish_reminder])
