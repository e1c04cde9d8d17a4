"""Rename from an account box: the modal, validation, permissions, audit and escaping."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from handlers.account_box import RENAME_ACTION
from handlers.rename import NAME_BLOCK, NAME_INPUT, RENAME_VIEW, RENAMED_VIEW
from store import accounts as account_store
from store import audit
from store.models import Role
from tests.blockkit import assert_valid_view, visible_text
from tests.conftest import grant_role, make_account
from tests.slack_requests import SlackRequests, open_view, plain_text, view_submission_payload


def click_rename(slack: SlackRequests, fake_slack, account_id: object, **fields) -> dict:
    """Click Rename on an account box; return the modal the bot opened."""
    shown = len(fake_slack.view_history)
    assert slack.block_action(RENAME_ACTION, value=str(account_id), **fields).status == 200
    view = open_view(fake_slack, shown)  # the modal opened by this click, not an earlier one
    # Validate what the bot sent; the stored copy has Slack's defaults filled in.
    assert_valid_view(fake_slack.calls_to("views.open")[-1].params["view"])
    return view


def submit_name(slack: SlackRequests, view: dict, name: str | None, **fields) -> dict:
    return slack.view_submission(view, {NAME_BLOCK: {NAME_INPUT: plain_text(name)}}, **fields).json()


def name_of(session_factory, reference: str = "EX0000001") -> str:
    with session_factory.begin() as session:
        return account_store.by_reference(session, reference).name


def audit_of(session_factory, account_id: int) -> list[tuple[str, str | None, str | None, str]]:
    with session_factory.begin() as session:
        return [(e.action, e.old_value, e.new_value, e.actor) for e in audit.entries_for(session, account_id)]


def test_rename_modal_is_prefilled_with_current_name(slack, fake_slack, admin, session_factory):
    account = make_account(session_factory, "EX0000001", "Acme Marketing")
    view = click_rename(slack, fake_slack, account.id)
    assert view["callback_id"] == RENAME_VIEW
    assert view["private_metadata"] == str(account.id)
    element = next(b for b in view["blocks"] if b.get("block_id") == NAME_BLOCK)["element"]
    assert element["initial_value"] == "Acme Marketing"
    assert element["max_length"] == 50
    assert "EX0000001" in visible_text(view)
    [call] = fake_slack.calls_to("views.open")
    assert call.params["trigger_id"]


def test_rename_saves_new_name_audits_and_confirms(slack, fake_slack, admin, session_factory):
    account = make_account(session_factory, "EX0000001", "Acme Marketing", credits=250)
    view = click_rename(slack, fake_slack, account.id)
    reply = submit_name(slack, view, "  Acme Retail  ")
    assert reply["response_action"] == "update"
    assert reply["view"]["callback_id"] == RENAMED_VIEW
    assert_valid_view(reply["view"])
    text = visible_text(reply["view"])
    assert "Renamed *Acme Marketing* to *Acme Retail*" in text
    assert "EX0000001" in text and "250" in text
    assert name_of(session_factory) == "Acme Retail"
    assert audit_of(session_factory, account.id) == [("rename", "Acme Marketing", "Acme Retail", admin)]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "cannot be blank"),
        ("   ", "cannot be blank"),
        (None, "cannot be blank"),
        ("x" * 51, "at most 50 characters; this one has 51"),
        ("Acme\nRetail", "control characters"),
        ("Acme\tRetail", "control characters"),
    ],
)
def test_invalid_name_shows_inline_error_and_changes_nothing(
    slack, fake_slack, admin, session_factory, name, message
):
    account = make_account(session_factory, "EX0000001", "Acme Marketing")
    view = click_rename(slack, fake_slack, account.id)
    reply = submit_name(slack, view, name)
    assert reply["response_action"] == "errors"
    assert message in reply["errors"][NAME_BLOCK]
    assert name_of(session_factory) == "Acme Marketing"
    assert audit_of(session_factory, account.id) == []


def test_name_of_exactly_fifty_characters_is_accepted(slack, fake_slack, admin, session_factory):
    account = make_account(session_factory, "EX0000001", "Acme Marketing")
    view = click_rename(slack, fake_slack, account.id)
    assert submit_name(slack, view, "y" * 50)["response_action"] == "update"
    assert name_of(session_factory) == "y" * 50


def test_account_named_channel_is_escaped_in_modal_and_confirmation(
    slack, fake_slack, admin, session_factory
):
    account = make_account(session_factory, "EX0000001", "<!channel> & co")
    view = click_rename(slack, fake_slack, account.id)
    text = visible_text(view)
    assert "&lt;!channel&gt; &amp; co" in text and "<!channel>" not in text
    element = next(b for b in view["blocks"] if b.get("block_id") == NAME_BLOCK)["element"]
    assert element["initial_value"] == "<!channel> & co"  # an input shows its value literally
    reply = submit_name(slack, view, "<@U123> <https://evil.example|bank>")
    assert_valid_view(reply["view"])
    shown = visible_text(reply["view"])
    assert "<!channel>" not in shown and "<@U123>" not in shown and "<https" not in shown
    assert "&lt;@U123&gt; &lt;https://evil.example|bank&gt;" in shown
    assert name_of(session_factory) == "<@U123> <https://evil.example|bank>"


def test_billing_user_cannot_rename_from_button_or_submission(slack, fake_slack, session_factory):
    account = make_account(session_factory, "EX0000001", "Acme Marketing")
    grant_role(session_factory, "U0BILLING1", Role.BILLING)
    notice = click_rename(slack, fake_slack, account.id, user_id="U0BILLING1")
    assert "submit" not in notice or notice["submit"] is None
    assert "You need the admin role to rename accounts; your role is billing" in visible_text(notice)
    # A crafted submission of the real form is refused server-side too.
    grant_role(session_factory, "U0ADMIN", Role.ADMIN)
    form = click_rename(slack, fake_slack, account.id)
    reply = submit_name(slack, form, "Hijacked", user_id="U0BILLING1")
    assert reply["response_action"] == "errors"
    assert "admin role" in reply["errors"][NAME_BLOCK]
    assert name_of(session_factory) == "Acme Marketing"
    assert audit_of(session_factory, account.id) == []


def test_user_without_role_is_told_how_to_get_access(slack, fake_slack, session_factory):
    account = make_account(session_factory)
    notice = click_rename(slack, fake_slack, account.id, user_id="U0NOBODY1")
    assert "admin-bot roles grant U0NOBODY1" in visible_text(notice)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("999", "No account has the id 999. Run `/accounts` to see current accounts."),
        ("not-a-number", "That button is out of date; run `/accounts` again."),
        ("-1", "That button is out of date; run `/accounts` again."),
        ("99999999999999999999", "That button is out of date; run `/accounts` again."),
    ],
)
def test_unknown_account_button_is_refused_in_a_modal(
    slack, fake_slack, admin, session_factory, value, message
):
    make_account(session_factory)
    notice = click_rename(slack, fake_slack, value)
    assert visible_text(notice) == message


def test_inactive_account_is_refused_on_click_and_on_submit(slack, fake_slack, admin, session_factory):
    active = make_account(session_factory, "EX0000001", "Open Co")
    closed = make_account(session_factory, "EX0000002", "Closed Co", active=False)
    notice = click_rename(slack, fake_slack, closed.id)
    assert "Account EX0000002 is inactive" in visible_text(notice)
    # A form whose private_metadata was tampered with to point at the inactive account.
    form = click_rename(slack, fake_slack, active.id)
    reply = submit_name(slack, {**form, "private_metadata": str(closed.id)}, "Reopened")
    assert reply["response_action"] == "errors"
    assert "inactive" in reply["errors"][NAME_BLOCK]
    assert name_of(session_factory, "EX0000002") == "Closed Co"


def test_views_open_failure_is_reported_to_the_user(slack, fake_slack, admin, session_factory):
    account = make_account(session_factory)
    fake_slack.fail("views.open", error="expired_trigger_id")
    response_url = fake_slack.response_url()
    slack.block_action(RENAME_ACTION, value=str(account.id), response_url=response_url)
    [posted] = fake_slack.wait_for("response_url")
    assert "expired_trigger_id" in posted.params["text"]
    assert posted.params["response_type"] == "ephemeral"


RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}


def test_a_rename_submitted_twice_says_the_second_time_that_it_was_already_made(
    slack, fake_slack, admin, session_factory
):
    account = make_account(session_factory, "EX0000001", "Alpha")
    view = click_rename(slack, fake_slack, account.id)
    values = {NAME_BLOCK: {NAME_INPUT: plain_text("Beta")}}

    first = submit_name(slack, view, "Beta")
    retried = slack.post_interactive(view_submission_payload(view, values), extra_headers=RETRY).json()
    clicked_again = submit_name(slack, view, "Beta")

    assert "Renamed *Alpha* to *Beta* (`EX0000001`)." in visible_text(first["view"])
    for again in (retried, clicked_again):
        assert_valid_view(again["view"])
        text = visible_text(again["view"])
        assert "The account is already named *Beta* (`EX0000001`); nothing changed." in text
        assert "Renamed" not in text
    assert audit_of(session_factory, account.id) == [("rename", "Alpha", "Beta", admin)]


def test_a_rename_submitted_twice_at_once_renames_once(
    slack, fake_slack, admin, session_factory, database_url
):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time: the two cannot overlap")
    account = make_account(session_factory, "EX0000001", "Alpha")
    view = click_rename(slack, fake_slack, account.id)
    answers: list[dict] = []
    engine = create_engine(database_url)
    watching = create_engine(database_url, isolation_level="AUTOCOMMIT")
    waiting = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    try:
        with engine.connect() as holder, watching.connect() as watcher:
            # Someone holds the account, so both submissions are in flight together.
            holder.execute(text("SELECT 1 FROM accounts WHERE id = :id FOR UPDATE"), {"id": account.id})
            both = [
                threading.Thread(target=lambda: answers.append(submit_name(slack, view, "Beta")))
                for _ in range(2)
            ]
            for submission in both:
                submission.start()
            deadline = time.monotonic() + 10
            while watcher.execute(text(waiting)).scalar() < 2:
                assert time.monotonic() < deadline, "the two submissions never waited together"
                time.sleep(0.02)
            holder.rollback()
            for submission in both:
                submission.join(timeout=10)
    finally:
        engine.dispose()
        watching.dispose()

    texts = sorted(visible_text(answer["view"]) for answer in answers)
    assert "Renamed *Alpha* to *Beta*" in texts[0] and "already named *Beta*" in texts[1]
    assert audit_of(session_factory, account.id) == [("rename", "Alpha", "Beta", admin)]
