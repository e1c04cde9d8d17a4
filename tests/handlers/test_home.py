"""The Home tab as the Administration area, and every surface staying true after a change."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.account_box import (
    ACTIVATE_ACTION,
    BUY_ACTION,
    DEACTIVATE_ACTION,
    HISTORY_ACTION,
    RENAME_ACTION,
)
from handlers.history import HISTORY_PAGE_ACTION, RECENT_ACTION
from handlers.home import HOME_PAGE_ACTION, HOME_SEARCH_ACTION, HOME_SEARCH_BLOCK
from handlers.rename import NAME_BLOCK, NAME_INPUT
from store import accounts as account_store
from store import audit, ledger, reminders
from store.models import EntryKind, Role
from tests.blockkit import assert_valid_blocks, assert_valid_view, visible_text
from tests.conftest import grant_role, make_account
from tests.fake_slack import FakeSlack
from tests.slack_requests import DEFAULT_USER_ID, SlackRequests, open_view, plain_text

VIEWER = "U0VIEWER1"


def open_home(slack: SlackRequests, fake_slack: FakeSlack, user_id: str = DEFAULT_USER_ID) -> dict[str, Any]:
    """Open the Home tab; return the view the bot published, as Slack holds it."""
    published = len(fake_slack.calls_to("views.publish"))
    assert (
        slack.event({"type": "app_home_opened", "user": user_id, "channel": "D0HOME", "tab": "home"}).status
        == 200
    )
    return latest_home(fake_slack, published + 1, user_id)


def search_home(
    slack: SlackRequests, fake_slack: FakeSlack, home: dict[str, Any], typed: str
) -> dict[str, Any]:
    """Type `typed` in the Home tab's search box and press Enter; return the view then published."""
    published = len(fake_slack.calls_to("views.publish"))
    slack.block_action(
        HOME_SEARCH_ACTION, action_type="plain_text_input", value=typed, block_id=HOME_SEARCH_BLOCK, view=home
    )
    return latest_home(fake_slack, published + 1)


def latest_home(fake_slack: FakeSlack, count: int, user_id: str = DEFAULT_USER_ID) -> dict[str, Any]:
    call = fake_slack.wait_for("views.publish", count)[-1]
    assert call.params["user_id"] == user_id
    view = call.params["view"]
    assert_valid_view(view)
    assert len(view["blocks"]) <= 100
    return {**view, "id": "VHOME0001", "hash": "1.home"}


def buttons(view: dict[str, Any], account_id: int) -> list[str]:
    """The button labels on one account's box."""
    block = next(b for b in view["blocks"] if b.get("block_id", "").startswith(f"manage-{account_id}"))
    return [element["text"]["text"] for element in block["elements"]]


def box_block_id(blocks: list[dict[str, Any]], account_id: int) -> str:
    return next(b["block_id"] for b in blocks if b.get("block_id", "").startswith(f"manage-{account_id}"))


def remind(session_factory, reference: str, level: int, *people: str) -> None:
    with session_factory.begin() as session:
        account = account_store.by_reference(session, reference)
        chosen = [reminders.Recipient(person, person) for person in people]
        reminders.configure(session, account, True, level, chosen, "test")


def test_home_shows_the_summary_and_needs_attention_first(slack, fake_slack, admin, session_factory):
    make_account(session_factory, "EX0000001", "Quiet Co", credits=5_000)
    make_account(session_factory, "EX0000002", "Low Co", credits=50)
    make_account(session_factory, "EX0000003", "Fine Co", credits=900)
    make_account(session_factory, "EX0000004", "Closed Co", credits=10, active=False)
    remind(session_factory, "EX0000002", 100, "U0ALICE01")
    remind(session_factory, "EX0000003", 100, "U0ALICE01")

    view = open_home(slack, fake_slack)

    text = visible_text(view)
    summary = (
        "Active accounts: 3 · Credits: 5,950 · Below reminder level: 1 · Reminders with no recipients: 0"
    )
    assert summary in text
    assert "*Needs attention: 2 account(s)* · showing 1–2" in text
    assert text.index("Low Co") < text.index("Quiet Co") and "Fine Co" not in text and "Closed Co" not in text
    assert "Invoices" in text and "Recent activity" in text and "/invoices help" in text


