"""Which Web API calls the client may repeat: only those that cannot do anything twice."""

from __future__ import annotations

import time
from http.client import RemoteDisconnected
from urllib.error import URLError

from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

# Calls that change nothing, or leave the same state however often they run. Everything else
# (chat.postMessage, files.completeUploadExternal, views.open with its one-use trigger) may already
# have acted when its answer is lost, so repeating it could post or share twice.
IDEMPOTENT_METHODS = frozenset(
    {
        "auth.test",
        "apps.connections.open",
        "conversations.info",
        "conversations.open",  # returns the same DM channel every time
        "users.info",
        "users.lookupByEmail",
        "views.publish",  # replaces the whole Home tab
        "views.update",  # replaces the whole modal
        "chat.update",  # replaces the whole message
        "files.getUploadURLExternal",  # an unused upload URL simply expires
    }
)
MAX_RETRIES = 2
MAX_RETRY_AFTER = 1.0  # seconds: a longer Retry-After fails the call rather than holding a request


def method_of(request: HttpRequest) -> str:
    return request.url.rstrip("/").rsplit("/", 1)[-1]


def retry_after(response: HttpResponse) -> float | None:
    """The seconds Slack's Retry-After header asks for, or None when it names none."""
    for name, value in response.headers.items():
        if name.lower() == "retry-after":
            try:
                return float(value[0] if isinstance(value, list) else value)
            except ValueError:
                return None
    return None


class RateLimited(RateLimitErrorRetryHandler):
    """A 429: Slack did nothing, so any call may be repeated, after at most MAX_RETRY_AFTER seconds.

    A RateLimitErrorRetryHandler, so code that keeps only rate-limit retries for posts keeps this.
    """

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after(response)
        return wait is not None and wait <= MAX_RETRY_AFTER

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        time.sleep(retry_after(response) or 0 if response is not None else 0)
        state.increment_current_attempt()
        state.next_attempt_requested = True


class IdempotentOnly(RetryHandler):
    """A 5xx or a dropped connection: repeat only calls that cannot act twice."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if method_of(request) not in IDEMPOTENT_METHODS:
            return False
        if response is not None:
            return response.status_code >= 500
        return isinstance(error, URLError | ConnectionError | RemoteDisconnected | TimeoutError)


def retry_handlers() -> list[RetryHandler]:
    return [RateLimited(max_retry_count=MAX_RETRIES), IdempotentOnly(max_retry_count=MAX_RETRIES)]
