"""Socket Mode: the same app, reached over Slack's WebSocket envelope protocol."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.app import create_app
from bot.config import Config
from bot.serving import DrainingSocketModeHandler, serve_socket_mode
from store.db import SessionFactory
from tests.blockkit import assert_valid_blocks, visible_text
from tests.conftest import make_account
from tests.fake_slack import FakeSlack
from tests.slack_requests import block_actions_payload, command_payload, view_submission_payload


@pytest.fixture
def socket_bot(
    config: Config, session_factory: SessionFactory, fake_slack: FakeSlack
) -> Iterator[DrainingSocketModeHandler]:
    """The bot connected to the fake Slack over Socket Mode."""
    handler = serve_socket_mode(create_app(config, session_factory), config.slack_app_token)
    fake_slack.socket_mode.wait_connected()
    yield handler
    # As `serve` does: slack_sdk's close() can hang for ever when it races a reconnect (a worker
    # of the suite hung here on a loaded machine), so it is bounded.
    handler.close_within(5)


def test_socket_mode_connects_with_the_app_token(socket_bot, fake_slack: FakeSlack):
    # A loaded machine can make slack_sdk reconnect, so there may be more than one call.
    calls = fake_slack.calls_to("apps.connections.open")
    assert calls and {call.headers["authorization"] for call in calls} == {"Bearer xapp-test-token"}


def test_accounts_command_over_socket_mode_is_answered_in_the_ack(
    socket_bot, fake_slack: FakeSlack, admin: str, session_factory: SessionFactory
):
    make_account(session_factory, "EX0000001", "Acme Marketing", credits=750)
    payload = command_payload("/accounts", "acme", response_url=fake_slack.response_url())
    envelope_id = fake_slack.socket_mode.send_envelope("slash_commands", payload)
    ack = fake_slack.socket_mode.wait_for_ack(envelope_id)
    assert ack["payload"]["response_type"] == "ephemeral"
    assert_valid_blocks(ack["payload"]["blocks"])
    assert "Acme Marketing" in visible_text(ack["payload"]) and "750" in visible_text(ack["payload"])


def test_socket_mode_refuses_users_without_a_role(socket_bot, fake_slack: FakeSlack):
    payload = command_payload("/accounts", user_id="U0STRANGER", response_url=fake_slack.response_url())
    ack = fake_slack.socket_mode.wait_for_ack(fake_slack.socket_mode.send_envelope("slash_commands", payload))
    assert "admin-bot roles grant U0STRANGER viewer" in ack["payload"]["text"]


def _view_submission() -> dict[str, Any]:
    form = {"id": "V0BUY0001", "type": "modal", "callback_id": "buy_credits", "private_metadata": "1"}
    return view_submission_payload({**form, "blocks": []}, {})


# Shapes Slack never sends, which the HTTP path answers with 400 (tests/handlers/test_boundary_corpus.py).
# A payload that is not an object never reaches the bot: slack_sdk refuses it while reading the envelope.
MALFORMED: dict[str, Callable[[], Any]] = {
    "view_submission with a null view": lambda: {**_view_submission(), "view": None},
    "view_submission with a string view": lambda: {**_view_submission(), "view": "V0BUY0001"},
    "block_actions with null actions": lambda: {
        **block_actions_payload("open_buy", value="1"),
        "actions": None,
    },
    "block_actions with no actions": lambda: {**block_actions_payload("open_buy", value="1"), "actions": []},
    "block_actions with no user": lambda: {
        k: v for k, v in block_actions_payload("open_buy", value="1").items() if k != "user"
    },
}


@pytest.mark.parametrize("shape", MALFORMED)
def test_socket_mode_acknowledges_and_refuses_shapes_slack_never_sends(
    shape, socket_bot, fake_slack: FakeSlack, admin: str, session_factory: SessionFactory, caplog
):
    make_account(session_factory, "EX0000001", "Acme Marketing", credits=750)
    caplog.set_level(logging.INFO)
    envelope_id = fake_slack.socket_mode.send_envelope("interactive", MALFORMED[shape]())

    ack = fake_slack.socket_mode.wait_for_ack(envelope_id)  # acknowledged, so Slack does not send it again
    assert ack == {"envelope_id": envelope_id}
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused a malformed payload")]
    assert len(refusals) == 1 and refusals[0].levelno == logging.WARNING
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert [c.method for c in fake_slack.calls if c.method != "apps.connections.open"] == []
    payload = command_payload("/accounts", "acme", response_url=fake_slack.response_url())
    still = fake_slack.socket_mode.wait_for_ack(
        fake_slack.socket_mode.send_envelope("slash_commands", payload)
    )
    assert "Acme Marketing" in visible_text(still["payload"])
