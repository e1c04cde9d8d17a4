"""The low credit reminder settings modal: who may change it, validation, saving and auditing."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.account_box import REMINDER_ACTION
from handlers.reminders import (
    CHANNELS_BLOCK,
    CHANNELS_INPUT,
    CHECKING_VIEW,
    EMAILS_BLOCK,
    EMAILS_INPUT,
    ENABLED_BLOCK,
    ENABLED_INPUT,
    ENABLED_VALUE,
    LEVEL_BLOCK,
    LEVEL_INPUT,
    PEOPLE_BLOCK,
    PEOPLE_INPUT,
    REMINDER_VIEW,
    TOP_UP_BLOCK,
    TOP_UP_CREDITS_BLOCK,
    TOP_UP_CREDITS_INPUT,
    TOP_UP_INPUT,
    TOP_UP_LIMIT_BLOCK,
    TOP_UP_LIMIT_INPUT,
    TOP_UP_UNIT_BLOCK,
    TOP_UP_UNIT_INPUT,
    TOP_UP_VALUE,
    WARNING_BLOCK,
    WARNING_INPUT,
)
from store import accounts, audit, roles, top_up
from store.models import Role
from tests.blockkit import assert_valid_view, visible_text
from tests.conftest import grant_role, make_account
from tests.fake_slack import FakeSlack
from tests.slack_requests import (
    SlackRequests,
    checkboxes,
    multi_conversations_select,
    multi_users_select,
    open_view,
    option,
    plain_text,
)

ALICE, BOB = "U0ALICE01", "U0BOB0001"
BILLING = "U0BILLING"


@pytest.fixture
def team(fake_slack: FakeSlack) -> FakeSlack:
    """Alice and Bob are members of the workspace."""
    fake_slack.add_user(ALICE, "alice@example.com")
    fake_slack.add_user(BOB, "bob@example.com")
    return fake_slack


def values(
    enabled: bool = True,
    level: str = "500",
    emails: str | None = "alice@example.com",
    people: list[str] | None = None,
    channels: list[str] | None = None,
) -> dict[str, Any]:
    return {
        ENABLED_BLOCK: {ENABLED_INPUT: checkboxes([ENABLED_VALUE] if enabled else [])},
        LEVEL_BLOCK: {LEVEL_INPUT: plain_text(level)},
        EMAILS_BLOCK: {EMAILS_INPUT: plain_text(emails)},
        PEOPLE_BLOCK: {PEOPLE_INPUT: multi_users_select(people or [])},
        CHANNELS_BLOCK: {CHANNELS_INPUT: multi_conversations_select(channels or [])},
    }


def open_settings(
    slack: SlackRequests, fake: FakeSlack, account_id: int, user_id: str = "U0ADMIN"
) -> dict[str, Any]:
    opened = len(fake.view_history)
    assert slack.block_action(REMINDER_ACTION, value=str(account_id), user_id=user_id).status == 200
    view = open_view(fake, opened)
    assert_valid_view(fake.calls_to("views.open")[-1].params["view"])
    return view


def submit(
    slack: SlackRequests, fake: FakeSlack, view: dict[str, Any], state: dict[str, Any], **fields: Any
) -> dict:
    """Submit the settings; when emails need Slack, the outcome arrives by views.update after the ack."""
    updates = len(fake.calls_to("views.update"))
    reply = slack.view_submission(view, state, **fields).json()
    if reply.get("response_action") != "update" or reply["view"].get("callback_id") != CHECKING_VIEW:
        return reply
    assert_valid_view(reply["view"])
    # Nothing slow inside the acknowledgement: the lookups happen after it.
    update = fake.wait_for("views.update", count=updates + 1)[-1]
    assert update.params["view_id"] == view["id"]
    assert_valid_view(update.params["view"])
    return {"response_action": "update", "view": update.params["view"]}


def saved(session_factory, reference: str = "EX0000001") -> tuple[bool, int, list[tuple]]:
    with session_factory.begin() as session:
        account = accounts.by_reference(session, reference)
        return (
            account.reminder_enabled,
            account.reminder_level,
            [(r.address, r.slack_user_id) for r in account.recipients],
        )


def test_settings_modal_shows_current_settings(slack, admin, session_factory, team):
    account = make_account(session_factory, credits=900)
    view = open_settings(slack, team, account.id)
    assert view["callback_id"] == REMINDER_VIEW and view["submit"]["text"] == "Save"
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks[LEVEL_BLOCK]["element"]["initial_value"] == "0"
    assert "initial_options" not in blocks[ENABLED_BLOCK]["element"]
    assert blocks[PEOPLE_BLOCK]["element"]["type"] == "multi_users_select"
    assert blocks[EMAILS_BLOCK]["element"]["multiline"] is True
    assert "Acme Marketing" in visible_text(view) and "900" in visible_text(view)


def test_billing_user_saves_reminder_and_sees_state_and_level(slack, session_factory, team):
    grant_role(session_factory, "U0BILLING", Role.BILLING)
    account = make_account(session_factory, credits=900)
    view = open_settings(slack, team, account.id, "U0BILLING")

    reply = submit(
        slack,
        team,
        view,
        values(level="1,500", emails="Alice@example.com,\n bob@example.com alice@example.com", people=[BOB]),
        user_id="U0BILLING",
    )

    assert reply["response_action"] == "update"
    assert_valid_view(reply["view"])
    text = visible_text(reply["view"])
    assert "on, below 1,500 credits" in text and "alice@example.com" in text and f"<@{BOB}>" in text
    # Bob by email and picked too is one recipient: one DM, not two.
    assert f"bob@example.com is <@{BOB}>, already on the list: one recipient, one DM." in text
    assert saved(session_factory) == (True, 1500, [("alice@example.com", ALICE), (BOB, BOB)])
    assert [c.params["email"] for c in team.calls_to("users.lookupByEmail")] == [
        "alice@example.com",
        "bob@example.com",
    ]
    with session_factory.begin() as session:
        log = [(e.actor, e.action, e.old_value, e.new_value) for e in audit.entries_for(session, account.id)]
    assert log == [
        ("U0BILLING", "reminder", "off", "on, below 1,500 credits"),
        ("U0BILLING", "reminder_recipients", None, f"alice@example.com, {BOB}"),
    ]
    # The account box now shows the reminder's state and level.
    box = visible_text(slack.command("/accounts", user_id="U0BILLING").json())
    assert "Low credit reminder: on, below 1,500" in box


def test_reopened_modal_is_filled_with_saved_settings(slack, admin, session_factory, team):
    account = make_account(session_factory)
    submit(slack, team, open_settings(slack, team, account.id), values(people=[BOB]))
    view = open_settings(slack, team, account.id)
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks[ENABLED_BLOCK]["element"]["initial_options"][0]["value"] == ENABLED_VALUE
    assert blocks[LEVEL_BLOCK]["element"]["initial_value"] == "500"
    assert blocks[EMAILS_BLOCK]["element"]["initial_value"] == "alice@example.com"
    assert blocks[PEOPLE_BLOCK]["element"]["initial_users"] == [BOB]


def test_email_without_slack_user_is_named_in_the_form_and_nothing_is_saved(
    slack, admin, session_factory, team
):
    account = make_account(session_factory)
    view = open_settings(slack, team, account.id)
    reply = submit(slack, team, view, values(emails="alice@example.com, nobody@example.com"))
    form = reply["view"]
    assert form["callback_id"] == REMINDER_VIEW  # the form again, as entered, to correct and save
    problem = visible_text(form["blocks"][1])
    assert "No one in this Slack workspace has the email nobody@example.com." in problem
    assert "alice@example.com" not in problem
    blocks = {b.get("block_id"): b for b in form["blocks"]}
    assert blocks[EMAILS_BLOCK]["element"]["initial_value"] == "alice@example.com\nnobody@example.com"
    assert saved(session_factory) == (False, 0, [])
    with session_factory.begin() as session:
        assert audit.entries_for(session, account.id) == []


def test_bad_email_syntax_and_bad_level_are_inline_errors(slack, admin, session_factory, team):
    account = make_account(session_factory)
    view = open_settings(slack, team, account.id)
    reply = slack.view_submission(view, values(level="-5", emails="alice@example.com not-an-email")).json()
    assert reply["response_action"] == "errors"
    assert "not-an-email" in reply["errors"][EMAILS_BLOCK]
    assert "whole number" in reply["errors"][LEVEL_BLOCK]
    assert team.calls_to("users.lookupByEmail") == []
    assert saved(session_factory) == (False, 0, [])


def test_lookup_failure_is_an_inline_error(slack, admin, session_factory, team):
    account = make_account(session_factory)
    view = open_settings(slack, team, account.id)
    team.fail("users.lookupByEmail", error="invalid_auth")
    reply = submit(slack, team, view, values())
    assert "Slack could not check alice@example.com" in visible_text(reply["view"])
    assert saved(session_factory) == (False, 0, [])


def test_reminder_on_needs_a_recipient(slack, admin, session_factory, team):
    account = make_account(session_factory)
    view = open_settings(slack, team, account.id)
    reply = slack.view_submission(view, values(emails="")).json()
    assert "at least one" in reply["errors"][EMAILS_BLOCK]


def test_turning_off_is_saved_and_audited(slack, admin, session_factory, team):
    account = make_account(session_factory)
    submit(slack, team, open_settings(slack, team, account.id), values())
    reply = slack.view_submission(
        open_settings(slack, team, account.id), values(enabled=False, emails="")
    ).json()
    assert "Reminder: *off*" in visible_text(reply["view"])
    assert saved(session_factory) == (False, 500, [])


def test_viewer_sees_settings_read_only(slack, session_factory, team):
    grant_role(session_factory, "U0VIEWER1", Role.VIEWER)
    account = make_account(session_factory)
    view = open_settings(slack, team, account.id, "U0VIEWER1")
    assert view.get("submit") is None and view.get("callback_id") in ("", None)
    text = visible_text(view)
    assert "Reminder: *off*" in text and "billing or admin" in text


def test_viewer_submission_is_refused_server_side(slack, admin, session_factory, team):
    grant_role(session_factory, "U0VIEWER1", Role.VIEWER)
    account = make_account(session_factory)
    view = open_settings(slack, team, account.id)
    reply = slack.view_submission(view, values(), user_id="U0VIEWER1").json()
    assert "You need the billing role" in reply["errors"][ENABLED_BLOCK]
    assert saved(session_factory) == (False, 0, [])


def test_user_without_role_is_told_how_to_get_access(slack, session_factory, team):
    account = make_account(session_factory)
    notice = open_settings(slack, team, account.id, "U0NOBODY1")
    assert "admin-bot roles grant U0NOBODY1 viewer" in visible_text(notice)
    assert notice.get("submit") is None


def test_account_name_is_escaped_in_the_modal(slack, admin, session_factory, team):
    account = make_account(session_factory, name="<!channel> & co")
    view = open_settings(slack, team, account.id)
    text = visible_text(view)
    assert "&lt;!channel&gt; &amp; co" in text and "<!channel>" not in text


def test_a_rate_limited_lookup_never_holds_the_acknowledgement(slack, admin, session_factory, team):
    account = make_account(session_factory)
    view = open_settings(slack, team, account.id)
    team.fail("users.lookupByEmail", status=429, retry_after=3)
    reply = slack.view_submission(view, values()).json()
    # The acknowledgement answers at once; the lookup happens after it and is not waited out.
    assert reply["view"]["callback_id"] == CHECKING_VIEW
    update = team.wait_for("views.update")[-1]
    assert "Slack could not check alice@example.com; try saving again." in visible_text(update.params["view"])
    assert len(team.calls_to("users.lookupByEmail")) == 1
    assert saved(session_factory) == (False, 0, [])


def deactivate(session_factory) -> None:
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        accounts.set_active(session, account, False, "U012AB3CD")


def revoke_billing(session_factory) -> None:
    with session_factory.begin() as session:
        roles.revoke(session, BILLING, Role.BILLING, "U012AB3CD")


@pytest.mark.parametrize(
    ("meanwhile", "told"),
    [
        pytest.param(deactivate, "Account EX0000001 is inactive.", id="deactivated"),
        pytest.param(revoke_billing, "You don't have access to admin-bot yet.", id="role revoked"),
    ],
)
def test_a_save_refused_after_the_checking_window_is_shown_in_it(
    meanwhile, told, slack, session_factory, team
):
    grant_role(session_factory, BILLING, Role.BILLING)
    account = make_account(session_factory)
    view = open_settings(slack, team, account.id, BILLING)
    team.delay("users.lookupByEmail", 0.5)  # Slack shows "Checking…" (a new hash) before the save
    reply = slack.view_submission(view, values(), user_id=BILLING).json()
    assert reply["view"]["callback_id"] == CHECKING_VIEW
    meanwhile(session_factory)

    [update] = team.wait_for("views.update")
    assert update.params["view_id"] == view["id"] and update.reply["ok"], update.reply
    shown = visible_text(team.views[view["id"]])
    assert told in shown and "Checking" not in shown
    assert saved(session_factory) == (False, 0, [])


def test_crafted_people_and_too_many_recipients_are_refused_and_nothing_is_saved(
    slack, admin, session_factory, team
):
    account = make_account(session_factory)
    view = open_settings(slack, team, account.id)
    reply = slack.view_submission(view, values(emails="", people=["UALICE0001> <!channel"])).json()
    assert reply == {
        "response_action": "errors",
        "errors": {
            PEOPLE_BLOCK: "Choose people from the list; these are not Slack users: 'UALICE0001> <!channel'."
        },
    }
    many = [f"U0PERSON{n:03d}" for n in range(51)]
    reply = slack.view_submission(view, values(emails="", people=many)).json()
    assert reply["errors"] == {EMAILS_BLOCK: "A reminder can DM at most 50 people; this one lists 51."}
    assert saved(session_factory) == (False, 0, [])
    assert team.calls_to("users.lookupByEmail") == []


def test_fifty_recipients_fit_the_confirmation(slack, admin, session_factory, team):
    account = make_account(session_factory)
    people = [f"U0PERSON{n:03d}" for n in range(50)]
    reply = slack.view_submission(
        open_settings(slack, team, account.id), values(emails="", people=people)
    ).json()
    assert reply["response_action"] == "update"
    assert_valid_view(reply["view"])
    assert saved(session_factory)[2] == [(person, person) for person in people]


@pytest.mark.parametrize("metadata", ["abc", "99999999999999999999", ""])
def test_a_form_with_crafted_metadata_is_out_of_date(slack, admin, session_factory, team, metadata):
    account = make_account(session_factory)
    view = {**open_settings(slack, team, account.id), "private_metadata": metadata}
    reply = slack.view_submission(view, values()).json()
    assert reply == {
        "response_action": "errors",
        "errors": {ENABLED_BLOCK: "This form is out of date, please open it again."},
    }
    assert team.calls_to("users.lookupByEmail") == []


OPS, FINANCE, SECRET = "C0OPS0001", "C0FIN0001", "G0SECRET1"


def test_channels_are_saved_and_the_confirmation_says_which_need_the_bot_invited(
    slack, session_factory, team
):
    grant_role(session_factory, "U0BILLING", Role.BILLING)
    team.add_channel(OPS, "ops")
    team.add_channel(FINANCE, "finance", member=False)
    team.add_channel(SECRET, "secret", member=False, private=True)
    account = make_account(session_factory, credits=900)
    view = open_settings(slack, team, account.id, "U0BILLING")
    picker = {b.get("block_id"): b for b in view["blocks"]}[CHANNELS_BLOCK]["element"]
    assert picker["type"] == "multi_conversations_select"
    assert picker["filter"] == {"include": ["public", "private"], "exclude_bot_users": True}

    reply = submit(
        slack, team, view, values(emails=None, channels=[OPS, FINANCE, SECRET]), user_id="U0BILLING"
    )

    text = visible_text(reply["view"])
    assert f"<#{OPS}>, <#{FINANCE}>, <#{SECRET}>" in text
    for channel in (FINANCE, SECRET):
        assert (
            f"Invite @admin-bot to <#{channel}> first: `/invite @admin-bot`. "
            "Until then alerts cannot be posted there." in text
        )
    assert f"<#{OPS}> first" not in text
    assert [c.params["channel"] for c in team.calls_to("conversations.info")] == [OPS, FINANCE, SECRET]
    with session_factory.begin() as session:
        rows = accounts.by_reference(session, "EX0000001").recipients
        assert [(r.address, r.slack_user_id, r.added_by) for r in rows] == [
            (channel, None, "U0BILLING") for channel in (OPS, FINANCE, SECRET)
        ]
    reopened = open_settings(slack, team, account.id, "U0BILLING")
    picker = {b.get("block_id"): b for b in reopened["blocks"]}[CHANNELS_BLOCK]["element"]
    assert picker["initial_conversations"] == [OPS, FINANCE, SECRET]


def test_a_crafted_channel_value_is_refused(slack, admin, session_factory, team):
    account = make_account(session_factory)
    view = open_settings(slack, team, account.id)
    reply = slack.view_submission(view, values(emails=None, channels=[OPS, "D0ALICE01", "#ops"])).json()
    assert reply["response_action"] == "errors"
    assert reply["errors"] == {
        CHANNELS_BLOCK: "Choose channels from the list; these are not Slack channels: 'D0ALICE01', '#ops'."
    }
    assert saved(session_factory) == (False, 0, [])


def with_top_up(credits="5,000", limit="4", unit="purchases", on=True, **reminder) -> dict[str, Any]:
    """The reminder form's values with auto top-up switched on (or off) and filled in."""
    return {
        **values(**reminder),
        TOP_UP_BLOCK: {TOP_UP_INPUT: checkboxes([TOP_UP_VALUE] if on else [])},
        TOP_UP_CREDITS_BLOCK: {TOP_UP_CREDITS_INPUT: plain_text(credits)},
        TOP_UP_LIMIT_BLOCK: {TOP_UP_LIMIT_INPUT: plain_text(limit)},
        TOP_UP_UNIT_BLOCK: {TOP_UP_UNIT_INPUT: {"type": "radio_buttons", "selected_option": option(unit)}},
    }


