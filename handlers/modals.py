"""Modals opened from an account box: shared opening, refusal and summary helpers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.accounts import build_account_box, build_no_credits_note
from handlers.common import Denied, db, require
from store import accounts as account_store
from store.errors import StoreError, UnknownAccount
from store.models import Account, Role

NOTICE_VIEW = "admin_bot_notice"


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


def open_account_form(
    body: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    respond: Respond,
    logger: logging.Logger,
    *,
    needed: Role,
    doing: str,
    refusal_title: str,
    build: Callable[[Account], dict[str, Any]],
) -> None:
    """An account button's modal: the form for an active account the user may change, else why not."""
    try:
        require(context, body["user"]["id"], needed, doing)
        with db(context).begin() as session:
            account = account_store.active(session, account_id_from(body["actions"][0]["value"]))
            view = build(account)
    except Denied as denied:
        view = build_notice_view("Not allowed", str(denied))
    except StoreError as error:
        view = build_notice_view(refusal_title, f"{error} Run `/accounts` to see current accounts.")
    open_view(client, body["trigger_id"], view, respond, logger)


def build_confirmation_view(callback_id: str, title: str, text: str, account: Account) -> dict[str, Any]:
    """The view that replaces a submitted form: what happened, then the account as it is now."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": {"type": "plain_text", "text": title},
        "close": {"type": "plain_text", "text": "Done"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            *account_summary(account),
        ],
    }
