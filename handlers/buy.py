"""Buy credits from an account box: the customer is invoiced, there is no payment gateway."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from slack_bolt import App
from slack_bolt.kwargs_injection.args import Args
from sqlalchemy.orm import Session

from handlers import messages, parse
from handlers.account_box import BUY_ACTION
from handlers.common import bold, escape, render
from handlers.home import redraw_after_submit
from handlers.interaction import (
    Interaction,
    account_form,
    acknowledge,
    build_confirmation_view,
    checked,
    field_error,
    needs,
    redraw,
    redraw_in_place,
)
from handlers.origin import in_place_of
from handlers.services import Services
from store import accounts as account_store
from store import invoices, ledger
from store.errors import StoreError
from store.models import Account, Role

BUY_VIEW = "buy_credits"
BOUGHT_VIEW = "credits_bought"
CREDITS_BLOCK = "credits"
CREDITS_INPUT = "credits_input"
BUYING = "buy credits"
EXAMPLE_CREDITS = 1000
PRICE_BLOCK = "price"


def percent(rate: Decimal) -> str:
    """0.20 -> "20%", 0.175 -> "17.5%"."""
    return f"{(rate * 100).normalize():f}%"


def price_text(prices: invoices.Pricing, max_credits: int, typed: str = "") -> str:
    """The price of what was typed, as the invoice will state it; an example until something is."""
    problem = None
    credits = min(EXAMPLE_CREDITS, max_credits)
    if typed.strip():
        try:
            credits = ledger.parse_credits(typed, maximum=max_credits)
        except StoreError as invalid:
            problem = str(invalid)
    quoted = invoices.quote(prices, credits)
    return render(
        "purchase_prices.md.j2",
        unit_price=f"{prices.currency} {prices.unit_price:f}",
        vat_rate=percent(prices.vat_rate),
        typed=bool(typed.strip()) and problem is None,
        problem=problem,
        example=quoted,
        net=invoices.format_money(quoted.net, quoted.currency),
        vat=invoices.format_money(quoted.vat, quoted.currency),
        total=invoices.format_money(quoted.total, quoted.currency),
    )


def build_buy_modal(
    account: Account, prices: invoices.Pricing, max_credits: int, typed: str = ""
) -> dict[str, Any]:
    """The purchase form: how many credits, with the price of what was typed spelled out."""
    return {
        "type": "modal",
        "callback_id": BUY_VIEW,
        "private_metadata": str(account.id),
        "title": {"type": "plain_text", "text": "Buy credits"},
        "submit": {"type": "plain_text", "text": "Buy and invoice"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"{bold(account.name)} (`{escape(account.reference)}`) has "
                    f"{account.balance:,} credits.",
                },
            },
            {
                "type": "section",
                "block_id": PRICE_BLOCK,
                "text": {"type": "mrkdwn", "text": price_text(prices, max_credits, typed)},
            },
            {
                "type": "input",
                "block_id": CREDITS_BLOCK,
                "dispatch_action": True,  # each keystroke reprices the form (price_as_typed)
                "label": {"type": "plain_text", "text": "Number of credits"},
                "hint": {
                    "type": "plain_text",
                    "text": f"A whole number from 1 to {max_credits:,}.",
                },
                "element": {
                    "type": "plain_text_input",
                    "action_id": CREDITS_INPUT,
                    "placeholder": {"type": "plain_text", "text": "e.g. 5000"},
                    "max_length": 20,
                    "dispatch_action_config": {"trigger_actions_on": ["on_character_entered"]},
                },
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "There is no card payment: the credits are added at once "
                        "and the customer is invoiced.",
                    }
                ],
            },
        ],
    }


def build_bought_view(bought: invoices.Purchase) -> dict[str, Any]:
    """The confirmation: credits bought, the new balance and the invoice."""
    invoice = bought.invoice
    text = render(
        "purchase_confirmation.md.j2",
        account=bought.account,
        invoice=invoice,
        replayed=bought.replayed,
        net=invoices.format_money(invoice.net, invoice.currency),
        vat=invoices.format_money(invoice.vat, invoice.currency),
        vat_rate=percent(invoice.vat_rate),
        total=invoices.format_money(invoice.total, invoice.currency),
    )
    return build_confirmation_view(BOUGHT_VIEW, "Credits bought", text, bought.account)


def buy_form(account: Account, role: Role, services: Services) -> dict[str, Any]:
    return build_buy_modal(account, services.pricing, services.limits.max_purchase_credits)


open_buy_modal = account_form(Role.BILLING, BUYING, "Cannot buy credits", buy_form)


@needs(Role.BILLING, BUYING, field_error(CREDITS_BLOCK), writes=True)
def submit_purchase(
    view: dict[str, Any], user_id: str, services: Services, session: Session
) -> dict[str, Any]:
    """Add the credits and issue the invoice in one transaction, once per modal."""
    raw = view["state"]["values"].get(CREDITS_BLOCK, {}).get(CREDITS_INPUT, {}).get("value") or ""
    credits = ledger.parse_credits(raw, maximum=services.limits.max_purchase_credits)
    # The view id is the idempotency key: a double submit or a retry buys once.
    bought = invoices.purchase(
        session,
        parse.form_account_id(view.get("private_metadata")),
        credits,
        services.pricing,
        actor=user_id,
        key=f"view:{view['id']}",
        today=date.today(),
    )
    return {"response_action": "update", "view": build_bought_view(bought)}


def price_as_typed(args: Args) -> None:
    """The amount changed: the form is redrawn with the net, VAT and total for it."""
    it = Interaction(args)
    current = it.body.get("view") or {}
    typed = str(((it.body.get("actions") or [{}])[0]).get("value") or "")

    def load(session: Session, role: Role) -> dict[str, Any]:
        account = account_store.active(session, parse.form_account_id(current.get("private_metadata")))
        form = build_buy_modal(account, it.services.pricing, it.services.limits.max_purchase_credits, typed)
        return in_place_of(form, current)

    view = checked(it, Role.BILLING, BUYING, redraw("Buy credits"), load)
    if view is not None:
        redraw_in_place(it, view, messages.FORM_NOT_REDRAWN)


def register(app: App) -> None:
    app.action(BUY_ACTION)(ack=acknowledge, lazy=[open_buy_modal])
    app.action(CREDITS_INPUT)(ack=acknowledge, lazy=[price_as_typed])
    app.view(BUY_VIEW)(ack=submit_purchase, lazy=[redraw_after_submit])
