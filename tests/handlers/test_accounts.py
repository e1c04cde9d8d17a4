"""/accounts: listing, searching, help, permissions and escaping."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import select

from handlers.accounts import NEXT_PAGE_ACTION
from store import accounts, ledger, roles
from store.models import Account, Role
from tests.blockkit import assert_valid_blocks, visible_text
from tests.conftest import grant_role, make_account
from tests.slack_requests import DEFAULT_USER_ID, SlackRequests


def test_accounts_lists_active_accounts_privately(slack: SlackRequests, admin, session_factory):
    make_account(session_factory, "EX0000001", "Acme Marketing", credits=1200, keyword="ACME")
    make_account(session_factory, "EX0000002", "Beta Alerts", credits=5)
    make_account(session_factory, "EX0000003", "Closed Co", active=False)
    reply = slack.command("/accounts").json()
    assert reply["response_type"] == "ephemeral"
    assert_valid_blocks(reply["blocks"])
    text = visible_text(reply)
    assert "2 active account(s)" in text
    assert "Acme Marketing" in text and "1,200" in text and "ACME" in text
    assert "Closed Co" not in text


def test_search_matches_name_reference_and_keyword_case_insensitively(
    slack: SlackRequests, admin, session_factory
):
    make_account(session_factory, "EX0000001", "Acme Marketing", keyword="PROMO")
    make_account(session_factory, "EX0000002", "Beta Alerts")
    assert "Acme Marketing" in visible_text(slack.command("/accounts", "acme").json())
    assert "Acme Marketing" in visible_text(slack.command("/accounts", "promo").json())
    by_reference = visible_text(slack.command("/accounts", "ex0000002").json())
    assert "Beta Alerts" in by_reference and "Acme" not in by_reference


def test_no_match_gives_a_hint(slack: SlackRequests, admin, session_factory):
    make_account(session_factory)
    text = visible_text(slack.command("/accounts", "zzz").json())
    assert "No accounts match *zzz*" in text and "reference" in text


def test_user_controlled_text_is_escaped(slack: SlackRequests, admin, session_factory):
    make_account(session_factory, "EX0000001", "<!channel> & <@U123>")
    reply = slack.command("/accounts").json()
    assert_valid_blocks(reply["blocks"])
    text = visible_text(reply)
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text
    assert "<!channel>" not in text


def test_help_explains_commands(slack: SlackRequests):
    text = slack.command("/accounts", "help").json()["text"]
    assert "/accounts QUERY" in text and "viewer" in text


def test_user_without_role_is_told_how_to_get_access(slack: SlackRequests, session_factory):
    make_account(session_factory)
    reply = slack.command("/accounts", user_id="U0NOBODY1").json()
    assert "admin-bot roles grant U0NOBODY1 viewer" in reply["text"]
    assert "blocks" not in reply


def test_viewer_can_list(slack: SlackRequests, session_factory):
    make_account(session_factory)
    grant_role(session_factory, "U0VIEWER1", Role.VIEWER)
    assert "Acme Marketing" in visible_text(slack.command("/accounts", user_id="U0VIEWER1").json())


def test_search_follows_a_role_change_on_the_next_request(slack: SlackRequests, admin, session_factory):
    make_account(session_factory, "EX0000001", "Acme Marketing", credits=10)

    def buttons() -> list[str]:
        reply = slack.command("/accounts", "acme").json()
        return [
            e["text"]["text"]
            for b in reply.get("blocks", [])
            if b["type"] == "actions"
            for e in b["elements"]
        ]

    assert "Move credits" in buttons()
    grant_role(session_factory, admin, Role.VIEWER)
    assert "History" in (shown := buttons()) and "Move credits" not in shown
    with session_factory.begin() as session:
        roles.revoke(session, admin, Role.VIEWER, "U0LEAD001")
    reply = slack.command("/accounts", "acme").json()
    assert f"admin-bot roles grant {admin} viewer" in reply["text"] and "blocks" not in reply
    grant_role(session_factory, admin, Role.ADMIN)
    assert "Move credits" in buttons()


def test_a_next_button_after_the_role_was_revoked_shows_the_refusal_and_no_accounts(
    slack: SlackRequests, admin, session_factory, fake_slack
):
    for number in range(1, 11):
        make_account(session_factory, f"EX{number:07d}", f"Account {number:02d}")
    reply = slack.command("/accounts").json()
    with session_factory.begin() as session:
        roles.revoke(session, admin, Role.ADMIN, "U0LEAD001")
    slack.block_action(
        NEXT_PAGE_ACTION,
        value=json.dumps({"q": "", "offset": 8}),
        response_url=fake_slack.response_url(),
        message=reply,
    )
    [posted] = fake_slack.wait_for("response_url")
    assert f"admin-bot roles grant {admin} viewer" in posted.params["text"]
    assert posted.params["replace_original"] is False and "blocks" not in posted.params


def test_results_are_paged_with_next_and_previous(slack: SlackRequests, admin, session_factory, fake_slack):
    for number in range(1, 21):
        make_account(session_factory, f"EX{number:07d}", f"Account {number:02d}", credits=number)
    reply = slack.command("/accounts").json()
    assert_valid_blocks(reply["blocks"])
    assert "20 active account(s); showing 1-8" in visible_text(reply)
    paging = reply["blocks"][-1]
    assert [button["text"]["text"] for button in paging["elements"]] == ["Next"]
    next_button = paging["elements"][0]
    response_url = fake_slack.response_url()
    slack.block_action(
        next_button["action_id"],
        value=next_button["value"],
        response_url=response_url,
        message=reply,
    )
    [posted] = fake_slack.wait_for("response_url")
    assert posted.params["replace_original"] is True
    assert_valid_blocks(posted.params["blocks"])
    assert "showing 9-16" in visible_text(posted.params)
    assert [b["text"]["text"] for b in posted.params["blocks"][-1]["elements"]] == [
        "Previous",
        "Next",
    ]


def test_empty_account_shows_no_credits_to_move_instead_of_button(
    slack: SlackRequests, admin, session_factory
):
    make_account(session_factory, "EX0000001", "Empty", credits=0)
    reply = slack.command("/accounts").json()
    buttons = [e["text"]["text"] for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert "Move credits" not in buttons and "Rename" in buttons
    assert "No credits to move" in visible_text(reply)


def test_a_stale_next_button_shows_the_last_page_there_still_is(
    slack: SlackRequests, admin, session_factory, fake_slack
):
    for number in range(1, 21):
        make_account(session_factory, f"EX{number:07d}", f"Account {number:02d}")
    reply = slack.command("/accounts").json()
    with session_factory.begin() as session:  # ten accounts close before the user pages on
        for account in session.scalars(select(Account).where(Account.id > 10)):
            account.active = False
    response_url = fake_slack.response_url()
    slack.block_action(
        NEXT_PAGE_ACTION,
        value=json.dumps({"q": "", "offset": 16}),
        response_url=response_url,
        message=reply,
    )
    [posted] = fake_slack.wait_for("response_url")
    assert_valid_blocks(posted.params["blocks"])
    text = visible_text(posted.params)
    assert "10 active account(s); showing 9-10" in text
    assert "Account 09" in text and "Account 10" in text and "Account 11" not in text
    assert [b["text"]["text"] for b in posted.params["blocks"][-1]["elements"]] == ["Previous"]


def test_search_answers_while_a_credit_move_holds_the_write_lock(
    slack: SlackRequests, admin, session_factory
):
    make_account(session_factory, "EX0000001", "Acme Marketing", credits=10)
    make_account(session_factory, "EX0000002", "Beta Alerts")
    answers: list[str] = []
    with session_factory.begin() as session:  # a move half-way through: rows and write lock held
        ledger.transfer(session, 1, 2, 4, "test", key="held-move")
        searcher = threading.Thread(
            target=lambda: answers.append(visible_text(slack.command("/accounts", "acme").json()))
        )
        searcher.start()
        searcher.join(timeout=5)
        assert answers, "the search waited for the move to commit"
    # It saw the balance as it was before the move, never a half-applied one.
    assert "Acme Marketing" in answers[0] and "*Credits*\n10" in answers[0]


def test_a_very_common_search_says_more_than_and_how_to_narrow_it(
    slack: SlackRequests, admin, session_factory
):
    with session_factory.begin() as session:
        for number in range(1, 106):
            accounts.create(session, f"EX{number:07d}", f"Florist {number:03d}")
    reply = slack.command("/accounts", "florist").json()
    assert_valid_blocks(reply["blocks"])
    text = visible_text(reply)
    assert "More than 100 matching *florist* account(s); showing 1-8." in text
    assert "Add more of a name, reference or keyword to narrow it down." in text
    assert [b["text"]["text"] for b in reply["blocks"][-1]["elements"]] == ["Next"]


def test_slash_text_is_unescaped_on_the_way_in_and_escaped_once_on_the_way_out(
    slack: SlackRequests, admin, session_factory
):
    make_account(session_factory, "EX0000001", "Smith & Sons")
    # Slack sends "&", "<" and ">" in slash-command text as &amp;, &lt; and &gt;.
    reply = slack.command("/accounts", "Smith &amp; Sons").json()
    text = visible_text(reply)
    assert "1 matching *Smith &amp; Sons* account(s)" in text or "matching *Smith &amp; Sons*" in text
    assert "*Smith &amp; Sons*\n`EX0000001`" in text


def test_a_search_for_an_escape_sequence_pages_through_the_same_search(
    slack: SlackRequests, admin, session_factory, fake_slack
):
    for number in range(1, 11):
        make_account(session_factory, f"EX{number:07d}", f"Smith &amp; Co {number:02d}")
    make_account(session_factory, "EX0000099", "Jones & Co")
    # The user typed "&amp;" literally; Slack escapes slash-command text, never the bot's own buttons.
    reply = slack.command("/accounts", "&amp;amp;").json()
    assert "10 matching *&amp;amp;* account(s); showing 1-8." in visible_text(reply)
    next_button = reply["blocks"][-1]["elements"][-1]
    slack.block_action(
        NEXT_PAGE_ACTION, value=next_button["value"], response_url=fake_slack.response_url(), message=reply
    )
    [posted] = fake_slack.wait_for("response_url")
    text = visible_text(posted.params)
    assert "10 matching *&amp;amp;* account(s); showing 9-10." in text
    assert "Jones" not in text


# How Slack can refuse to replace the results message: an expired link, an outage, no connection.
RESULTS_NOT_REPLACED = {"404": 404, "500": 500, "no connection": None}


@pytest.mark.parametrize("refusal", RESULTS_NOT_REPLACED)
def test_next_is_told_by_dm_once_when_slack_will_not_replace_the_results(
    slack: SlackRequests, admin, session_factory, fake_slack, refusal
):
    for number in range(1, 11):
        make_account(session_factory, f"EX{number:07d}", f"Account {number:02d}")
    reply = slack.command("/accounts").json()
    status = RESULTS_NOT_REPLACED[refusal]
    if status is None:
        response_url, reason = "http://127.0.0.1:1/response/gone", "URLError"  # nothing listens there
    else:
        response_url, reason = fake_slack.response_url(), str(status)
        fake_slack.fail("response_url", status=status, error="expired_url", times=None)

    next_button = reply["blocks"][-1]["elements"][-1]
    slack.block_action(NEXT_PAGE_ACTION, value=next_button["value"], response_url=response_url, message=reply)

    [dm] = fake_slack.wait_for("chat.postMessage")
    assert dm.params["channel"] == DEFAULT_USER_ID
    assert dm.params["text"] == (
        f"Sorry, Slack would not show that page of accounts ({reason}). Run `/accounts` again."
    )
    time.sleep(0.5)  # the lazy listener has nothing left to say
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert len(fake_slack.calls_to("response_url")) == (0 if status is None else 1)


def test_a_keyword_is_drawn_literally_not_as_formatting(slack: SlackRequests, admin, session_factory):
    make_account(session_factory, "EX0000001", "Acme", keyword="ACME_SMS_2")
    text = visible_text(slack.command("/accounts").json())
    assert "`EX0000001` · keyword _ACMEˍSMSˍ2_" in text


@pytest.mark.parametrize("query", ["acme\x00", "\x00", "ac\x00me"])
def test_a_nul_byte_in_the_search_is_dropped_before_the_database(
    slack: SlackRequests, admin, session_factory, query
):
    make_account(session_factory, "EX0000001", "Acme Marketing")
    answer = slack.command("/accounts", query)
    assert answer.status == 200
    assert "Acme Marketing" in visible_text(answer.json())


def test_a_crafted_page_offset_is_a_stale_link(slack: SlackRequests, admin, session_factory, fake_slack):
    response_url = fake_slack.response_url()
    slack.block_action(
        NEXT_PAGE_ACTION, value=json.dumps({"q": "", "offset": 10**30}), response_url=response_url
    )
    [posted] = fake_slack.wait_for("response_url")
    assert posted.params["text"] == "That page link is not valid any more; run `/accounts` again."
