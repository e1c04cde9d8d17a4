"""Rename an account from its account box: a modal with the name prefilled."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from sqlalchemy.orm import Session

from handlers import parse
from handlers.account_box import RENAME_ACTION
from handlers.common import bold, escape, render
from handlers.home import redraw_after_submit
from handlers.interaction import account_form, acknowledge, build_confirmation_view, field_error, needs
from store import accounts as account_store
from store import ledger
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
                    "text": f"Renaming {bold(account.name)} (`{escape(account.reference)}`).",
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
    """The confirmation that replaces the form: the new name (or that it had it) and the account box."""
    text = render("rename_confirmation.md.j2", old_name=old_name, account=account)
    return build_confirmation_view(RENAMED_VIEW, "Account renamed", text, account)


open_rename_modal = account_form(
    Role.ADMIN, RENAMING, "Cannot rename", lambda account, role, services: build_rename_modal(account)
)


@needs(Role.ADMIN, RENAMING, field_error(NAME_BLOCK), writes=True)
def submit_rename(view: dict[str, Any], user_id: str, session: Session) -> dict[str, Any]:
    """Validate and save the new name; errors show under the field."""
    raw = view["state"]["values"].get(NAME_BLOCK, {}).get(NAME_INPUT, {}).get("value") or ""
    account_id = parse.form_account_id(view.get("private_metadata"))
    ledger.lock(session, account_id)  # a second submission of the form waits, then finds the name set
    account = account_store.active(session, account_id)
    old_name = account.name
    account_store.rename(session, account, raw, actor=user_id)
    return {"response_action": "update", "view": build_renamed_view(account, old_name)}


def register(app: App) -> None:
    app.action(RENAME_ACTION)(ack=acknowledge, lazy=[open_rename_modal])
    app.view(RENAME_VIEW)(ack=submit_rename, lazy=[redraw_after_submit])