def rule_of(session_factory) -> top_up.Rule | None:
    with session_factory.begin() as session:
        return top_up.rule_of(session, accounts.by_reference(session, "EX0000001").id)


def test_billing_switches_auto_top_up_on_and_off_in_the_reminder_form(slack, session_factory, team):
    grant_role(session_factory, "U0BILLING", Role.BILLING)
    account = make_account(session_factory, credits=900)
    view = open_settings(slack, team, account.id, "U0BILLING")
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert "initial_options" not in blocks[TOP_UP_BLOCK]["element"]

    reply = submit(slack, team, view, with_top_up(emails=None, people=[BOB]), user_id="U0BILLING")

    assert_valid_view(reply["view"])
    assert "Auto top-up: *on, buy 5,000 credits, up to 4 purchases a month*" in visible_text(reply["view"])
    assert rule_of(session_factory) == top_up.Rule(5000, 4, top_up.LimitUnit.PURCHASES)
    reopened = {b.get("block_id"): b for b in open_settings(slack, team, account.id, "U0BILLING")["blocks"]}
    assert reopened[TOP_UP_BLOCK]["element"]["initial_options"][0]["value"] == TOP_UP_VALUE
    assert reopened[TOP_UP_CREDITS_BLOCK]["element"]["initial_value"] == "5000"
    assert reopened[TOP_UP_LIMIT_BLOCK]["element"]["initial_value"] == "4"
    assert reopened[TOP_UP_UNIT_BLOCK]["element"]["initial_option"]["value"] == "purchases"

    reply = submit(slack, team, view, with_top_up(on=False, emails=None, people=[BOB]), user_id="U0BILLING")

    assert "Auto top-up: *off*" in visible_text(reply["view"])
    assert rule_of(session_factory) is None
    with session_factory.begin() as session:
        log = [
            (e.actor, e.old_value, e.new_value)
            for e in audit.entries_for(session, account.id)
            if e.action == "auto_top_up"
        ]
    assert log == [
        ("U0BILLING", "off", "on, buy 5,000 credits, up to 4 purchases a month"),
        ("U0BILLING", "on, buy 5,000 credits, up to 4 purchases a month", "off"),
    ]


