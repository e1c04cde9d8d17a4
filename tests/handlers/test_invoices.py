"""/invoices: listing, filters, the cut-off, search, permissions and PDF copies in the DM."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import pypdf
import pytest

from bot.app import make_services
from bot.config import Config
from handlers.invoice_pdf import render_invoice_pdf
from handlers.invoices import (
    FROM_ACTION,
    FROM_BLOCK,
    NUMBER_ACTION,
    NUMBER_BLOCK,
    SELECT_ACTION,
    TO_ACTION,
    TO_BLOCK,
)
from store import invoices
from store.models import Invoice, Role
from tests.blockkit import assert_valid_view, visible_text
from tests.conftest import grant_role, make_account
from tests.fake_slack import FakeSlack
from tests.slack_requests import DEFAULT_USER_ID, SlackRequests, datepicker, open_view, option

PRICING = invoices.Pricing(Decimal("0.045"), Decimal("0.20"), "GBP")


def issue(session_factory, account_id: int, credits: int, on: str) -> Invoice:
    """Buy credits on a chosen day, which issues that day's invoice."""
    with session_factory.begin() as session:
        bought = invoices.purchase(
            session,
            account_id,
            credits,
            PRICING,
            "test",
            f"test:{account_id}:{credits}:{on}",
            date.fromisoformat(on),
        )
    return bought.invoice


def selection_block(view: dict[str, Any]) -> dict[str, Any]:
    [block] = [b for b in view["blocks"] if b.get("element", {}).get("action_id") == SELECT_ACTION]
    return block


def options_shown(view: dict[str, Any]) -> list[str]:
    return [o["text"]["text"] for o in selection_block(view)["element"]["options"]]


def filter_state(
    date_from: str | None = None, date_to: str | None = None, number: str | None = None
) -> dict[str, Any]:
    return {
        FROM_BLOCK: {FROM_ACTION: datepicker(date_from)},
        TO_BLOCK: {TO_ACTION: datepicker(date_to)},
        NUMBER_BLOCK: {NUMBER_ACTION: {"type": "plain_text_input", "value": number}},
    }


def selection_state(view: dict[str, Any], values: list[str]) -> dict[str, Any]:
    state = filter_state()
    chosen = {"type": "multi_static_select", "selected_options": [option(v) for v in values]}
    state[selection_block(view)["block_id"]] = {SELECT_ACTION: chosen}
    return state


def open_invoices(slack: SlackRequests, fake: FakeSlack, text: str = "") -> dict[str, Any]:
    answer = slack.command("/invoices", text)
    assert answer.status == 200 and answer.text == ""
    [sent] = fake.wait_for("views.open")
    assert_valid_view(sent.params["view"])
    return open_view(fake)


