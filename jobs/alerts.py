"""Live alerts in Slack: post each copy once, then keep every copy up to date as its episode goes on.

A copy falls behind when its alert changes (credits came in, someone is handling it, it is
resolved). A pass claims copies that are behind, posts the thread replies they owe and edits them
with chat.update; a copy that fails stays behind and is retried by a later pass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from copy import copy as shallow_copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from handlers.alerts import build_alert, build_reply
from store import alerts, invoices, top_up
from store.db import SessionFactory

METADATA_TYPE = "admin_bot_alert"  # marks our posts, so a lost answer is found, not posted twice
LEASE = timedelta(seconds=60)
BATCH_SIZE = 20
SLACK_ERRORS = (SlackApiError, SlackClientError, OSError)

log = logging.getLogger(__name__)


def error_code(error: BaseException) -> str:
    """A short name for a Slack failure, fit for logs and reports (never the token)."""
    if isinstance(error, SlackApiError):
        return str(error.response.get("error") or error.response.status_code)
    return type(error).__name__


def without_blind_retries(client: WebClient) -> WebClient:
    """The same client minus the retries that could repeat a post Slack already made.

    A dropped connection or a 5xx may come after Slack posted; only a 429 says it did not.
    """
    poster = shallow_copy(client)
    poster.retry_handlers = [h for h in client.retry_handlers if isinstance(h, RateLimitErrorRetryHandler)]
    return poster


def _marker(key: str) -> dict[str, Any]:
    return {"event_type": METADATA_TYPE, "event_payload": {"key": key}}


def _find_posted(client: WebClient, channel: str, key: str, thread_ts: str | None) -> str | None:
    """The ts of our message marked `key` in this channel (or thread), if Slack has it."""
    if thread_ts:
        page = client.conversations_replies(
            channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
        )
    else:
        page = client.conversations_history(channel=channel, include_all_metadata=True, limit=50)
    for message in page.get("messages") or []:
        metadata = message.get("metadata") or {}
        if (
            metadata.get("event_type") == METADATA_TYPE
            and (metadata.get("event_payload") or {}).get("key") == key
        ):
            return str(message["ts"])
    return None


def post_or_find(
    client: WebClient,
    channel: str,
    key: str,
    maybe_posted: bool,
    payload: dict[str, Any],
    thread_ts: str | None = None,
) -> str:
    """chat.postMessage marked `key`, unless an earlier attempt that may have posted it did; its ts.

    `client` should come from without_blind_retries, or the client itself may post twice.
    """
    found = _find_posted(client, channel, key, thread_ts) if maybe_posted else None
    return found or str(
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, metadata=_marker(key), **payload)["ts"]
    )


def post_once(
    session_factory: SessionFactory,
    client: WebClient,
    message_id: int,
    key: str,
    maybe_posted: bool,
    **post: Any,
) -> str:
    """post_or_find, noting the post in the message's row first, so a lost answer is looked for later."""
    if not maybe_posted:
        with session_factory.begin() as session:
            alerts.set_pending(session, message_id, key)
    try:
        return post_or_find(client, key=key, maybe_posted=maybe_posted, **post)
    except SlackApiError:
        if not maybe_posted:  # Slack answered the post: nothing was posted, nothing to look for
            with session_factory.begin() as session:
                alerts.set_pending(session, message_id, None)
        raise


def post_alert(
    session_factory: SessionFactory,
    client: WebClient,
    account_id: int,
    episode: int,
    address: str,
    channel: str,
    now: datetime,
) -> str:
    """Post one recipient's copy of an alert, once across retries and replicas; its ts."""
    with session_factory.begin() as session:
        posting = alerts.begin_posting(session, account_id, episode, address, channel)
        state = alerts.state(session, account_id, episode, now)
    if posting.ts:
        return posting.ts
    ts = post_once(
        session_factory,
        client,
        posting.message_id,
        posting.key,
        posting.maybe_posted,
        channel=channel,
        payload=build_alert(state),
    )
    with session_factory.begin() as session:
        alerts.posted(session, posting.message_id, ts, state)
    return ts