@pytest.mark.parametrize(
    ("fields", "block", "error"),
    [
        (
            {"credits": "lots"},
            TOP_UP_CREDITS_BLOCK,
            "Enter a whole number of credits, like 500 or 1,500 (not 'lots').",
        ),
        ({"credits": "0"}, TOP_UP_CREDITS_BLOCK, "Enter a whole number of credits from 1 to 1,000,000."),
        ({"limit": ""}, TOP_UP_LIMIT_BLOCK, "Enter a whole number of credits, like 500 or 1,500 (not '')."),
        (
            {"limit": "1,000", "unit": "credits"},
            TOP_UP_LIMIT_BLOCK,
            "A monthly limit of 1,000 credits would stop even one purchase of 5,000.",
        ),
        ({"unit": "euros"}, TOP_UP_UNIT_BLOCK, "Count the monthly limit in credits or purchases."),
        (
            {"enabled": False},
            TOP_UP_BLOCK,
            "Switch the low credit reminder on first: auto top-up buys when the balance falls below "
            "the reminder level.",
        ),
    ],
)
def test_a_wrong_auto_top_up_field_is_named_under_it_and_nothing_is_saved(
    slack, admin, session_factory, team, fields, block, error
):
    account = make_account(session_factory)
    view = open_settings(slack, team, account.id)
    reply = slack.view_submission(view, with_top_up(**fields, emails=None, people=[BOB])).json()
    assert reply == {"response_action": "errors", "errors": {block: error}}
    assert rule_of(session_factory) is None
    assert saved(session_factory) == (False, 0, [])


