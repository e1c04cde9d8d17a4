"""Move credits: the form, destination suggestions, validation, idempotency and permissions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from handlers.account_box import MOVE_ACTION, MOVE_INTO_ACTION
from handlers.messages import CHOOSE_SOURCE
from handlers.move import (
    AMOUNT_ACTION,
    AMOUNT_BLOCK,
    DESTINATION_ACTION,
    DESTINATION_BLOCK,
    SOURCE_ACTION,
    SOURCE_BLOCK,
    account_label,
    build_move_modal,
)
from store import roles
from store.errors import SameAccount
from store.models import Account, EntryKind, LedgerEntry, Role
from tests.blockkit import assert_valid_view, visible_text
from tests.conftest import balance_of, grant_role, make_account
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests, external_select, open_view, plain_text


def click_move(
    slack: SlackRequests,
    fake_slack: FakeSlack,
    account: Account,
    user_id: str = "U0ADMIN",
    *,
    views_before: int = 0,
    action_id: str = MOVE_ACTION,
) -> dict[str, Any]:
    """Click "Move credits" on an account box (or the low-credit DM); the modal the bot then opens."""
    reply = slack.block_action(
        action_id, value=str(account.id), user_id=user_id, block_id=f"manage-{account.id}"
    )
    assert reply.status == 200
    view = open_view(fake_slack, views_before)
    assert_valid_view(fake_slack.calls_to("views.open")[views_before].params["view"])
    return view


def values(destination: str | None, amount: str | None) -> dict[str, Any]:
    return {
        DESTINATION_BLOCK: {DESTINATION_ACTION: external_select(destination)},
        AMOUNT_BLOCK: {AMOUNT_ACTION: plain_text(amount)},
    }


def submit(
    slack: SlackRequests, view: dict[str, Any], destination: Any, amount: str | None, user_id: str = "U0ADMIN"
) -> dict[str, Any]:
    answer = slack.view_submission(
        view, values(None if destination is None else str(destination), amount), user_id=user_id
    )
    assert answer.status == 200
    return answer.json()


def transfer_entries(session_factory) -> list[LedgerEntry]:
    with session_factory.begin() as session:
        return list(
            session.scalars(
                select(LedgerEntry).where(
                    LedgerEntry.kind.in_([EntryKind.TRANSFER_OUT.value, EntryKind.TRANSFER_IN.value])
                )
            )
        )


def test_move_button_opens_form_with_source_and_balance(slack, admin, session_factory, fake_slack):
    source = make_account(session_factory, "EX0000001", "Acme Marketing", credits=1200)
    view = click_move(slack, fake_slack, source)
    text = visible_text(view)
    assert "Acme Marketing" in text and "EX0000001" in text and "1,200" in text
    [opened] = fake_slack.calls_to("views.open")
    assert opened.params["trigger_id"]
    assert view["callback_id"] == "move_credits"


def test_move_credits_updates_both_balances_and_confirms(slack, admin, session_factory, fake_slack):
    source = make_account(session_factory, "EX0000001", "Acme Marketing", credits=1200)
    destination = make_account(session_factory, "EX0000002", "Beta Alerts", credits=5)
    view = click_move(slack, fake_slack, source)
    answer = submit(slack, view, destination.id, "1,000")
    assert answer["response_action"] == "update"
    assert_valid_view(answer["view"])
    text = visible_text(answer["view"])
    assert "Moved *1,000* credits" in text and "200 credits" in text and "1,005 credits" in text
    assert balance_of(session_factory, "EX0000001") == 200
    assert balance_of(session_factory, "EX0000002") == 1005
    legs = transfer_entries(session_factory)
    assert sorted(leg.credits for leg in legs) == [-1000, 1000]
    assert legs[0].transfer_id == legs[1].transfer_id and legs[0].actor == "U0ADMIN"


def test_double_submission_of_the_same_form_moves_once(slack, admin, session_factory, fake_slack):
    source = make_account(session_factory, "EX0000001", "Acme", credits=100)
    destination = make_account(session_factory, "EX0000002", "Beta")
    view = click_move(slack, fake_slack, source)
    first = submit(slack, view, destination.id, "60")
    second = submit(slack, view, destination.id, "60")
    assert first["response_action"] == second["response_action"] == "update"
    # The second answer must not read as a second move.
    assert "already made" not in visible_text(first["view"])
    assert "This move was already made; it was not repeated." in visible_text(second["view"])
    assert_valid_view(second["view"])
    assert balance_of(session_factory, "EX0000001") == 40
    assert balance_of(session_factory, "EX0000002") == 60
    assert len(transfer_entries(session_factory)) == 2


def test_a_resubmitted_form_is_answered_with_the_move_it_made_whatever_it_now_says(
    slack, admin, session_factory, fake_slack
):
    # Slack lost the first answer, so the form stayed open; the user changed it and sent it again.
    source = make_account(session_factory, "EX0000001", "Acme", credits=100)
    beta = make_account(session_factory, "EX0000002", "Beta")
    gamma = make_account(session_factory, "EX0000003", "Gamma")
    view = click_move(slack, fake_slack, source)
    submit(slack, view, beta.id, "60")
    again = submit(slack, view, gamma.id, "30")
    assert again["response_action"] == "update", again
    text = visible_text(again["view"])
    assert "This move was already made; it was not repeated." in text
    assert "Moved *60* credits from *Acme* to *Beta*." in text
    assert "Gamma" not in text
    assert "40 credits" in text and "60 credits" in text
    assert [balance_of(session_factory, ref) for ref in ("EX0000001", "EX0000002", "EX0000003")] == [
        40,
        60,
        0,
    ]


def test_a_resubmitted_form_whose_account_closed_since_is_answered_with_the_move_it_made(
    slack, admin, session_factory, fake_slack
):
    source = make_account(session_factory, "EX0000001", "Acme", credits=100)
    beta = make_account(session_factory, "EX0000002", "Beta")
    view = click_move(slack, fake_slack, source)
    submit(slack, view, beta.id, "60")
    with session_factory.begin() as session:
        session.get(Account, beta.id).active = False
    again = submit(slack, view, beta.id, "60")
    assert again["response_action"] == "update", again
    assert "This move was already made; it was not repeated." in visible_text(again["view"])
    assert balance_of(session_factory, "EX0000002") == 60


def test_destination_suggestions_exclude_source_and_inactive(slack, admin, session_factory, fake_slack):
    source = make_account(session_factory, "EX0000001", "Acme Marketing", credits=10)
    make_account(session_factory, "EX0000002", "Acme Alerts", keyword="PROMO")
    make_account(session_factory, "EX0000003", "Acme Closed", active=False)
    make_account(session_factory, "EX0000004", "Beta")
    view = click_move(slack, fake_slack, source)
    [element] = [b["element"] for b in view["blocks"] if b.get("block_id") == DESTINATION_BLOCK]
    assert element["type"] == "external_select" and element["min_query_length"] <= 1

    def labels(query: str) -> list[str]:
        answer = slack.block_suggestion(
            DESTINATION_ACTION, query, block_id=DESTINATION_BLOCK, view=view
        ).json()
        return [option["text"]["text"] for option in answer["options"]]

    assert labels("acme") == ["Acme Alerts (EX0000002)"]
    assert labels("promo") == ["Acme Alerts (EX0000002)"]
    assert labels("ex0000004") == ["Beta (EX0000004)"]
    assert labels("") == ["Acme Alerts (EX0000002)", "Beta (EX0000004)"]


def test_destination_suggestions_are_capped_at_100(slack, admin, session_factory, fake_slack):
    source = make_account(session_factory, "EX0000000", "Source", credits=10)
    with session_factory.begin() as session:
        from store import accounts

        for number in range(1, 106):
            accounts.create(session, f"EX{number:07d}", f"Customer {number:03d}")
    view = click_move(slack, fake_slack, source)
    answer = slack.block_suggestion(
        DESTINATION_ACTION, "customer", block_id=DESTINATION_BLOCK, view=view
    ).json()
    assert len(answer["options"]) == 100


def test_option_label_keeps_reference_within_75_characters():
    account = Account(id=1, name="N" * 90, reference="EX0000001", balance=0)
    label = account_label(account)
    assert len(label) <= 75 and label.endswith("… (EX0000001)")
    assert account_label(Account(id=2, name="Beta", reference="EX2")) == "Beta (EX2)"


def test_account_name_is_escaped_in_form_and_confirmation(slack, admin, session_factory, fake_slack):
    source = make_account(session_factory, "EX0000001", "<!channel> & co", credits=10)
    destination = make_account(session_factory, "EX0000002", "<@U123>")
    view = click_move(slack, fake_slack, source)
    assert "&lt;!channel&gt; &amp; co" in visible_text(view)
    assert "<!channel>" not in visible_text(view)
    answer = submit(slack, view, destination.id, "3")
    text = visible_text(answer["view"])
    assert "&lt;@U123&gt;" in text and "<@U123>" not in text and "<!channel>" not in text


def assert_inline_error(answer: dict[str, Any], block: str, *fragments: str) -> None:
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {block}
    for fragment in fragments:
        assert fragment in answer["errors"][block]


def test_same_account_is_refused_inline(slack, admin, session_factory, fake_slack):
    source = make_account(session_factory, "EX0000001", "Acme", credits=10)
    view = click_move(slack, fake_slack, source)
    assert_inline_error(submit(slack, view, source.id, "5"), DESTINATION_BLOCK, "different account")
    assert balance_of(session_factory, "EX0000001") == 10


def test_inactive_or_unknown_destination_is_refused_inline(slack, admin, session_factory, fake_slack):
    source = make_account(session_factory, "EX0000001", "Acme", credits=10)
    closed = make_account(session_factory, "EX0000002", "Closed", active=False)
    view = click_move(slack, fake_slack, source)
    assert_inline_error(submit(slack, view, closed.id, "5"), DESTINATION_BLOCK, "inactive")
    assert_inline_error(submit(slack, view, 9999, "5"), DESTINATION_BLOCK, "does not exist")
    assert_inline_error(submit(slack, view, "abc", "5"), DESTINATION_BLOCK, "Choose")
    assert_inline_error(submit(slack, view, None, "5"), DESTINATION_BLOCK, "Choose")
    assert balance_of(session_factory, "EX0000001") == 10
    assert transfer_entries(session_factory) == []


def test_bad_amounts_are_refused_inline(slack, admin, session_factory, fake_slack):
    source = make_account(session_factory, "EX0000001", "Acme", credits=10)
    destination = make_account(session_factory, "EX0000002", "Beta")
    view = click_move(slack, fake_slack, source)
    for amount in ("0", "-5", "2.5", "ten", "", None):
        assert_inline_error(submit(slack, view, destination.id, amount), AMOUNT_BLOCK, "whole number")
    assert_inline_error(submit(slack, view, destination.id, "11"), AMOUNT_BLOCK, "Only 10 credits", "11")
    assert balance_of(session_factory, "EX0000001") == 10
    assert transfer_entries(session_factory) == []


def test_balance_changed_since_form_opened_shows_current_balance(slack, admin, session_factory, fake_slack):
    source = make_account(session_factory, "EX0000001", "Acme", credits=100)
    destination = make_account(session_factory, "EX0000002", "Beta")
    view = click_move(slack, fake_slack, source)
    with session_factory.begin() as session:
        from store import ledger

        ledger.record_usage(session, "EX0000001", 70, "test")
    answer = submit(slack, view, destination.id, "50")
    assert_inline_error(answer, AMOUNT_BLOCK, "changed", "now 30 credits")
    assert balance_of(session_factory, "EX0000001") == 30
    assert submit(slack, view, destination.id, "30")["response_action"] == "update"
    assert balance_of(session_factory, "EX0000002") == 30


def test_click_on_empty_account_says_no_credits_to_move(slack, admin, session_factory, fake_slack):
    empty = make_account(session_factory, "EX0000001", "Empty", credits=0)
    view = click_move(slack, fake_slack, empty)
    assert "No credits to move" in visible_text(view)
    assert "submit" not in view or view["submit"] is None


def test_viewer_and_billing_are_refused_on_click(slack, session_factory, fake_slack):
    source = make_account(session_factory, "EX0000001", "Acme", credits=10)
    grant_role(session_factory, "U0VIEWER1", Role.VIEWER)
    grant_role(session_factory, "U0BILLING1", Role.BILLING)
    for index, user in enumerate(("U0VIEWER1", "U0BILLING1")):
        view = click_move(slack, fake_slack, source, user, views_before=index)
        text = visible_text(view)
        assert "need the admin role to move credits" in text
        assert f"roles grant {user} admin" in text


def test_viewer_and_billing_are_refused_on_submission(slack, admin, session_factory, fake_slack):
    source = make_account(session_factory, "EX0000001", "Acme", credits=10)
    destination = make_account(session_factory, "EX0000002", "Beta")
    view = click_move(slack, fake_slack, source)
    grant_role(session_factory, "U0BILLING1", Role.BILLING)
    answer = submit(slack, view, destination.id, "5", user_id="U0BILLING1")
    assert answer["response_action"] == "update"
    assert_valid_view(answer["view"])
    assert "need the admin role" in visible_text(answer["view"])
    suggestions = slack.block_suggestion(
        DESTINATION_ACTION, "", block_id=DESTINATION_BLOCK, view=view, user_id="U0BILLING1"
    ).json()
    assert suggestions["options"] == []
    assert balance_of(session_factory, "EX0000001") == 10


def test_views_open_failure_is_reported_privately(slack, admin, session_factory, fake_slack):
    source = make_account(session_factory, "EX0000001", "Acme", credits=10)
    fake_slack.fail("views.open", error="expired_trigger_id")
    slack.block_action(MOVE_ACTION, value=str(source.id), block_id=f"manage-{source.id}")
    # Through response_url, which works in a DM the bot is not in (chat.postEphemeral does not).
    [told] = fake_slack.wait_for("response_url")
    assert "Slack could not open the window (expired_trigger_id); nothing was changed" in told.params["text"]
    assert fake_slack.calls_to("chat.postEphemeral") == []


def test_move_modal_builder_is_valid_block_kit():
    account = Account(id=7, name="Acme", reference="EX7", balance=1234)
    view = build_move_modal(account)
    assert_valid_view(view)
    assert "1 to 1,234" in visible_text(view)


# moving credits INTO a fixed account (the low-credit DM's button)


def submit_into(slack, view, source: Any, amount: str | None, user_id: str = "U0ADMIN") -> dict[str, Any]:
    state = {
        SOURCE_BLOCK: {SOURCE_ACTION: external_select(None if source is None else str(source))},
        AMOUNT_BLOCK: {AMOUNT_ACTION: plain_text(amount)},
    }
    answer = slack.view_submission(view, state, user_id=user_id)
    assert answer.status == 200
    return answer.json()


def test_move_into_takes_credits_from_the_chosen_source(slack, admin, session_factory, fake_slack):
    low = make_account(session_factory, "EX0000001", "Acme Marketing", credits=3)
    rich = make_account(session_factory, "EX0000002", "Beta Alerts", credits=900)
    make_account(session_factory, "EX0000003", "Beta Empty")
    view = click_move(slack, fake_slack, low, action_id=MOVE_INTO_ACTION)
    assert "To *Acme Marketing* (`EX0000001`)" in visible_text(view)
    suggestions = slack.block_suggestion(SOURCE_ACTION, "beta", block_id=SOURCE_BLOCK, view=view).json()
    assert [option["text"]["text"] for option in suggestions["options"]] == ["Beta Alerts (EX0000002)"]
    answer = submit_into(slack, view, rich.id, "500")
    assert answer["response_action"] == "update"
    assert_valid_view(answer["view"])
    text = visible_text(answer["view"])
    assert "Moved *500* credits from *Beta Alerts* to *Acme Marketing*" in text
    assert "400 credits" in text and "503 credits" in text
    assert balance_of(session_factory, "EX0000001") == 503
    assert balance_of(session_factory, "EX0000002") == 400
    assert submit_into(slack, view, rich.id, "500")["response_action"] == "update"  # replay: once
    assert balance_of(session_factory, "EX0000002") == 400


def test_move_into_above_the_sources_balance_is_an_inline_error(slack, admin, session_factory, fake_slack):
    low = make_account(session_factory, "EX0000001", "Acme", credits=3)
    source = make_account(session_factory, "EX0000002", "Beta", credits=40)
    view = click_move(slack, fake_slack, low, action_id=MOVE_INTO_ACTION)
    answer = submit_into(slack, view, source.id, "41")
    assert answer == {
        "response_action": "errors",
        "errors": {AMOUNT_BLOCK: "Only 40 credits are available, so 41 cannot be moved."},
    }
    assert submit_into(slack, view, low.id, "1")["errors"] == {SOURCE_BLOCK: str(SameAccount())}
    assert submit_into(slack, view, None, "1")["errors"] == {SOURCE_BLOCK: CHOOSE_SOURCE}
    assert balance_of(session_factory, "EX0000001") == 3 and transfer_entries(session_factory) == []


def test_move_into_refuses_a_viewer_on_click_and_submission(slack, admin, session_factory, fake_slack):
    low = make_account(session_factory, "EX0000001", "Acme", credits=3)
    source = make_account(session_factory, "EX0000002", "Beta", credits=40)
    grant_role(session_factory, "U0VIEWER1", Role.VIEWER)
    refusal = click_move(slack, fake_slack, low, "U0VIEWER1", action_id=MOVE_INTO_ACTION)
    assert "need the admin role to move credits" in visible_text(refusal)
    view = click_move(slack, fake_slack, low, views_before=1, action_id=MOVE_INTO_ACTION)
    answer = submit_into(slack, view, source.id, "5", user_id="U0VIEWER1")
    assert answer["response_action"] == "update" and "need the admin role" in visible_text(answer["view"])
    suggestions = slack.block_suggestion(
        SOURCE_ACTION, "", block_id=SOURCE_BLOCK, view=view, user_id="U0VIEWER1"
    ).json()
    assert suggestions["options"] == []
    assert balance_of(session_factory, "EX0000002") == 40


def test_destination_suggestions_follow_a_role_change_on_the_next_keystroke(
    slack, admin, session_factory, fake_slack
):
    source = make_account(session_factory, "EX0000001", "Acme Marketing", credits=10)
    make_account(session_factory, "EX0000002", "Acme Alerts")
    view = click_move(slack, fake_slack, source)

    def labels() -> list[str]:
        answer = slack.block_suggestion(DESTINATION_ACTION, "acme", block_id=DESTINATION_BLOCK, view=view)
        return [option["text"]["text"] for option in answer.json()["options"]]

    assert labels() == ["Acme Alerts (EX0000002)"]
    grant_role(session_factory, admin, Role.VIEWER)
    assert labels() == []
    with session_factory.begin() as session:
        roles.revoke(session, admin, Role.VIEWER, "U0LEAD001")
    assert labels() == []
    grant_role(session_factory, admin, Role.ADMIN)
    assert labels() == ["Acme Alerts (EX0000002)"]
