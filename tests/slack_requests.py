"""Build Slack's request payloads and send them, signed, to the bot."""

from __future__ import annotations

import copy
import itertools
import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from tests.fake_slack import APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, WAIT_SECONDS

if TYPE_CHECKING:
    from tests.fake_slack import FakeSlack

DEFAULT_USER_ID = "U0ADMIN"
DEFAULT_CHANNEL_ID = "C0TEST"
VERIFICATION_TOKEN = "fake-verification-token"

Payload = dict[str, Any]

_serial = itertools.count(1)


def new_trigger_id() -> str:
    """A fresh trigger_id in Slack's digits.digits.hex format."""
    return f"{int(time.time() * 1000)}.{next(_serial)}.{secrets.token_hex(16)}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _user(user_id: str, user_name: str | None, team_id: str) -> Payload:
    name = user_name or user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _team(team_id: str) -> Payload:
    return {"id": team_id, "domain": TEAM_DOMAIN}


# element state helpers for view_submission values


def plain_text(value: str | None) -> Payload:
    """State of a plain_text_input."""
    return {"type": "plain_text_input", "value": value}


def option(value: str, text: str | None = None) -> Payload:
    """A select option object."""
    return {
        "text": {"type": "plain_text", "text": text or value, "emoji": True},
        "value": value,
    }


def static_select(value: str | None, text: str | None = None) -> Payload:
    """State of a static_select (None: nothing chosen)."""
    chosen = option(value, text) if value is not None else None
    return {"type": "static_select", "selected_option": chosen}


def external_select(value: str | None, text: str | None = None) -> Payload:
    """State of an external_select (None: nothing chosen)."""
    chosen = option(value, text) if value is not None else None
    return {"type": "external_select", "selected_option": chosen}


def users_select(user_id: str | None) -> Payload:
    """State of a users_select."""
    return {"type": "users_select", "selected_user": user_id}


def multi_users_select(user_ids: list[str]) -> Payload:
    """State of a multi_users_select."""
    return {"type": "multi_users_select", "selected_users": list(user_ids)}


def multi_conversations_select(channel_ids: list[str]) -> Payload:
    """State of a multi_conversations_select."""
    return {"type": "multi_conversations_select", "selected_conversations": list(channel_ids)}


def checkboxes(values: list[str]) -> Payload:
    """State of a checkboxes element."""
    return {"type": "checkboxes", "selected_options": [option(v) for v in values]}


def datepicker(date: str | None) -> Payload:
    """State of a datepicker (YYYY-MM-DD)."""
    return {"type": "datepicker", "selected_date": date}


# payload builders


def command_payload(
    command: str,
    text: str = "",
    *,
    response_url: str,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    channel_id: str = DEFAULT_CHANNEL_ID,
    channel_name: str = "admin",
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
) -> dict[str, str]:
    """The form fields Slack posts for a slash command."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }


def _action(
    action_id: str,
    block_id: str,
    action_type: str,
    value: str | None,
    selected_option: Payload | None,
) -> Payload:
    """One entry of a block_actions payload's actions list."""
    action: Payload = {
        "type": action_type,
        "action_id": action_id,
        "block_id": block_id,
    }
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": action_id, "emoji": True}
        if value is not None:
            action["value"] = value
    elif action_type in (
        "static_select",
        "external_select",
        "radio_buttons",
        "overflow",
    ):
        if selected_option is None and value is not None:
            selected_option = option(value)
        action["selected_option"] = selected_option
    elif action_type == "users_select":
        action["selected_user"] = value
    elif action_type == "conversations_select":
        action["selected_conversation"] = value
    elif action_type == "channels_select":
        action["selected_channel"] = value
    elif action_type == "datepicker":
        action["selected_date"] = value
    elif action_type == "plain_text_input" or value is not None:
        action["value"] = value
    action["action_ts"] = _action_ts()
    return action


