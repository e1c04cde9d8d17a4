"""The shared path: needs() checks the role in the listener's transaction and shows refusals and
failures on the listener's surface; account_form() opens an account's form or says why not."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from slack_bolt import Ack, App
from slack_bolt.request import BoltRequest
from sqlalchemy import exc
from sqlalchemy.orm import Session

from bot.app import create_app
from handlers import messages
from handlers.interaction import account_form, acknowledge_with, field_error, needs, reply
from handlers.messages import Refused
from store import accounts as account_store
from store.models import Account, Role
from tests.blockkit import visible_text
from tests.conftest import grant_role, make_account
from tests.slack_requests import block_actions_payload, command_payload, open_view, view_submission_payload

USER = "U012AB3CD"
FORM_VIEW, NAME_BLOCK = "test_form", "name"


class Conflict:
    """What psycopg raises when PostgreSQL aborts a transaction for a serialization failure."""

    sqlstate = "40001"


@pytest.fixture
def app(config, session_factory) -> App:
    """The real app, plus listeners that exercise each part of the shared path."""
    app = create_app(config, session_factory)
    conflicts = {"left": 0}

    @needs(Role.BILLING, "test the path", reply)
    def whoami(command: dict[str, Any], role: Role, session: Session) -> dict[str, Any]:
        return {
            "response_type": "ephemeral",
            "text": f"{role.value} in a transaction: {session.in_transaction()}",
        }

    @needs(Role.ADMIN, "rename things", field_error(NAME_BLOCK), writes=True)
    def rename(view: dict[str, Any], user_id: str, session: Session) -> dict[str, Any]:
        account = account_store.by_reference(session, "EX0000001")
        account_store.rename(session, account, "Changed first", actor=user_id)
        if conflicts["left"]:
            conflicts["left"] -= 1
            raise exc.OperationalError("UPDATE accounts", {}, Conflict())  # type: ignore[arg-type]
        wanted = view["state"]["values"][NAME_BLOCK]["name"]["value"]
        if wanted == "refuse":
            raise Refused("Refused after a change: the change must not be kept.")
        if wanted == "crash":
            raise RuntimeError("a bug")
        return {
            "response_action": "update",
            "view": {"type": "modal", "title": {"type": "plain_text", "text": "Done"}, "blocks": []},
        }

    @needs(Role.BILLING, "look things up", reply, role_ahead=True)
    def lookup(command: dict[str, Any], session: Session) -> dict[str, Any]:
        found = account_store.search(session, command["text"]).counted
        if command["text"] == "crash":
            raise RuntimeError("a bug")
        return {"response_type": "ephemeral", "text": f"{found} found"}

    app.command("/whoami")(whoami)
    app.command("/lookup")(lookup)
    app.view(FORM_VIEW)(rename)
    app.conflicts = conflicts  # type: ignore[attr-defined]
    return app


def dispatch(app: App, body: dict[str, Any]) -> Any:
    """Run one payload through the app in-process (Socket Mode requests skip the signature)."""
    response = app.dispatch(BoltRequest(body=body, mode="socket_mode"))
    return (
        response.body
        if isinstance(response.body, dict)
        else (response.body and __import__("json").loads(response.body))
    )


def submit(app: App, name: str, user_id: str = USER) -> Any:
    view = {"id": "V0TEST0001", "callback_id": FORM_VIEW, "private_metadata": "", "type": "modal"}
    state = {NAME_BLOCK: {"name": {"type": "plain_text_input", "value": name}}}
    return dispatch(app, view_submission_payload(view, state, user_id=user_id))


def name_of(session_factory) -> str:
    with session_factory.begin() as session:
        return account_store.by_reference(session, "EX0000001").name


def test_the_role_is_resolved_inside_the_listeners_transaction(app, session_factory, fake_slack):
    grant_role(session_factory, USER, Role.ADMIN)
    answer = dispatch(app, command_payload("/whoami", user_id=USER, response_url=fake_slack.response_url()))
    assert answer["text"] == "admin in a transaction: True"


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (None, messages.NO_ACCESS.format(user_id=USER)),
        (
            Role.VIEWER,
            messages.WRONG_ROLE.format(needed="billing", doing="test the path", role="viewer", user_id=USER),
        ),
    ],
)
def test_a_refusal_is_the_commands_private_reply(app, session_factory, fake_slack, role, expected):
    if role:
        grant_role(session_factory, USER, role)
    answer = dispatch(app, command_payload("/whoami", user_id=USER, response_url=fake_slack.response_url()))
    assert answer == {"response_type": "ephemeral", "text": expected}


@pytest.mark.parametrize(
    ("role", "typed", "expected"),
    [
        (Role.BILLING, "acme", "1 found"),
        (Role.ADMIN, "beta", "0 found"),
        (None, "acme", messages.NO_ACCESS.format(user_id=USER)),
        (None, "crash", messages.NO_ACCESS.format(user_id=USER)),  # as if the check came first
        (
            Role.VIEWER,
            "crash",
            messages.WRONG_ROLE.format(needed="billing", doing="look things up", role="viewer", user_id=USER),
        ),
    ],
)
def test_a_role_ahead_listener_is_checked_with_its_answer(
    app, session_factory, fake_slack, role, typed, expected
):
    make_account(session_factory, name="Acme")
    if role:
        grant_role(session_factory, USER, role)
    answer = dispatch(
        app, command_payload("/lookup", typed, user_id=USER, response_url=fake_slack.response_url())
    )
    assert answer == {"response_type": "ephemeral", "text": expected}


def test_a_role_ahead_listener_that_fails_says_so(app, session_factory, fake_slack):
    grant_role(session_factory, USER, Role.BILLING)
    url = fake_slack.response_url()
    answer = dispatch(app, command_payload("/lookup", "crash", user_id=USER, response_url=url))
    assert answer["text"].startswith("Something went wrong, nothing was changed.")


def test_a_refusal_after_a_write_rolls_the_write_back(app, session_factory):
    grant_role(session_factory, USER, Role.ADMIN)
    make_account(session_factory, name="Acme")
    answer = submit(app, "refuse")
    assert answer == {
        "response_action": "errors",
        "errors": {NAME_BLOCK: "Refused after a change: the change must not be kept."},
    }
    assert name_of(session_factory) == "Acme"


def test_a_failure_says_nothing_changed_with_a_reference_and_rolls_back(app, session_factory, caplog):
    grant_role(session_factory, USER, Role.ADMIN)
    make_account(session_factory, name="Acme")
    shown = submit(app, "crash")["errors"][NAME_BLOCK]
    found = re.fullmatch(
        r"Something went wrong, nothing was changed\. Please try again \(reference (\w{8})\)\.", shown
    )
    assert found is not None
    assert [r.exc_info is not None for r in caplog.records if found.group(1) in r.getMessage()] == [True]
    assert name_of(session_factory) == "Acme"


def test_a_serialization_failure_is_retried_a_bounded_number_of_times(app, session_factory):
    grant_role(session_factory, USER, Role.ADMIN)
    make_account(session_factory, name="Acme")
    app.conflicts["left"] = 2  # two aborted attempts, then one that commits
    assert submit(app, "ok")["response_action"] == "update"
    assert name_of(session_factory) == "Changed first"
    app.conflicts["left"] = 3  # every attempt aborted: the user hears, nothing is kept
    with session_factory.begin() as session:
        account_store.rename(session, account_store.by_reference(session, "EX0000001"), "Acme", actor="test")
    assert submit(app, "ok")["errors"][NAME_BLOCK] == messages.UNAVAILABLE
    assert name_of(session_factory) == "Acme"


def test_the_form_opener_reads_loads_checks_and_opens(config, session_factory, fake_slack):
    app = create_app(config, session_factory)
    opened_for: list[Account] = []

    def build(account: Account, role: Role, services: Any) -> dict[str, Any]:
        opened_for.append(account)
        return {"type": "modal", "title": {"type": "plain_text", "text": "Form"}, "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{account.reference} for a {role.value}"}}
        ]}  # fmt: skip

    app.action("open_test_form")(
        ack=lambda ack: ack(), lazy=[account_form(Role.BILLING, "test forms", "Test form", build)]
    )
    active = make_account(session_factory, "EX0000001")
    closed = make_account(session_factory, "EX0000002", active=False)
    grant_role(session_factory, USER, Role.BILLING)
    cases = [
        (str(active.id), "EX0000001 for a billing"),
        (str(closed.id), "Account EX0000002 is inactive. Run `/accounts` to see current accounts."),
        ("999", "No account has the id 999. Run `/accounts` to see current accounts."),
        ("10000000000000000000000000000000", messages.STALE_BUTTON),
        ("", messages.STALE_BUTTON),
    ]
    for value, expected in cases:
        shown = len(fake_slack.view_history)
        dispatch(
            app,
            block_actions_payload(
                "open_test_form", value=value, user_id=USER, response_url=fake_slack.response_url()
            ),
        )
        assert visible_text(open_view(fake_slack, shown)) == expected
    assert [account.reference for account in opened_for] == ["EX0000001"]
    # A failed views.open is told through response_url, which works in DMs too.
    fake_slack.fail("views.open", error="expired_trigger_id")
    url = fake_slack.response_url()
    dispatch(
        app, block_actions_payload("open_test_form", value=str(active.id), user_id=USER, response_url=url)
    )
    [told] = fake_slack.wait_for("response_url")
    assert told.params["text"] == messages.NOT_OPENED.format(reason="expired_trigger_id")
    assert fake_slack.calls_to("chat.postEphemeral") == []


BOX = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Acmé ∗Ltd∗* `EX0123456` <&>"}},
    {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Go"}}]},
]
OPTION = {"text": {"type": "plain_text", "text": "Zoë (EX0123456)"}, "value": "7"}


@pytest.mark.parametrize(
    "answer",
    [
        {"response_type": "ephemeral", "text": "3 account(s)", "blocks": BOX},
        {"text": "3 account(s)", "blocks": BOX},
        {"options": [OPTION] * 100},
        {"options": []},
        {"response_type": "ephemeral", "text": "No access"},
        {"response_type": "ephemeral", "text": "none", "blocks": []},
        {"response_action": "update", "view": {"type": "modal", "blocks": BOX}},
        {"response_action": "errors", "errors": {"amount": "Too many"}},
    ],
)
def test_an_answer_is_acknowledged_as_bolt_would(answer: dict[str, Any]) -> None:
    """acknowledge_with encodes big answers itself; Slack receives what ack(**answer) sends."""
    theirs, ours = Ack(), Ack()
    theirs(**copy.deepcopy(answer))
    acknowledge_with(ours, copy.deepcopy(answer))
    assert theirs.response is not None and ours.response is not None
    assert ours.response.status == theirs.response.status
    assert ours.response.headers == theirs.response.headers
    if theirs.response.body.startswith("{"):
        assert json.loads(ours.response.body) == json.loads(theirs.response.body)
    else:
        assert ours.response.body == theirs.response.body
