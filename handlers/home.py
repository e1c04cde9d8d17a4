"""App Home: what the bot does and what the visitor's role lets them do."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.common import config, db
from handlers.help import help_text
from store import roles
from store.models import Role


def build_home(role: Role | None, user_id: str, help: str) -> dict[str, Any]:
    """The Home tab: the help text plus the visitor's access."""
    access = (
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


def publish_home(event: dict[str, Any], client: WebClient, context: BoltContext, logger: Any) -> None:
    """Draw the Home tab whenever someone opens it."""
    if event.get("tab") != "home":
        return
    user_id = event["user"]
    settings = config(context)
    with db(context).begin() as session:
        role = roles.role_of(session, user_id)
    try:
        client.views_publish(
            user_id=user_id,
            view=build_home(
                role, user_id, help_text(settings.invoice_history_start, settings.account_manager)
            ),
        )
    except SlackApiError as error:
        logger.warning("views.publish failed for %s: %s", user_id, error.response.get("error"))


def register(app: App) -> None:
    app.event("app_home_opened")(ack=lambda ack: ack(), lazy=[publish_home])