def test_viewers_never_see_auto_top_up_and_a_crafted_submit_is_refused(slack, admin, session_factory, team):
    grant_role(session_factory, "U0VIEWER1", Role.VIEWER)
    account = make_account(session_factory)
    assert "top-up" not in visible_text(open_settings(slack, team, account.id, "U0VIEWER1")).lower()

    # The editable form, as an admin has it, submitted by the viewer.
    view = open_settings(slack, team, account.id)
    reply = slack.view_submission(view, with_top_up(emails=None, people=[BOB]), user_id="U0VIEWER1").json()

    assert "You need the billing role" in reply["errors"][ENABLED_BLOCK]
    assert rule_of(session_factory) is None


def with_warning(days: str | None, **reminder: Any) -> dict[str, Any]:
    """The reminder form's values with the forecast warning's days typed in (None: left empty)."""
    return {**values(**reminder), WARNING_BLOCK: {WARNING_INPUT: plain_text(days)}}


def warning_of(session_factory) -> int | None:
    with session_factory.begin() as session:
        return accounts.by_reference(session, "EX0000001").runway_warning_days


def test_billing_sets_a_forecast_warning_and_sees_it_everywhere_the_reminder_is_described(
    slack, session_factory, team
):
    grant_role(session_factory, "U0BILLING", Role.BILLING)
    account = make_account(session_factory, credits=900)
    view = open_settings(slack, team, account.id, "U0BILLING")
    field = {b.get("block_id"): b for b in view["blocks"]}[WARNING_BLOCK]
    assert field["optional"] is True and "initial_value" not in field["element"]
    assert field["label"]["text"] == "Warn when fewer than this many days of credits are left"

    reply = submit(slack, team, view, with_warning(" 5 ", emails=None, people=[BOB]), user_id="U0BILLING")

    assert_valid_view(reply["view"])
    assert "Forecast warning: *on, fewer than 5 days of credits left*" in visible_text(reply["view"])
    assert warning_of(session_factory) == 5
    reopened = {b.get("block_id"): b for b in open_settings(slack, team, account.id, "U0BILLING")["blocks"]}
    assert reopened[WARNING_BLOCK]["element"]["initial_value"] == "5"
    box = visible_text(slack.command("/accounts", user_id="U0BILLING").json())
    assert "Low credit reminder: on, below 500, or fewer than 5 days of credits left" in box

    # Left empty, it is switched off.
    reply = submit(slack, team, view, with_warning("", emails=None, people=[BOB]), user_id="U0BILLING")
    assert "Forecast warning: *off*" in visible_text(reply["view"])
    assert warning_of(session_factory) is None
    with session_factory.begin() as session:
        log = [
            (e.actor, e.old_value, e.new_value)
            for e in audit.entries_for(session, account.id)
            if e.action == "forecast_warning"
        ]
    assert log == [
        ("U0BILLING", "off", "on, fewer than 5 days of credits left"),
        ("U0BILLING", "on, fewer than 5 days of credits left", "off"),
    ]


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("five", "Enter a whole number of days, like 5 (not 'five')."),
        ("2.5", "Enter a whole number of days, like 5 (not '2.5')."),
        ("0", "Enter a whole number of days from 1 to 90."),
        ("-3", "Enter a whole number of days from 1 to 90."),
        ("91", "Enter a whole number of days from 1 to 90."),
        ("9" * 3000, "Enter a whole number of days from 1 to 90."),
        ("５", "Enter a whole number of days, like 5 (not '５')."),
        ("\u202e5", "Enter a whole number of days, like 5 (not '\\u202e5')."),
        ("<!channel>", "Enter a whole number of days, like 5 (not '<!channel>')."),
    ],
)
def test_a_wrong_forecast_warning_is_named_under_its_field_and_nothing_is_saved(
    slack, admin, session_factory, team, typed, error
):
    account = make_account(session_factory)
    view = open_settings(slack, team, account.id)
    reply = slack.view_submission(view, with_warning(typed, emails=None, people=[BOB])).json()
    assert reply == {"response_action": "errors", "errors": {WARNING_BLOCK: error}}
    assert warning_of(session_factory) is None
    assert saved(session_factory) == (False, 0, [])


def test_a_viewer_reads_the_forecast_warning_and_cannot_set_it(slack, admin, session_factory, team):
    grant_role(session_factory, "U0VIEWER1", Role.VIEWER)
    account = make_account(session_factory)
    submit(slack, team, open_settings(slack, team, account.id), with_warning("7", emails=None, people=[BOB]))
    readonly = open_settings(slack, team, account.id, "U0VIEWER1")
    assert "Forecast warning: *on, fewer than 7 days of credits left*" in visible_text(readonly)
    assert WARNING_BLOCK not in {b.get("block_id") for b in readonly["blocks"]}

    view = open_settings(slack, team, account.id)
    reply = slack.view_submission(
        view, with_warning("2", emails=None, people=[BOB]), user_id="U0VIEWER1"
    ).json()

    assert "You need the billing role" in reply["errors"][ENABLED_BLOCK]
    assert warning_of(session_factory) == 7
