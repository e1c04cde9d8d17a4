"""The error boundary over real HTTP: malformed bodies, failures and a database that is down."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from urllib.parse import quote_plus, unquote_plus

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import create_engine

from bot.app import create_app
from bot.boundary import form_value
from bot.serving import ServerThread, make_http_server
from handlers import messages
from handlers.account_box import BUY_ACTION, MOVE_ACTION, REMINDER_ACTION, RENAME_ACTION
from handlers.buy import BUY_VIEW, CREDITS_BLOCK, CREDITS_INPUT
from handlers.move import DESTINATION_ACTION, DESTINATION_BLOCK, build_move_modal
from handlers.rename import NAME_BLOCK, NAME_INPUT, RENAME_VIEW
from store import accounts, db, invoices
from tests.blockkit import assert_valid_view, visible_text
from tests.conftest import SIGNING_SECRET, make_account
from tests.slack_requests import (
    SlackRequests,
    block_actions_payload,
    block_suggestion_payload,
    command_payload,
    event_payload,
    open_view,
    plain_text,
    view_closed_payload,
    view_submission_payload,
)
from tests.slack_ui import button

FORM = "application/x-www-form-urlencoded"
PRICING = invoices.Pricing(Decimal("0.05"), Decimal("0.20"), "GBP")


def signed(body: bytes) -> dict[str, str]:
    """Signature headers for raw bytes, UTF-8 or not."""
    timestamp = str(int(time.time()))
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {"timestamp": timestamp, "signature": f"v0={digest}"}


def rename_view(view_id: str = "V0RENAME01") -> dict:
    return {"id": view_id, "callback_id": RENAME_VIEW, "private_metadata": "1", "type": "modal"}


MALFORMED = [
    pytest.param(b"{not json", "application/json", id="not json"),
    pytest.param(b"[]", "application/json", id="a JSON array"),
    pytest.param(b'{"type": "block_actions", "user": {"id": "U012AB3CD"', "application/json", id="truncated"),
    pytest.param(
        b'{"type": "event_callback", "event": {"type": "app_home_opened", "us\xff"}}',
        "application/json",
        id="invalid UTF-8",
    ),  # fmt: skip
    pytest.param(b"payload=%7Bnot+json", FORM, id="payload not json"),
    pytest.param(b"payload=%5B%5D", FORM, id="payload an array"),
    pytest.param(b"payload=null", FORM, id="payload null"),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
def test_a_body_bolt_cannot_parse_is_a_400_with_one_log_line(
    slack: SlackRequests, caplog, body, content_type
):
    caplog.set_level(logging.INFO)
    answer = slack.post(body, content_type, **signed(body))
    assert answer.status == 400
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
def test_an_unsigned_malformed_body_is_refused_without_a_traceback(
    slack: SlackRequests, caplog, body, content_type
):
    answer = slack.post(body, content_type, signature="v0=0000")
    assert answer.status in (400, 401)
    assert not any(r.exc_info for r in caplog.records)


# Form values as Slack encodes them, and the strays unquote_plus keeps as they are.
FORM_VALUES = ["%7B%22a%22%3A+1%7D", "a+b%2Bc", "%C3%A9t%C3%A9", "%E9", "%zz", "%4", "100%", "%%41"]
FORM_VALUES += ["back\\slash", "%5Cx41", "%5CN%7BDASH%7D", "\\u0041", "%0A%00", "é%41", ""]


@pytest.mark.parametrize("value", FORM_VALUES)
def test_a_form_value_decodes_as_urllib_decodes_it(value):
    assert form_value(value) == unquote_plus(value)


@given(st.text())
@example('{"type": "block_suggestion", "value": "Ünïcode & <b> +1 % \\\\x41"}')
def test_any_text_quoted_as_a_form_value_comes_back_the_same(text):
    assert form_value(quote_plus(text)) == text


@given(st.text(alphabet="%+\\xXaF09zN{}u \né"))
def test_any_escapes_decode_as_urllib_decodes_them(value):
    assert form_value(value) == unquote_plus(value)


def test_an_interactive_payload_with_a_bad_signature_is_a_401(slack: SlackRequests, admin, session_factory):
    source = make_account(session_factory, "EX0000001", "Acme Marketing", credits=10)
    make_account(session_factory, "EX0000002", "Acme Alerts")
    view = {**build_move_modal(source), "id": "V0MOVE0001"}
    payload = block_suggestion_payload(DESTINATION_ACTION, "acme", block_id=DESTINATION_BLOCK, view=view)
    assert slack.post_interactive(payload).json()["options"]  # signed, it is answered
    assert slack.post_interactive(payload, signature="v0=" + "0" * 64).status == 401


# "9" * 400: digits, but past any float, so the signature check's clock arithmetic overflowed.
@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", "12.5", "-5", "9" * 400, "1" + "0" * 309])
@pytest.mark.parametrize("signature", ["v0=0000", None], ids=["unsigned", "signed"])
def test_a_timestamp_header_that_is_not_a_time_is_a_401(slack: SlackRequests, caplog, timestamp, signature):
    body = b"command=%2Faccounts&user_id=U012AB3CD"
    assert slack.post(body, FORM, timestamp=timestamp, signature=signature).status == 401
    assert not any(r.exc_info for r in caplog.records)


def test_signed_payloads_slack_would_never_send_are_a_400(slack: SlackRequests, fake_slack, caplog):
    url = fake_slack.response_url()
    no_user = command_payload("/accounts", response_url=url)
    del no_user["user_id"]
    null_view = view_submission_payload(rename_view(), {})
    null_view["view"] = None
    no_actions = block_actions_payload(RENAME_ACTION, value="1", response_url=url)
    no_actions["actions"] = []
    crafted_user = block_actions_payload(
        RENAME_ACTION, value="1", response_url=url, user_id="UALICE0001> <!channel"
    )
    assert slack.post_form(no_user).status == 400
    for payload in (null_view, no_actions, crafted_user):
        assert slack.post_interactive(payload).status == 400
    assert not any(r.exc_info for r in caplog.records)
    assert fake_slack.calls_to("views.open") == [] and fake_slack.calls_to("response_url") == []


def _shapes_slack_never_sends(url: str) -> list[dict]:
    """Signed payloads with a field of the wrong type where handlers or Bolt read it."""
    buy = {"id": "V0BUY00001", "callback_id": BUY_VIEW, "private_metadata": "1", "type": "modal"}
    no_action_id = block_actions_payload(BUY_ACTION, value="1", response_url=url)
    del no_action_id["actions"][0]["action_id"]
    number_action_id = block_actions_payload(BUY_ACTION, value="1", response_url=url)
    number_action_id["actions"][0]["action_id"] = 5
    number_value = block_actions_payload(BUY_ACTION, response_url=url)
    number_value["actions"][0]["value"] = 5
    no_state = view_submission_payload(buy, {})
    del no_state["view"]["state"]
    values_a_string = view_submission_payload(rename_view(), {})
    values_a_string["view"]["state"]["values"] = "x"
    no_values = view_submission_payload(buy, {CREDITS_BLOCK: {CREDITS_INPUT: plain_text("5")}})
    del no_values["view"]["state"]["values"]
    no_view_id = view_submission_payload(buy, {CREDITS_BLOCK: {CREDITS_INPUT: plain_text("5")}})
    del no_view_id["view"]["id"]
    number_view_id = view_submission_payload(
        {**buy, "id": 5}, {CREDITS_BLOCK: {CREDITS_INPUT: plain_text("5")}}
    )
    number_callback_id = view_submission_payload({**buy, "callback_id": 5}, {})
    # A money form's view id is its idempotency key: one longer than any Slack sends outgrew it.
    long_view_id = view_submission_payload(
        {**buy, "id": "V" * 300}, {CREDITS_BLOCK: {CREDITS_INPUT: plain_text("5")}}
    )
    # Nor are other characters: a NUL byte in one failed inside the transaction on PostgreSQL.
    odd_view_ids = [
        view_submission_payload({**buy, "id": odd}, {CREDITS_BLOCK: {CREDITS_INPUT: plain_text("5")}})
        for odd in ("V0\x00AB", "V0 <!channel>", "V0É1")
    ]
    # Where a click came from: a NUL byte in a message's ts failed inside the read on PostgreSQL.
    odd_containers = []
    for field, odd in (("message_ts", "1.0\x00"), ("message_ts", "²"), ("channel_id", "D0\x00AB")):
        clicked = block_actions_payload(BUY_ACTION, value="1", response_url=url, message={"ts": "1.000100"})
        clicked["container"][field] = odd
        odd_containers.append(clicked)
    not_an_object = block_actions_payload(BUY_ACTION, value="1", response_url=url)
    not_an_object["container"] = "D0AB"
    return [
        long_view_id,
        *odd_view_ids,
        *odd_containers,
        not_an_object,
        no_values,
        no_view_id,
        number_view_id,
        number_callback_id,
        no_action_id,
        number_action_id,
        number_value,
        no_state,
        values_a_string,
        view_submission_payload(
            rename_view(), {NAME_BLOCK: {NAME_INPUT: {"type": "plain_text_input", "value": 5}}}
        ),
        view_submission_payload(rename_view(), {NAME_BLOCK: {NAME_INPUT: {"value": ["x"]}}}),
        view_submission_payload(buy, {CREDITS_BLOCK: {CREDITS_INPUT: "5"}}),
        view_submission_payload(buy, {CREDITS_BLOCK: "5"}),
        view_submission_payload(buy, {CREDITS_BLOCK: {CREDITS_INPUT: {"selected_option": "5"}}}),
        view_submission_payload(buy, {CREDITS_BLOCK: {CREDITS_INPUT: {"selected_options": [5]}}}),
        view_submission_payload(buy, {CREDITS_BLOCK: {CREDITS_INPUT: {"selected_users": "U012AB3CD"}}}),
    ]


def test_signed_payloads_with_fields_of_the_wrong_type_are_a_400_and_change_nothing(
    slack: SlackRequests, admin, session_factory, fake_slack, caplog
):
    make_account(session_factory, credits=100)
    url = fake_slack.response_url()
    for payload in _shapes_slack_never_sends(url):
        assert slack.post_interactive(payload).status == 400, payload
    assert slack.post_json(event_payload("x")).status == 400  # type: ignore[arg-type]
    assert not any(r.exc_info for r in caplog.records)
    assert fake_slack.calls_to("response_url") == [] and fake_slack.calls_to("views.update") == []
    with session_factory() as session:
        assert accounts.by_reference(session, "EX0000001").balance == 100


CRASHING_VIEW = "crashing_view"


@pytest.fixture
def with_a_bug(config, engine, session_factory, fake_slack) -> Iterator[SlackRequests]:
    """The real bot over HTTP, plus one modal whose listener has a bug: every payload the boundary
    lets through is one a handler may still trip on."""
    app = create_app(config, session_factory)

    @app.view(CRASHING_VIEW)
    def crash(ack) -> None:  # noqa: ANN001 - Bolt's argument
        raise RuntimeError("a bug")

    with ServerThread(make_http_server(app, engine, "127.0.0.1", 0)) as running:
        yield SlackRequests(f"{running.url}/slack/events", SIGNING_SECRET, fake_slack)


def test_an_unexpected_failure_tells_the_user_nothing_changed_and_names_the_log_line(
    with_a_bug: SlackRequests, admin, caplog
):
    view = {**rename_view(), "callback_id": CRASHING_VIEW}
    payload = view_submission_payload(view, {NAME_BLOCK: {NAME_INPUT: plain_text("New name")}})
    answer = with_a_bug.post_interactive(payload).json()
    assert answer["response_action"] == "update"
    shown = visible_text(answer["view"])
    reference = re.search(
        r"Something went wrong, nothing was changed\. Please try again \(reference ([0-9a-f]{8})\)\.", shown
    )
    assert reference is not None
    [logged] = [r for r in caplog.records if reference.group(1) in r.getMessage()]
    assert logged.exc_info is not None  # the detail stays in the log, not in Slack


@pytest.fixture
def outage(config, fake_slack) -> Iterator[SlackRequests]:
    """The bot serving with its database unreachable (nothing listens on port 1)."""
    engine = db.make_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/admin_bot", connect_args={"connect_timeout": 2}
    )
    app = create_app(config, db.make_session_factory(engine))
    with ServerThread(make_http_server(app, engine, "127.0.0.1", 0)) as running:
        yield SlackRequests(f"{running.url}/slack/events", SIGNING_SECRET, fake_slack)
    engine.dispose()


def test_every_path_says_temporarily_unavailable_when_the_database_is_down(outage: SlackRequests, fake_slack):
    unavailable = messages.UNAVAILABLE
    assert outage.command("/accounts", "acme").json() == {"response_type": "ephemeral", "text": unavailable}
    assert outage.command("/invoices").json() == {"response_type": "ephemeral", "text": unavailable}
    for action in (RENAME_ACTION, BUY_ACTION, MOVE_ACTION, REMINDER_ACTION):
        opened = len(fake_slack.view_history)
        assert outage.block_action(action, value="1").status == 200
        assert visible_text(open_view(fake_slack, opened)) == unavailable
    buy = {"id": "V0BUY00001", "callback_id": BUY_VIEW, "private_metadata": "1", "type": "modal"}
    reply = outage.view_submission(buy, {CREDITS_BLOCK: {CREDITS_INPUT: plain_text("100")}}).json()
    assert reply == {"response_action": "errors", "errors": {CREDITS_BLOCK: unavailable}}
    outage.event({"type": "app_home_opened", "user": "U0ADMIN", "tab": "home"})
    home = fake_slack.wait_for("views.publish")[-1]  # the newest Home tab is what the user sees
    assert unavailable in visible_text(home.params["view"])


def test_an_engine_on_a_dead_port_really_is_down():
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/admin_bot")
    with pytest.raises(Exception) as failed:
        engine.connect()
    assert db.unavailable(failed.value)
    engine.dispose()


# A click on the Home tab carries no response_url, so when Slack cannot open the window the click
# asked for (a trigger that expired, an outage), the bot's DM is the only place the user can hear it.
HOME_CLICKS = ["Buy credits", "History", "Invoices"]
OPEN_FAILURES = [
    pytest.param("expired_trigger_id", 200, id="expired trigger"),
    pytest.param("internal_error", 500, id="Slack 500"),
]


@pytest.mark.parametrize("label", HOME_CLICKS)
@pytest.mark.parametrize(("error", "status"), OPEN_FAILURES)
def test_a_home_tab_click_whose_window_slack_cannot_open_is_told_by_dm(
    slack: SlackRequests, fake_slack, admin, session_factory, label, error, status
):
    make_account(session_factory, credits=100)
    with session_factory.begin() as session:
        invoices.purchase(session, 1, 100, PRICING, admin, "home-click-invoice", date.today())
    slack.event({"type": "app_home_opened", "user": admin, "tab": "home"})
    home = fake_slack.wait_for("views.publish")[-1].params["view"]
    clicked = button(home["blocks"], label)
    fake_slack.fail("views.open", error=error, status=status, times=None)
    answer = slack.block_action(clicked.action_id, value=clicked.value, view=fake_slack.home_views[admin])
    assert answer.status == 200
    [dm] = fake_slack.wait_for("chat.postMessage")
    assert dm.params["channel"] == admin
    assert dm.params["text"] == messages.NOT_OPENED.format(reason=error)
    assert fake_slack.calls_to("response_url") == []


# A message or modal drawn by an older version of the bot can carry an action or callback id this
# version has no listener for. Bolt alone answers 404, which Slack shows as a bare connection error.
def _old_button(fake_slack) -> dict:
    return block_actions_payload("open_topup", value="1", response_url=fake_slack.response_url())


def _old_home_button(fake_slack) -> dict:
    return block_actions_payload("home_old_tab", value="1", view={"id": "V0HOME0001", "type": "home"})


def _old_form(fake_slack) -> dict:
    return view_submission_payload({**rename_view(), "callback_id": "rename_account_v0"}, {})


def _old_picker(fake_slack) -> dict:
    view = {**rename_view(), "callback_id": "move_v0"}
    return block_suggestion_payload("destination_v0", "acme", block_id="destination_v0", view=view)


def _old_closed_form(fake_slack) -> dict:
    return view_closed_payload({**rename_view(), "callback_id": "rename_account_v0"})


def test_a_command_this_version_does_not_have_names_the_ones_it_has(slack: SlackRequests, admin, caplog):
    answer = slack.command("/topup", "acme").json()
    assert answer == {"response_type": "ephemeral", "text": messages.UNKNOWN_COMMAND.format(command="/topup")}
    # The name is Slack's to send, but it is shown in mrkdwn: escaped, never a link or a mention.
    crafted = slack.command("/top<!here>&", "acme").json()["text"]
    assert "/top&lt;!here&gt;&amp;" in crafted and "<!here>" not in crafted
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


@pytest.mark.parametrize(
    ("build", "answer", "told"),
    [
        pytest.param(_old_button, None, ("response_url", messages.STALE_BUTTON), id="message button"),
        pytest.param(
            _old_home_button, None, ("chat.postMessage", messages.STALE_BUTTON), id="Home tab button"
        ),
        pytest.param(_old_form, {"response_action": "update"}, None, id="form"),
        pytest.param(_old_picker, {"options": []}, None, id="picker"),
        pytest.param(_old_closed_form, None, None, id="closed form"),
    ],
)
def test_a_payload_from_an_older_version_is_told_it_is_out_of_date(
    slack: SlackRequests, fake_slack, admin, caplog, build, answer, told
):
    response = slack.post_interactive(build(fake_slack))
    assert response.status == 200
    if answer is not None:
        assert answer.items() <= response.json().items()
    if answer == {"response_action": "update"}:
        assert_valid_view(response.json()["view"])
        assert visible_text(response.json()["view"]) == messages.STALE_FORM
    if told is not None:
        method, text = told
        [call] = fake_slack.wait_for(method)
        assert call.params["text"] == text
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


# Paging and searching on the Home tab show nothing but the redraw; if Slack will not publish it,
# a DM says so rather than leaving the click unanswered.
@pytest.mark.parametrize(
    ("label", "value"),
    [
        pytest.param("Next", None, id="Next"),
        pytest.param(None, "acme", id="search"),
        pytest.param(None, None, id="opening the tab again"),
    ],
)
def test_a_home_tab_redraw_slack_refuses_is_told_by_dm(
    slack: SlackRequests, fake_slack, admin, session_factory, label, value
):
    for n in range(10):
        make_account(session_factory, f"EX00000{n:02d}", f"Acme {n:02d}", credits=10)
    slack.event({"type": "app_home_opened", "user": admin, "tab": "home"})
    fake_slack.wait_for("views.publish")
    home = fake_slack.home_views[admin]
    fake_slack.fail("views.publish", error="internal_error", status=500, times=None)
    if label is None and value is None:
        slack.event({"type": "app_home_opened", "user": admin, "tab": "home", "view": home})
    elif label is not None:
        clicked = button(home["blocks"], label)
        slack.block_action(clicked.action_id, value=clicked.value, view=home)
    else:
        slack.block_action("home_search_input", value=value, action_type="plain_text_input", view=home)
    [dm] = fake_slack.wait_for("chat.postMessage")
    assert (dm.params["channel"], dm.params["text"]) == (
        admin,
        messages.HOME_NOT_REDRAWN.format(reason="internal_error"),
    )
