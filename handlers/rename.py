"""Rename an account from its account box: a modal with the name prefilled."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.accounts import RENAME_ACTION, build_account_box, build_no_credits_note
from handlers.common import Denied, db, escape, render, require
from store import accounts as account_store
from store.errors import StoreError, UnknownAccount
from store.models import NAME_MAX_LENGTH, Account, Role

RENAME_VIEW = "rename_account"
RENAMED_VIEW = "account_renamed"
NOTICE_VIEW = "admin_bot_notice"
NAME_BLOCK = "name"
NAME_INPUT = "name_input"
RENAMING = "rename accounts"


def build_notice_view(title: str, text: str) -> dict[str, Any]:
    """A small modal that only tells the user something, e.g. why they may not go on."""
    return {
        "type": "modal",
        "callback_id": NOTICE_VIEW,
        "title": {"type": "plain_text", "text": title[:24]},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    }


def account_summary(account: Account) -> list[dict[str, Any]]:
    """The account box without its buttons, for confirmations inside a modal."""
    note = build_no_credits_note(account)
    return [
        block
        for block in build_account_box(account)
        if block["type"] not in ("actions", "divider") and block not in note
    ]


def build_rename_modal(account: Account) -> dict[str, Any]:
    """The rename form, prefilled with the current name; the account id rides along."""
    return {
        "type": "modal",
        "callback_id": RENAME_VIEW,
        "private_metadata": str(account.id),
        "title": {"type": "plain_text", "text": "Rename account"},
        "submit": {"type": "plain_text", "text": "Rename"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Renaming *{escape(account.name)}* (`{escape(account.reference)}`).",
                },
            },
            {
                "type": "input",
                "block_id": NAME_BLOCK,
                "label": {"type": "plain_text", "text": "New name"},
                "hint": {
                    "type": "plain_text",
                    "text": f"Up to {NAME_MAX_LENGTH} characters, no line breaks or tabs.",
                },
                "element": {
                    "type": "plain_text_input",
                    "action_id": NAME_INPUT,
                    # An input's value is shown literally, so the raw name is prefilled.
                    "initial_value": account.name,
                    "max_length": NAME_MAX_LENGTH,
                },
            },
        ],
    }


def build_renamed_view(account: Account, old_name: str) -> dict[str, Any]:
    """The confirmation that replaces the form: the new name and the account box."""
    text = render("rename_confirmation.md.j2", old_name=old_name, account=account)
    return {
        "type": "modal",
        "callback_id": RENAMED_VIEW,
        "title": {"type": "plain_text", "text": "Account renamed"},
        "close": {"type": "plain_text", "text": "Done"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            *account_summary(account),
        ],
    }


def account_id_from(raw: object) -> int:
    """The account id a button value or private_metadata carries, or UnknownAccount."""
    text = str(raw).strip()
    # Ids are positive 32-bit integers; anything else was crafted and names no account.
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise UnknownAccount(repr(text[:20]))
    return int(text)


def open_view(
    client: WebClient,
    trigger_id: str,
    view: dict[str, Any],
    respond: Respond | None,
    logger: logging.Logger,
) -> None:
    """views.open; if Slack refuses, say so privately where the user clicked."""
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        reason = error.response.get("error", "unknown error")
        logger.warning("views.open failed: %s", reason)
        if respond is None:
            return
        try:
            respond(
                text=f"Slack could not open the window ({reason}); nothing was changed. "
                "Please click the button again.",
                response_type="ephemeral",
                replace_original=False,
            )
        except Exception:  # the user cannot be reached; nothing was changed, so just log
            logger.exception("could not report the views.open failure")


def acknowledge(ack: Ack) -> None:
    ack()


def open_rename_modal(
    body: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    respond: Respond,
    logger: logging.Logger,
) -> None:
    """Rename button: the form for an active account, or a modal saying why not."""
    user_id, trigger_id = body["user"]["id"], body["trigger_id"]
    try:
        require(context, user_id, Role.ADMIN, RENAMING)
        with db(context).begin() as session:
            account = account_store.active(session, account_id_from(body["actions"][0]["value"]))
            view = build_rename_modal(account)
    except Denied as denied:
        view = build_notice_view("Not allowed", str(denied))
    except StoreError as error:
        view = build_notice_view("Cannot rename", f"{error} Run `/accounts` to see current accounts.")
    open_view(client, trigger_id, view, respond, logger)


def submit_rename(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """Validate and save the new name in the acknowledgement; errors show under the field."""
    user_id = body["user"]["id"]
    raw = view["state"]["values"].get(NAME_BLOCK, {}).get(NAME_INPUT, {}).get("value") or ""
    try:
        require(context, user_id, Role.ADMIN, RENAMING)
        with db(context).begin() as session:
            account = account_store.active(session, account_id_from(view["private_metadata"]))
            old_name = account.name
            account_store.rename(session, account, raw, actor=user_id)
            confirmation = build_renamed_view(account, old_name)
    except (Denied, StoreError) as refused:
        ack(response_action="errors", errors={NAME_BLOCK: str(refused)})
        return
    ack(response_action="update", view=confirmation)


def register(app: App) -> None:
    app.action(RENAME_ACTION)(ack=acknowledge, lazy=[open_rename_modal])
    app.view(RENAME_VIEW)(submit_rename)
