"""The low-credit reminder pass: DM each recipient once when an account runs low.

Replicas share the work through claims in the database: each claims a batch of due alerts with a
lease in a short transaction, sends them outside any transaction and records DMs as Slack accepts
them, claiming its next batch on a thread of its own meanwhile. A holder that dies or hangs loses
its claims when the lease runs out, and another takes over, looking for each DM the dead holder may
have posted before posting it.
"""

from __future__ import annotations

import gc
import logging
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from handlers.alerts import build_alert
from jobs import alerts as live
from store import alerts, db, invoices, reminders
from store.db import SessionFactory

JOB_ID = "low_credit_pass"
DEFAULT_LEASE_SECONDS = 60
BATCH_SIZE = 20
DB_ATTEMPTS = 3
SWITCH_INTERVAL_SECONDS = 0.0005
PASS_GC_ALLOCATIONS = 100_000  # net allocations between collections while a pass runs

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Delivery:
    """One alert the pass sent or failed to send."""

    reference: str
    address: str
    slack_user_id: str | None = None
    error: str | None = None


@dataclass
class PassReport:
    """What one pass did."""

    newly_low: int = 0
    recovered: int = 0
    sent: list[Delivery] = field(default_factory=list)
    failed: list[Delivery] = field(default_factory=list)
    topped_up: list[str] = field(default_factory=list)  # what each auto top-up did
    follow_ups: live.UpdateReport = field(default_factory=live.UpdateReport)  # reminders after snoozes
    updates: live.UpdateReport = field(default_factory=live.UpdateReport)  # alerts edited in place

    def summary(self) -> str | None:
        """What the pass did, in one line; None if it did nothing."""
        counts = [self.sent, self.failed, self.topped_up, self.newly_low, self.recovered]
        follow_ups, updates = self.follow_ups, self.updates
        if not any([*counts, follow_ups.updated, follow_ups.failed, updates.updated, updates.failed]):
            return None
        retried = " (retried next pass)" if self.failed else ""
        parts = [
            f"{len(self.sent):,} DM(s) sent, {len(self.failed):,} failed{retried}",
            f"{self.newly_low:,} account(s) newly low, {self.recovered:,} recovered",
        ]
        if self.topped_up:
            parts.append(f"{len(self.topped_up):,} auto top-up(s)")
        for report, what in ((follow_ups, "reminder(s) after a snooze"), (updates, "alert(s) updated")):
            if report.updated or report.failed:
                parts.append(f"{len(report.updated):,} {what}, {len(report.failed):,} to retry")
        return "low-credit pass: " + "; ".join(parts)


@dataclass
class _Claimed:
    """A batch of claimed alerts, with what each copy shows and where the walk goes on from."""

    batch: list[reminders.DueAlert]
    position: reminders.Position
    shown: alerts.FirstCopiesRead | None  # what the first copies show; built by the sending thread
    started: float  # time.monotonic() when the claim began: its lease's start, by this clock


class _Undeliverable(Exception):
    """A recipient whose Slack user cannot be found or messaged this pass."""


def _slack_user(client: WebClient, recipient: reminders.Recipient, cache: dict[str, str]) -> str:
    # Emails are looked up on every pass: people change jobs, and a re-invited user gets a new id.
    if not recipient.is_email:
        return recipient.address
    if recipient.address not in cache:
        user = client.users_lookupByEmail(email=recipient.address)["user"]
        if user.get("deleted"):
            raise _Undeliverable("account_inactive")
        cache[recipient.address] = user["id"]
    return cache[recipient.address]


def _in_transaction(session_factory: SessionFactory, work: Callable[..., T], *args: Any) -> T:
    """`work(session, *args)` in one short transaction, again on a new connection if the old one was cut."""
    for attempt in range(1, DB_ATTEMPTS + 1):
        try:
            with session_factory.begin() as session:
                return work(session, *args)
        except DBAPIError as error:
            if not error.connection_invalidated or attempt == DB_ATTEMPTS:
                raise
            log.warning("low-credit pass lost its database connection; retrying")
    raise AssertionError("unreachable")