def test_someone_without_a_role_sees_only_the_grant_line(slack, fake_slack, session_factory):
    make_account(session_factory)
    view = open_home(slack, fake_slack, "U0STRANGER")
    assert len(view["blocks"]) == 1
    assert "`admin-bot roles grant U0STRANGER viewer`" in visible_text(view)
    assert "Acme" not in visible_text(view)


def test_search_filters_the_list_in_place_and_pages(slack, fake_slack, admin, session_factory):
    for number in range(1, 11):
        make_account(session_factory, f"EX{number:07d}", f"Beta {number:02d}", credits=10)
    make_account(session_factory, "EX0000099", "Gamma", credits=10)
    home = open_home(slack, fake_slack)

    found = search_home(slack, fake_slack, home, "beta")
    assert "*10 active account(s) match beta* · showing 1–8" in visible_text(found)
    assert "Gamma" not in visible_text(found)
    [next_button] = [
        b for block in found["blocks"] if block.get("block_id") == "home_paging" for b in block["elements"]
        if b["text"]["text"] == "Next"
    ]  # fmt: skip
    slack.block_action(next_button["action_id"], value=next_button["value"], view=found)
    second = latest_home(fake_slack, 3)
    assert "showing 9–10" in visible_text(second) and "Beta 10" in visible_text(second)
    assert next_button["action_id"] == f"{HOME_PAGE_ACTION}_next"


def test_each_box_shows_only_what_the_role_allows(slack, fake_slack, admin, session_factory):
    empty = make_account(session_factory, "EX0000001", "Empty Co")
    rich = make_account(session_factory, "EX0000002", "Rich Co", credits=500)
    grant_role(session_factory, VIEWER, Role.VIEWER)
    grant_role(session_factory, "U0BILLING", Role.BILLING)

    assert buttons(open_home(slack, fake_slack, VIEWER), rich.id) == ["Low credit reminder", "History"]
    assert "Invoices" not in visible_text(open_home(slack, fake_slack, VIEWER)["blocks"][2])
    assert buttons(open_home(slack, fake_slack, "U0BILLING"), rich.id) == [
        "Buy credits",
        "Low credit reminder",
        "History",
    ]
    home = open_home(slack, fake_slack)
    assert buttons(home, rich.id) == [
        "Rename",
        "Buy credits",
        "Move credits",
        "Low credit reminder",
        "History",
        "Deactivate",
    ]
    assert "Move credits" not in buttons(home, empty.id)
    assert "No credits to move" in visible_text(home)


def test_rename_from_home_republishes_home_with_the_new_name(slack, fake_slack, admin, session_factory):
    account = make_account(session_factory, "EX0000001", "Acme", credits=10)
    home = open_home(slack, fake_slack)
    slack.block_action(
        RENAME_ACTION, value=str(account.id), block_id=box_block_id(home["blocks"], account.id), view=home
    )
    form = open_view(fake_slack)
    slack.view_submission(form, {NAME_BLOCK: {NAME_INPUT: plain_text("Acme Ltd")}})

    again = latest_home(fake_slack, 2)
    assert "Acme Ltd" in visible_text(again)


def second_page_of_ten(slack, fake_slack, session_factory) -> tuple[str, dict[str, Any]]:
    """Ten "Acme NN" accounts with 10 credits; `/accounts acme`, then Next: its response_url and message."""
    for number in range(1, 11):
        make_account(session_factory, f"EX{number:07d}", f"Acme {number:02d}", credits=10)
    first = slack.command("/accounts", "acme").json()
    paging = first["blocks"][-1]["elements"][-1]
    page_url = fake_slack.response_url()
    slack.block_action(paging["action_id"], value=paging["value"], response_url=page_url)
    return page_url, fake_slack.wait_for("response_url")[-1].params


