"""Buy credits from an account box: the customer is invoiced, there is no payment gateway."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Config
from handlers.accounts import BUY_ACTION
from handlers.common import Denied, config, db, escape, render, require
from handlers.modals import account_id_from, acknowledge, build_confirmation_view, open_account_form
from store import invoices, ledger
from store.errors import StoreError
from store.models import Account, Role

BUY_VIEW = "buy_credits"
BOUGHT_VIEW = "credits_bought"
CREDITS_BLOCK = "credits"
CREDITS_INPUT = "credits_input"
BUYING = "buy credits"
EXAMPLE_CREDITS = 1000


def pricing(settings: Config) -> invoices.Pricing:
    return invoices.Pricing(settings.credit_price, settings.vat_rate, settings.currency)


def percent(rate: Decimal) -> str:
    """0.20 -> "20%", 0.175 -> "17.5%"."""
    return f"{(rate * 100).normalize():f}%"


def build_buy_modal(account: Account, settings: Config) -> dict[str, Any]:
    """The purchase form: how many credits, with the price spelled out."""
    prices = pricing(settings)
    example = invoices.quote(prices, min(EXAMPLE_CREDITS, settings.max_purchase_credits))
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
                    "text": f"*{escape(account.name)}* (`{escape(account.reference)}`) has "
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
                    "text": f"A whole number from 1 to {settings.max_purchase_credits:,}.",
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


def open_buy_modal(
    body: dict[str, Any], client: WebClient, context: BoltContext, respond: Respond, logger: logging.Logger
) -> None:
    """Buy credits button: the form for an active account, or a modal saying why not."""
    settings = config(context)
    open_account_form(
        body,
        client,
        context,
        respond,
        logger,
        needed=Role.BILLING,
        doing=BUYING,
        refusal_title="Cannot buy credits",
        build=lambda account: build_buy_modal(account, settings),
    )


def submit_purchase(
    ack: Ack,
    body: dict[str, Any],
    view: dict[str, Any],
    context: BoltContext,
    logger: logging.Logger,
) -> None:
    """Add the credits and issue the invoice in one transaction, once per modal."""
    user_id = body["user"]["id"]
    settings = config(context)
    raw = view["state"]["values"].get(CREDITS_BLOCK, {}).get(CREDITS_INPUT, {}).get("value") or ""
    try:
        require(context, user_id, Role.BILLING, BUYING)
        credits = ledger.parse_credits(raw, maximum=settings.max_purchase_credits)
        account_id = account_id_from(view["private_metadata"])
        with db(context).begin() as session:
            # The view id is the idempotency key: a double submit or a retry buys once.
            bought = invoices.purchase(
                session,
                account_id,
                credits,
                pricing(settings),
                actor=user_id,
                key=f"view:{view['id']}",
                today=date.today(),
            )
            confirmation = build_bought_view(bought)
    except (Denied, StoreError) as refused:
        ack(response_action="errors", errors={CREDITS_BLOCK: str(refused)})
        return
    except SQLAlchemyError:
        logger.exception("purchase failed")
        ack(
            response_action="errors",
            errors={
                CREDITS_BLOCK: "The purchase could not be saved, so nothing was bought or "
                "invoiced. Please try again in a moment."
            },
        )
        return
    ack(response_action="update", view=confirmation)


def register(app: App) -> None:
    app.action(BUY_ACTION)(ack=acknowledge, lazy=[open_buy_modal])
    app.view(BUY_VIEW)(submit_purchase)
