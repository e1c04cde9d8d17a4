"""Buy credits from an account box: the customer is invoiced, there is no payment gateway."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from slack_bolt import App
from sqlalchemy.orm import Session

from handlers import parse
from handlers.account_box import BUY_ACTION
from handlers.common import bold, escape, render
from handlers.home import redraw_after_submit
from handlers.interaction import account_form, acknowledge, build_confirmation_view, field_error, needs
from handlers.services import Services
from store import invoices, ledger
from store.models import Account, Role

BUY_VIEW = "buy_credits"
BOUGHT_VIEW = "credits_bought"
CREDITS_BLOCK = "credits"
CREDITS_INPUT = "credits_input"
BUYING = "buy credits"
EXAMPLE_CREDITS = 1000


def percent(rate: Decimal) -> str:
    """0.20 -> "20%", 0.175 -> "17.5%"."""
    return f"{(rate * 100).normalize():f}%"


def build_buy_modal(account: Account, prices: invoices.Pricing, max_credits: int) -> dict[str, Any]:
    """The purchase form: how many credits, with the price spelled out."""
    example = invoices.quote(prices, min(EXAMPLE_CREDITS, max_credits))
    price_text = render(
        "purchase_prices.md.j2",
        unit_price=f"{prices.currency} {prices.unit_price:f}",
        vat_rate=percent(prices.vat_rate),
        example=example,
        net=invoices.format_money(example.net, example.currency),
        vat=invoices.format_money(example.vat, example.currency),
        total=invoices.format_money(example.total, example.currency),
    )
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
            {"type": "section", "text": {"type": "mrkdwn", "text": price_text}},
            {
                "type": "input",
                "block_id": CREDITS_BLOCK,
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


def register(app: App) -> None:
    app.action(BUY_ACTION)(ack=acknowledge, lazy=[open_buy_modal])
    app.view(BUY_VIEW)(ack=submit_purchase, lazy=[redraw_after_submit])