def test_rename_from_accounts_replaces_that_message_on_its_page(slack, fake_slack, admin, session_factory):
    page_url, second = second_page_of_ten(slack, fake_slack, session_factory)
    target = account_id_of(session_factory, "EX0000009")
    slack.block_action(
        RENAME_ACTION,
        value=str(target),
        block_id=box_block_id(second["blocks"], target),
        response_url=page_url,
    )
    form = open_view(fake_slack)
    slack.view_submission(form, {NAME_BLOCK: {NAME_INPUT: plain_text("Acme 09 <Renamed>")}})

    replaced = fake_slack.wait_for("response_url", 2)[-1].params
    assert replaced["replace_original"] is True
    assert_valid_blocks(replaced["blocks"])
    assert "Acme 09 &lt;Renamed&gt;" in visible_text(replaced)
    assert "showing 9-10" in visible_text(replaced)  # the same page as before


def account_id_of(session_factory, reference: str) -> int:
    with session_factory.begin() as session:
        return account_store.by_reference(session, reference).id


def test_deactivate_from_accounts_keeps_the_credits_and_drops_the_box(
    slack, fake_slack, admin, session_factory
):
    account = make_account(session_factory, "EX0000001", "Acme", credits=700)
    make_account(session_factory, "EX0000002", "Beta", credits=1)
    reply = slack.command("/accounts").json()
    url = fake_slack.response_url()
    slack.block_action(
        DEACTIVATE_ACTION,
        value=str(account.id),
        block_id=box_block_id(reply["blocks"], account.id),
        response_url=url,
    )
    posted = fake_slack.wait_for("response_url", 2)
    replaced = next(p.params for p in posted if p.params.get("replace_original"))
    said = next(p.params for p in posted if not p.params.get("replace_original"))
    assert "Acme" not in visible_text(replaced) and "Beta" in visible_text(replaced)
    assert "It keeps its 700 credits" in said["text"]
    with session_factory.begin() as session:
        assert account_store.get(session, account.id).balance == 700
        assert [(e.action, e.new_value) for e in audit.entries_for(session, account.id)] == [
            ("status", "inactive")
        ]


def test_a_viewer_cannot_deactivate_even_with_a_crafted_click(slack, fake_slack, session_factory):
    account = make_account(session_factory, "EX0000001", "Acme", credits=700)
    grant_role(session_factory, VIEWER, Role.VIEWER)
    url = fake_slack.response_url()
    slack.block_action(DEACTIVATE_ACTION, value=str(account.id), user_id=VIEWER, response_url=url)
    [said] = fake_slack.wait_for("response_url")
    assert "your role is viewer" in said.params["text"]
    with session_factory.begin() as session:
        assert account_store.get(session, account.id).active is True


def test_history_opens_paged_newest_first(slack, fake_slack, admin, session_factory):
    account = make_account(session_factory, "EX0000001", "Acme", credits=100)
    for _ in range(12):
        with session_factory.begin() as session:
            ledger.record_usage(session, "EX0000001", 1, "cli")
    slack.block_action(HISTORY_ACTION, value=str(account.id))
    modal = open_view(fake_slack)
    assert_valid_view(fake_slack.calls_to("views.open")[-1].params["view"])
    text = visible_text(modal)
    assert "History of *Acme* (`EX0000001`)" in text and "balance after *88*" in text
    older = modal["blocks"][-1]["elements"][-1]
    assert older["text"]["text"] == "Older"
    slack.block_action(older["action_id"], value=older["value"], view=modal)
    [update] = fake_slack.wait_for("views.update")
    assert update.params["view_id"] == modal["id"]
    assert "Opening balance" in visible_text(update.params["view"])
    assert older["action_id"] == f"{HISTORY_PAGE_ACTION}_older"


def test_recent_activity_names_each_account(slack, fake_slack, admin, session_factory):
    make_account(session_factory, "EX0000001", "Acme", credits=100)
    home = open_home(slack, fake_slack)
    slack.block_action(RECENT_ACTION, value="all", view=home)
    modal = open_view(fake_slack)
    assert "`EX0000001` · Opening balance" in visible_text(modal)