def block_actions_payload(
    action_id: str,
    *,
    value: str | None = None,
    block_id: str = "b",
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    action_type: str = "button",
    selected_option: Payload | None = None,
    view: Payload | None = None,
    message: Payload | None = None,
    channel_id: str | None = None,
    response_url: str | None = None,
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    state_values: Payload | None = None,
    action_extra: Payload | None = None,
) -> Payload:
    """A block_actions payload from a button or menu in a view or a message.

    With neither view nor message, the click came from an ephemeral message.
    """
    action = _action(action_id, block_id, action_type, value, selected_option)
    action.update(action_extra or {})
    payload: Payload = {
        "type": "block_actions",
        "user": _user(user_id, user_name, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if view is not None:
        view = copy.deepcopy(view)
        if state_values is not None:
            view["state"] = {"values": state_values}
        payload["container"] = {"type": "view", "view_id": view["id"]}
        payload["view"] = view
    else:
        channel = channel_id or (message or {}).get("channel") or DEFAULT_CHANNEL_ID
        ts = (message or {}).get("ts") or f"{time.time():.6f}"
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": message is None,
        }
        payload["channel"] = {"id": channel, "name": "admin"}
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        payload["state"] = {"values": state_values or {}}
    if response_url is not None:
        payload["response_url"] = response_url
    payload["actions"] = [action]
    return payload


def view_submission_payload(
    view: Payload,
    values: Payload,
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    response_urls: list[Payload] | None = None,
) -> Payload:
    """A view_submission payload; values maps block_id -> action_id -> element state."""
    submitted = copy.deepcopy(view)
    submitted["state"] = {"values": copy.deepcopy(values)}
    return {
        "type": "view_submission",
        "team": _team(team_id),
        "user": _user(user_id, user_name, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": submitted,
        "response_urls": response_urls or [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_closed_payload(view: Payload, *, user_id: str = DEFAULT_USER_ID, team_id: str = TEAM_ID) -> Payload:
    """A view_closed payload (sent only for views with notify_on_close)."""
    return {
        "type": "view_closed",
        "team": _team(team_id),
        "user": _user(user_id, None, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "view": copy.deepcopy(view),
        "is_cleared": False,
        "is_enterprise_install": False,
        "enterprise": None,
    }


def block_suggestion_payload(
    action_id: str,
    value: str,
    *,
    block_id: str,
    view: Payload,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    team_id: str = TEAM_ID,
) -> Payload:
    """A block_suggestion payload for an external_select typed into in a view."""
    return {
        "type": "block_suggestion",
        "user": _user(user_id, user_name, team_id),
        "container": {"type": "view", "view_id": view["id"]},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
        "view": copy.deepcopy(view),
    }


def event_payload(
    event: Payload,
    *,
    team_id: str = TEAM_ID,
    event_id: str | None = None,
    event_time: int | None = None,
) -> Payload:
    """An Events API event_callback envelope around event."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": APP_ID,
        "event": copy.deepcopy(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev0{next(_serial):08X}",
        "event_time": event_time if event_time is not None else int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_hex(24)}",
    }


def open_view(fake: FakeSlack, index: int = -1, timeout: float = WAIT_SECONDS) -> Payload:
    """A modal the bot opened, pushed or updated (latest by default), as Slack stored it.

    Waits up to timeout for the bot to have shown enough modals to have that index.
    """
    needed = index + 1 if index >= 0 else -index
    return fake.wait_for_views(needed, timeout)[index]


@dataclass
class Response:
    """The bot's answer to one request."""

    status: int
    headers: dict[str, str]  # lower-cased names
    text: str

    def json(self) -> Any:
        """The body parsed as JSON, or None when empty."""
        return json.loads(self.text) if self.text.strip() else None


class SlackRequests:
    """Sends correctly signed requests to the bot, as Slack does."""

    def __init__(
        self,
        bot_url: str,
        signing_secret: str,
        fake: FakeSlack,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.bot_url = bot_url
        self.signing_secret = signing_secret
        self.fake = fake
        self.timeout = timeout
        self._verifier = SignatureVerifier(signing_secret)

    def sign(self, body: bytes, timestamp: str) -> str:
        """The X-Slack-Signature for body sent at timestamp."""
        signature = self._verifier.generate_signature(timestamp=timestamp, body=body.decode("utf-8"))
        assert signature is not None
        return signature

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: str | int | None = None,
        signature: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Response:
        """POST raw bytes, signed unless a signature is given."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        if signature is None:
            signature = self.sign(body, ts)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **(extra_headers or {}),
        }
        request = urllib.request.Request(self.bot_url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return self._response(answer.status, answer.headers.items(), answer.read())
        except urllib.error.HTTPError as e:
            with e:
                return self._response(e.code, e.headers.items(), e.read())

    @staticmethod
    def _response(status: int, headers: Any, body: bytes) -> Response:
        return Response(status, {k.lower(): v for k, v in headers}, body.decode("utf-8"))

    def post_form(self, fields: dict[str, str], **kwargs: Any) -> Response:
        """POST form-encoded fields."""
        body = urlencode(fields).encode()
        return self.post(body, "application/x-www-form-urlencoded", **kwargs)

    def post_interactive(self, payload: Payload, **kwargs: Any) -> Response:
        """POST an interaction payload the way Slack does: payload=<json> in a form."""
        return self.post_form({"payload": json.dumps(payload)}, **kwargs)

    def post_json(self, payload: Payload, **kwargs: Any) -> Response:
        """POST a JSON body."""
        return self.post(json.dumps(payload).encode(), "application/json", **kwargs)

    def command(
        self,
        command: str,
        text: str = "",
        *,
        response_url: str | None = None,
        **fields: Any,
    ) -> Response:
        """Invoke a slash command."""
        payload = command_payload(
            command,
            text,
            response_url=response_url or self.fake.response_url(),
            **fields,
        )
        return self.post_form(payload)

    def block_action(self, action_id: str, *, response_url: str | None = None, **fields: Any) -> Response:
        """Click a button or choose from a menu; messages get a fresh response_url."""
        if response_url is None and fields.get("view") is None:
            response_url = self.fake.response_url()
        payload = block_actions_payload(action_id, response_url=response_url, **fields)
        return self.post_interactive(payload)

    def view_submission(self, view: Payload, values: Payload, **fields: Any) -> Response:
        """Submit a modal with the given input values; the fake Slack applies the acknowledgement."""
        response = self.post_interactive(view_submission_payload(view, values, **fields))
        if response.status == 200 and response.text.startswith("{"):
            self.fake.submission_answered(view, response.json())
        return response

    def view_closed(self, view: Payload, **fields: Any) -> Response:
        """Close a modal that asked for notify_on_close."""
        return self.post_interactive(view_closed_payload(view, **fields))

    def block_suggestion(
        self, action_id: str, value: str, *, block_id: str, view: Payload, **fields: Any
    ) -> Response:
        """Type into an external_select; the bot answers with options."""
        payload = block_suggestion_payload(action_id, value, block_id=block_id, view=view, **fields)
        return self.post_interactive(payload)

    def event(
        self,
        event: Payload,
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        **fields: Any,
    ) -> Response:
        """Deliver an Events API event, optionally as Slack's retry number retry_num."""
        headers = {}
        if retry_num is not None:
            headers = {
                "X-Slack-Retry-Num": str(retry_num),
                "X-Slack-Retry-Reason": retry_reason,
            }
        return self.post_json(event_payload(event, **fields), extra_headers=headers)

    def url_verification(self, challenge: str = "challenge-token") -> Response:
        """The handshake Slack sends when the Request URL is saved."""
        payload = {
            "token": VERIFICATION_TOKEN,
            "challenge": challenge,
            "type": "url_verification",
        }
        return self.post_json(payload)
