"""Buy credits from an account box: prices, validation, permissions, invoicing and replays."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.config import Config
from handlers import messages
from handlers.account_box import BUY_ACTION
from handlers.buy import BOUGHT_VIEW, BUY_VIEW, CREDITS_BLOCK, CREDITS_INPUT
from store.models import EntryKind, Invoice, LedgerEntry, Role
from tests.blockkit import assert_valid_view, visible_text
from tests.conftest import balance_of, grant_role, make_account
from tests.slack_requests import SlackRequests, open_view, plain_text


@pytest.fixture
def config(config: Config, request: pytest.FixtureRequest) -> Config:
    """The test settings, with prices changed where a test parametrizes them."""
    return replace(config, **getattr(request, "param", {}))


def click_buy(slack: SlackRequests, fake_slack, account_id: object, **fields) -> dict:
    """Click Buy credits on an account box; return the modal the bot opened."""
    shown = len(fake_slack.view_history)
    assert slack.block_action(BUY_ACTION, value=str(account_id), **fields).status == 200
    view = open_view(fake_slack, shown)  # the modal opened by this click, not an earlier one
    # Validate what the bot sent; the stored copy has Slack's defaults filled in.
    assert_valid_view(fake_slack.calls_to("views.open")[-1].params["view"])
    return view


def submit_credits(slack: SlackRequests, view: dict, credits: str | None, **fields) -> dict:
    values = {CREDITS_BLOCK: {CREDITS_INPUT: plain_text(credits)}}
    return slack.view_submission(view, values, **fields).json()


def invoices_and_purchases(session_factory) -> tuple[list[Invoice], int]:
    with session_factory.begin() as session:
        found = list(session.scalars(select(Invoice).order_by(Invoice.id)))
        purchases = session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == EntryKind.PURCHASE.value)
        )
    return found, purchases or 0


def test_buy_modal_shows_unit_price_vat_and_an_example_total(slack, fake_slack, admin, session_factory):
    account = make_account(session_factory, "EX0000001", "Acme Marketing", credits=300)
    view = click_buy(slack, fake_slack, account.id)
    assert view["callback_id"] == BUY_VIEW
    text = visible_text(view)
    assert "GBP 0.045 per credit" in text and "VAT at 20%" in text
    # 1,000 x 0.045 = 45.00 net, 9.00 VAT, 54.00 total.
    assert "1,000 credits cost GBP 45.00 + GBP 9.00 VAT = *GBP 54.00*" in text
    assert "300 credits" in text and "invoiced" in text
    assert "1 to 1,000,000" in text


def test_buying_adds_credits_issues_invoice_and_confirms(slack, fake_slack, session_factory):
    account = make_account(session_factory, "EX0000001", "Acme Marketing", credits=300)
    grant_role(session_factory, "U0BILLING1", Role.BILLING)
    view = click_buy(slack, fake_slack, account.id, user_id="U0BILLING1")
    reply = submit_credits(slack, view, "2,500", user_id="U0BILLING1")
    assert reply["response_action"] == "update"
    assert reply["view"]["callback_id"] == BOUGHT_VIEW
    assert_valid_view(reply["view"])
    assert balance_of(session_factory, "EX0000001") == 2800
    [invoice], purchases = invoices_and_purchases(session_factory)
    assert purchases == 1
    assert (invoice.credits, invoice.net, invoice.vat, invoice.total, invoice.currency) == (
        2500,
        Decimal("112.50"),
        Decimal("22.50"),
        Decimal("135.00"),
        "GBP",
    )
    assert invoice.issued_on == date.today() and invoice.created_by == "U0BILLING1"
    text = visible_text(reply["view"])
    assert "Bought *2,500 credits*" in text and "New balance: *2,800 credits*" in text
    assert invoice.number in text
    assert "net GBP 112.50, VAT (20%) GBP 22.50, total *GBP 135.00*" in text


def test_submitting_the_same_modal_twice_buys_once(slack, fake_slack, admin, session_factory):
    account = make_account(session_factory, "EX0000001", "Acme Marketing", credits=10)
    view = click_buy(slack, fake_slack, account.id)
    first = submit_credits(slack, view, "100")
    second = submit_credits(slack, view, "100")
    assert first["response_action"] == second["response_action"] == "update"
    assert_valid_view(second["view"])
    assert balance_of(session_factory, "EX0000001") == 110
    [invoice], purchases = invoices_and_purchases(session_factory)
    assert purchases == 1
    assert invoice.number in visible_text(second["view"])
    assert "already made" in visible_text(second["view"])


def test_a_new_modal_is_a_new_purchase(slack, fake_slack, admin, session_factory):
    account = make_account(session_factory, "EX0000001", "Acme Marketing")
    for _ in range(2):
        submit_credits(slack, click_buy(slack, fake_slack, account.id), "5")
    found, purchases = invoices_and_purchases(session_factory)
    assert balance_of(session_factory, "EX0000001") == 10
    assert purchases == 2 and len({invoice.number for invoice in found}) == 2


@pytest.mark.parametrize(
    ("credits", "message"),
    [
        ("", "Enter a whole number of credits"),
        (None, "Enter a whole number of credits"),
        ("0", "from 1 to 1,000,000"),
        ("-5", "from 1 to 1,000,000"),
        ("2.5", "Enter a whole number of credits"),
        ("lots", "Enter a whole number of credits"),
        ("1000001", "from 1 to 1,000,000"),
    ],
)
def test_invalid_credits_show_inline_error_and_change_nothing(
    slack, fake_slack, admin, session_factory, credits, message
):
    account = make_account(session_factory, "EX0000001", "Acme Marketing", credits=50)
    view = click_buy(slack, fake_slack, account.id)
    reply = submit_credits(slack, view, credits)
    assert reply["response_action"] == "errors"
    assert message in reply["errors"][CREDITS_BLOCK]
    assert balance_of(session_factory, "EX0000001") == 50
    assert invoices_and_purchases(session_factory) == ([], 0)


def test_viewer_cannot_buy_from_button_or_submission(slack, fake_slack, admin, session_factory):
    account = make_account(session_factory, "EX0000001", "Acme Marketing", credits=50)
    grant_role(session_factory, "U0VIEWER1", Role.VIEWER)
    notice = click_buy(slack, fake_slack, account.id, user_id="U0VIEWER1")
    assert notice.get("submit") is None
    assert "You need the billing role to buy credits; your role is viewer" in visible_text(notice)
    form = click_buy(slack, fake_slack, account.id)
    reply = submit_credits(slack, form, "100", user_id="U0VIEWER1")
    assert reply["response_action"] == "errors"
    assert "billing role" in reply["errors"][CREDITS_BLOCK]
    assert balance_of(session_factory, "EX0000001") == 50
    assert invoices_and_purchases(session_factory) == ([], 0)


def test_inactive_or_unknown_account_is_refused(slack, fake_slack, admin, session_factory):
    active = make_account(session_factory, "EX0000001", "Open Co")
    closed = make_account(session_factory, "EX0000002", "Closed Co", active=False)
    assert "Account EX0000002 is inactive" in visible_text(click_buy(slack, fake_slack, closed.id))
    assert "No account has the id 999" in visible_text(click_buy(slack, fake_slack, "999"))
    form = click_buy(slack, fake_slack, active.id)
    for crafted, message in (
        (str(closed.id), "Account EX0000002 is inactive."),
        ("999", "No account has the id 999. Run `/accounts` to see current accounts."),
        ("junk", "This form is out of date, please open it again."),
        ("99999999999999999999", "This form is out of date, please open it again."),
    ):
        reply = submit_credits(slack, {**form, "private_metadata": crafted}, "100")
        assert reply == {"response_action": "errors", "errors": {CREDITS_BLOCK: message}}
    assert balance_of(session_factory, "EX0000002") == 0
    assert invoices_and_purchases(session_factory) == ([], 0)


def test_account_named_channel_is_escaped_in_modal_and_confirmation(
    slack, fake_slack, admin, session_factory
):
    account = make_account(session_factory, "EX0000001", "<!channel> & co")
    view = click_buy(slack, fake_slack, account.id)
    assert "&lt;!channel&gt; &amp; co" in visible_text(view)
    assert "<!channel>" not in visible_text(view)
    reply = submit_credits(slack, view, "10")
    assert_valid_view(reply["view"])
    shown = visible_text(reply["view"])
    assert "&lt;!channel&gt; &amp; co" in shown and "<!channel>" not in shown


EURO_PRICES = {
    "credit_price": Decimal("0.10"),
    "vat_rate": Decimal("0.175"),
    "currency": "EUR",
    "max_purchase_credits": 500,
}


@pytest.mark.parametrize("config", [EURO_PRICES], indirect=True)
def test_prices_and_maximum_come_from_settings(slack, fake_slack, admin, session_factory):
    account = make_account(session_factory)
    view = click_buy(slack, fake_slack, account.id)
    text = visible_text(view)
    assert "EUR 0.10 per credit" in text and "VAT at 17.5%" in text
    assert "500 credits cost EUR 50.00 + EUR 8.75 VAT = *EUR 58.75*" in text
    too_many = submit_credits(slack, view, "501")
    assert "from 1 to 500" in too_many["errors"][CREDITS_BLOCK]
    bought = submit_credits(slack, view, "500")
    assert "net EUR 50.00, VAT (17.5%) EUR 8.75, total *EUR 58.75*" in visible_text(bought["view"])
    [invoice], _ = invoices_and_purchases(session_factory)
    assert (invoice.currency, invoice.total) == ("EUR", Decimal("58.75"))


def test_the_form_prices_what_is_typed_and_the_invoice_pdf_agrees_to_the_penny(
    slack, fake_slack, admin, session_factory
):
    import io

    import pypdf
    from sqlalchemy.orm import joinedload

    from handlers.invoice_pdf import render_invoice_pdf
    from store.invoices import Supplier

    account = make_account(session_factory, "EX0000001", "Acme Marketing", credits=300)
    form = click_buy(slack, fake_slack, account.id)
    slack.block_action(
        CREDITS_INPUT, action_type="plain_text_input", value="3,333", block_id=CREDITS_BLOCK, view=form
    )
    [update] = fake_slack.wait_for("views.update")
    assert update.params["view_id"] == form["id"]
    assert_valid_view(update.params["view"])
    # 3,333 x 0.045 = 149.985 -> 149.99 net; VAT 29.998 -> 30.00; total 179.99.
    assert "*3,333 credits* cost GBP 149.99 + GBP 30.00 VAT = *GBP 179.99*" in visible_text(
        update.params["view"]
    )
    assert update.params["view"]["private_metadata"] == form["private_metadata"]

    slack.block_action(
        CREDITS_INPUT, action_type="plain_text_input", value="12x", block_id=CREDITS_BLOCK, view=form
    )
    assert "Enter a whole number of credits" in visible_text(
        fake_slack.wait_for("views.update", 2)[-1].params["view"]
    )

    reply = submit_credits(slack, open_view(fake_slack), "3333")
    assert "total *GBP 179.99*" in visible_text(reply["view"])
    with session_factory.begin() as session:
        invoice = session.scalars(select(Invoice).options(joinedload(Invoice.account))).one()
        pdf = render_invoice_pdf(invoice, Supplier("Esendex", ("1 Street",), "GB123"))
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "Total: GBP 179.99" in text


def test_a_price_slack_will_not_redraw_is_told_by_dm(slack, fake_slack, admin, session_factory):
    """Retyping the amount is answered only by the redrawn form: if Slack refuses it, a DM says so."""
    account = make_account(session_factory, "EX0000001", "Acme Marketing", credits=300)
    form = click_buy(slack, fake_slack, account.id)
    fake_slack.fail("views.update", error="fatal_error", times=None)
    slack.block_action(
        CREDITS_INPUT, action_type="plain_text_input", value="12", block_id=CREDITS_BLOCK, view=form
    )
    [dm] = fake_slack.wait_for("chat.postMessage")
    assert (dm.params["channel"], dm.params["text"]) == (
        admin,
        messages.FORM_NOT_REDRAWN.format(reason="fatal_error"),
    )
    with session_factory.begin() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 0
