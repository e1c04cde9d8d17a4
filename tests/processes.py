"""Real `admin-bot` processes for tests: started with a test environment, read line by line, signalled."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parent.parent


class BotProcess:
    """`python -m bot.cli ARGS` with the given settings; its stdout and stderr are kept line by line."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args],
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def expect(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """The first new output line matching pattern; fails with the output so far if none comes."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r}; output:\n{self.text}") from None
            if found := re.search(pattern, line):
                return found

    @property
    def text(self) -> str:
        return "".join(self.output)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout=timeout)
        time.sleep(0.05)  # let the reader thread take the last lines
        return code

    def stop(self) -> None:
        """Kill it if it is still running (test clean-up)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def bot_env(database_url: str, fake: FakeSlack, signing_secret: str, **settings: Any) -> dict[str, str]:
    """Settings for a bot process on the test database and the fake Slack."""
    return {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": signing_secret,
        "SLACK_APP_TOKEN": "xapp-test-token",
        "SLACK_API_URL": fake.api_url,
        **{name.upper(): str(value) for name, value in settings.items()},
    }


def get(url: str, timeout: float = 10) -> tuple[int, str]:
    """GET url: (status, body); (0, reason) if nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


def wait_until(condition: Any, timeout: float = 30, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
