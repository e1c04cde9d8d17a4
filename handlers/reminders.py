"""Low credit reminders: the settings modal; the pass that sends them is jobs.low_credit."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.accounts import REMINDER_ACTION
from handlers.common import Denied, db, escape, require
from store import accounts as account_store
from store import reminders
from store.errors import StoreError
from store.models import Account, Role

REMINDER_VIEW = "low_credit_reminder"
ENABLED_BLOCK, ENABLED_INPUT, ENABLED_VALUE = "enabled", "enabled_input", "on"
LEVEL_BLOCK, LEVEL_INPUT = "level", "level_input"
EMAILS_BLOCK, EMAILS_INPUT = "emails", "emails_input"
PEOPLE_BLOCK, PEOPLE_INPUT = "people", "people_input"
TITLE = "Low credit reminder"

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
        f"*{escape(account.name)}* `{escape(account.reference)}`\nBalance: {account.balance:,} credits"
    )


def build_settings_modal(account: Account) -> dict[str, Any]:
    """The editable settings, filled with the account's current ones."""
    emails, people = _split(account)
    switch: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": ENABLED_INPUT,
        "options": [{"text": _text("Send low credit reminders"), "value": ENABLED_VALUE}],
    }
    if account.reminder_enabled:
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
                    "initial_value": str(account.reminder_level),
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
        f"Recipients: {', '.join(who) or 'none'}"
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
                "elements": [{"type": "mrkdwn", "text": "Only billing or admin users can change reminders."}],
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
                f"Saved the low credit reminder for *{escape(account.name)}* `{escape(account.reference)}`."
            ),
            _section(_summary(account)),
        ],
    }


# settings listeners


def acknowledge(ack: Ack) -> None:
    ack()


def open_reminder_modal(
    body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    """Open the settings (billing and admin) or a read-only view of them (viewer)."""
    user_id = body["user"]["id"]
    try:
        role = require(context, user_id, Role.VIEWER, "see reminders")
        with db(context).begin() as session:
            account = account_store.get(session, int(action["value"]))
            can_edit = role.allows(Role.BILLING)
            view = build_settings_modal(account) if can_edit else build_readonly_modal(account)
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except (Denied, StoreError) as problem:
        respond(text=str(problem), response_type="ephemeral", replace_original=False)
    except ValueError:
        respond(
            text="That button is out of date; run `/accounts` again.",
            response_type="ephemeral",
            replace_original=False,
        )
    except SlackApiError as error:
        log.warning("views.open for reminders failed: %s", error.response.get("error"))
        respond(
            text="Slack would not open the reminder settings; please click again.",
            response_type="ephemeral",
            replace_original=False,
        )


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
                problems.append(f"No one in this Slack workspace has the email {email}.")
            else:
                log.warning("users.lookupByEmail failed: %s", code)
                problems.append(f"Slack could not check {email} ({code}); try saving again.")
            continue
        except SlackClientError as error:
            log.warning("users.lookupByEmail failed: %s", type(error).__name__)
            problems.append(f"Slack could not check {email}; try saving again.")
            continue
        if user.get("deleted"):
            problems.append(f"{email} belongs to a deactivated Slack user.")
        else:
            found[email] = user["id"]
    return found, problems


def submit_reminder(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Validate everything, look each email up, then save all of it or nothing."""
    user_id = body["user"]["id"]
    values = view["state"]["values"]
    try:
        require(context, user_id, Role.BILLING, "change low credit reminders")
    except Denied as denied:
        ack(response_action="errors", errors={ENABLED_BLOCK: str(denied)})
        return
    errors: dict[str, str] = {}
    enabled = bool((values.get(ENABLED_BLOCK, {}).get(ENABLED_INPUT) or {}).get("selected_options"))
    level = 0
    try:
        level = reminders.parse_level(values[LEVEL_BLOCK][LEVEL_INPUT].get("value") or "")
    except StoreError as problem:
        errors[LEVEL_BLOCK] = str(problem)
    emails: list[str] = []
    raw_emails = (values.get(EMAILS_BLOCK, {}).get(EMAILS_INPUT) or {}).get("value")
    try:
        emails = reminders.parse_emails(raw_emails)
    except reminders.InvalidEmails as problem:
        errors[EMAILS_BLOCK] = str(problem)
    people = (values.get(PEOPLE_BLOCK, {}).get(PEOPLE_INPUT) or {}).get("selected_users") or []
    if EMAILS_BLOCK not in errors:
        found, problems = _lookup_errors(client, emails)
        if problems:
            errors[EMAILS_BLOCK] = " ".join(problems)
    if enabled and not emails and not people and EMAILS_BLOCK not in errors:
        errors[EMAILS_BLOCK] = "Add at least one email address or person to remind."
    if errors:
        ack(response_action="errors", errors={k: v[:2000] for k, v in errors.items()})
        return
    recipients = [reminders.Recipient(email, found[email]) for email in emails] + [
        reminders.Recipient(person, person) for person in dict.fromkeys(people)
    ]
    try:
        with db(context).begin() as session:
            account = account_store.get(session, int(view["private_metadata"]))
            reminders.configure(session, account, enabled, level, recipients, user_id)
            saved = build_saved_modal(account)
    except StoreError as problem:
        ack(response_action="errors", errors={ENABLED_BLOCK: str(problem)})
        return
    ack(response_action="update", view=saved)


def register(app: App) -> None:
    app.action(REMINDER_ACTION)(ack=acknowledge, lazy=[open_reminder_modal])
    app.view(REMINDER_VIEW)(submit_reminder)
