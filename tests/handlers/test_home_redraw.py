"""After a purchase, a move or a reminder change, the surface it came from shows the new state;
a box drawn before the account changed elsewhere acts on it as it is now, and says so."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.account_box import BUY_ACTION, MOVE_ACTION, REMINDER_ACTION, RENAME_ACTION
from handlers.buy import CREDITS_BLOCK, CREDITS_INPUT
from handlers.move import AMOUNT_ACTION, AMOUNT_BLOCK, DESTINATION_ACTION, DESTINATION_BLOCK
from handlers.rename import NAME_BLOCK, NAME_INPUT
from store import accounts as account_store
from store import ledger
from tests.blockkit import assert_valid_blocks, assert_valid_view, visible_text
from tests.conftest import balance_of, make_account
from tests.fake_slack import FakeSlack
from tests.handlers.test_home import (
    account_id_of,
    box_block_id,
    latest_home,
    open_home,
    search_home,
    second_page_of_ten,
)
from tests.handlers.test_reminders import values as reminder_values
from tests.slack_requests import SlackRequests, external_select, plain_text

ALICE = "U0ALICE01"


def buy(target: int, other: int) -> tuple[str, dict[str, Any]]:
    return BUY_ACTION, {CREDITS_BLOCK: {CREDITS_INPUT: plain_text("5")}}


def move(target: int, other: int) -> tuple[str, dict[str, Any]]:
    return MOVE_ACTION, {
        DESTINATION_BLOCK: {DESTINATION_ACTION: external_select(str(other))},
        AMOUNT_BLOCK: {AMOUNT_ACTION: plain_text("4")},
    }


def remind(target: int, other: int) -> tuple[str, dict[str, Any]]:
    return REMINDER_ACTION, reminder_values(level="500", emails="alice@example.com")


# What the changed account's box says afterwards, and the other account's credits.
CHANGES = {
    "buy": (buy, "*Credits*\n15", 10),
    "move": (move, "*Credits*\n6", 14),
    "reminder": (remind, ":warning: Low credit reminder: on, below 500; the balance is below it", 10),
}


def box_text(blocks: list[dict[str, Any]], account_id: int) -> str:
    """What one account's box shows (its section and reminder line)."""
    at = next(i for i, b in enumerate(blocks) if b.get("block_id") == f"account-{account_id}")
    return visible_text(blocks[at : at + 2])


def change(
    slack: SlackRequests, fake_slack: FakeSlack, name: str, target: int, other: int, **where: Any
) -> None:
    """Click the change's button on `target`'s box, fill its form in and submit it."""
    make, _, _ = CHANGES[name]
    action_id, values = make(target, other)
    opened = len(fake_slack.view_history)
    assert slack.block_action(action_id, value=str(target), **where).status == 200
    form = fake_slack.wait_for_views(opened + 1)[opened]
    answer = slack.view_submission(form, values).json()
    assert answer["response_action"] == "update", answer


@pytest.mark.parametrize("name", CHANGES)
def test_a_change_from_accounts_replaces_that_message_on_its_page(
    name, slack, fake_slack, admin, session_factory
):
    fake_slack.add_user(ALICE, "alice@example.com")
    page_url, second = second_page_of_ten(slack, fake_slack, session_factory)
    target, other = account_id_of(session_factory, "EX0000009"), account_id_of(session_factory, "EX0000010")

    change(
        slack,
        fake_slack,
        name,
        target,
        other,
        block_id=box_block_id(second["blocks"], target),
        response_url=page_url,
    )

    replaced = fake_slack.wait_for("response_url", 2)[-1]
    assert replaced.response_id == page_url.rsplit("/", 1)[-1]
    assert replaced.params["replace_original"] is True
    assert_valid_blocks(replaced.params["blocks"])
    assert "showing 9-10" in visible_text(replaced.params)  # the same page as before
    _, shown, other_credits = CHANGES[name]
    assert shown in box_text(replaced.params["blocks"], target)
    assert f"*Credits*\n{other_credits}" in box_text(replaced.params["blocks"], other)


@pytest.mark.parametrize("name", CHANGES)
def test_a_change_from_home_republishes_it_for_the_acting_user(
    name, slack, fake_slack, admin, session_factory
):
    fake_slack.add_user(ALICE, "alice@example.com")
    target = make_account(session_factory, "EX0000001", "Acme", credits=10).id
    other = make_account(session_factory, "EX0000002", "Beta", credits=10).id
    home = open_home(slack, fake_slack)

    change(slack, fake_slack, name, target, other, block_id=box_block_id(home["blocks"], target), view=home)

    again = latest_home(fake_slack, 2)
    _, shown, other_credits = CHANGES[name]
    assert shown in box_text(again["blocks"], target)
    assert f"*Credits*\n{other_credits}" in box_text(again["blocks"], other)
    assert fake_slack.calls_to("response_url") == []


