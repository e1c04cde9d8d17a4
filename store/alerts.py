"""Live alerts: one per low-credit episode, shown as messages that a pass keeps up to date.

An alert's `revision` goes up whenever what it shows changes (news of credits coming in, someone
handling it, resolving). Each message remembers the revision and thread replies it shows; one
behind is `stale`, and a pass claims stale messages with a lease and brings them up to date.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    DateTime,
    Integer,
    Select,
    String,
    Update,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.types import TypeEngine

from store import forecast, suggestions, top_up
from store.db import (
    Ahead,
    among,
    bound_row,
    execute_many,
    indexed_flag,
    is_postgresql,
    membership,
    read_together,
    through_indexes,
    unnest,
    unnest_parameters,
    without_jit,
)
from store.forecast import Forecast
from store.models import (
    Account,
    Alert,
    AlertMessage,
    AutoTopUpAttempt,
    EntryKind,
    Invoice,
    LedgerEntry,
    ReminderEpisode,
    ReminderRecipient,
)
from store.reminders import (
    DueAlert,
    Recipient,
    _in_episode,
    _upsert,
    credits_in,
    newest_credit_in,
    unsent_first_copies,
    unsent_still,
)
from store.suggestions import Suggestion


# Not frozen: a pass builds one for each alert it sends, and a frozen dataclass's __init__ (a
# setattr a field) cost nearly three times a plain one's. Nothing changes a state once built; copies
# for other readers are made with dataclasses.replace.
@dataclass
class AlertState:
    """Everything one recipient's copy of an alert shows."""

    account_id: int
    episode: int
    reference: str
    name: str
    balance: int
    level: int
    resolved: bool = False
    forecast: str | None = None  # store.forecast.Forecast.text()
    suggestion: Suggestion | None = None
    handler: str | None = None  # the Slack user who said "I'm on it"
    handled_at: datetime | None = None
    top_up: str | None = None  # store.top_up.Outcome.text()
    snoozed_until: datetime | None = None  # this recipient's snooze
    first_alert_link: str | None = None  # set on the reminder that follows a snooze
    revision: int = 0
    in_channel: bool = False  # a channel's one shared copy, not one person's
    outlook: Forecast | None = None  # what `forecast` says, for the warning's wording
    warning_days: int | None = None  # the account's forecast warning, if it has one
    reminder_on: bool = True  # switched off, the alert closes without the credits coming back
    active: bool = True  # deactivated, likewise

    @property
    def on_forecast(self) -> bool:
        """Open for the forecast warning: the runway is short while the balance is not below the level."""
        return (
            self.balance >= self.level
            and self.outlook is not None
            and self.outlook.short_of(self.warning_days)
        )


@dataclass(frozen=True)
class Copy:
    """One posted message of an alert, as a pass claimed it."""

    id: int
    account_id: int
    episode: int
    address: str
    channel: str
    ts: str
    shown_revision: int
    replied_entry_id: int
    pending_post: str | None
    snoozed_until: datetime | None
    first_link: str | None
    snoozes: int  # as it was claimed: the snooze it shows is the one after this many
    seen_entry_id: int  # the newest credits its alert had taken in when it was claimed
    # Claimed before by a pass that never finished or gave it back (it died or hung): that pass
    # may have posted any of the replies owed, so each is looked for before it is posted.
    taken_over: bool = False


# Copy's fields as claim_stale's update returns them on SQLite: up to its alert's news...
_CopyRow = tuple[int, int, int, str, str, str, int, int, str | None, datetime | None, str | None, int]
# ...and on PostgreSQL, all of them.
_ClaimedRow = tuple[
    int, int, int, str, str, str, int, int, str | None, datetime | None, str | None, int, int, bool
]
# The copy's own columns claim_stale returns: Copy's fields, in order, up to its alert's news.
_COPY_COLUMNS = (
    AlertMessage.id,
    AlertMessage.account_id,
    AlertMessage.episode,
    AlertMessage.address,
    AlertMessage.channel,
    AlertMessage.ts,
    AlertMessage.shown_revision,
    AlertMessage.replied_entry_id,
    AlertMessage.pending_post,
    AlertMessage.snoozed_until,
    AlertMessage.first_link,
    AlertMessage.snoozes,
)


@dataclass(frozen=True)
class Reply:
    """Credits that came into the account while its alert was open: one thread reply."""

    entry_id: int
    kind: str
    actor: str
    credits: int
    balance_after: int
    invoice_number: str | None
    source_name: str | None
    source_reference: str | None

    @property
    def key(self) -> str:
        """Marks the reply's Slack message, so a lost answer is found instead of posted again."""
        return f"reply:{self.entry_id}"


def _open() -> ColumnElement[bool]:
    return ~indexed_flag("alerts.resolved")  # ix_alerts_open


ALERT_COLUMNS: tuple[tuple[str, TypeEngine[Any]], ...] = (("account_id", Integer()), ("episode", Integer()))