def test_a_stale_buy_button_on_a_deactivated_account_says_what_it_is_now(
    slack, fake_slack, admin, session_factory
):
    account = make_account(session_factory, "EX0000001", "Acme", credits=100)
    with session_factory.begin() as session:
        account_store.set_active(session, account_store.get(session, account.id), False, "cli")
    slack.block_action(BUY_ACTION, value=str(account.id))
    notice = open_view(fake_slack)
    assert "Account EX0000001 is inactive." in visible_text(notice)
    assert json.dumps(notice).count("Buy and invoice") == 0


def test_invoices_help_shows_the_help_instead_of_searching_for_it(slack, fake_slack, admin):
    reply = slack.command("/invoices", "help").json()
    assert "*Roles*" in reply["text"] and "/accounts help" in reply["text"]
    assert fake_slack.calls_to("views.open") == []


def home_button(view: dict[str, Any], label: str) -> dict[str, Any]:
    """A button on the Home tab outside the account boxes, by its label prefix."""
    return next(
        element
        for block in view["blocks"]
        if block["type"] == "actions" and not block.get("block_id", "").startswith("manage-")
        for element in block["elements"]
        if element["text"]["text"].startswith(label)
    )


def test_an_admin_lists_inactive_accounts_on_home_and_activates_one(
    slack, fake_slack, admin, session_factory
):
    make_account(session_factory, "EX0000001", "Open Co", credits=5)
    closed = make_account(session_factory, "EX0000002", "Closed & Co", credits=700, active=False)
    for number in range(3, 12):
        make_account(session_factory, f"EX{number:07d}", f"Shut {number:02d}", active=False)
    home = open_home(slack, fake_slack)
    inactive = home_button(home, "Inactive accounts")
    assert inactive["text"]["text"] == "Inactive accounts (10)"

    slack.block_action(inactive["action_id"], value=inactive["value"], view=home)
    listed = latest_home(fake_slack, 2)
    text = visible_text(listed)
    assert "*Inactive accounts: 10* · showing 1–8" in text
    assert "Closed &amp; Co" in text and "Open Co" not in text and "Shut 10" not in text
    assert buttons(listed, closed.id) == ["History", "Activate"]
    activate = next(
        element
        for block in listed["blocks"]
        if block.get("block_id", "").startswith(f"manage-{closed.id}")
        for element in block["elements"]
        if element["text"]["text"] == "Activate"
    )
    assert "Closed &amp; Co" in activate["confirm"]["text"]["text"]
    assert "700 credits" in activate["confirm"]["text"]["text"]
    next_page = home_button(listed, "Next")
    slack.block_action(next_page["action_id"], value=next_page["value"], view=listed)
    second = latest_home(fake_slack, 3)
    assert "*Inactive accounts: 10* · showing 9–10" in visible_text(second)
    assert "Shut 11" in visible_text(second)

    slack.block_action(
        activate["action_id"],
        value=activate["value"],
        block_id=box_block_id(listed["blocks"], closed.id),
        view=listed,
    )
    after = latest_home(fake_slack, 4)
    text = visible_text(after)
    assert "Closed &amp; Co (EX0000002) is active again. It has its 700 credits" in text
    assert "*Inactive accounts: 9* · showing 1–8" in text
    assert home_button(after, "Inactive accounts")["text"]["text"] == "Inactive accounts (9)"
    with session_factory.begin() as session:
        account = account_store.get(session, closed.id)
        assert (account.active, account.balance) == (True, 700)
        assert [
            (e.action, e.old_value, e.new_value, e.actor) for e in audit.entries_for(session, closed.id)
        ] == [("status", "inactive", "active", DEFAULT_USER_ID)]