def _holder() -> str:
    """Names this pass in its claims: which host and process, and which pass of it."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def run_low_credit_pass(
    session_factory: SessionFactory,
    client: WebClient,
    now: datetime | None = None,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    stop: threading.Event | None = None,
    batch_size: int = BATCH_SIZE,
    pricing: invoices.Pricing | None = None,
    cooldown: timedelta = timedelta(0),
) -> PassReport:
    """Mark crossings, auto top-up, claim and DM due alerts batch by batch, then edit alerts that changed.

    Failures wait for the next pass. `stop` ends the pass after the DM in flight, which is
    recorded; unsent claims are given back. Without `pricing`, auto top-up rules do not act.
    """
    work = _Pass(session_factory, client, now or datetime.now(UTC), lease_seconds, stop)
    work.pricing, work.cooldown = pricing, cooldown
    with _while_passes_run:
        report = work.run(batch_size)
    # One line a pass at `serve`'s default level, each DM at DEBUG: a line per DM cost a pass of
    # 10,000 DMs 0.45 s of 1.6-1.9 (formatting and writing them), and the store has them all.
    if summary := report.summary():
        log.info(summary)
    return report


class _PassSettings:
    """The interpreter's settings while any pass runs, as before after the last.

    Threads switch every SWITCH_INTERVAL_SECONDS: the claiming thread waits on the database, then
    for the interpreter, and at Python's default of 5 ms between switches it waited longer for the
    second than for the first. The objects there before are set aside (gc.freeze), so collections
    walk what the passes make rather than the whole process; and they come PASS_GC_ALLOCATIONS
    allocations apart, not 700: a batch's messages and states, alive until it is recorded, were
    walked again by every collection (0.11 s of a 0.8 s pass of 10,000 alerts at 1M on PostgreSQL,
    mostly the second generation's; the pass 0.80 -> 0.76 s). At 10,000 apart a pass of 10,000
    alerts still collected 20 times (0.13 s); at 100,000 it collects once or not at all, and what
    a pass leaves in cycles waits at most that many allocations longer.
    """

    def __init__(self) -> None:
        self.lock, self.passes = threading.Lock(), 0
        self.switch_interval, self.gc_thresholds = 0.0, gc.get_threshold()

    def __enter__(self) -> None:
        with self.lock:
            if self.passes == 0:
                self.switch_interval, self.gc_thresholds = sys.getswitchinterval(), gc.get_threshold()
                sys.setswitchinterval(min(self.switch_interval, SWITCH_INTERVAL_SECONDS))
                gc.freeze()
                first, *older = self.gc_thresholds
                gc.set_threshold(max(first, PASS_GC_ALLOCATIONS), *older)
            self.passes += 1

    def __exit__(self, *exc_info: object) -> None:
        with self.lock:
            self.passes -= 1
            if self.passes == 0:
                sys.setswitchinterval(self.switch_interval)
                gc.set_threshold(*self.gc_thresholds)
                gc.unfreeze()


_while_passes_run = _PassSettings()


class _Pass:
    """One pass's state: who holds its claims, what it sent, what failed."""

    def __init__(
        self,
        session_factory: SessionFactory,
        client: WebClient,
        now: datetime,
        lease_seconds: float,
        stop: threading.Event | None,
    ) -> None:
        self.session_factory, self.client, self.now = session_factory, client, now
        self.lease_seconds, self.stop = lease_seconds, stop or threading.Event()
        self.holder, self.report = _holder(), PassReport()
        self.poster = live.without_blind_retries(client)
        self.cache: dict[str, str] = {}
        # The DMs looked in for posts that may be there, each opened once a pass.
        self.dm_channels: dict[str, str] = {}
        self.failed: list[reminders.DueAlert] = []
        self.unsent: list[reminders.DueAlert] = []  # claimed and not yet tried
        self.copies: dict[tuple[int, int, str], alerts.FirstCopy] = {}
        self.payloads: dict[int, dict[str, Any]] = {}  # each copy's message, by id() of its state
        self.unrecorded: list[tuple[str, alerts.FirstPost]] = []  # posted, with whom each reached
        self.maybe_posted: list[alerts.FirstPost] = []  # failed without an answer: may be in Slack
        self.oldest_unrecorded: float | None = None  # when the first unrecorded post started
        self.pricing: invoices.Pricing | None = None
        self.cooldown = timedelta(0)
        self.marked = False

    def run(self, batch_size: int) -> PassReport:
        _in_transaction(self.session_factory, self._mark)
        if self.marked:
            # Its own transaction, so other replicas see the new episodes (and claim DMs) sooner.
            _in_transaction(self.session_factory, alerts.follow_episodes)
        if self.pricing is not None:
            # Before any DM: an account the rule tops up back above its level needs no alert.
            outcomes = live.top_up_low_accounts(self.session_factory, self.pricing, self.now)
            self.report.topped_up = [outcome.text() for outcome in outcomes]
        size = batch_size
        # The next batch is claimed while this one is drawn and sent: the database works on it
        # while this process builds and posts messages, instead of each waiting for the other.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="low-credit-claims") as ahead:
            upcoming: Future[_Claimed] | None = None
            claimed: _Claimed | None = None
            try:
                claimed = self._claim_batch(size, reminders.START)
                while claimed.batch and not self.stop.is_set():
                    began = time.monotonic()
                    self.copies = alerts.build_first_copies(claimed.shown) if claimed.shown else {}
                    self.unsent, claimed.batch = claimed.batch, []
                    upcoming = ahead.submit(self._claim_batch, size, claimed.position)
                    self._draw()
                    # Send only in the first half of the lease, by this process's clock: a holder
                    # hung past that never sends what another replica may have taken over. The
                    # other half covers the DM in flight and clock differences between replicas.
                    self._send(claimed.started + self.lease_seconds / 2)
                    self._record()
                    size = live.next_batch_size(size, time.monotonic() - began, batch_size)
                    claimed, upcoming = upcoming.result(), None
                    if self.unsent and not self.stop.is_set():
                        # Out of time: the rest and the next batch go back, and the walk goes on
                        # from the first of the rest.
                        self._release(self.unsent + claimed.batch)
                        after, self.unsent, claimed.batch = self.unsent[0].position, [], []
                        claimed = self._claim_batch(size, after)
            finally:
                # What Slack accepted is recorded; what is left goes back at once, failures to be
                # retried by the next pass on any replica. A DM cut short by an exception may or
                # may not have reached Slack: its lease lapses, and whoever takes it over looks for it.
                try:
                    self._record()
                finally:
                    self._release(self.unsent + self.failed + self._unstarted(claimed, upcoming))
        if not self.stop.is_set():
            self.report.follow_ups = live.remind_after_snoozes(
                self.session_factory, self.client, self.now, self.holder
            )
            self.report.updates = live.update_copies(self.session_factory, self.client, self.now, self.holder)
        return self.report

    def _mark(self, session: Session) -> None:
        if reminders.try_marking_lock(session):
            crossings = reminders.mark_crossings(session, self.now, self.cooldown)
            self.report.newly_low, self.report.recovered = crossings
            self.marked = True

    def _claim_batch(self, size: int, after: reminders.Position) -> _Claimed:
        """Claim up to `size` alerts after `after`, with what each copy shows, in one transaction."""
        started, clock = time.monotonic(), datetime.now(UTC)
        lease_until = clock + timedelta(seconds=self.lease_seconds)
        return _in_transaction(self.session_factory, self._claim, clock, lease_until, size, after, started)

    def _claim(
        self,
        session: Session,
        clock: datetime,
        lease_until: datetime,
        size: int,
        after: reminders.Position,
        started: float,
    ) -> _Claimed:
        batch, position = reminders.claim_due(session, self.holder, clock, lease_until, size, after)
        shown = alerts.read_first_copies(session, batch, self.now) if batch else None
        return _Claimed(batch, position, shown, started)

    @staticmethod
    def _unstarted(claimed: _Claimed | None, upcoming: Future[_Claimed] | None) -> list[reminders.DueAlert]:
        """The claims of batches not yet begun (a stop, or an error), to be given back."""
        next_batch = live.claimed_ahead(upcoming, "the next reminder batch")
        return (claimed.batch if claimed else []) + (next_batch.batch if next_batch else [])

    def _draw(self) -> None:
        """Build the batch's messages together, before any is sent.

        In one loop the builder's code and data stay warm, where between two Web API calls each
        build started cold; and the recipients of one alert share its message, only ever serialized.
        """
        self.payloads = {}
        for copy in self.copies.values():
            if id(copy.state) not in self.payloads:
                self.payloads[id(copy.state)] = build_alert(copy.state)

    def _send(self, usable_until: float) -> None:
        """DM the claimed batch, recording as it goes, until it is done or time runs out."""
        while self.unsent and not self.stop.is_set() and time.monotonic() <= usable_until:
            alert = self.unsent[0]
            address, reference = alert.recipient.address, alert.reference
            started = time.monotonic()
            try:
                user_id = self._deliver(alert)
            except SlackApiError as error:
                code = str(error.response.get("error") or error.response.status_code)
            except (SlackClientError, OSError, _Undeliverable) as error:
                # Timeouts and connection errors: the message names no token, but keep it short.
                code = str(error) if isinstance(error, _Undeliverable) else type(error).__name__
            else:
                self.unsent.pop(0)
                self.report.sent.append(Delivery(reference, address, user_id))
                log.debug("low-credit alert for %s sent to %s", reference, address)
                if self.oldest_unrecorded is None:
                    self.oldest_unrecorded = started
                if time.monotonic() - self.oldest_unrecorded >= live.RECORD_WITHIN_SECONDS:
                    self._record()
                continue
            self.failed.append(self.unsent.pop(0))
            self.report.failed.append(Delivery(reference, address, error=code))
            log.warning("low-credit alert for %s to %s failed: %s", reference, address, code)

    def _deliver(self, alert: reminders.DueAlert) -> str:
        """Post one recipient's copy of the alert in their DM or channel; who it went to, or raise."""
        key = (alert.account_id, alert.episode, alert.recipient.address)
        copy = self.copies[key]
        maybe_posted = alert.maybe_posted or copy.maybe_posted
        if alert.recipient.is_channel:  # posted there once, for everyone in it
            sent_to = channel = alert.recipient.address
        else:
            sent_to = _slack_user(self.client, alert.recipient, self.cache)
            # Posted to the user id, Slack opens the DM itself: one call a DM, where
            # conversations.open (about 50 a minute) would hold a first pass to its pace. Looking
            # for a post that may be there needs the DM's channel.
            channel = self._dm_channel(sent_to) if maybe_posted else sent_to
        try:
            posted = live.post_or_find(
                self.poster,
                channel,
                alerts.first_copy_key(alert.account_id, alert.episode),
                maybe_posted,
                self.payloads[id(copy.state)],
            )
        except live.SLACK_ERRORS as error:
            # Only a post Slack answered with an error is certainly not there.
            if maybe_posted or not isinstance(error, SlackApiError):
                self.maybe_posted.append(alerts.FirstPost(alert.recipient.address, channel, None, copy))
            elif alert.recipient.is_channel and live.error_code(error) in live.CHANNEL_PROBLEMS:
                live.report_channel_problem(
                    self.session_factory, self.client, alert.account_id, alert.episode, channel, error
                )
            raise
        self.unrecorded.append(
            (sent_to, alerts.FirstPost(alert.recipient.address, posted.channel, posted.ts, copy))
        )
        return sent_to

    def _dm_channel(self, user_id: str) -> str:
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = self.client.conversations_open(users=user_id)["channel"]["id"]
        return self.dm_channels[user_id]

    def _record(self) -> None:
        """Record the DMs Slack accepted (and those it may have) in one transaction."""
        if not self.unrecorded and not self.maybe_posted:
            return
        _in_transaction(self.session_factory, self._write_records, self.unrecorded, self.maybe_posted)
        self.unrecorded, self.maybe_posted, self.oldest_unrecorded = [], [], None

    def _write_records(
        self,
        session: Session,
        sent: list[tuple[str, alerts.FirstPost]],
        maybe: list[alerts.FirstPost],
    ) -> None:
        # A record lost with the database server is a lost answer like any other: the claim it
        # would have closed lapses and is looked for. So the commit need not wait for the disk.
        db.commit_without_waiting(session)
        alerts.record_deliveries(session, sent, maybe, self.now)

    def _release(self, claims: list[reminders.DueAlert]) -> None:
        if not claims:
            return
        try:
            _in_transaction(self.session_factory, reminders.release, self.holder, claims)
        except DBAPIError as error:  # the leases lapse on their own
            log.warning("could not give back %d reminder claim(s): %s", len(claims), type(error).__name__)
