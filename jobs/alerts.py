"""Live alerts in Slack: post each copy once, then keep every copy up to date as its episode goes on.

A copy falls behind when its alert changes (credits came in, someone is handling it, it is
resolved). A pass claims copies that are behind, posts the thread replies they owe and edits them
with chat.update; a copy that fails stays behind and is retried by a later pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from copy import copy as shallow_copy
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web.slack_response import SlackResponse

from handlers.alerts import build_alert, build_channel_problem, build_reply
from handlers.parse import slack_user_id
from store import alerts, db, invoices, top_up
from store.db import SessionFactory
from store.reminders import Recipient

METADATA_TYPE = "admin_bot_alert"  # marks our posts, so a lost answer is found, not posted twice
LEASE = timedelta(seconds=60)
BATCH_SIZE = 20
MAX_BATCH_SIZE = 1000
# How long a batch should take: each is sized from how fast the last one went. Every batch costs
# a claim and a record, each a transaction of its own whose first statement finds the database
# asleep after the DMs; a slow Slack still keeps batches at their smallest, so replicas share work.
BATCH_SECONDS = 3.0
# What Slack did within this long is recorded in one transaction: a fast Slack costs no commit per
# message, and a slow one (a call that takes longer) has each recorded on its own.
RECORD_WITHIN_SECONDS = 0.5
SLACK_ERRORS = (SlackApiError, SlackClientError, OSError)
# Slack's answers when the bot may not post in a channel: it must be invited (a private channel it is
# not in looks not found to it), or the channel is archived.
CHANNEL_PROBLEMS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
# A copy whose message is gone can never be edited or replied to: it is given up, not retried on
# every pass. (A channel problem can be mended, by inviting the bot: that copy is retried.)
MESSAGE_GONE = "message_not_found"

log = logging.getLogger(__name__)
Claim = TypeVar("Claim")


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


@dataclass(frozen=True)
class Posted:
    """Where a message is in Slack."""

    channel: str  # the DM's channel when it was posted to a user id
    ts: str


def post_or_find(
    client: WebClient,
    channel: str,
    key: str,
    maybe_posted: bool,
    payload: dict[str, Any],
    thread_ts: str | None = None,
) -> Posted:
    """chat.postMessage marked `key`, unless an earlier attempt that may have posted it did; where it is.

    `channel` may be a user id, which posts in the app's DM with them, but a look-up needs the
    DM's own channel. `client` should come from without_blind_retries, or the client itself may
    post twice.
    """
    found = _find_posted(client, channel, key, thread_ts) if maybe_posted else None
    if found:
        return Posted(channel, found)
    message = {"channel": channel, "metadata": _marker(key), **payload}
    if thread_ts:
        message["thread_ts"] = thread_ts
    answer = call(client, "chat.postMessage", message)
    return Posted(str(answer["channel"]), str(answer["ts"]))


def call(client: WebClient, method: str, message: dict[str, Any]) -> SlackResponse:
    """`method` (chat.postMessage, chat.update) with this JSON body, as the client's own method sends it.

    Without the method's checks of its arguments for Block Kit objects, which cost about 20 µs a
    message: ours are plain dicts and always have their text.
    """
    return client.api_call(method, json=message)


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
        return post_or_find(client, key=key, maybe_posted=maybe_posted, **post).ts
    except SlackApiError:
        if not maybe_posted:  # Slack answered the post: nothing was posted, nothing to look for
            with session_factory.begin() as session:
                alerts.set_pending(session, message_id, None)
        raise


def report_channel_problem(
    session_factory: SessionFactory,
    client: WebClient,
    account_id: int,
    episode: int,
    channel: str,
    error: SlackApiError,
    *,
    posted: bool = False,
) -> None:
    """The bot may not post in `channel` (or, `posted`, edit its alert there): DM whoever added it,
    once per episode and problem."""
    problem = error_code(error)
    with session_factory.begin() as session:
        report = alerts.report_problem(session, account_id, episode, channel, problem)
    if report is None:
        return
    tell = slack_user_id(report.tell)
    if tell is None:
        log.warning("cannot post in %s: %s; no Slack user added it to tell", channel, problem)
        return
    try:
        dm = client.conversations_open(users=tell)["channel"]["id"]
        client.chat_postMessage(
            channel=dm,
            **build_channel_problem(problem, channel, report.name, report.reference, posted=posted),
        )
    except SLACK_ERRORS as error:
        log.warning("could not tell %s that %s needs attention: %s", tell, channel, error_code(error))
        with session_factory.begin() as session:
            alerts.unreport_problem(session, account_id, episode, channel)


def _bring_up_to_date(
    client: WebClient, copy: alerts.Copy, owed: list[alerts.Reply], state: alerts.AlertState
) -> tuple[alerts.Progress, BaseException | None]:
    """Post the thread replies a copy owes, then edit it to show its alert as it is now; how far it got."""
    replied, pending = copy.replied_entry_id, copy.pending_post
    try:
        for reply in owed:
            maybe_posted = copy.taken_over or pending == reply.key
            try:
                post_or_find(client, copy.channel, reply.key, maybe_posted, build_reply(reply), copy.ts)
            except SLACK_ERRORS as error:
                # Only a post Slack answered with an error is certainly not in the thread.
                if maybe_posted or not isinstance(error, SlackApiError):
                    pending = reply.key
                raise
            replied, pending = reply.entry_id, None
        # chat.update is safe to repeat: a lost answer only means doing it again.
        call(client, "chat.update", {"channel": copy.channel, "ts": copy.ts, **build_alert(state)})
    except SLACK_ERRORS as error:
        return alerts.Progress(copy.id, replied, 0, pending, copy.snoozes), error
    return alerts.Progress(copy.id, replied, state.revision, pending, copy.snoozes), None


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
    lease: timedelta = LEASE,
) -> UpdateReport:
    """Bring every copy that is behind up to date, batch by batch; failures wait for a later pass.

    As with DMs, a batch is claimed with what its copies owe in one transaction, and what Slack
    did is recorded together, at the latest RECORD_WITHIN_SECONDS after it was done.
    """
    report = UpdateReport()
    skip: list[int] = []  # copies that failed this pass
    poster = without_blind_retries(client)
    size = batch_size

    def claim(size: int, skipping: list[int]) -> _Claimed:
        with session_factory.begin() as session:
            claimed_at = time.monotonic()
            batch = alerts.claim_stale(
                session, holder, datetime.now(UTC), lease, size, skip=skipping, only=only
            )
            return _Claimed(
                batch, alerts.updates_for(session, batch, now), claimed_at + lease.total_seconds() / 2
            )

    # As for DMs, the next batch is claimed while this one is sent, so the database and this
    # process work at once.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alert-updates") as ahead:
        claimed, upcoming = claim(size, skip), None
        try:
            while claimed.batch:
                started = time.monotonic()
                # Handed over: _update_batch records it or gives it back.
                current, claimed = claimed, _Claimed([], [])
                upcoming = ahead.submit(claim, size, list(skip))
                _update_batch(session_factory, poster, holder, current, report, skip)
                size = next_batch_size(size, time.monotonic() - started, batch_size)
                claimed, upcoming = upcoming.result(), None
                # Claimed before this batch's failures were known: they wait for a later pass.
                if again := [copy.id for copy in claimed.batch if copy.id in skip]:
                    claimed = claimed.without(again)
                    _give_back(session_factory, holder, again)
        finally:
            # Claimed and not begun (the pass failed): given back, not left to their leases.
            next_batch = claimed_ahead(upcoming, "the next alerts to update")
            unbegun = claimed.batch + (next_batch.batch if next_batch else [])
            _give_back(session_factory, holder, [copy.id for copy in unbegun])
    return report


@dataclass
class _Claimed:
    """A batch of copies claimed to bring up to date, with what each owes and shows."""

    batch: list[alerts.Copy]
    work: list[tuple[alerts.Copy, list[alerts.Reply], alerts.AlertState]]
    # time.monotonic() past which no copy is begun: half the lease, as for DMs (the other half
    # covers the copy in flight), so no other holder takes over a copy this one may still post to.
    begin_until: float = float("inf")

    def without(self, ids: list[int]) -> _Claimed:
        return _Claimed(
            [copy for copy in self.batch if copy.id not in ids],
            [item for item in self.work if item[0].id not in ids],
            self.begin_until,
        )


def claimed_ahead(upcoming: Future[Claim] | None, what: str) -> Claim | None:
    """What a claim made ahead came to, on the way out of a pass; None if there was none or it
    failed (its transaction rolled back, so it holds nothing to give back)."""
    if upcoming is None:
        return None
    try:
        return upcoming.result()
    except Exception as error:  # noqa: BLE001 - on the way out of a failure already raised
        log.warning("claiming %s ahead failed: %s", what, error_code(error))
        return None


def _give_back(session_factory: SessionFactory, holder: str, message_ids: list[int]) -> None:
    if message_ids:
        with session_factory.begin() as session:
            alerts.release(session, holder, message_ids)


def _update_batch(
    session_factory: SessionFactory,
    poster: WebClient,
    holder: str,
    claimed: _Claimed,
    report: UpdateReport,
    skip: list[int],
) -> None:
    """Bring a claimed batch up to date, recording what Slack did as it goes; failures join `skip`."""
    done: list[alerts.Progress] = []
    recorded: set[int] = set()
    oldest: float | None = None
    try:
        for copy, owed, state in claimed.work:
            began = time.monotonic()
            if began >= claimed.begin_until:
                break  # the rest are given back below, for this pass's next claim or another's
            progress, error = _bring_up_to_date(poster, copy, owed, state)
            if error is None:
                report.updated.append(copy.id)
            else:
                code = error_code(error)
                report.failed.append((copy.id, code))
                log.warning("updating low-credit alert %s failed: %s", copy.id, code)
                skip.append(copy.id)
                if code == MESSAGE_GONE:  # nothing left to edit or reply to: as if shown
                    replied = owed[-1].entry_id if owed else progress.replied_entry_id
                    progress = replace(progress, replied_entry_id=replied, shown_revision=state.revision)
                elif code in CHANNEL_PROBLEMS and isinstance(error, SlackApiError):
                    report_channel_problem(
                        session_factory,
                        poster,
                        copy.account_id,
                        copy.episode,
                        copy.channel,
                        error,
                        posted=True,
                    )
            done.append(progress)
            oldest = began if oldest is None else oldest
            if time.monotonic() - oldest >= RECORD_WITHIN_SECONDS:
                _record_updates(session_factory, holder, done)
                recorded.update(progress.message_id for progress in done)
                done, oldest = [], None
    finally:
        _record_updates(session_factory, holder, done)
        recorded.update(progress.message_id for progress in done)
        # A record gives its copies back; what was never recorded goes back here.
        _give_back(session_factory, holder, [copy.id for copy in claimed.batch if copy.id not in recorded])


def next_batch_size(size: int, seconds: float, smallest: int) -> int:
    """The next batch after `size` items took `seconds`: what fits BATCH_SECONDS, at most twice as many.

    A fast Slack gets bigger batches (fewer claims and commits); a slow one keeps them at
    `smallest`, so replicas share the work.
    """
    fits = int(size * BATCH_SECONDS / seconds) if seconds > 0 else MAX_BATCH_SIZE
    return max(smallest, min(MAX_BATCH_SIZE, size * 2, fits))


def _record_updates(session_factory: SessionFactory, holder: str, done: list[alerts.Progress]) -> None:
    if done:
        with session_factory.begin() as session:
            # As with DMs: a record lost with the server is a lost answer, looked for when retried.
            db.commit_without_waiting(session)
            alerts.record_updates(session, holder, done)


def remind_after_snoozes(
    session_factory: SessionFactory, client: WebClient, now: datetime, holder: str, lease: timedelta = LEASE
) -> UpdateReport:
    """Post one new reminder, linking the first, to each recipient whose snooze ended while still low."""
    report = UpdateReport()
    poster = without_blind_retries(client)
    begin_until = time.monotonic() + lease.total_seconds() / 2  # as for updates: see _Claimed
    with session_factory.begin() as session:
        owed = alerts.claim_follow_ups(session, holder, now, datetime.now(UTC), lease)
    for done, follow_up in enumerate(owed):
        if time.monotonic() >= begin_until:
            _give_back(session_factory, holder, [later.posting.message_id for later in owed[done:]])
            break
        posting = follow_up.posting
        try:
            link = str(
                client.chat_getPermalink(channel=follow_up.channel, message_ts=follow_up.first_ts)[
                    "permalink"
                ]
            )
            with session_factory.begin() as session:
                state = alerts.state(
                    session,
                    follow_up.account_id,
                    follow_up.episode,
                    now,
                    first_link=link,
                    in_channel=Recipient(follow_up.address).is_channel,
                )
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
