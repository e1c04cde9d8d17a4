"""What `/healthz` reports, and the Slack checks `serve` makes before it starts."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from store.db import ping

log = logging.getLogger(__name__)

# A token Slack accepted is re-checked after a minute; one it rejected, or an unanswered check,
# every few seconds, so /healthz turns healthy soon after the token is fixed.
GOOD_FOR_SECONDS = 60.0
BAD_FOR_SECONDS = 5.0


class SlackRejected(Exception):
    """Slack refused a token or could not be reached; the message names the setting to fix."""


def slack_problem(call: Callable[[], Any], variable: str, api_url: str) -> str | None:
    """Why a Web API call made with the token in `variable` failed, in one line; None if it worked."""
    try:
        call()
    except SlackApiError as error:
        return f"Slack rejected {variable}: {error.response.get('error') or error.response.status_code}."
    except Exception as error:  # noqa: BLE001 - any transport failure: DNS, refused, TLS, timeout
        reason = getattr(error, "reason", None) or error
        return f"cannot reach Slack at SLACK_API_URL ({api_url}): {reason}."
    return None


def check_slack(client: WebClient, app_token: str | None = None) -> None:
    """Raise SlackRejected unless Slack accepts the bot token (and the app token, for Socket Mode)."""
    problem = slack_problem(client.auth_test, "SLACK_BOT_TOKEN", client.base_url)
    if problem is None and app_token:
        problem = slack_problem(
            lambda: client.apps_connections_open(app_token=app_token), "SLACK_APP_TOKEN", client.base_url
        )
    if problem:
        raise SlackRejected(problem)


class Health:
    """The database answers; Slack accepts the bot token; in Socket Mode, the WebSocket is up.

    The token check is cached (see GOOD_FOR_SECONDS) so load balancers polling /healthz do not
    turn into a stream of auth.test calls. Slack being unreachable is reported, not unhealthy:
    restarting the bot would not bring Slack back.
    """

    def __init__(
        self,
        engine: Engine,
        client: WebClient | None = None,
        connected: Callable[[], bool] | None = None,
        good_for: float = GOOD_FOR_SECONDS,
        bad_for: float = BAD_FOR_SECONDS,
    ) -> None:
        self.engine, self.connected = engine, connected
        self.good_for, self.bad_for = good_for, bad_for
        # Its own client: a health check must answer quickly, not wait out retries.
        self.client = (
            WebClient(token=client.token, base_url=client.base_url, timeout=5) if client is not None else None
        )
        self._lock = threading.Lock()
        self._slack: tuple[float, str] | None = None  # (checked at, verdict)

    def report(self) -> tuple[bool, dict[str, str]]:
        """(healthy, what each part says)."""
        checks: dict[str, str] = {"database": self._database()}
        if self.client is not None:
            checks["slack"] = self._token()
        if self.connected is not None:
            checks["socket_mode"] = "connected" if self.connected() else "disconnected"
        healthy = checks["database"] == "ok" and checks.get("slack", "ok") in ("ok", "unreachable")
        return healthy and checks.get("socket_mode", "connected") == "connected", checks

    def _database(self) -> str:
        try:
            ping(self.engine)
        except Exception as error:  # noqa: BLE001 - any failure means unhealthy
            log.warning("health check: database unreachable (%s)", type(error).__name__)
            return "unreachable"
        return "ok"

    def _token(self) -> str:
        assert self.client is not None
        with self._lock:
            if self._slack is not None:
                checked, verdict = self._slack
                if time.monotonic() - checked < (self.good_for if verdict == "ok" else self.bad_for):
                    return verdict
            verdict = "ok"
            try:
                self.client.auth_test()
            except SlackApiError as error:
                verdict = str(error.response.get("error") or "rejected")
                log.warning("health check: Slack rejected SLACK_BOT_TOKEN: %s", verdict)
            except Exception as error:  # noqa: BLE001 - transport failure
                verdict = "unreachable"
                log.warning("health check: Slack unreachable (%s)", type(error).__name__)
            self._slack = (time.monotonic(), verdict)
            return verdict