def stale_box(slack: SlackRequests, session_factory) -> tuple[int, str]:
    """An `/accounts` box drawn for Acme with 100 credits; returns its account id and block id."""
    account = make_account(session_factory, "EX0000001", "Acme", credits=100)
    make_account(session_factory, "EX0000002", "Beta", credits=1)
    drawn = slack.command("/accounts").json()
    return account.id, box_block_id(drawn["blocks"], account.id)


def elsewhere(session_factory, account_id: int, *, name: str | None = None, used: int = 0) -> None:
    """Someone else renames the account or it uses credits, after the box was drawn."""
    with session_factory.begin() as session:
        account = account_store.get(session, account_id)
        if name:
            account_store.rename(session, account, name, "U0OTHER01")
        if used:
            ledger.record_usage(session, account.reference, used, "api")


def test_buy_on_a_stale_box_confirms_the_name_and_balance_it_has_now(
    slack, fake_slack, admin, session_factory
):
    account_id, block_id = stale_box(slack, session_factory)
    elsewhere(session_factory, account_id, name="Acme Renamed", used=30)
    slack.block_action(BUY_ACTION, value=str(account_id), block_id=block_id)
    form = fake_slack.wait_for_views(1)[0]
    assert "Acme Renamed" in visible_text(form)
    answer = slack.view_submission(form, {CREDITS_BLOCK: {CREDITS_INPUT: plain_text("5")}}).json()
    assert_valid_view(answer["view"])
    assert "Acme Renamed" in visible_text(answer["view"]) and "*Credits*\n75" in visible_text(answer["view"])


def test_move_on_a_stale_box_moves_from_the_balance_it_has_now(slack, fake_slack, admin, session_factory):
    account_id, block_id = stale_box(slack, session_factory)
    elsewhere(session_factory, account_id, name="Acme Renamed", used=30)
    slack.block_action(MOVE_ACTION, value=str(account_id), block_id=block_id)
    form = fake_slack.wait_for_views(1)[0]
    assert "Acme Renamed" in visible_text(form) and "70" in visible_text(form)
    values = {
        DESTINATION_BLOCK: {
            DESTINATION_ACTION: external_select(str(account_id_of(session_factory, "EX0000002")))
        },
        AMOUNT_BLOCK: {AMOUNT_ACTION: plain_text("80")},
    }
    refused = slack.view_submission(form, values).json()
    assert refused["errors"][AMOUNT_BLOCK] == "Only 70 credits are available, so 80 cannot be moved."
    elsewhere(session_factory, account_id, used=20)  # and again while the form is open
    values[AMOUNT_BLOCK] = {AMOUNT_ACTION: plain_text("60")}
    refused = slack.view_submission(form, values).json()
    assert refused["errors"][AMOUNT_BLOCK] == (
        "The balance changed since this form was opened: it is now 50 credits, so 60 cannot be moved."
    )
    values[AMOUNT_BLOCK] = {AMOUNT_ACTION: plain_text("50")}
    moved = slack.view_submission(form, values).json()
    assert "*Acme Renamed* (`EX0000001`)\n0 credits" in visible_text(moved["view"])
    assert balance_of(session_factory, "EX0000001") == 0


def test_rename_on_a_stale_box_names_the_name_it_had_now(slack, fake_slack, admin, session_factory):
    account_id, block_id = stale_box(slack, session_factory)
    slack.block_action(RENAME_ACTION, value=str(account_id), block_id=block_id)
    form = fake_slack.wait_for_views(1)[0]
    elsewhere(session_factory, account_id, name="Acme Elsewhere")
    answer = slack.view_submission(form, {NAME_BLOCK: {NAME_INPUT: plain_text("Acme Here")}}).json()
    assert "Renamed *Acme Elsewhere* to *Acme Here*" in visible_text(answer["view"])


@pytest.mark.parametrize("action_id", [BUY_ACTION, MOVE_ACTION, RENAME_ACTION])
def test_a_stale_box_of_a_deactivated_account_says_it_is_inactive(
    action_id, slack, fake_slack, admin, session_factory
):
    account_id, block_id = stale_box(slack, session_factory)
    with session_factory.begin() as session:
        account_store.set_active(session, account_store.get(session, account_id), False, "U0OTHER01")
    slack.block_action(action_id, value=str(account_id), block_id=block_id)
    notice = fake_slack.wait_for_views(1)[0]
    assert "Account EX0000001 is inactive." in visible_text(notice)
    assert notice.get("submit") is None