def _mark_stale(session: Session, alerts: Sequence[tuple[int, int]]) -> None:
    if not alerts:
        return
    if is_postgresql(session):  # one statement with one parameter, however many alerts
        given = unnest(ALERT_COLUMNS, alerts)
        session.execute(
            update(AlertMessage)
            .where(AlertMessage.account_id == given.c.account_id, AlertMessage.episode == given.c.episode)
            .values(stale=True)
            .execution_options(synchronize_session=False)
        )
        return
    # A row at a time on the driver: SQLAlchemy's expanding of (account, episode) pairs into an IN
    # list cost about half as much again as SQLite's own work.
    execute_many(session.connection(), _marking_stale(), ALERT_NAMES, alerts)


ALERT_NAMES = tuple(name for name, _ in ALERT_COLUMNS)


@functools.cache
def _marking_stale() -> Update:
    """SQLite: the copies of one alert (ALERT_NAMES) marked stale, built once and run for each."""
    return (
        update(AlertMessage)
        .where(
            AlertMessage.account_id == bindparam("account_id"), AlertMessage.episode == bindparam("episode")
        )
        .values(stale=True)
    )


def follow_episodes(session: Session) -> None:
    """Open an alert for each new (or reopened) episode; take in news; resolve recovered ones.

    Each statement is driven by an index of low episodes or open alerts, so the cost grows with the
    number of low accounts, not the total.
    """
    # Each look-up is an index probe, but the planner prices the open alerts' news and resolving
    # high enough to compile it, and compiling took longer than running it.
    without_jit(session)
    postgresql, connection = is_postgresql(session), session.connection()
    low = _in_episode()  # ix_reminder_episodes_low
    current = exists().where(
        Alert.account_id == ReminderEpisode.account_id, Alert.episode == ReminderEpisode.number, _open()
    )
    fresh = select(
        ReminderEpisode.account_id,
        ReminderEpisode.number,
        literal(1),
        newest_credit_in(ReminderEpisode.account_id),
        false(),
    ).where(low, ~current)
    # Sorted for the reason mark_crossings sorts: every check is done before the first row is written.
    fresh = fresh.order_by(ReminderEpisode.account_id)
    insert = _upsert(session)(Alert).from_select(
        ["account_id", "episode", "revision", "seen_entry_id", "resolved"], fresh
    )
    # An episode reopened within the cooldown finds its resolved alert and opens it again.
    opened = insert.on_conflict_do_update(
        index_elements=[Alert.account_id, Alert.episode],
        set_={"resolved": False, "revision": Alert.revision + 1},
    ).returning(Alert.account_id, Alert.episode, Alert.revision)
    # A new alert (revision 1) has no copies yet; a reopened one's copies are behind. PostgreSQL
    # keeps the new ones, nearly all of them, rather than send each back to be dropped here.
    if postgresql:
        rows = opened.cte("opened")
        opened = select(rows.c.account_id, rows.c.episode, rows.c.revision).where(rows.c.revision > 1)
    reopened = [
        (account_id, episode) for account_id, episode, revision in connection.execute(opened) if revision > 1
    ]
    newest = newest_credit_in(Alert.account_id)
    still_low = exists().where(
        ReminderEpisode.account_id == Alert.account_id, ReminderEpisode.number == Alert.episode, low
    )
    # News and resolving in one statement: an alert that has both is read and written once. One
    # that ends keeps how it ended, for copies drawn later.
    ended = ~still_low
    why = case((~Account.active, "inactive"), (~Account.reminder_enabled, "off"), else_="resolved")
    changed = connection.execute(
        update(Alert)
        .where(Account.id == Alert.account_id, _open(), or_(newest > Alert.seen_entry_id, ended))
        .values(
            seen_entry_id=newest,
            resolved=ended,
            revision=Alert.revision + 1,
            ended_balance=case((ended, Account.balance), else_=null()),
            ended_level=case((ended, Account.reminder_level), else_=null()),
            ended_why=case((ended, why), else_=null()),
        )
        .returning(Alert.account_id, Alert.episode)
    )
    _mark_stale(session, sorted({*reopened, *((account_id, episode) for account_id, episode in changed)}))


