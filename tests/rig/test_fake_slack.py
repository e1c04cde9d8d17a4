"""The fake Slack behaves like Slack for slack_sdk and bolt; the driver signs like Slack."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import (
    FixedValueRetryIntervalCalculator,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.webhook import WebhookClient
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.fake_slack import FakeSlack
from tests.slack_requests import (
    SlackRequests,
    block_actions_payload,
    command_payload,
    open_view,
    plain_text,
    static_select,
    view_submission_payload,
)

SECRET = "rig-signing-secret"
MODAL = {
    "type": "modal",
    "callback_id": "grant",
    "title": {"type": "plain_text", "text": "Grant"},
    "submit": {"type": "plain_text", "text": "Go"},
    "private_metadata": "meta",
    "blocks": [
        {
            "type": "input",
            "block_id": "who",
            "label": {"type": "plain_text", "text": "Who"},
            "element": {"type": "plain_text_input", "action_id": "email"},
        }
    ],
}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(base_url=fake.api_url, token="xoxb-test")


class _Capture(BaseHTTPRequestHandler):
    """Stores each request and answers 200 with an empty body."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((dict(self.headers.items()), body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def capture() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/slack/events", server.seen  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


# Web API


def test_call_is_recorded_with_params_and_token(fake: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    answer = client.chat_postMessage(channel="C1", text="hi", blocks=blocks)
    form = {"channel": "C1", "user": "U1", "blocks": json.dumps(blocks)}
    client.api_call("chat.postEphemeral", data=form)

    post, ephemeral = fake.calls
    assert post.method == "chat.postMessage"
    assert post.params == {"channel": "C1", "text": "hi", "blocks": blocks}
    assert post.headers["authorization"] == "Bearer xoxb-test"
    # form-encoded JSON arguments are decoded too
    assert ephemeral.params["blocks"] == blocks
    assert answer["channel"] == "C1" and answer["message"]["ts"] == answer["ts"]
    assert ephemeral.reply["ok"] and ephemeral.reply["message_ts"]


def test_posting_to_a_user_lands_in_their_dm(client: WebClient) -> None:
    assert client.chat_postMessage(channel="U42", text="x")["channel"] == "DU42"
    assert client.conversations_open(users="U42")["channel"]["id"] == "DU42"


def test_missing_token_and_unknown_method(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=fake.api_url).chat_postMessage(channel="C1", text="x")
    assert missing.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as unknown:
        WebClient(base_url=fake.api_url, token="xoxb-test").api_call("nope.nothing")
    assert unknown.value.response["error"] == "unknown_method"


def test_app_tokens_only_open_connections(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        client.apps_connections_open(app_token="xoxb-test")
    url = client.apps_connections_open(app_token="xapp-1-test")["url"]
    assert url.startswith(f"ws://127.0.0.1:{fake.socket_mode.port}/link/?ticket=")


def test_429_is_retried_after_retry_after(fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk adds up to 1s of jitter to Retry-After; pin it for a fast, exact test.
    monkeypatch.setattr("slack_sdk.http_retry.builtin_handlers.random.random", lambda: 0.0)
    client = WebClient(base_url=fake.api_url, token="xoxb-test")
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    fake.fail("chat.postMessage", status=429, retry_after=1)

    started = time.monotonic()
    assert client.chat_postMessage(channel="C1", text="x")["ok"]

    first, second = fake.calls_to("chat.postMessage")
    assert first.reply == {"ok": False, "error": "ratelimited"}
    assert second.at - first.at >= 1.0
    assert time.monotonic() - started < 3


def test_429_without_retry_handler_raises(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert err.value.response["error"] == "ratelimited"


def test_ok_false_raises_with_the_error(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel="C1", text="x")["ok"]  # consumed


def test_server_errors_forever_until_cleared(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("auth.test", status=503, times=None)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            client.auth_test()
        assert err.value.response.status_code == 503
        assert err.value.response["error"] == "service_unavailable"
    fake.clear_faults()
    assert client.auth_test()["user_id"] == fake.bot_user_id


def test_server_error_retry_handler_recovers(fake: FakeSlack) -> None:
    client = WebClient(base_url=fake.api_url, token="xoxb-test")
    interval = FixedValueRetryIntervalCalculator(0.01)
    client.retry_handlers.append(ServerErrorRetryHandler(max_retry_count=1, interval_calculator=interval))
    fake.fail("auth.test", status=500)
    assert client.auth_test()["ok"]
    assert len(fake.calls_to("auth.test")) == 2


def test_fault_only_for_matching_params(fake: FakeSlack, client: WebClient) -> None:
    fake.add_user("U1", "a@example.com")
    fake.add_user("U2", "b@example.com")
    fake.fail(
        "users.lookupByEmail",
        error="ratelimited",
        when=lambda p: p["email"] == "b@example.com",
    )
    assert client.users_lookupByEmail(email="a@example.com")["user"]["id"] == "U1"
    with pytest.raises(SlackApiError, match="ratelimited"):
        client.users_lookupByEmail(email="b@example.com")
    assert client.users_lookupByEmail(email="b@example.com")["user"]["id"] == "U2"


def test_delay_trips_client_timeout(fake: FakeSlack) -> None:
    fake.delay("auth.test", 2.0)
    with pytest.raises(TimeoutError):
        WebClient(base_url=fake.api_url, token="xoxb-test", timeout=1).auth_test()
    assert len(fake.calls_to("auth.test")) == 1


def test_wait_for_reports_what_was_seen(fake: FakeSlack, client: WebClient) -> None:
    client.auth_test()
    threading.Timer(0.05, lambda: client.chat_postMessage(channel="C1", text="late")).start()
    assert fake.wait_for("chat.postMessage")[0].params["text"] == "late"
    with pytest.raises(AssertionError, match=r"(?s)views\.open.*auth\.test"):
        fake.wait_for("views.open", timeout=0.05)
    fake.reset()
    assert fake.calls == []


# views


def test_views_open_then_update_checks_hash(fake: FakeSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id="1.2.abc", view=MODAL)["view"]
    assert opened["id"].startswith("V") and opened["type"] == "modal"
    assert opened["callback_id"] == "grant" and opened["private_metadata"] == "meta"
    assert opened["state"] == {"values": {}} and opened["root_view_id"] == opened["id"]
    assert fake.views[opened["id"]]["hash"] == opened["hash"]

    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]

    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)
    with pytest.raises(SlackApiError, match="not_found"):
        client.views_update(view_id="VNOPE", view=MODAL)
    assert open_view(fake)["hash"] == updated["hash"]
    assert open_view(fake, 0)["hash"] == opened["hash"]


def test_views_update_by_external_id_and_push(client: WebClient) -> None:
    opened = client.views_open(trigger_id="t", view={**MODAL, "external_id": "req-1"})["view"]
    updated = client.views_update(external_id="req-1", view={**MODAL, "callback_id": "x"})
    assert updated["view"]["id"] == opened["id"] and updated["view"]["callback_id"] == "x"
    pushed = client.views_push(trigger_id="t2", view=MODAL)["view"]
    assert pushed["id"] != opened["id"] and pushed["root_view_id"] == opened["id"]
    with pytest.raises(SlackApiError, match="duplicate_external_id"):
        client.views_open(trigger_id="t3", view={**MODAL, "external_id": "req-1"})


def test_views_publish_stores_home_per_user(fake: FakeSlack, client: WebClient) -> None:
    home = {"type": "home", "blocks": [{"type": "divider"}]}
    first = client.views_publish(user_id="U1", view=home)["view"]
    again = client.views_publish(user_id="U1", view=home, hash=first["hash"])["view"]
    assert again["id"] == first["id"] and fake.home_views["U1"]["hash"] == again["hash"]
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_publish(user_id="U1", view=home, hash=first["hash"])
    assert fake.view_history == []  # App Home is not a modal


# users and uploads


def test_user_registry(fake: FakeSlack, client: WebClient) -> None:
    fake.add_user("U7", "Ada@Example.com", name="ada", deleted=True)
    user = client.users_lookupByEmail(email="ada@example.com")["user"]
    assert user["id"] == "U7" and user["deleted"] is True
    assert user["profile"]["email"] == "Ada@Example.com"
    assert client.users_info(user="U7")["user"]["name"] == "ada"
    with pytest.raises(SlackApiError, match="users_not_found"):
        client.users_lookupByEmail(email="nobody@example.com")
    with pytest.raises(SlackApiError, match="user_not_found"):
        client.users_info(user="U404")


@pytest.mark.parametrize(
    ("member", "private", "archived", "error"),
    [
        (False, False, False, "not_in_channel"),
        (False, True, False, "channel_not_found"),
        (True, False, True, "is_archived"),
    ],
)
def test_channels_answer_as_slack_does_for_a_bot_outside_them(
    fake: FakeSlack, client: WebClient, member: bool, private: bool, archived: bool, error: str
) -> None:
    fake.add_channel("C0OPS0001", "ops", member=member, private=private, archived=archived)
    for call in (
        lambda: client.chat_postMessage(channel="C0OPS0001", text="hi"),
        lambda: client.conversations_history(channel="C0OPS0001"),
    ):
        with pytest.raises(SlackApiError) as refused:
            call()
        assert refused.value.response["error"] == error
    if private:
        with pytest.raises(SlackApiError) as hidden:
            client.conversations_info(channel="C0OPS0001")
        assert hidden.value.response["error"] == "channel_not_found"
    else:
        info = client.conversations_info(channel="C0OPS0001")["channel"]
        assert (info["is_member"], info["is_archived"]) == (member, archived)
    if not archived:
        fake.invite_bot("C0OPS0001")
        assert client.chat_postMessage(channel="C0OPS0001", text="hi")["channel"] == "C0OPS0001"


def test_files_upload_v2(fake: FakeSlack, client: WebClient) -> None:
    content = bytes(range(256)) * 4
    answer = client.files_upload_v2(
        content=content,
        filename="report.csv",
        title="Report",
        channel="C9",
        initial_comment="done",
    )
    (file_id,) = fake.uploads
    assert answer["file"]["id"] == file_id and fake.uploads[file_id] == content
    (uploaded,) = fake.uploaded_files()
    assert uploaded["filename"] == "report.csv" and uploaded["title"] == "Report"
    assert uploaded["channel_id"] == "C9" and uploaded["initial_comment"] == "done"
    assert uploaded["content"] == content
    assert "authorization" not in fake.calls_to("upload")[0].headers


# response_url


def test_response_url_is_recorded(fake: FakeSlack) -> None:
    url = fake.response_url()
    answer = WebhookClient(url).send(text="done", response_type="ephemeral", replace_original=True)
    assert (answer.status_code, answer.body) == (200, "ok")
    (call,) = fake.responses(url)
    assert call.params == {
        "text": "done",
        "response_type": "ephemeral",
        "replace_original": True,
    }
    assert call.response_id == url.rsplit("/", 1)[1]
    assert fake.responses(fake.response_url()) == []


def test_response_url_fault(fake: FakeSlack) -> None:
    fake.fail("response_url", status=404, error="used_url")
    answer = WebhookClient(fake.response_url()).send(text="late")
    assert (answer.status_code, answer.body) == (404, "used_url")


# Socket Mode


def test_socket_mode_client_roundtrip(fake: FakeSlack) -> None:
    received: list[SocketModeRequest] = []

    def on_request(client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        response = SocketModeResponse(envelope_id=request.envelope_id, payload={"text": "hi"})
        client.send_socket_mode_response(response)

    web = WebClient(base_url=fake.api_url)
    sm = SocketModeClient(app_token="xapp-1-test", web_client=web)
    sm.socket_mode_request_listeners.append(on_request)
    sm.connect()
    try:
        fake.socket_mode.wait_connected()
        payload = command_payload("/grant", "a@example.com", response_url=fake.response_url())
        envelope_id = fake.socket_mode.send_envelope("slash_commands", payload)
        ack = fake.socket_mode.wait_for_ack(envelope_id)
    finally:
        sm.close()
    assert ack == {"envelope_id": envelope_id, "payload": {"text": "hi"}}
    (request,) = received
    assert (request.type, request.payload["command"]) == ("slash_commands", "/grant")
    assert request.accepts_response_payload is True


def test_socket_mode_rejects_unknown_tickets(fake: FakeSlack) -> None:
    forged = f"ws://127.0.0.1:{fake.socket_mode.port}/link/?ticket=forged"
    with connect(forged) as ws, pytest.raises(ConnectionClosed):
        ws.recv(timeout=2)
    web = WebClient(base_url=fake.api_url)
    with connect(web.apps_connections_open(app_token="xapp-1")["url"]) as ws:
        hello = json.loads(ws.recv(timeout=2))
    assert hello["type"] == "hello"
    assert hello["connection_info"]["app_id"] == fake.app_id


# request signing


def test_requests_are_signed_like_slack(fake: FakeSlack, capture: Any) -> None:
    url, seen = capture
    slack = SlackRequests(url, SECRET, fake)
    assert slack.command("/grant", "a@example.com").status == 200

    headers, body = seen[0]
    verifier = SignatureVerifier(SECRET)
    timestamp, signature = (
        headers["X-Slack-Request-Timestamp"],
        headers["X-Slack-Signature"],
    )
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert verifier.is_valid(body=body.decode(), timestamp=timestamp, signature=signature)
    assert not verifier.is_valid(body=body.decode() + "x", timestamp=timestamp, signature=signature)
    assert not SignatureVerifier("other").is_valid(body.decode(), timestamp, signature)
    fields = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert fields["command"] == "/grant" and fields["user_id"] == "U0ADMIN"
    assert fields["response_url"].startswith(fake.base_url + "/response/")


def test_low_level_post_for_bad_signatures_and_retries(fake: FakeSlack, capture: Any) -> None:
    url, seen = capture
    slack = SlackRequests(url, SECRET, fake)
    stale = int(time.time()) - 600
    slack.post(b"{}", "application/json", timestamp=stale)
    slack.post(b"{}", "application/json", signature="v0=forged")
    slack.event({"type": "app_mention", "text": "hi"}, retry_num=1)

    verifier = SignatureVerifier(SECRET)
    (h1, b1), (h2, _), (h3, b3) = seen
    assert h1["X-Slack-Request-Timestamp"] == str(stale)
    assert not verifier.is_valid(b1.decode(), h1["X-Slack-Request-Timestamp"], h1["X-Slack-Signature"])
    assert h2["X-Slack-Signature"] == "v0=forged"
    assert (h3["X-Slack-Retry-Num"], h3["X-Slack-Retry-Reason"]) == (
        "1",
        "http_timeout",
    )
    assert json.loads(b3)["event"]["type"] == "app_mention"


def test_interactive_payloads_are_form_encoded_json(fake: FakeSlack, capture: Any) -> None:
    url, seen = capture
    view = {"id": "V1", "hash": "1.a", "callback_id": "grant", "type": "modal"}
    SlackRequests(url, SECRET, fake).block_action("approve", value="42", channel_id="C5")
    payload = json.loads(parse_qs(seen[0][1].decode())["payload"][0])
    assert payload["type"] == "block_actions" and payload["actions"][0]["value"] == "42"
    assert payload["container"]["channel_id"] == "C5"
    assert payload["response_url"].startswith(fake.base_url)

    in_view = block_actions_payload("pick", action_type="static_select", value="a", view=view)
    assert in_view["container"] == {"type": "view", "view_id": "V1"}
    assert in_view["actions"][0]["selected_option"]["value"] == "a"
    assert "response_url" not in in_view


# the payloads as bolt sees them


def _serve_bolt(app: App) -> tuple[str, ThreadingHTTPServer]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            headers: dict[str, str | Sequence[str]] = dict(self.headers.items())
            response = app.dispatch(BoltRequest(body=body, headers=headers))
            data = response.body.encode()
            self.send_response(response.status)
            for name, values in response.headers.items():
                for value in values:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/slack/events", server


def test_bolt_understands_the_payloads(fake: FakeSlack) -> None:
    app = App(
        signing_secret=SECRET,
        client=WebClient(base_url=fake.api_url, token="xoxb-test"),
    )
    submitted: list[dict[str, Any]] = []

    @app.command("/grant")
    def open_modal(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @app.view("grant")
    def on_submit(ack: Any, view: dict[str, Any]) -> None:
        submitted.append(view)
        ack(response_action="errors", errors={"who": "nope"})

    @app.options("team")
    def suggest(ack: Any, payload: dict[str, Any]) -> None:
        ack(options=[{"text": {"type": "plain_text", "text": payload["value"]}, "value": "1"}])

    @app.event("app_mention")
    def mentioned(event: dict[str, Any], say: Any) -> None:
        say(f"heard {event['text']}")

    url, server = _serve_bolt(app)
    try:
        slack = SlackRequests(url, SECRET, fake)
        assert slack.command("/grant").status == 200
        view = open_view(fake)
        values = {
            "who": {"email": plain_text("a@example.com")},
            "x": {"y": static_select("b")},
        }
        answer = slack.view_submission(view, values)
        assert answer.json() == {"response_action": "errors", "errors": {"who": "nope"}}
        assert submitted[0]["state"]["values"]["who"]["email"]["value"] == "a@example.com"
        assert submitted[0]["private_metadata"] == "meta" and submitted[0]["hash"] == view["hash"]
        options = slack.block_suggestion("team", "ops", block_id="b", view=view).json()
        assert options["options"][0]["text"]["text"] == "ops"
        event = {
            "type": "app_mention",
            "user": "U0ADMIN",
            "text": "hi",
            "channel": "C1",
        }
        assert slack.event(event).status == 200
        assert fake.wait_for("chat.postMessage")[0].params["text"] == "heard hi"
        forged = slack.post(b"token=x", "application/x-www-form-urlencoded", signature="v0=bad")
        assert forged.status == 401
    finally:
        server.shutdown()
        server.server_close()
    assert view_submission_payload(view, values)["view"]["id"] == view["id"]


def test_a_submission_answered_with_update_shows_its_view_with_a_new_hash(
    fake: FakeSlack, client: WebClient
) -> None:
    app = App(signing_secret=SECRET, client=client)

    @app.view("grant")
    def on_submit(ack: Any) -> None:
        ack(response_action="update", view={**MODAL, "callback_id": "granted"})

    opened = client.views_open(trigger_id="1.2.abc", view=MODAL)["view"]
    url, server = _serve_bolt(app)
    try:
        SlackRequests(url, SECRET, fake).view_submission(opened, {})
    finally:
        server.shutdown()
        server.server_close()
    shown = fake.views[opened["id"]]
    assert shown["callback_id"] == "granted" and shown["hash"] != opened["hash"]
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)
    assert len(fake.view_history) == 1  # only what the bot showed through the Web API


def test_drop_before_acting_posts_nothing(fake: FakeSlack) -> None:
    client = WebClient(base_url=fake.api_url, token="xoxb-test", retry_handlers=[])
    fake.drop("chat.postMessage")
    with pytest.raises(Exception):  # noqa: B017 - urllib surfaces a dropped socket as several types
        client.chat_postMessage(channel="U012AB3CD", text="hello")
    assert fake.messages == {}
    client.chat_postMessage(channel="U012AB3CD", text="again")
    assert [m["text"] for m in fake.messages.values()] == ["again"]


def test_drop_after_acting_posts_but_loses_the_answer(fake: FakeSlack) -> None:
    client = WebClient(base_url=fake.api_url, token="xoxb-test", retry_handlers=[])
    fake.drop("chat.postMessage", after_acting=True)
    with pytest.raises(Exception):  # noqa: B017
        client.chat_postMessage(channel="U012AB3CD", text="hello")
    assert [m["text"] for m in fake.messages.values()] == ["hello"]
