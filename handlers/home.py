"""App Home: what the bot does and what the visitor's role lets them do."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers import parse
from handlers.help import help_text
from handlers.interaction import acknowledge, failure_message, slack_reason
from handlers.services import services
from store import roles
from store.models import Role

log = logging.getLogger(__name__)


def build_home(role: Role | None, user_id: str, help: str, problem: str | None = None) -> dict[str, Any]:
    """The Home tab: the help text plus the visitor's access (or why it cannot be shown now)."""
    access = problem or (
        f"You are *{role.value}* in admin-bot."
        if role
        else f"You have no access yet: ask an admin to run `admin-bot roles grant {user_id} viewer`."
    )
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "admin-bot"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": help}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": access}]},
        ],
    }


def publish_home(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Draw the Home tab whenever someone opens it."""
    user_id = parse.slack_user_id(event.get("user"))
    if event.get("tab") != "home" or user_id is None:
        return
    limits = services(context).limits
    help = help_text(limits.invoice_history_start, limits.account_manager)
    try:
        with services(context).reads.begin() as session:
            view = build_home(roles.role_of(session, user_id), user_id, help)
    except Exception as error:  # noqa: BLE001 - the boundary: Home says so instead of staying blank
        view = build_home(None, user_id, help, failure_message(error))
    try:
        client.views_publish(user_id=user_id, view=view)
    except (SlackApiError, SlackClientError, OSError) as error:
        log.warning("views.publish failed for %s: %s", user_id, slack_reason(error))


def register(app: App) -> None:
    app.event("app_home_opened")(ack=acknowledge, lazy=[publish_home])