def test_activate_from_an_accounts_message_confirms_with_the_balance(
    slack, fake_slack, admin, session_factory
):
    closed = make_account(session_factory, "EX0000002", "Closed Co", credits=700, active=False)
    url = fake_slack.response_url()
    slack.block_action(ACTIVATE_ACTION, value=str(closed.id), response_url=url)
    [said] = fake_slack.wait_for("response_url")
    assert "Closed Co (EX0000002) is active again. It has its 700 credits" in said.params["text"]
    assert latest_home(fake_slack, 1)["blocks"]  # the Home tab is redrawn too


def test_only_admins_see_or_use_the_inactive_list(slack, fake_slack, admin, session_factory):
    closed = make_account(session_factory, "EX0000002", "Closed Co", credits=700, active=False)
    grant_role(session_factory, VIEWER, Role.VIEWER)
    grant_role(session_factory, "U0BILLING", Role.BILLING)
    admin_home = open_home(slack, fake_slack)
    inactive = home_button(admin_home, "Inactive accounts")
    for user_id in (VIEWER, "U0BILLING"):
        home = open_home(slack, fake_slack, user_id)
        assert "Inactive accounts (" not in visible_text(home)
        published = len(fake_slack.calls_to("views.publish"))
        slack.block_action(inactive["action_id"], value=inactive["value"], view=home, user_id=user_id)
        crafted = latest_home(fake_slack, published + 1, user_id)
        assert "Closed Co" not in visible_text(crafted)
        assert "You need the admin role to see inactive accounts" in visible_text(crafted)
        answered = len(fake_slack.calls_to("response_url"))
        slack.block_action(ACTIVATE_ACTION, value=str(closed.id), user_id=user_id)
        said = fake_slack.wait_for("response_url", answered + 1)[-1]
        assert "You need the admin role" in said.params["text"]
    with session_factory.begin() as session:
        assert account_store.get(session, closed.id).active is False
        assert audit.entries_for(session, closed.id) == []


def test_user_text_in_home_headings_history_and_status_notes_cannot_format_itself(
    slack, fake_slack, admin, session_factory
):
    # `&`, `<` and `>` were escaped here, but `*` and `_` ended the bold early or started
    # italics: the name or search is drawn literally, as /accounts draws it.
    account = make_account(session_factory, "EX0000001", "Acme *Bold* _it_ Ltd", credits=10)
    home = open_home(slack, fake_slack)
    searches = (("*bold*", "*1 active account(s) match ∗bold∗*"), ("_x_", "match *ˍxˍ*"))
    for typed, seen in searches:
        assert seen in visible_text(search_home(slack, fake_slack, home, typed))
    slack.block_action(HISTORY_ACTION, value=str(account.id))
    assert "History of *Acme ∗Bold∗ ˍitˍ Ltd* (`EX0000001`)" in visible_text(open_view(fake_slack))
    url = fake_slack.response_url()
    slack.block_action(DEACTIVATE_ACTION, value=str(account.id), response_url=url)
    said = next(p.params for p in fake_slack.wait_for("response_url", 1))
    assert said["text"].startswith("Acme ∗Bold∗ ˍitˍ Ltd (EX0000001) is now inactive.")


def test_a_button_for_an_account_that_does_not_exist_says_where_the_current_ones_are(
    slack, fake_slack, admin, session_factory
):
    make_account(session_factory, "EX0000001", "Acme", credits=10)
    gone = "No account has the id 999. Run `/accounts` to see current accounts."
    for said, action in enumerate((ACTIVATE_ACTION, DEACTIVATE_ACTION), start=1):
        slack.block_action(action, value="999", response_url=fake_slack.response_url())
        assert fake_slack.wait_for("response_url", said)[-1].params["text"] == gone
    slack.block_action(HISTORY_ACTION, value="999")
    assert visible_text(open_view(fake_slack)) == gone  # the notice opened where History was clicked
    with session_factory.begin() as session:
        assert audit.entries_for(session, 999) == []


HOME_FAULTS = {
    "500": {"status": 500},
    "429 with a long Retry-After": {"status": 429, "retry_after": 30},
}


