"""Deactivate and activate an account from its box (admin): its credits, history and invoices stay."""

from __future__ import annotations

from slack_bolt import App
from slack_bolt.kwargs_injection.args import Args
from sqlalchemy.orm import Session

from handlers import parse
from handlers.account_box import ACTIVATE_ACTION, DEACTIVATE_ACTION
from handlers.common import literal
from handlers.home import redraw
from handlers.interaction import Interaction, acknowledge, checked, say_privately
from handlers.origin import origin_of
from store import accounts as account_store
from store.models import Role

CHANGING = "deactivate or activate accounts"


def change_status(args: Args) -> None:
    """Make the account inactive (or active again), say what that means, and redraw where it was."""
    it = Interaction(args)
    action = (it.body.get("actions") or [{}])[0]
    wanted = action.get("action_id") == ACTIVATE_ACTION

    def change(session: Session, role: Role) -> str:
        account = account_store.get(session, parse.account_id(action.get("value")))
        changed = account_store.set_active(session, account, wanted, it.user_id)
        return account_store.status_message(account, changed)

    said = checked(it, Role.ADMIN, CHANGING, say_privately, change, writes=True)
    if said is None:
        return
    origin = origin_of(it.body)
    redraw(it.client, it.services, it.user_id, origin, literal(said))
    if origin is None or "home" not in origin:
        say_privately(it, literal(said))


def register(app: App) -> None:
    for action_id in (DEACTIVATE_ACTION, ACTIVATE_ACTION):
        app.action(action_id)(ack=acknowledge, lazy=[change_status])
