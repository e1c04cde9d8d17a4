"""Rename an account from its account box: a modal with the name prefilled."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.accounts import RENAME_ACTION
from handlers.common import Denied, db, escape, render, require
from handlers.modals import account_id_from, acknowledge, build_confirmation_view, open_account_form
from store import accounts as account_store
from store.errors import StoreError
from store.models import NAME_MAX_LENGTH, Account, Role

RENAME_VIEW = "rename_account"
RENAMED_VIEW = "account_renamed"
NAME_BLOCK = "name"
NAME_INPUT = "name_input"
RENAMING = "rename accounts"


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
    return build_confirmation_view(RENAMED_VIEW, "Account renamed", text, account)


def open_rename_modal(
    body: dict[str, Any], client: WebClient, context: BoltContext, respond: Respond, logger: logging.Logger
) -> None:
    """Rename button: the form for an active account, or a modal saying why not."""
    open_account_form(
        body,
        client,
        context,
        respond,
        logger,
        needed=Role.ADMIN,
        doing=RENAMING,
        refusal_title="Cannot rename",
        build=lambda account: build_rename_modal(account),
    )


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