@pytest.mark.parametrize("fault", HOME_FAULTS)
def test_deactivate_on_home_is_told_by_dm_when_home_cannot_be_redrawn(
    fault, slack, fake_slack, admin, session_factory
):
    account = make_account(session_factory, "EX0000001", "Acme", credits=700)
    home = open_home(slack, fake_slack)
    fake_slack.fail("views.publish", times=None, **HOME_FAULTS[fault])

    slack.block_action(
        DEACTIVATE_ACTION, value=str(account.id), block_id=box_block_id(home["blocks"], account.id), view=home
    )

    [dm] = fake_slack.wait_for("chat.postMessage")
    assert dm.params["channel"] == DEFAULT_USER_ID
    assert "Acme (EX0000001) is now inactive. It keeps its 700 credits" in dm.params["text"]
    assert "Slack would not redraw your Home tab" in dm.params["text"]
    with session_factory.begin() as session:
        assert account_store.get(session, account.id).active is False


def test_a_form_change_on_home_is_told_by_dm_when_home_cannot_be_redrawn(
    slack, fake_slack, admin, session_factory
):
    account = make_account(session_factory, "EX0000001", "Acme", credits=10)
    home = open_home(slack, fake_slack)
    slack.block_action(
        RENAME_ACTION, value=str(account.id), block_id=box_block_id(home["blocks"], account.id), view=home
    )
    form = open_view(fake_slack)
    fake_slack.fail("views.publish", status=500, times=None)

    answer = slack.view_submission(form, {NAME_BLOCK: {NAME_INPUT: plain_text("Acme Ltd")}}).json()

    assert "Renamed *Acme* to *Acme Ltd*" in visible_text(answer["view"])
    [dm] = fake_slack.wait_for("chat.postMessage")
    assert (
        dm.params["text"]
        == "Sorry, Slack would not redraw your Home tab (internal_error). Open it again in a moment."
    )


def test_a_search_for_an_escape_sequence_stays_the_same_search_on_every_redraw(
    slack, fake_slack, admin, session_factory
):
    smiths = [
        make_account(session_factory, f"EX{number:07d}", f"Smith &amp; Co {number:02d}")
        for number in range(1, 11)
    ]
    make_account(session_factory, "EX0000099", "Jones & Co")
    home = open_home(slack, fake_slack)
    found = search_home(slack, fake_slack, home, "&amp;")  # typed as it reads, not an escaped "&"
    assert "*10 active account(s) match &amp;amp;* · showing 1–8" in visible_text(found)

    next_page = home_button(found, "Next")
    slack.block_action(next_page["action_id"], value=next_page["value"], view=found)
    second = latest_home(fake_slack, 3)
    assert "*10 active account(s) match &amp;amp;* · showing 9–10" in visible_text(second)

    last = smiths[-1].id
    slack.block_action(
        DEACTIVATE_ACTION, value=str(last), block_id=box_block_id(second["blocks"], last), view=second
    )
    changed = latest_home(fake_slack, 4)
    assert "*9 active account(s) match &amp;amp;* · showing 9–9" in visible_text(changed)

    slack.event({"type": "app_home_opened", "user": DEFAULT_USER_ID, "tab": "home", "view": changed})
    reopened = latest_home(fake_slack, 5)
    assert "*9 active account(s) match &amp;amp;* · showing 9–9" in visible_text(reopened)
    assert all("Jones" not in visible_text(view) for view in (found, second, changed, reopened))


