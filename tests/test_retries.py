"""The Web API client repeats only calls that cannot act twice, and never waits long to do so."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.app import make_client
from tests.fake_slack import FakeSlack

ALICE = "U0ALICE01"


@pytest.fixture
def client(config, fake_slack: FakeSlack):
    """The bot's own Web API client, pointed at the fake."""
    fake_slack.add_user(ALICE, "alice@example.com")
    return make_client(config)


def acted(fake: FakeSlack, method: str) -> int:
    """How many calls to method the fake carried out (answered, even if the answer was lost)."""
    return len([call for call in fake.calls_to(method) if call.reply is not None])


def test_a_message_whose_answer_was_lost_is_not_posted_again(client, fake_slack):
    fake_slack.drop("chat.postMessage", after_acting=True)
    with pytest.raises((SlackClientError, OSError)):
        client.chat_postMessage(channel=ALICE, text="Your balance is low")
    assert acted(fake_slack, "chat.postMessage") == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_a_message_dropped_before_slack_saw_it_is_not_repeated_blindly_either(client, fake_slack):
    # The client cannot tell the two drops apart, so it never guesses for a call that acts.
    fake_slack.drop("chat.postMessage", after_acting=False)
    with pytest.raises((SlackClientError, OSError)):
        client.chat_postMessage(channel=ALICE, text="Your balance is low")
    assert acted(fake_slack, "chat.postMessage") == 0


def test_an_upload_completion_whose_answer_was_lost_is_not_repeated(client, fake_slack):
    fake_slack.drop("files.completeUploadExternal", after_acting=True)
    with pytest.raises((SlackClientError, OSError)):
        client.files_upload_v2(channel=ALICE, filename="INV-1.pdf", content=b"%PDF-1.4")
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1


def test_a_lookup_whose_answer_was_lost_is_asked_again(client, fake_slack):
    fake_slack.drop("users.lookupByEmail", after_acting=True)
    assert client.users_lookupByEmail(email="alice@example.com")["user"]["id"] == ALICE
    assert len(fake_slack.calls_to("users.lookupByEmail")) == 2


@pytest.mark.parametrize("method", ["users.lookupByEmail", "views.update"])
def test_idempotent_calls_are_repeated_after_a_server_error(client, fake_slack, method):
    fake_slack.fail(method, status=500)
    if method == "views.update":
        with pytest.raises(SlackApiError, match="not_found"):  # reached Slack again: no such view
            client.views_update(view_id="V0NOSUCH1", view={"type": "modal", "title": {}, "blocks": []})
    else:
        client.users_lookupByEmail(email="alice@example.com")
    assert len(fake_slack.calls_to(method)) == 2


def test_a_message_is_not_repeated_after_a_server_error(client, fake_slack):
    fake_slack.fail("chat.postMessage", status=500)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel=ALICE, text="Your balance is low")
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_a_rate_limited_message_is_sent_once_after_a_short_retry_after(client, fake_slack):
    # A 429 means Slack did nothing, so even a call that acts may be repeated.
    fake_slack.fail("chat.postMessage", status=429, retry_after=1)
    client.chat_postMessage(channel=ALICE, text="Your balance is low")
    assert [call.reply["ok"] for call in fake_slack.calls_to("chat.postMessage")] == [False, True]


def test_a_long_retry_after_fails_the_call_instead_of_holding_the_request(client, fake_slack):
    fake_slack.fail("users.lookupByEmail", status=429, retry_after=3)
    with pytest.raises(SlackApiError, match="ratelimited"):
        client.users_lookupByEmail(email="alice@example.com")
    assert len(fake_slack.calls_to("users.lookupByEmail")) == 1
