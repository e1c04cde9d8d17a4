"""App Home: the Home tab shows help and the visitor's access."""

from __future__ import annotations

from tests.blockkit import assert_valid_view, visible_text
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests


def test_opening_home_publishes_help_and_role(slack: SlackRequests, fake_slack: FakeSlack, admin):
    response = slack.event({"type": "app_home_opened", "user": admin, "channel": "D0HOME", "tab": "home"})
    assert response.status == 200
    [call] = fake_slack.wait_for("views.publish")
    assert call.params["user_id"] == admin
    assert_valid_view(call.params["view"])
    text = visible_text(call.params["view"])
    assert "You are *admin*" in text and "/accounts QUERY" in text


def test_home_tells_a_stranger_how_to_get_access(slack: SlackRequests, fake_slack: FakeSlack):
    slack.event({"type": "app_home_opened", "user": "U0STRANGER", "channel": "D0", "tab": "home"})
    [call] = fake_slack.wait_for("views.publish")
    assert "admin-bot roles grant U0STRANGER viewer" in visible_text(call.params["view"])