def test_history_in_slack_stops_at_the_latest_thousand_entries_and_names_the_cli_for_older(
    slack, fake_slack, admin, session_factory
):
    account = make_account(session_factory, "EX0000001", "Acme", credits=5_000)
    with session_factory.begin() as session:
        loaded = account_store.get(session, account.id)
        for _ in range(1_000):  # with the opening balance, 1,001 entries
            ledger.post(session, loaded, EntryKind.USAGE, -1, "api")
    slack.block_action(HISTORY_ACTION, value=str(account.id))
    modal = open_view(fake_slack)
    # the 99th page, as the 98th page's Older asks for it; then its own Older, to the 100th
    slack.block_action(
        f"{HISTORY_PAGE_ACTION}_older", value=json.dumps({"account": account.id, "offset": 980}), view=modal
    )
    page_99 = open_view(fake_slack, 1)  # the modal as each click redrew it
    older = page_99["blocks"][-1]["elements"][-1]
    assert older["text"]["text"] == "Older"
    slack.block_action(older["action_id"], value=older["value"], view=page_99)
    page_100 = open_view(fake_slack, 2)

    assert [button["text"]["text"] for button in page_100["blocks"][-1]["elements"]] == ["Newer"]
    text = visible_text(page_100)
    assert "Opening balance" not in text and text.count("Usage") == 10
    assert (
        "The history in Slack stops here, at the latest 1,000 entries. "
        "For older ones run `admin-bot accounts history EX0000001 --offset 1000`." in text
    )
    slack.block_action(
        f"{HISTORY_PAGE_ACTION}_older", value=json.dumps({"account": None, "offset": 990}), view=page_100
    )
    recent = open_view(fake_slack, 3)
    assert [button["text"]["text"] for button in recent["blocks"][-1]["elements"]] == ["Newer"]
    assert "For older ones run `admin-bot accounts history REFERENCE`." in visible_text(recent)


def test_the_inactive_list_of_an_account_with_the_longest_escaped_name_is_published(
    slack, fake_slack, admin, session_factory
):
    # 50 characters, each "&" drawn as "&amp;": the Activate confirmation would pass Slack's 300
    make_account(session_factory, "EX0000001", "&" * 40 + " Holdings", credits=10**12, active=False)
    home = open_home(slack, fake_slack)
    inactive = home_button(home, "Inactive accounts")
    slack.block_action(inactive["action_id"], value=inactive["value"], view=home)
    listed = latest_home(fake_slack, 2)  # a valid view, so Slack shows it
    assert "*" + "&amp;" * 40 + " Holdings*" in visible_text(listed)
    assert buttons(listed, 1) == ["History", "Activate"]


def test_history_rows_draw_names_literally(slack, fake_slack, admin, session_factory):
    account = make_account(session_factory, "EX0000001", "Acme", credits=50)
    other = make_account(session_factory, "EX0000002", "Beta *Bold* _it_", credits=50)
    with session_factory.begin() as session:
        account_store.rename(session, account_store.get(session, account.id), "Acme *New* _Ltd_", "cli")
    with session_factory.begin() as session:
        ledger.transfer(session, account.id, other.id, 5, "cli", "move-1")
    slack.block_action(HISTORY_ACTION, value=str(account.id))
    text = visible_text(open_view(fake_slack))
    assert "Moved to Beta ∗Bold∗ ˍitˍ (EX0000002)" in text
    assert "Acme → Acme ∗New∗ ˍLtdˍ" in text


def test_reopening_home_on_the_inactive_list_after_losing_admin_quietly_shows_needs_attention(
    slack, fake_slack, admin, session_factory
):
    make_account(session_factory, "EX0000001", "Quiet Co", credits=5)
    make_account(session_factory, "EX0000002", "Shut Co", credits=5, active=False)
    home = open_home(slack, fake_slack)
    inactive = home_button(home, "Inactive accounts")
    slack.block_action(inactive["action_id"], value=inactive["value"], view=home)
    listed = latest_home(fake_slack, 2)
    grant_role(session_factory, admin, Role.VIEWER)

    slack.event({"type": "app_home_opened", "user": admin, "tab": "home", "view": listed})
    reopened = visible_text(latest_home(fake_slack, 3))
    assert "*Needs attention: 1 account(s)* · showing 1–1" in reopened and "Quiet Co" in reopened
    assert "Shut Co" not in reopened and "You need the admin role" not in reopened

    # clicking for the inactive list, on the stale tab, still says why not
    slack.block_action(inactive["action_id"], value=inactive["value"], view=listed)
    clicked = visible_text(latest_home(fake_slack, 4))
    assert "You need the admin role to see inactive accounts; your role is viewer." in clicked
    assert "Shut Co" not in clicked
