"""Low credit reminders: the settings modal; the pass that sends them is jobs.low_credit."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, Args
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session

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
    direct_message,
    field_error,
    needs,
    quietly,
    redraw,
    sections_text,
    update_view,
)
from handlers.messages import Refused
from handlers.services import Services
from store import accounts as account_store
from store import reminders
from store.errors import StoreError
from store.models import Account, Role

REMINDER_VIEW = "low_credit_reminder"
ENABLED_BLOCK, ENABLED_INPUT, ENABLED_VALUE = "enabled", "enabled_input", "on"
LEVEL_BLOCK, LEVEL_INPUT = "level", "level_input"
EMAILS_BLOCK, EMAILS_INPUT = "emails", "emails_input"
PEOPLE_BLOCK, PEOPLE_INPUT = "people", "people_input"
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


def _split(account: Account) -> tuple[list[str], list[str]]:
    emails = [r.address for r in account.recipients if "@" in r.address]
    people = [r.address for r in account.recipients if "@" not in r.address]
    return emails, people


def _heading(account: Account) -> dict[str, Any]:
    return _section(
        f"{bold(account.name)} `{escape(account.reference)}`\nBalance: {account.balance:,} credits"
    )


@dataclass(frozen=True)
class Entered:
    """The settings as submitted, before the email addresses are looked up."""

    enabled: bool
    level: int
    emails: list[str]
    people: list[str]


def build_settings_modal(
    account: Account, entered: Entered | None = None, problem: str | None = None
) -> dict[str, Any]:
    """The editable settings: the account's current ones, or what was entered with the problem in it."""
    emails, people = (entered.emails, entered.people) if entered else _split(account)
    enabled = entered.enabled if entered else account.reminder_enabled
    level = entered.level if entered else account.reminder_level
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
        ],
    }


def _summary(account: Account) -> str:
    emails, people = _split(account)
    who = [escape(address) for address in emails] + [f"<@{user}>" for user in people]
    return (
        f"Reminder: *{reminders.describe(account.reminder_enabled, account.reminder_level)}*\n"
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


def build_saved_modal(account: Account) -> dict[str, Any]:
    """The confirmation after saving: the reminder's state and level."""
    return {
        "type": "modal",
        "title": _text(TITLE),
        "close": _text("Done"),
        "blocks": [
            _section(
                f"Saved the low credit reminder for {bold(account.name)} `{escape(account.reference)}`."
            ),
            _section(_summary(account)),
        ],
    }


# settings listeners


def settings_form(account: Account, role: Role, services: Services) -> dict[str, Any]:
    """The settings for billing and admin, a read-only view of them for a viewer."""
    return build_settings_modal(account) if role.allows(Role.BILLING) else build_readonly_modal(account)


open_reminder_modal = account_form(Role.VIEWER, "see reminders", TITLE, settings_form)


def build_checking_modal() -> dict[str, Any]:
    """Shown while the email addresses are looked up in Slack, after the submission is acknowledged."""
    return {
        "type": "modal",
        "callback_id": CHECKING_VIEW,
        "title": _text(TITLE),
        "close": _text("Close"),
        "blocks": [_section(messages.CHECKING_EMAILS)],
    }


def read_settings(view: dict[str, Any]) -> Entered:
    """The submitted settings, or Refused naming the field that is wrong."""
    values = view["state"]["values"]
    enabled = bool((values.get(ENABLED_BLOCK, {}).get(ENABLED_INPUT) or {}).get("selected_options"))
    errors: dict[str, str] = {}
    level = 0
    try:
        level = reminders.parse_level((values.get(LEVEL_BLOCK, {}).get(LEVEL_INPUT) or {}).get("value") or "")
    except StoreError as problem:
        errors[LEVEL_BLOCK] = str(problem)
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
    if enabled and not emails and not people and EMAILS_BLOCK not in errors:
        errors[EMAILS_BLOCK] = messages.NO_RECIPIENTS
    try:
        reminders.check_recipient_count(len(emails) + len(people))
    except StoreError as problem:
        errors.setdefault(EMAILS_BLOCK, str(problem))
    if errors:
        raise FormErrors(errors)
    return Entered(enabled, level, emails, people)


class FormErrors(Exception):
    """Problems on several fields of one form, each shown under its field."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _save(
    session: Session, view: dict[str, Any], entered: Entered, found: dict[str, str], actor: str
) -> Account:
    recipients = [reminders.Recipient(email, found[email]) for email in entered.emails] + [
        reminders.Recipient(person, person) for person in entered.people
    ]
    account = account_store.active(session, parse.form_account_id(view.get("private_metadata")))
    reminders.configure(session, account, entered.enabled, entered.level, recipients, actor)
    return account


@needs(Role.BILLING, CHANGING, field_error(ENABLED_BLOCK), writes=True)
def submit_reminder(view: dict[str, Any], user_id: str, session: Session) -> dict[str, Any]:
    """Check the form; save at once, or, when emails need Slack, say so and finish after the ack."""
    parse.form_account_id(view.get("private_metadata"))  # a stale form is refused before any lookup
    try:
        entered = read_settings(view)
    except FormErrors as problems:
        return {"response_action": "errors", "errors": {k: v[:2000] for k, v in problems.errors.items()}}
    if entered.emails:
        # Looking addresses up may be slow (rate limits): never inside the 3-second acknowledgement.
        return {"response_action": "update", "view": build_checking_modal()}
    account = _save(session, view, entered, {}, user_id)
    return {"response_action": "update", "view": build_saved_modal(account)}


def finish_reminder(args: Args) -> None:
    """After the acknowledgement: look the emails up, then save and show the result in the same modal."""
    it, view, client = Interaction(args), args.view or {}, args.client
    try:
        entered = read_settings(view)
    except FormErrors:
        return  # shown under the fields in the acknowledgement
    try:
        parse.form_account_id(view.get("private_metadata"))  # alone, or beside where it was opened
    except Refused:
        return  # refused as out of date in the acknowledgement
    if not entered.emails:
        redraw_after_submit(args.body, client, args.context)  # saved in the acknowledgement
        return
    if not checked(it, Role.BILLING, CHANGING, quietly, lambda session, role: True):
        return  # refused in the acknowledgement: look nothing up for them
    found, problems = _lookup_errors(client, entered.emails)

    def save(session: Session, role: Role) -> dict[str, Any]:
        if problems:
            account = account_store.active(session, parse.form_account_id(view.get("private_metadata")))
            return build_settings_modal(account, entered, join_within(problems, SECTION_LIMIT - 20, " "))
        return build_saved_modal(_save(session, view, entered, found, it.user_id))

    result = checked(it, Role.BILLING, CHANGING, redraw(TITLE), save, writes=True)
    if result is not None:
        failed = update_view(client, view.get("id", ""), result)
        if failed not in (None, "hash_conflict"):
            # The window would stay at "Checking…": say what happened where the user will see it.
            direct_message(it, messages.RESULT_NOT_SHOWN.format(reason=failed, result=sections_text(result)))
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


def register(app: App) -> None:
    app.action(REMINDER_ACTION)(ack=acknowledge, lazy=[open_reminder_modal])
    app.view(REMINDER_VIEW)(ack=submit_reminder, lazy=[finish_reminder])