@pytest.mark.parametrize(
    ("action_id", "values", "block"),
    [
        (BUY_ACTION, {CREDITS_BLOCK: {CREDITS_INPUT: plain_text("5")}}, CREDITS_BLOCK),
        (RENAME_ACTION, {NAME_BLOCK: {NAME_INPUT: plain_text("Acme Here")}}, NAME_BLOCK),
    ],
)
def test_a_form_submitted_after_its_account_was_deactivated_says_so(
    action_id, values, block, slack, fake_slack, admin, session_factory
):
    account_id, block_id = stale_box(slack, session_factory)
    slack.block_action(action_id, value=str(account_id), block_id=block_id)
    form = fake_slack.wait_for_views(1)[0]
    with session_factory.begin() as session:
        account_store.set_active(session, account_store.get(session, account_id), False, "U0OTHER01")
    refused = slack.view_submission(form, values).json()
    assert refused["errors"][block] == "Account EX0000001 is inactive."
    assert balance_of(session_factory, "EX0000001") == 100


@pytest.mark.parametrize(
    "query",
    [
        "Региональная служба уведомлений Москва и област",  # escaped as \uXXXX, six times as long
        "北京市朝阳区短信通知服务有限公司营销部门与上海浦东新区客户支持中心联合运营团队",
    ],
)
def test_a_change_after_a_long_search_in_any_script_redraws_that_search(
    query, slack, fake_slack, admin, session_factory
):
    for n in range(1, 4):
        make_account(session_factory, f"EX000000{n}", f"{query} {n}", credits=10)
    make_account(session_factory, "EX0000009", "Other", credits=10)
    url = fake_slack.response_url()
    drawn = slack.command("/accounts", query, response_url=url).json()
    assert "3 matching" in visible_text(drawn), visible_text(drawn)
    target = account_id_of(session_factory, "EX0000001")
    block_id = box_block_id(drawn["blocks"], target)
    assert len(block_id) <= 255

    change(slack, fake_slack, "buy", target, 0, block_id=block_id, response_url=url)

    replaced = fake_slack.wait_for("response_url", 1)[-1]
    assert_valid_blocks(replaced.params["blocks"])
    assert "3 matching" in visible_text(replaced.params), visible_text(replaced.params)
    assert "*Credits*\n15" in box_text(replaced.params["blocks"], target)


def remind_after_an_email_problem(
    slack: SlackRequests, fake_slack: FakeSlack, target: int, **where: Any
) -> None:
    """Save `target`'s reminder with an email no one has, then again with it corrected."""
    opened = len(fake_slack.view_history)
    assert slack.block_action(REMINDER_ACTION, value=str(target), **where).status == 200
    form = fake_slack.wait_for_views(opened + 1)[opened]
    slack.view_submission(form, reminder_values(emails="nobody@example.com"))
    again = fake_slack.wait_for_views(opened + 2)[opened + 1]
    assert "No one in this Slack workspace has the email nobody@example.com." in visible_text(again)
    slack.view_submission(again, reminder_values(emails="alice@example.com"))
    saved = fake_slack.wait_for_views(opened + 3)[opened + 2]
    assert "Saved the low credit reminder" in visible_text(saved)


def test_a_reminder_corrected_after_an_email_problem_replaces_its_accounts_message(
    slack, fake_slack, admin, session_factory
):
    fake_slack.add_user(ALICE, "alice@example.com")
    page_url, second = second_page_of_ten(slack, fake_slack, session_factory)
    target = account_id_of(session_factory, "EX0000009")

    remind_after_an_email_problem(
        slack, fake_slack, target, block_id=box_block_id(second["blocks"], target), response_url=page_url
    )

    replaced = fake_slack.wait_for("response_url", 2)[-1]
    assert replaced.response_id == page_url.rsplit("/", 1)[-1] and replaced.params["replace_original"]
    assert "showing 9-10" in visible_text(replaced.params)  # the same page as before
    assert CHANGES["reminder"][1] in box_text(replaced.params["blocks"], target)


def test_a_reminder_corrected_after_an_email_problem_republishes_home_where_it_was(
    slack, fake_slack, admin, session_factory
):
    fake_slack.add_user(ALICE, "alice@example.com")
    target = make_account(session_factory, "EX0000001", "Acme", credits=10).id
    make_account(session_factory, "EX0000002", "Beta", credits=10)
    searched = search_home(slack, fake_slack, open_home(slack, fake_slack), "acme")
    assert "*1 active account(s) match acme*" in visible_text(searched)

    remind_after_an_email_problem(
        slack, fake_slack, target, block_id=box_block_id(searched["blocks"], target), view=searched
    )

    again = latest_home(fake_slack, 3)
    assert "*1 active account(s) match acme*" in visible_text(again)  # the search it was opened from
    assert CHANGES["reminder"][1] in box_text(again["blocks"], target)