def _bring_up_to_date(
    session_factory: SessionFactory, client: WebClient, copy: alerts.Copy, now: datetime
) -> None:
    """Post the thread replies a copy owes, then edit it to show its alert as it is now."""
    with session_factory.begin() as session:
        owed = alerts.replies_owed(session, copy)
    for reply in owed:
        maybe_posted = copy.pending_post == reply.key
        post_once(
            session_factory,
            client,
            copy.id,
            reply.key,
            maybe_posted,
            channel=copy.channel,
            payload=build_reply(reply),
            thread_ts=copy.ts,
        )
        with session_factory.begin() as session:
            alerts.replied(session, copy.id, reply.entry_id)
    with session_factory.begin() as session:
        state = alerts.state(session, copy.account_id, copy.episode, now, copy.snoozed_until, copy.first_link)
    # chat.update is safe to repeat: a lost answer only means doing it again.
    client.chat_update(channel=copy.channel, ts=copy.ts, **build_alert(state))
    with session_factory.begin() as session:
        alerts.shown(session, copy.id, state.revision)


@dataclass
class UpdateReport:
    """What bringing copies up to date did."""

    updated: list[int] = field(default_factory=list)  # message ids
    failed: list[tuple[int, str]] = field(default_factory=list)  # (message id, error)


def update_copies(
    session_factory: SessionFactory,
    client: WebClient,
    now: datetime,
    holder: str,
    *,
    only: Iterable[tuple[int, int]] | None = None,
    batch_size: int = BATCH_SIZE,
) -> UpdateReport:
    """Bring every copy that is behind up to date, batch by batch; failures wait for a later pass."""
    report = UpdateReport()
    skip: list[int] = []
    poster = without_blind_retries(client)
    while True:
        with session_factory.begin() as session:
            batch = alerts.claim_stale(
                session, holder, datetime.now(UTC), LEASE, batch_size, skip=skip, only=only
            )
        if not batch:
            return report
        for copy in batch:
            try:
                _bring_up_to_date(session_factory, poster, copy, now)
            except SLACK_ERRORS as error:
                report.failed.append((copy.id, error_code(error)))
                log.warning("updating low-credit alert %s failed: %s", copy.id, error_code(error))
                skip.append(copy.id)
            else:
                report.updated.append(copy.id)
        with session_factory.begin() as session:
            alerts.release(session, holder, [copy.id for copy in batch])


def remind_after_snoozes(
    session_factory: SessionFactory, client: WebClient, now: datetime, holder: str
) -> UpdateReport:
    """Post one new reminder, linking the first, to each recipient whose snooze ended while still low."""
    report = UpdateReport()
    poster = without_blind_retries(client)
    with session_factory.begin() as session:
        owed = alerts.claim_follow_ups(session, holder, now, datetime.now(UTC), LEASE)
    for follow_up in owed:
        posting = follow_up.posting
        try:
            link = str(
                client.chat_getPermalink(channel=follow_up.channel, message_ts=follow_up.first_ts)[
                    "permalink"
                ]
            )
            with session_factory.begin() as session:
                state = alerts.state(session, follow_up.account_id, follow_up.episode, now, first_link=link)
            payload = build_alert(state)
            ts = post_once(
                session_factory,
                poster,
                posting.message_id,
                posting.key,
                posting.maybe_posted,
                channel=follow_up.channel,
                payload=payload,
            )
        except SLACK_ERRORS as error:
            report.failed.append((posting.message_id, error_code(error)))
            log.warning("reminder after a snooze (%s) failed: %s", posting.message_id, error_code(error))
            with session_factory.begin() as session:
                alerts.release(session, holder, [posting.message_id])
            continue
        with session_factory.begin() as session:
            alerts.posted(session, posting.message_id, ts, state)
        report.updated.append(posting.message_id)
    return report


def top_up_low_accounts(
    session_factory: SessionFactory, pricing: invoices.Pricing, now: datetime
) -> list[top_up.Outcome]:
    """Let each low account's auto top-up rule act once for its episode, each in its own transaction."""
    with session_factory.begin() as session:
        due = top_up.due(session)
    outcomes = []
    for account_id, episode in due:
        with session_factory.begin() as session:
            outcome = top_up.attempt(session, account_id, episode, pricing, now)
        if outcome is not None:
            outcomes.append(outcome)
            log.info("auto top-up for account %s: %s", account_id, outcome.text())
    return outcomes
