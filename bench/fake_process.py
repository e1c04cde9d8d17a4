"""The fake Slack Web API in a process of its own, as the real one is remote.

In the bench's own process the fake's request threads would compete with the bot for the GIL,
and their work would be counted against the bot.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Self

from slack_sdk import WebClient
from slack_sdk.web.slack_response import SlackResponse

ROOT = Path(__file__).resolve().parent.parent
SERVE = (
    "import sys\n"
    "from tests.fake_slack import FakeSlack\n"
    "fake = FakeSlack().start()\n"
    "for method in sys.argv[2:]:\n"
    "    fake.delay(method, float(sys.argv[1]), times=None)\n"
    "print(fake.base_url, flush=True)\n"
    "sys.stdin.read()  # until the bench closes our stdin\n"
    "fake.stop()\n"
)


# What a reminder DM calls; the replica bench slows these down to real Slack's pace.
DM_METHODS = ("conversations.open", "chat.postMessage")


class FakeSlackProcess:
    """What the bench needs of tests.fake_slack.FakeSlack: its URLs."""

    def __init__(self, delay_seconds: float = 0.0, delayed: tuple[str, ...] = DM_METHODS) -> None:
        self.delay = [str(delay_seconds), *delayed] if delay_seconds else []

    def __enter__(self) -> Self:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, *self.delay],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        if not self.base_url.startswith("http://"):
            self.process.kill()
            raise RuntimeError("the fake Slack Web API did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self) -> str:
        return f"{self.base_url}/response/{uuid.uuid4().hex}"


class TimedClient(WebClient):
    """A WebClient that adds up the time spent in Web API calls: Slack's time, not the bot's."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spent = [0.0]  # shared with the copies the pass makes of this client

    @property
    def api_seconds(self) -> float:
        return self.spent[0]

    def api_call(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return super().api_call(*args, **kwargs)
        finally:
            self.spent[0] += time.perf_counter() - started


class InstantWebAPI(WebClient):
    """Answers the reminder pass's Web API calls in this process, at once, as Slack would.

    The pass as it would run if Slack took no time: the bot's own work, without subtracting
    call times measured around HTTP requests (which leave the client library's work outside
    its api_call, and the cost of switching between the two, on the bot's side).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.posted = [0]  # shared with the copies the pass makes of this client

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        body = kwargs.get("json") or kwargs.get("params") or {}
        data: dict[str, Any] = {"ok": True}
        if api_method == "conversations.open":
            data["channel"] = {"id": f"D{body.get('users', '')}"}
        elif api_method in ("chat.postMessage", "chat.update"):
            self.posted[0] += 1
            channel = str(body.get("channel") or "")
            if channel[:1] in ("U", "W"):  # a post to a user id lands in their DM with the app
                channel = f"D{channel}"
            data.update(channel=channel, ts=body.get("ts") or f"{self.posted[0]}.000100")
        return SlackResponse(
            client=self,
            http_verb="POST",
            api_url=f"{self.base_url}{api_method}",
            req_args=kwargs,
            data=data,
            headers={},
            status_code=200,
        ).validate()