def acknowledge(
    session: Session, account_id: int, episode: int, user: str, now: datetime
) -> tuple[Alert | None, bool]:
    """Record who is handling an open alert; the first to say so keeps it.

    The alert as it is now (None if there is none), and whether this call is what took it.
    """
    changed = cast(
        CursorResult[Any],
        session.execute(
            update(Alert)
            .where(
                Alert.account_id == account_id,
                Alert.episode == episode,
                Alert.handler.is_(None),
                ~Alert.resolved,
            )
            .values(handler=user, handled_at=now, revision=Alert.revision + 1)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if changed:
        _mark_stale(session, [(account_id, episode)])
    return session.get(Alert, (account_id, episode), populate_existing=True), bool(changed)


def snooze(session: Session, message_id: int, until: datetime) -> None:
    """Snooze one recipient's copy until `until`; it shows so."""
    session.execute(
        update(AlertMessage)
        .where(AlertMessage.id == message_id)
        .values(snoozed_until=until, stale=True, snoozes=AlertMessage.snoozes + 1)
        .execution_options(synchronize_session=False)
    )


def message_at(session: Session, channel: str, ts: str) -> AlertMessage | None:
    """The alert message posted at (channel, ts), e.g. the one a button was clicked in."""
    return session.scalar(select(AlertMessage).where(AlertMessage.channel == channel, AlertMessage.ts == ts))


def _posting_key(account_id: int, episode: int, number: int) -> str:
    return f"alert:{account_id}:{episode}:{number}"


@dataclass(frozen=True)
class Posting:
    """A copy about to be posted: its row, where it already is, and whether a post may be in flight."""

    message_id: int
    key: str
    ts: str | None  # set when an earlier attempt's post was recorded
    maybe_posted: bool  # an earlier attempt may have posted it without recording its ts


def begin_posting(
    session: Session, account_id: int, episode: int, address: str, channel: str, number: int
) -> Posting:
    """Write (or find) the row for a follow-up copy before it is posted, marked as a post in flight."""
    key = _posting_key(account_id, episode, number)
    row = _find_copy(session, account_id, episode, address, number)
    if row is not None:
        return Posting(row.id, key, row.ts, row.pending_post == key)
    row = AlertMessage(
        account_id=account_id,
        episode=episode,
        address=address,
        number=number,
        channel=channel,
        shown_revision=0,
        replied_entry_id=0,
        stale=False,
        pending_post=key,
    )
    session.add(row)
    session.flush()
    return Posting(row.id, key, None, False)


def posted(session: Session, message_id: int, ts: str, state: AlertState) -> None:
    """A copy reached Slack at `ts`, showing `state`; owed any news since."""
    seen = session.scalar(select(Alert.seen_entry_id).where(*_alert_of(state))) or 0
    session.execute(
        update(AlertMessage)
        .where(AlertMessage.id == message_id)
        .values(
            ts=ts,
            pending_post=None,
            shown_revision=state.revision,
            replied_entry_id=seen,
            first_link=state.first_alert_link,
        )
        .execution_options(synchronize_session=False)
    )
    _settle(session, message_id)


def _first_copy(account_id: int, episode: int, address: str) -> tuple[ColumnElement[bool], ...]:
    return (
        AlertMessage.account_id == account_id,
        AlertMessage.episode == episode,
        AlertMessage.address == address,
        AlertMessage.number == 1,
    )


@dataclass(frozen=True)
class ProblemReport:
    """Whom to tell that an alert cannot be posted in a channel, and which account it is for."""

    tell: str | None  # whoever added the channel; None when no Slack user did (e.g. the CLI)
    name: str
    reference: str


def report_problem(
    session: Session, account_id: int, episode: int, channel: str, problem: str
) -> ProblemReport | None:
    """Note that a channel's first copy could not be posted for `problem`; None if that was reported.

    Once per episode and problem, whichever replica gets there first.
    """
    # The pass writes a first copy's row once it is posted; until then the report's row holds it.
    insert = _upsert(session)(AlertMessage)
    changed = session.execute(
        insert.values(
            account_id=account_id,
            episode=episode,
            address=channel,
            number=1,
            channel=channel,
            ts=None,
            shown_revision=0,
            replied_entry_id=0,
            stale=False,
            problem_reported=problem,
        )
        .on_conflict_do_update(
            index_elements=[
                AlertMessage.account_id,
                AlertMessage.episode,
                AlertMessage.address,
                AlertMessage.number,
            ],
            set_={"problem_reported": problem},
            where=or_(AlertMessage.problem_reported.is_(None), AlertMessage.problem_reported != problem),
        )
        # A row comes back only if written: rowcount is not to be trusted for an upsert on PostgreSQL.
        .returning(AlertMessage.id)
    ).first()
    if not changed:
        return None
    added_by = session.scalar(
        select(ReminderRecipient.added_by).where(
            ReminderRecipient.account_id == account_id, ReminderRecipient.address == channel
        )
    )
    account = session.get(Account, account_id)
    assert account is not None
    return ProblemReport(added_by, account.name, account.reference)


def unreport_problem(session: Session, account_id: int, episode: int, channel: str) -> None:
    """The report did not reach anyone: let a later pass try again."""
    session.execute(
        update(AlertMessage)
        .where(*_first_copy(account_id, episode, channel))
        .values(problem_reported=None)
        .execution_options(synchronize_session=False)
    )


def _alert_of(state: AlertState) -> tuple[ColumnElement[bool], ...]:
    return (Alert.account_id == state.account_id, Alert.episode == state.episode)


def _seen(session: Session, account_ids: Sequence[int]) -> dict[tuple[int, int], int]:
    """The newest credits in each of these accounts' alerts has taken in, by (account id, episode)."""
    rows = session.connection().execute(
        select(Alert.account_id, Alert.episode, Alert.seen_entry_id).where(
            among(session, Alert.account_id, account_ids)
        )
    )
    return {(account_id, episode): entry_id for account_id, episode, entry_id in rows}


@dataclass(frozen=True)
class FirstCopy:
    """A recipient's first copy of an alert, about to be posted, as a pass claimed it."""

    state: AlertState
    seen_entry_id: int  # the newest credits in that `state` shows
    maybe_posted: bool  # an earlier attempt may have posted it without recording its ts


@dataclass
class FirstCopiesRead:
    """What the first copies of claimed alerts show, as read in the claim's transaction."""

    claimed: Sequence[DueAlert]
    shown: StatesRead
    seen: dict[tuple[int, int], int]  # what the alerts the claim opened have taken in


def read_first_copies(session: Session, claimed: Sequence[DueAlert], now: datetime) -> FirstCopiesRead:
    """Read what each claimed alert's first copy shows; build_first_copies makes the copies.

    Apart, so a pass claiming its next batch in a thread of its own holds the interpreter only to
    read: the building (forecasts, fixes, states) waits in the thread that sends, which was
    otherwise idle waiting for the claim.
    """
    shown = read_states(session, sorted({(alert.account_id, alert.episode) for alert in claimed}), now)
    opened = [alert.account_id for alert in claimed if alert.seen_entry_id is None]
    return FirstCopiesRead(claimed, shown, _seen(session, sorted(set(opened))) if opened else {})


def build_first_copies(read: FirstCopiesRead) -> dict[tuple[int, int, str], FirstCopy]:
    """Each claimed alert's first copy, and whether an earlier attempt may have posted it.

    The claim read each alert's news and the copy's earlier attempt; an alert the claim opened
    shows the credits it was opened with.
    """
    shown = build_states(read.shown)
    copies = {}
    in_channel: dict[tuple[int, int], AlertState] = {}
    for alert in read.claimed:
        key = (alert.account_id, alert.episode)
        # A first copy has no snooze or link: it shows its alert's state as is, or a channel's copy of it.
        state = shown[key]
        if alert.recipient.is_channel:
            state = in_channel.get(key) or in_channel.setdefault(key, replace(state, in_channel=True))
        copies[(alert.account_id, alert.episode, alert.recipient.address)] = FirstCopy(
            state,
            read.seen[key] if alert.seen_entry_id is None else alert.seen_entry_id,
            alert.pending_post == _posting_key(alert.account_id, alert.episode, 1),
        )
    return copies


def first_copy_key(account_id: int, episode: int) -> str:
    """Marks a first copy's Slack message, so a lost answer is found instead of posted again."""
    return _posting_key(account_id, episode, 1)


@dataclass(frozen=True)
class FirstPost:
    """A first copy a pass posted (ts), or may have posted without Slack's answer (ts None)."""

    address: str
    channel: str
    ts: str | None
    copy: FirstCopy


# A first copy's record, as unnest() columns; `user` is whom a delivered DM went to (NULL: not sent).
FIRST_POST_COLUMNS: tuple[tuple[str, TypeEngine[Any]], ...] = (
    ("account_id", Integer()),
    ("episode", Integer()),
    ("address", String()),
    ("channel", String()),
    ("ts", String()),
    ("shown_revision", Integer()),
    ("replied_entry_id", Integer()),
    ("pending_post", String()),
    ("user", String()),
)
FIRST_POST_NAMES = bound_row(FIRST_POST_COLUMNS)[1]  # as SQLite's statement binds them


def record_deliveries(
    session: Session,
    sent: Sequence[tuple[str, FirstPost]],
    maybe: Sequence[FirstPost],
    now: datetime,
) -> None:
    """Record first copies posted (each with the Slack user it reached) and those that may have been.

    A posted copy is marked sent, with where it is and what it shows (stale if its alert moved on
    since), and its claim is done; one that another holder recorded keeps theirs. A copy that may
    have been posted keeps its claim and notes the post to look for. One statement on PostgreSQL.
    """
    if not sent and not maybe:
        return
    rows = [_first_post_row(post, user) for user, post in sent] + [_first_post_row(post) for post in maybe]
    through_indexes(session)  # each copy is found by its key, and its row by id
    postgresql = is_postgresql(session)
    statement = _recording_first_posts(postgresql)
    if postgresql:
        session.connection().execute(statement, {**unnest_parameters(FIRST_POST_COLUMNS, rows), "now": now})
    else:  # a row at a time, on the driver
        execute_many(session.connection(), statement, FIRST_POST_NAMES, rows, {"now": now})


@functools.cache
def _recording_first_posts(postgresql: bool) -> Any:
    """The record of first posts, built once (building it cost more than a record's rows): an
    update of the claimed rows from unnest() rows on PostgreSQL, a row at a time on SQLite."""
    given: Any
    message = AlertMessage
    if postgresql:
        given = unsent_first_copies(unnest(FIRST_POST_COLUMNS))
        found: tuple[ColumnElement[bool], ...] = unsent_still(given)
    else:
        given = bound_row(FIRST_POST_COLUMNS)[0]
        found = (
            message.account_id == given.c.account_id,
            message.episode == given.c.episode,
            message.address == given.c.address,
            message.number == 1,
            message.sent_at.is_(None),  # another pass's record of the same post stands
        )
    posted = given.c.ts.is_not(None)
    delivered = given.c.user.is_not(None)
    behind = exists().where(
        Alert.account_id == message.account_id,
        Alert.episode == message.episode,
        or_(Alert.revision > given.c.shown_revision, Alert.seen_entry_id > given.c.replied_entry_id),
    )
    statement = (
        update(AlertMessage)
        .where(*found)
        .values(
            channel=given.c.channel,
            ts=given.c.ts,
            shown_revision=given.c.shown_revision,
            replied_entry_id=given.c.replied_entry_id,
            stale=and_(posted, behind),
            pending_post=given.c.pending_post,
            sent_at=case((delivered, bindparam("now", type_=DateTime(timezone=True)))),
            slack_user_id=given.c.user,
            # A sent copy's claim is done; one that may be in Slack keeps it until it is given back.
            claimed_by=case((delivered, null()), else_=message.claimed_by),
            lease_until=case((delivered, null()), else_=message.lease_until),
        )
        .execution_options(synchronize_session=False)
    )
    return statement


def _first_post_row(post: FirstPost, user: str | None = None) -> tuple[Any, ...]:
    state = post.copy.state
    pending = None if post.ts else first_copy_key(state.account_id, state.episode)
    return (
        state.account_id,
        state.episode,
        post.address,
        post.channel,
        post.ts,
        state.revision,
        post.copy.seen_entry_id,
        pending,
        user,
    )


@dataclass(frozen=True)
class FollowUp:
    """The reminder owed to a recipient whose snooze ended while the account is still low."""

    posting: Posting
    account_id: int
    episode: int
    address: str
    channel: str
    first_ts: str  # the first copy, which the reminder links to


def claim_follow_ups(
    session: Session, holder: str, now: datetime, clock: datetime, lease: timedelta
) -> list[FollowUp]:
    """End snoozes that are over on open alerts, and claim the reminder each owes, once across replicas.

    Clearing the snooze and writing the reminder's row happen in one transaction, so only one pass
    gets each; a reminder whose pass died is claimed again once its lease runs out.
    """
    ended = session.execute(
        update(AlertMessage)
        .where(
            AlertMessage.snoozed_until <= now,
            exists().where(*_alert_of_message(), _open()),
        )
        .values(snoozed_until=None, stale=True)
        .returning(AlertMessage.account_id, AlertMessage.episode, AlertMessage.address, AlertMessage.number)
        .execution_options(synchronize_session=False)
    ).all()
    for account_id, episode, address, number in ended:
        if not still_reminded(session, account_id, address):
            continue  # taken off the reminder while snoozed: the snooze just ends
        row = _copy_row(session, account_id, episode, address, number)
        begin_posting(session, account_id, episode, address, row.channel, number + 1)
    # Every reminder not yet posted whose lease is free: those just written, and any a dead pass left.
    free = or_(AlertMessage.lease_until.is_(None), AlertMessage.lease_until <= clock)
    owed = list(
        session.scalars(
            select(AlertMessage)
            .where(AlertMessage.number > 1, AlertMessage.ts.is_(None), free)
            .with_for_update()
        )
    )
    follow_ups = []
    for row in owed:
        # A reminder claimed before belongs to a pass that died: it may have posted it.
        key = _posting_key(row.account_id, row.episode, row.number)
        posting = Posting(row.id, key, None, row.claimed_by is not None and row.pending_post == key)
        row.claimed_by, row.lease_until = holder, clock + lease
        first = _copy_row(session, row.account_id, row.episode, row.address, 1)
        follow_ups.append(
            FollowUp(posting, row.account_id, row.episode, row.address, row.channel, first.ts or "")
        )
    session.flush()
    return follow_ups


def still_reminded(session: Session, account_id: int, address: str) -> bool:
    """Whether `address` is still one of the account's reminder recipients."""
    found = select(ReminderRecipient.id).where(
        ReminderRecipient.account_id == account_id, ReminderRecipient.address == address
    )
    return session.scalar(found) is not None


def _alert_of_message() -> tuple[ColumnElement[bool], ...]:
    return (Alert.account_id == AlertMessage.account_id, Alert.episode == AlertMessage.episode)


def _find_copy(
    session: Session, account_id: int, episode: int, address: str, number: int
) -> AlertMessage | None:
    return session.scalar(
        select(AlertMessage).where(
            AlertMessage.account_id == account_id,
            AlertMessage.episode == episode,
            AlertMessage.address == address,
            AlertMessage.number == number,
        )
    )


def _copy_row(session: Session, account_id: int, episode: int, address: str, number: int) -> AlertMessage:
    row = _find_copy(session, account_id, episode, address, number)
    assert row is not None
    return row


def claim_stale(
    session: Session,
    holder: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    *,
    skip: Sequence[int] = (),
    only: Iterable[tuple[int, int]] | None = None,
) -> list[Copy]:
    """Claim up to `limit` stale, posted copies that no live lease holds; PostgreSQL skips locked ones.

    `skip` leaves out copies that already failed this pass; `only` limits it to these alerts.
    """
    free = or_(AlertMessage.lease_until.is_(None), AlertMessage.lease_until <= now)
    ids = (
        select(AlertMessage.id)
        .where(indexed_flag("alert_messages.stale"), AlertMessage.ts.is_not(None), free)
        .order_by(AlertMessage.id)
        .limit(limit)
    )
    if skip:
        ids = ids.where(AlertMessage.id.not_in(skip))
    if only is not None:
        ids = ids.where(tuple_(AlertMessage.account_id, AlertMessage.episode).in_(list(only)))
    # Each with whoever held it before, and its alert's news (instead of a read of its own).
    seen = select(Alert.seen_entry_id).where(*_alert_of_message()).scalar_subquery()
    picked = ids.add_columns(AlertMessage.claimed_by, seen.label("seen_entry_id"))
    claim = update(AlertMessage).values(claimed_by=holder, lease_until=now + lease)
    through_indexes(session)  # the stale ones by their index, each claimed by id
    # Core statements on the connection: the ORM's bulk-update machinery cost more than the rows.
    connection = session.connection()
    if is_postgresql(session):
        # One statement, one round trip: the copies are picked, locked (skipping those another
        # replica has locked) and claimed together.
        chosen = picked.with_for_update(skip_locked=True).subquery()
        rows = connection.execute(
            claim.where(AlertMessage.id == chosen.c.id, free).returning(
                *_COPY_COLUMNS, chosen.c.seen_entry_id, chosen.c.claimed_by.is_not(None)
            )
        )
        copies = (Copy(*row) for row in cast(Iterable[_ClaimedRow], rows))
        return sorted(copies, key=lambda copy: copy.id)
    held = {message_id: (by, entry_id) for message_id, by, entry_id in connection.execute(picked)}
    if not held:
        return []
    rows = connection.execute(
        claim.where(among(session, AlertMessage.id, sorted(held)), free).returning(*_COPY_COLUMNS)
    )
    copies = (
        Copy(*row, seen_entry_id=held[row[0]][1], taken_over=held[row[0]][0] is not None)
        for row in cast(Iterable[_CopyRow], rows)
    )
    return sorted(copies, key=lambda copy: copy.id)


def updates_for(
    session: Session, copies: Sequence[Copy], now: datetime
) -> list[tuple[Copy, list[Reply], AlertState]]:
    """For each claimed copy: the thread replies it owes and the alert as it should show it now."""
    if not copies:
        return []
    ids = sorted({copy.account_id for copy in copies})
    alerts = sorted({(copy.account_id, copy.episode) for copy in copies})
    # The credits that came in go with the states' read, in its round trip; the claim read the
    # alerts' news.
    postgresql, connection = is_postgresql(session), session.connection()
    since = min(copy.replied_entry_id for copy in copies)
    credits_read = Ahead(connection, _CREDITS_IN_AMONG[postgresql], {"ids": ids, "after": since})
    shown = states(session, alerts, now)
    news: dict[int, list[Reply]] = {}
    for account_id, *reply in credits_read.rows():
        news.setdefault(account_id, []).append(Reply(*reply))
    work = []
    for copy in copies:
        owed = [
            reply
            for reply in news.get(copy.account_id, ())
            if copy.replied_entry_id < reply.entry_id <= copy.seen_entry_id
        ]
        state = for_copy(
            shown[(copy.account_id, copy.episode)],
            now,
            copy.snoozed_until,
            copy.first_link,
            in_channel=Recipient(copy.address).is_channel,
        )
        work.append((copy, owed, state))
    return work


@dataclass(frozen=True)
class Progress:
    """How far a pass got with one claimed copy: the replies it posted, and what it now shows."""

    message_id: int
    replied_entry_id: int  # the last reply in its thread
    shown_revision: int  # 0 when the edit did not happen
    pending_post: str | None  # a reply that may be in Slack without its answer reaching us
    snoozes: int  # the snoozes it was drawn after (Copy.snoozes)


def record_updates(session: Session, holder: str, done: Sequence[Progress]) -> None:
    """Record how far copies got and give back `holder`'s claims on them; stale only if still behind.

    One statement: on PostgreSQL for the whole batch, on SQLite a row at a time on the driver.
    """
    if not done:
        return
    rows = [(p.message_id, p.replied_entry_id, p.shown_revision, p.pending_post, p.snoozes) for p in done]
    through_indexes(session)  # each copy by id
    postgresql = is_postgresql(session)
    statement = _recording_progress(postgresql)
    if postgresql:
        parameters = {**unnest_parameters(PROGRESS_COLUMNS, rows), "holder": holder}
        session.connection().execute(statement, parameters)
    else:
        execute_many(session.connection(), statement, PROGRESS_NAMES, rows, {"holder": holder})


# Progress, as unnest() columns, in its fields' order.
PROGRESS_COLUMNS: tuple[tuple[str, TypeEngine[Any]], ...] = (
    ("message_id", Integer()),
    ("replied_entry_id", Integer()),
    ("shown_revision", Integer()),
    ("pending_post", String()),
    ("snoozes", Integer()),
)
PROGRESS_NAMES = bound_row(PROGRESS_COLUMNS)[1]  # as SQLite's statement binds them


@functools.cache
def _recording_progress(postgresql: bool) -> Any:
    """The record of copies brought up to date, built once: an update from unnest() rows on
    PostgreSQL, a row at a time on SQLite.

    A copy never goes back: a reply or revision another pass recorded meanwhile stands. Only a copy
    still claimed by `holder` is settled (stale if its alert moved on past what it now shows) and
    given back, in the same statement: the progress and the settling each cost a statement and a
    look-up of every row.
    """
    given: Any
    greatest: Any
    message = AlertMessage
    if postgresql:
        given = unnest(PROGRESS_COLUMNS)
        greatest = func.greatest
    else:
        given = bound_row(PROGRESS_COLUMNS)[0]
        greatest = func.max  # SQLite's max() of two values
    replied = greatest(message.replied_entry_id, given.c.replied_entry_id)
    shown = greatest(message.shown_revision, given.c.shown_revision)
    behind = or_(
        exists().where(*_alert_of_message(), or_(Alert.revision > shown, Alert.seen_entry_id > replied)),
        message.snoozes > given.c.snoozes,  # snoozed after it was drawn
    )
    mine = message.claimed_by == bindparam("holder", type_=String())
    return (
        update(AlertMessage)
        .where(message.id == given.c.message_id)
        .values(
            replied_entry_id=replied,
            shown_revision=shown,
            pending_post=given.c.pending_post,
            stale=case((mine, behind), else_=message.stale),
            claimed_by=case((mine, null()), else_=message.claimed_by),
            lease_until=case((mine, null()), else_=message.lease_until),
        )
        .execution_options(synchronize_session=False)
    )


_OTHER_LEG = aliased(LedgerEntry)
_SOURCE = aliased(Account)
# Built once, as forecast._FORECASTS is: building it (two aliases, three joins) cost more than running it.
_CREDITS_IN = (
    select(
        LedgerEntry.account_id,
        LedgerEntry.id,
        LedgerEntry.kind,
        LedgerEntry.actor,
        LedgerEntry.credits,
        LedgerEntry.balance_after,
        Invoice.number,
        _SOURCE.name,
        _SOURCE.reference,
    )
    .outerjoin(Invoice, Invoice.ledger_entry_id == LedgerEntry.id)
    .outerjoin(
        _OTHER_LEG,
        and_(
            LedgerEntry.kind == EntryKind.TRANSFER_IN.value,
            _OTHER_LEG.transfer_id == LedgerEntry.transfer_id,
            _OTHER_LEG.id != LedgerEntry.id,
        ),
    )
    .outerjoin(_SOURCE, _SOURCE.id == _OTHER_LEG.account_id)
    .order_by(LedgerEntry.id)
)


# updates_for's reads, built once for each database.
# Each purchase or move into these accounts after entry `after`, oldest first.
_CREDITS_IN_AMONG: dict[bool, Any] = {
    postgresql: _CREDITS_IN.where(
        membership(LedgerEntry.account_id, postgresql=postgresql, name="ids"),
        credits_in(),
        LedgerEntry.id > bindparam("after", type_=Integer()),
    )
    for postgresql in (False, True)
}


def set_pending(session: Session, message_id: int, key: str | None) -> None:
    """Note a post about to be made (or that none is), before making it."""
    session.execute(
        update(AlertMessage)
        .where(AlertMessage.id == message_id)
        .values(pending_post=key)
        .execution_options(synchronize_session=False)
    )


def replied(session: Session, message_id: int, entry_id: int) -> None:
    """A thread reply for `entry_id` is in the copy's thread."""
    session.execute(
        update(AlertMessage)
        .where(AlertMessage.id == message_id, AlertMessage.replied_entry_id < entry_id)
        .values(replied_entry_id=entry_id, pending_post=None)
        .execution_options(synchronize_session=False)
    )


def shown(session: Session, message_id: int, revision: int) -> None:
    """The copy now shows `revision`; still stale only if its alert has moved on meanwhile."""
    session.execute(
        update(AlertMessage)
        .where(AlertMessage.id == message_id, AlertMessage.shown_revision < revision)
        .values(shown_revision=revision)
        .execution_options(synchronize_session=False)
    )
    _settle(session, message_id)


def _behind() -> ColumnElement[bool]:
    """A copy shows an older revision of its alert, or owes thread replies."""
    return exists().where(
        Alert.account_id == AlertMessage.account_id,
        Alert.episode == AlertMessage.episode,
        or_(
            Alert.revision > AlertMessage.shown_revision, Alert.seen_entry_id > AlertMessage.replied_entry_id
        ),
    )


def _settle(session: Session, message_id: int) -> None:
    # Stale stays set when another change came in while this copy was being updated.
    session.execute(
        update(AlertMessage)
        .where(AlertMessage.id == message_id)
        .values(stale=_behind(), claimed_by=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


def release(session: Session, holder: str, message_ids: Sequence[int]) -> None:
    """Give back `holder`'s claims on copies it did not finish, for any pass to retry."""
    if message_ids:
        session.connection().execute(
            update(AlertMessage)
            .where(among(session, AlertMessage.id, message_ids), AlertMessage.claimed_by == holder)
            .values(claimed_by=None, lease_until=None)
        )


# Each alert with its account, the account's usage for its forecast, and whether auto top-up tried
# for its episode: one read for a batch, built once for each database (:ids, :episodes and the
# forecast window). The episodes narrow the alerts read to about those wanted; the caller picks.
_STATES = (
    select(
        Alert.account_id,
        Alert.episode,
        Alert.revision,
        Alert.resolved,
        Alert.handler,
        Alert.handled_at,
        Account.reference,
        Account.name,
        Account.balance,
        Account.reminder_level,
        Account.runway_warning_days,
        Account.reminder_enabled,
        Account.active,
        Alert.ended_balance,
        Alert.ended_level,
        Alert.ended_why,
        *forecast.USAGE,
        AutoTopUpAttempt.account_id.is_not(None),
    )
    .join(Account, Account.id == Alert.account_id)
    .outerjoin(
        AutoTopUpAttempt,
        and_(AutoTopUpAttempt.account_id == Alert.account_id, AutoTopUpAttempt.episode == Alert.episode),
    )
)
_STATES_AMONG: dict[bool, Select[Any]] = {
    postgresql: cast(
        Select[Any],
        _STATES.where(
            membership(Alert.account_id, postgresql=postgresql, name="ids"),
            membership(Alert.episode, postgresql=postgresql, name="episodes"),
        ),
    )
    for postgresql in (False, True)
}


@dataclass
class StatesRead:
    """What states() reads in one round trip, before it builds anything from it."""

    wanted: Sequence[tuple[int, int]]
    rows: dict[tuple[int, int], Any]  # each alert's row, by (account id, episode)
    sources: list[suggestions.Source]  # the best sources of a move
    top_ups: dict[tuple[int, int], str]  # what auto top-up did, for episodes it tried
    now: datetime


def states(
    session: Session, wanted: Sequence[tuple[int, int]], now: datetime
) -> dict[tuple[int, int], AlertState]:
    """What each of these alerts (account id, episode) shows now, in one read for all of them.

    Snoozes and follow-up links are per copy: the caller adds them.
    """
    return build_states(read_states(session, wanted, now))


def read_states(session: Session, wanted: Sequence[tuple[int, int]], now: datetime) -> StatesRead:
    """What states() shows, read: the alerts, their accounts and usage, and the best sources."""
    if not wanted:
        return StatesRead(wanted, {}, [], {}, now)
    # Plain tuples read on the driver, the best sources in the same round trip: SQLAlchemy's
    # execution machinery (a list of ids expanded into the SQL on SQLite, a row object fetched
    # one at a time) cost a batch of 1,000 more than the database's work.
    given = {
        **forecast.window(now),
        "ids": sorted({account_id for account_id, _ in wanted}),
        "episodes": sorted({episode for _, episode in wanted}),
    }
    rows, sources = read_together(
        session.connection(), [(_STATES_AMONG[is_postgresql(session)], given), suggestions.BEST_SOURCES_READ]
    )
    found = {(row[0], row[1]): row for row in rows}
    # Only an episode auto top-up tried for has an outcome to show: most have none to look up.
    top_ups = {}
    for key in wanted:
        tried = found[key][-1]  # the row's last column: whether auto top-up tried for the episode
        if tried and (outcome := top_up.outcome_for(session, *key, now)):
            top_ups[key] = outcome.text()
    return StatesRead(wanted, found, suggestions.sources(sources), top_ups, now)


def build_states(read: StatesRead) -> dict[tuple[int, int], AlertState]:
    """The states a read shows: each alert's forecast, suggested fix and what it says."""
    result, now, best = {}, read.now, read.sources
    for key in read.wanted:
        (
            account_id,
            episode,
            revision,
            resolved,
            handler,
            handled_at,
            reference,
            name,
            balance,
            level,
            warning_days,
            reminder_on,
            active,
            ended_balance,
            ended_level,
            ended_why,
            spent,
            started,
            _tried,
        ) = read.rows[key]
        if resolved and ended_why is not None:  # as it was when the alert ended, however late drawn
            balance, level = ended_balance, ended_level
            reminder_on, active = ended_why != "off", ended_why != "inactive"
        outlook = forecast.from_usage(balance, int(spent), started, now)
        fix = None
        if not resolved:
            needed = suggestions.needed(balance, level, outlook, warning_days)
            fix = Suggestion(needed, suggestions.source_for(account_id, best))
        result[key] = AlertState(
            account_id=account_id,
            episode=episode,
            reference=reference,
            name=name,
            balance=balance,
            level=level,
            resolved=resolved,
            forecast=outlook.text(),
            suggestion=fix,
            handler=handler,
            handled_at=forecast.as_utc(handled_at) if handled_at else None,
            top_up=read.top_ups.get(key),
            revision=revision,
            outlook=outlook,
            warning_days=warning_days,
            reminder_on=bool(reminder_on),
            active=bool(active),
        )
    return result


def for_copy(
    state: AlertState,
    now: datetime,
    snoozed_until: datetime | None,
    first_link: str | None,
    *,
    in_channel: bool = False,
) -> AlertState:
    """The alert as one copy shows it: with that recipient's snooze, if it is still on, and link."""
    snoozed = forecast.as_utc(snoozed_until) if snoozed_until else None
    until = snoozed if snoozed and snoozed > now else None
    if (until, first_link, in_channel) == (state.snoozed_until, state.first_alert_link, state.in_channel):
        return state  # as most copies are: the alert's own state, shared
    return replace(state, snoozed_until=until, first_alert_link=first_link, in_channel=in_channel)


def state(
    session: Session,
    account_id: int,
    episode: int,
    now: datetime,
    snoozed_until: datetime | None = None,
    first_link: str | None = None,
    in_channel: bool = False,
) -> AlertState:
    """What a copy of this alert shows now: the account, the alert, its forecast, fix and top-up."""
    return for_copy(
        states(session, [(account_id, episode)], now)[(account_id, episode)],
        now,
        snoozed_until,
        first_link,
        in_channel=in_channel,
    )