def change_filter(
    slack: SlackRequests,
    fake: FakeSlack,
    view: dict[str, Any],
    action_id: str,
    block_id: str,
    state: dict[str, Any],
    **action: Any,
) -> dict[str, Any]:
    """Change one filter in the open modal; return the modal as the bot redrew it."""
    updates = len(fake.calls_to("views.update"))
    slack.block_action(action_id, block_id=block_id, view=view, state_values=state, **action)
    [*_, call] = fake.wait_for("views.update", updates + 1)
    assert call.params["view_id"] == view["id"] and call.params["hash"] == view["hash"]
    assert_valid_view(call.params["view"])
    return open_view(fake)


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def test_invoices_lists_those_since_the_cutoff_newest_first(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    acme = make_account(session_factory, "EX0000001", "Acme Marketing")
    beta = make_account(session_factory, "EX0000002", "Beta Alerts")
    old = issue(session_factory, acme.id, 100, "2019-12-31")
    first = issue(session_factory, acme.id, 1000, "2023-05-01")
    second = issue(session_factory, beta.id, 2000, "2024-02-01")
    view = open_invoices(slack, fake_slack)
    text = visible_text(view)
    assert "2 invoice(s)* match" in text
    assert old.number not in text
    assert text.index(second.number) < text.index(first.number)
    assert f"`{first.number}` · 2023-05-01 · *Acme Marketing* · 1,000 credits · GBP 54.00" in text
    assert "*Beta Alerts* · 2,000 credits · GBP 108.00" in text
    assert options_shown(view)[0].startswith(f"{second.number} · 2024-02-01 · GBP 108.00")
    assert view["submit"]["text"] == "Download selected"
    assert "older invoices" not in text.lower()


def test_account_names_are_escaped_in_mrkdwn_and_literal_in_plain_text(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    account = make_account(session_factory, "EX0000001", "<!channel> & *Star*_Co_")
    issue(session_factory, account.id, 10, "2024-01-01")
    view = open_invoices(slack, fake_slack)
    mrkdwn = [node["text"] for node in walk_text(view) if node["type"] == "mrkdwn"]
    plain = [node["text"] for node in walk_text(view) if node["type"] == "plain_text"]
    # The listing is mrkdwn: escaped, and the bold name cannot end early or start italics.
    assert any("*&lt;!channel&gt; &amp; ∗Star∗ˍCoˍ*" in text for text in mrkdwn)
    assert not any("<!channel>" in text for text in mrkdwn)
    # The picker's option is plain_text, which Slack shows literally: no &amp; for the user to see.
    assert options_shown(view) == ["INV-2024-000001 · 2024-01-01 · GBP 0.54 · <!channel> & *Star*_Co_"]
    assert not any("&amp;" in text for text in plain)


def walk_text(node: Any) -> list[dict[str, Any]]:
    """Every text object in a view, with its type."""
    if isinstance(node, dict):
        found = [node] if node.get("type") in ("mrkdwn", "plain_text") and "text" in node else []
        return found + [text for value in node.values() for text in walk_text(value)]
    if isinstance(node, list):
        return [text for item in node for text in walk_text(item)]
    return []


def test_from_and_to_dates_redraw_the_list_in_place(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    account = make_account(session_factory)
    january = issue(session_factory, account.id, 10, "2024-01-15")
    march = issue(session_factory, account.id, 20, "2024-03-15")
    may = issue(session_factory, account.id, 30, "2024-05-15")
    view = open_invoices(slack, fake_slack)

    view = change_filter(
        slack,
        fake_slack,
        view,
        FROM_ACTION,
        FROM_BLOCK,
        filter_state("2024-03-01"),
        action_type="datepicker",
        value="2024-03-01",
    )
    text = visible_text(view)
    assert march.number in text and may.number in text and january.number not in text
    assert "2 invoice(s)* match" in text

    view = change_filter(
        slack,
        fake_slack,
        view,
        TO_ACTION,
        TO_BLOCK,
        filter_state("2024-03-01", "2024-04-30"),
        action_type="datepicker",
        value="2024-04-30",
    )
    text = visible_text(view)
    assert march.number in text and may.number not in text and january.number not in text
    assert [b["element"].get("initial_date") for b in view["blocks"][:2]] == [
        "2024-03-01",
        "2024-04-30",
    ]


def test_the_list_always_names_the_cutoff_and_the_account_manager(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    account = make_account(session_factory)
    old = issue(session_factory, account.id, 10, "2019-06-01")
    recent = issue(session_factory, account.id, 10, "2021-06-01")
    view = open_invoices(slack, fake_slack)
    note = (
        "Invoices are listed from 1 January 2020. For a copy of an older invoice, contact "
        "Your account manager &lt;accounts@example.com&gt;."
    )
    assert note in visible_text(view)  # on the default dates too, as the help article says
    view = change_filter(
        slack,
        fake_slack,
        view,
        FROM_ACTION,
        FROM_BLOCK,
        filter_state("2019-01-01"),
        action_type="datepicker",
        value="2019-01-01",
    )
    text = visible_text(view)
    assert note in text
    assert recent.number in text and old.number not in text


def test_nothing_in_the_period_says_so_without_a_download_button(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    account = make_account(session_factory)
    issue(session_factory, account.id, 10, "2024-01-15")
    view = open_invoices(slack, fake_slack)
    view = change_filter(
        slack,
        fake_slack,
        view,
        TO_ACTION,
        TO_BLOCK,
        filter_state(None, "2023-01-01"),
        action_type="datepicker",
        value="2023-01-01",
    )
    assert "No invoices in this period" in visible_text(view)
    assert view["submit"] is None


def test_command_text_searches_by_number(slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory):
    account = make_account(session_factory)
    wanted = issue(session_factory, account.id, 10, "2024-01-15")
    other = issue(session_factory, account.id, 20, "2024-02-15")
    view = open_invoices(slack, fake_slack, wanted.number.lower())
    text = visible_text(view)
    assert wanted.number in text and other.number not in text
    assert view["blocks"][2]["element"]["initial_value"] == wanted.number.lower()


def test_number_search_on_enter_redraws_the_list(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    account = make_account(session_factory)
    wanted = issue(session_factory, account.id, 10, "2024-01-15")
    other = issue(session_factory, account.id, 20, "2024-02-15")
    view = open_invoices(slack, fake_slack)
    suffix = wanted.number[-6:]
    view = change_filter(
        slack,
        fake_slack,
        view,
        NUMBER_ACTION,
        NUMBER_BLOCK,
        filter_state(number=suffix),
        action_type="plain_text_input",
        value=suffix,
    )
    text = visible_text(view)
    assert wanted.number in text and other.number not in text
    view = change_filter(
        slack,
        fake_slack,
        view,
        NUMBER_ACTION,
        NUMBER_BLOCK,
        filter_state(number="INV-1999"),
        action_type="plain_text_input",
        value="INV-1999",
    )
    assert "No invoices matching *INV-1999*" in visible_text(view)


def test_long_history_shows_100_and_says_how_many_matched(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    account = make_account(session_factory)
    with session_factory.begin() as session:
        for day in range(1, 106):
            invoices.purchase(
                session,
                account.id,
                day,
                PRICING,
                "test",
                f"bulk-{day}",
                date.fromordinal(date(2024, 1, 1).toordinal() + day),
            )
    view = open_invoices(slack, fake_slack)
    assert len(options_shown(view)) == 100
    assert "105 invoices* match; showing the newest 100" in visible_text(view)
    assert "Narrow the dates" in visible_text(view)


def test_submitting_nothing_selected_shows_inline_error(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    account = make_account(session_factory)
    issue(session_factory, account.id, 10, "2024-01-15")
    view = open_invoices(slack, fake_slack)
    answer = slack.view_submission(view, selection_state(view, [])).json()
    assert answer == {
        "response_action": "errors",
        "errors": {selection_block(view)["block_id"]: "Select at least one invoice to download."},
    }
    assert fake_slack.calls_to("files.getUploadURLExternal") == []


def test_download_sends_each_selected_invoice_as_a_pdf_to_the_dm(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    acme = make_account(session_factory, "EX0000001", "Acme Marketing")
    beta = make_account(session_factory, "EX0000002", "Beta Alerts")
    first = issue(session_factory, acme.id, 1000, "2023-05-01")
    second = issue(session_factory, beta.id, 2000, "2024-02-01")
    issue(session_factory, beta.id, 5, "2024-03-01")  # listed, not chosen
    view = open_invoices(slack, fake_slack)
    answer = slack.view_submission(view, selection_state(view, [str(first.id), str(second.id)]))
    reply = answer.json()
    assert reply["response_action"] == "update"
    assert_valid_view(reply["view"])
    assert "Your copies are on their way to your DM" in visible_text(reply["view"])

    fake_slack.wait_for("files.completeUploadExternal", 2)
    assert fake_slack.calls_to("files.upload") == []
    [opened] = fake_slack.calls_to("conversations.open")
    assert opened.params["users"] == DEFAULT_USER_ID
    files = fake_slack.uploaded_files()
    assert [f["filename"] for f in files] == [f"{second.number}.pdf", f"{first.number}.pdf"]
    assert all(f["channel_id"] == "D" + DEFAULT_USER_ID for f in files)
    second_text, first_text = (pdf_text(f["content"]) for f in files)
    for text, invoice, name, reference, total in (
        (first_text, first, "Acme Marketing", "EX0000001", "GBP 54.00"),
        (second_text, second, "Beta Alerts", "EX0000002", "GBP 108.00"),
    ):
        assert invoice.number in text and name in text and reference in text
        assert f"Total: {total}" in text
        assert "Example SMS Ltd" in text and "GB123456789" in text and "VAT at 20%" in text
    assert "1,000" in first_text and "GBP 0.0450" in first_text and "Net: GBP 45.00" in first_text
    assert fake_slack.calls_to("chat.postMessage") == []


def test_a_replayed_download_form_sends_its_copies_once(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    acme = make_account(session_factory, "EX0000001", "Acme Marketing")
    chosen = issue(session_factory, acme.id, 1000, "2024-05-01")
    view = open_invoices(slack, fake_slack)
    state = selection_state(view, [str(chosen.id)])
    assert slack.view_submission(view, state).json()["response_action"] == "update"
    fake_slack.wait_for("files.completeUploadExternal", 1)

    # The same form again (a replayed or duplicated request): answered as before, nothing re-sent.
    replay = slack.view_submission(view, state).json()
    assert "Your copies are on their way to your DM" in visible_text(replay["view"])
    with pytest.raises(AssertionError):
        fake_slack.wait_for("files.completeUploadExternal", 2, timeout=2)
    assert len(fake_slack.uploaded_files()) == 1
    assert len(fake_slack.calls_to("conversations.open")) == 1


def test_a_form_corrected_after_an_error_still_sends_its_copies(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    account = make_account(session_factory)
    chosen = issue(session_factory, account.id, 10, "2024-01-15")
    view = open_invoices(slack, fake_slack)
    refused = slack.view_submission(view, selection_state(view, [])).json()
    assert refused["response_action"] == "errors"
    # The same form (its view id unchanged), now with an invoice chosen.
    sent = slack.view_submission(view, selection_state(view, [str(chosen.id)])).json()
    assert "Your copies are on their way to your DM" in visible_text(sent["view"])
    fake_slack.wait_for("files.completeUploadExternal", 1)
    assert [f["filename"] for f in fake_slack.uploaded_files()] == [f"{chosen.number}.pdf"]


def test_a_failed_upload_is_reported_in_the_dm(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    account = make_account(session_factory)
    first = issue(session_factory, account.id, 10, "2024-01-15")
    second = issue(session_factory, account.id, 20, "2024-02-15")
    fake_slack.fail("files.completeUploadExternal", error="internal_error")
    view = open_invoices(slack, fake_slack)
    slack.view_submission(view, selection_state(view, [str(first.id), str(second.id)]))
    [message] = fake_slack.wait_for("chat.postMessage")
    text = message.params["text"]
    assert message.params["channel"] == "D" + DEFAULT_USER_ID
    # The newest is sent first, so its completion is the one that failed.
    assert f"`{second.number}`: internal_error" in text
    assert f"Sent: `{first.number}`" in text
    assert [f["filename"] for f in fake_slack.uploaded_files()] == [f"{first.number}.pdf"]


def test_a_rejected_file_upload_is_reported_and_nothing_claimed_sent(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    account = make_account(session_factory)
    invoice = issue(session_factory, account.id, 10, "2024-01-15")
    fake_slack.fail("upload", error="upload_rejected", status=500, times=None)
    view = open_invoices(slack, fake_slack)
    slack.view_submission(view, selection_state(view, [str(invoice.id)]))
    [message] = fake_slack.wait_for("chat.postMessage")
    assert f"`{invoice.number}`: upload failed" in message.params["text"]
    assert "No copies were sent" in message.params["text"]
    assert fake_slack.uploaded_files() == []
    assert fake_slack.calls_to("files.completeUploadExternal") == []


@pytest.mark.parametrize("dropped", ["upload", "files.getUploadURLExternal"])
def test_a_copy_whose_file_never_reached_slack_is_reported_as_not_sent(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory, dropped: str
):
    # Only files.completeUploadExternal shares a file: a connection dropped before it shared nothing.
    account = make_account(session_factory)
    invoice = issue(session_factory, account.id, 10, "2024-01-15")
    fake_slack.drop(dropped, times=None)
    view = open_invoices(slack, fake_slack)
    slack.view_submission(view, selection_state(view, [str(invoice.id)]))
    [message] = fake_slack.wait_for("chat.postMessage")
    assert f"`{invoice.number}`: upload failed" in message.params["text"]
    assert "may have arrived" not in message.params["text"]
    assert fake_slack.calls_to("files.completeUploadExternal") == []


def test_viewer_is_refused_with_the_role_needed(slack: SlackRequests, fake_slack: FakeSlack, session_factory):
    grant_role(session_factory, "U0VIEWER1", Role.VIEWER)
    reply = slack.command("/invoices", user_id="U0VIEWER1").json()
    assert "You need the billing role to see and download invoices" in reply["text"]
    assert "admin-bot roles grant U0VIEWER1 billing" in reply["text"]
    assert fake_slack.calls_to("views.open") == []


def test_user_without_a_role_is_refused(slack: SlackRequests, fake_slack: FakeSlack):
    reply = slack.command("/invoices", user_id="U0NOBODY1").json()
    assert "don't have access" in reply["text"]
    assert fake_slack.calls_to("views.open") == []


def test_billing_user_can_download(slack: SlackRequests, fake_slack: FakeSlack, session_factory):
    grant_role(session_factory, DEFAULT_USER_ID, Role.BILLING)
    account = make_account(session_factory)
    invoice = issue(session_factory, account.id, 10, "2024-01-15")
    view = open_invoices(slack, fake_slack)
    slack.view_submission(view, selection_state(view, [str(invoice.id)]))
    fake_slack.wait_for("files.completeUploadExternal")
    assert [f["filename"] for f in fake_slack.uploaded_files()] == [f"{invoice.number}.pdf"]


def test_demoted_user_cannot_submit(slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory):
    account = make_account(session_factory)
    invoice = issue(session_factory, account.id, 10, "2024-01-15")
    view = open_invoices(slack, fake_slack)
    grant_role(session_factory, DEFAULT_USER_ID, Role.VIEWER)
    reply = slack.view_submission(view, selection_state(view, [str(invoice.id)])).json()
    assert reply["response_action"] == "update"
    assert "You need the billing role" in visible_text(reply["view"])
    assert fake_slack.calls_to("files.getUploadURLExternal") == []


def test_crafted_unknown_or_too_old_invoice_ids_are_refused(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    account = make_account(session_factory)
    listed = issue(session_factory, account.id, 10, "2024-01-15")
    too_old = issue(session_factory, account.id, 10, "2019-01-15")
    view = open_invoices(slack, fake_slack)
    block_id = selection_block(view)["block_id"]
    for crafted in ([str(listed.id), "999999"], [str(too_old.id)], ["1 OR 1=1"]):
        reply = slack.view_submission(view, selection_state(view, crafted)).json()
        assert reply["response_action"] == "errors"
        assert "not available to you" in reply["errors"][block_id]
    assert fake_slack.calls_to("conversations.open") == []
    assert fake_slack.calls_to("files.getUploadURLExternal") == []


def _invoice_pdf_text(session_factory, account_name: str) -> tuple[str, Invoice]:
    """The text of the PDF of an invoice issued to a new account called `account_name`."""
    account = make_account(session_factory, "EX0000009", account_name)
    invoice = issue(session_factory, account.id, 10, "2024-01-15")
    with session_factory.begin() as session:
        loaded = session.get(Invoice, invoice.id)
        assert loaded is not None
        content = render_invoice_pdf(loaded, make_services(Config(), session_factory).supplier)
    return pdf_text(content), invoice


def test_pdf_prints_names_in_any_european_script(session_factory):
    text, invoice = _invoice_pdf_text(session_factory, "Łódź Taxis · Αθήνα · Київ")
    assert "Łódź Taxis · Αθήνα · Київ" in text
    assert invoice.number in text and "15 January 2024" in text


def test_pdf_survives_characters_no_font_has(session_factory):
    text, invoice = _invoice_pdf_text(session_factory, "Rocket 🚀 Ltd")
    assert "Rocket" in text and "Ltd" in text and invoice.number in text


def test_a_copy_whose_completion_answer_was_lost_is_reported_as_unknown_and_shared_once(
    slack: SlackRequests, fake_slack: FakeSlack, admin, session_factory
):
    account = make_account(session_factory)
    invoice = issue(session_factory, account.id, 10, "2024-01-15")
    fake_slack.drop("files.completeUploadExternal", after_acting=True)
    view = open_invoices(slack, fake_slack)
    slack.view_submission(view, selection_state(view, [str(invoice.id)]))
    [message] = fake_slack.wait_for("chat.postMessage")
    assert (
        f"`{invoice.number}`: the connection to Slack dropped, so it may have arrived; "
        "check this DM before sending it again" in message.params["text"]
    )
    # Slack did share it, and the bot did not share it a second time.
    assert [f["filename"] for f in fake_slack.uploaded_files()] == [f"{invoice.number}.pdf"]
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1
