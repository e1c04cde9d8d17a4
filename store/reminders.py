"""Low-credit reminders: settings, who is due an alert, and the once-per-episode delivery record."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    ColumnElement,
    CursorResult,
    DateTime,
    Insert,
    Integer,
    ScalarSelect,
    Select,
    String,
    Subquery,
    TextClause,
    Update,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased
from sqlalchemy.types import TypeEngine

from store import alert_redraws, audit, forecast
from store.db import (
    among,
    execute_many,
    indexed_flag,
    is_postgresql,
    read_together,
    sqlite_unnest,
    through_indexes,
    unnest,
    unnest_parameters,
)
from store.errors import StoreError
from store.ledger import as_typed, parse_credits
from store.models import (
    MAX_WARNING_DAYS,
    SHORT_RUNWAY,
    WARNED,
    Account,
    Alert,
    AlertMessage,
    LedgerEntry,
    ReminderEpisode,
    ReminderRecipient,
)

EMAIL_MAX_LENGTH = 254
# An address as mail systems write it: a dot-atom local part (RFC 5322) of at most 64 characters,
# then a domain of letter-digit-hyphen labels ending in a letters-only top-level domain. Slack's
# users.lookupByEmail is still the test of whether someone in the workspace has it.
EMAIL_PATTERN = re.compile(
    r"(?=[^@]{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
MAX_RECIPIENTS = 50  # one reminder alerts at most this many recipients; its confirmation fits one message
# A Slack channel id: public channels start with C, private ones made before 2021 with G.
CHANNEL_ID_PATTERN = re.compile(r"[CG][A-Z0-9]{2,19}")
EMAIL_SEPARATORS = re.compile(r"[\s,;]+")
# Any constant works; it names the lock that lets one replica at a time mark crossings.
MARKING_LOCK_KEY = 0x4C4F5743  # "LOWC"


class InvalidEmails(StoreError):
    """Addresses that are not email addresses; the message names each one."""

    def __init__(self, addresses: Sequence[str]):
        self.addresses = list(addresses)
        listed = ", ".join(self.addresses)
        super().__init__(
            f"Not an email address: {listed}. Separate addresses with commas, spaces or new lines."
        )


# ASCII digits only, as for credits: "５" or "٥" is refused, not read as 5. A sign is let through to
# be refused as out of range, which says more than "not a number".
DAYS_PATTERN = re.compile(r"-?[0-9]+")
MAX_DAYS_DIGITS = 6  # past this the number is out of range anyway; int() never sees a huge string


class InvalidWarning(StoreError):
    """A forecast warning that is not a whole number of days in range."""


def _days_out_of_range() -> InvalidWarning:
    return InvalidWarning(f"Enter a whole number of days from 1 to {MAX_WARNING_DAYS}.")


def parse_level(raw: str | int) -> int:
    """The reminder level: a whole number of credits, 0 or more."""
    return parse_credits(raw, allow_zero=True)


def parse_warning_days(raw: str | None) -> int | None:
    """The forecast warning: a whole number of days from 1 to MAX_WARNING_DAYS; None (off) when empty."""
    text = (raw or "").strip()
    if not text:
        return None
    if not DAYS_PATTERN.fullmatch(text):
        raise InvalidWarning(f"Enter a whole number of days, like 5 (not {as_typed(text)!r}).")
    digits = text.lstrip("-")
    if len(digits) > MAX_DAYS_DIGITS or text.startswith("-") or not 1 <= int(digits) <= MAX_WARNING_DAYS:
        raise _days_out_of_range()
    return int(digits)


def parse_emails(raw: str | None) -> list[str]:
    """Email addresses split on commas, spaces or new lines, lower-cased and de-duplicated."""
    found: list[str] = []
    bad: list[str] = []
    for word in EMAIL_SEPARATORS.split(raw or ""):
        if not word:
            continue
        if len(word) > EMAIL_MAX_LENGTH or not EMAIL_PATTERN.fullmatch(word):
            bad.append(word)
        elif word.lower() not in found:
            found.append(word.lower())
    if bad:
        raise InvalidEmails(bad)
    return found


@dataclass(frozen=True)
class Recipient:
    """Who to alert: an email (its Slack user looked up), a Slack user picked directly, or a channel."""

    address: str
    slack_user_id: str | None = None

    @property
    def is_email(self) -> bool:
        return "@" in self.address

    @property
    def is_channel(self) -> bool:
        """Posted in once, instead of DMing a person."""
        return CHANNEL_ID_PATTERN.fullmatch(self.address) is not None


def check_recipient_count(count: int) -> None:
    """StoreError if a reminder would DM more people than one reminder may."""
    if count > MAX_RECIPIENTS:
        raise StoreError(f"A reminder can DM at most {MAX_RECIPIENTS} people; this one lists {count:,}.")


def describe(enabled: bool, level: int) -> str:
    """How a reminder reads in confirmations and the audit log."""
    return f"on, below {level:,} credits" if enabled else "off"


def describe_warning(days: int | None) -> str:
    """How a forecast warning reads in confirmations and the audit log."""
    return f"on, fewer than {days} day{'' if days == 1 else 's'} of credits left" if days else "off"


def set_warning(session: Session, account: Account, days: int | None, actor: str) -> bool:
    """Set (or with None, clear) an account's forecast warning, audited; True if it changed."""
    if days is not None and not 1 <= days <= MAX_WARNING_DAYS:
        raise _days_out_of_range()
    if account.runway_warning_days == days:
        return False
    audit.record(
        session,
        actor,
        "forecast_warning",
        account.reference,
        describe_warning(account.runway_warning_days),
        describe_warning(days),
        account.id,
    )
    account.runway_warning_days = days
    session.flush()
    alert_redraws.open_alert_changed(session, account.id)
    return True


def configure(
    session: Session,
    account: Account,
    enabled: bool,
    level: int,
    recipients: Sequence[Recipient],
    actor: str,
) -> bool:
    """Save an account's reminder settings, auditing what changed; True if anything did."""
    check_recipient_count(len({recipient.address for recipient in recipients}))
    changed = False
    old, new = describe(account.reminder_enabled, account.reminder_level), describe(enabled, level)
    if (account.reminder_enabled, account.reminder_level) != (enabled, level):
        audit.record(session, actor, "reminder", account.reference, old, new, account.id)
        account.reminder_enabled, account.reminder_level = enabled, level
        session.flush()
        alert_redraws.open_alert_changed(session, account.id)
        changed = True
    wanted = {recipient.address: recipient for recipient in recipients}
    current = {recipient.address: recipient for recipient in account.recipients}
    if list(wanted) != list(current):
        audit.record(
            session,
            actor,
            "reminder_recipients",
            account.reference,
            ", ".join(current) or None,
            ", ".join(wanted) or None,
            account.id,
        )
        changed = True
    # Keep rows whose address stays: deleting and re-adding one address in a flush would
    # trip the (account_id, address) unique constraint.
    for address, row in current.items():
        if address not in wanted:
            account.recipients.remove(row)
        else:
            row.slack_user_id = wanted[address].slack_user_id
    for address, recipient in wanted.items():
        if address not in current:
            account.recipients.append(
                ReminderRecipient(address=address, slack_user_id=recipient.slack_user_id, added_by=actor)
            )
    account.recipient_count = len(wanted)
    session.flush()
    return changed


def _shortfall() -> ColumnElement[bool]:
    # Written to match ix_accounts_reminder_shortfall: its expression and its WHERE clause.
    return and_(text("accounts.reminder_enabled"), Account.balance - Account.reminder_level < 0)


def _runway_short() -> ColumnElement[bool]:
    # The balance, as it is now, against the floor the last marking found for the account's
    # forecast warning; needs the account's reminder_episodes row in the query.
    return and_(
        text("accounts.reminder_enabled"),
        Account.runway_warning_days.is_not(None),
        Account.balance < ReminderEpisode.runway_floor,
    )


def _due() -> ColumnElement[bool]:
    """The rule: an account is due an alert while its reminder is on and its balance is below its
    level, or its forecast warning's runway is not covered. Needs accounts and reminder_episodes.

    Marking uses its two halves apart, each driven by its own small index.
    """
    return or_(_shortfall(), _runway_short())


def _inactive(postgresql: bool) -> Select[int]:
    """The accounts switched off: never due an alert, so deactivating a low one ends its episode.
    Few, read from an index: ix_accounts_inactive on PostgreSQL, ix_accounts_active_balance's
    leading column on SQLite (which takes "active = 0" to it, not "NOT active")."""
    switched_off = ~indexed_flag("accounts.active") if postgresql else Account.active.is_(False)
    return select(Account.id).where(switched_off).correlate(None)


def _in_episode() -> ColumnElement[bool]:
    return indexed_flag("reminder_episodes.low")  # ix_reminder_episodes_low


def _has_floor() -> TextClause:
    # Written to match the WHERE clause of ix_reminder_episodes_runway_floor.
    return text(SHORT_RUNWAY)


def _short_runways() -> Select[int]:
    # The accounts whose runway is short now, read from ix_reminder_episodes_runway_floor, so the
    # cost grows with them. Never correlated: inside a statement on reminder_episodes it is a
    # subquery of its own.
    return (
        select(ReminderEpisode.account_id)
        .join(Account, Account.id == ReminderEpisode.account_id)
        .where(_has_floor(), _runway_short())
        .correlate(None)
    )


def runway_floors(session: Session, now: datetime) -> dict[int, int]:
    """Accounts whose runway is below their forecast warning now, each with its floor (the balance
    that would last the warning's days). One query over the accounts that have a warning.
    """
    return {
        account_id: floor
        for account_id, (outlook, days) in forecast.with_warnings(session, text(WARNED), now).items()
        if outlook.short_of(days) and (floor := outlook.runway_floor(days)) is not None
    }


def _refresh_floors(session: Session, now: datetime) -> None:
    """Write each account's runway floor where it changed; clear those no longer short."""
    floors = runway_floors(session, now)
    kept = {
        account_id: floor
        for account_id, floor in session.execute(
            select(ReminderEpisode.account_id, ReminderEpisode.runway_floor).where(_has_floor())
        )
    }
    gone = [{"gone": account_id} for account_id in kept if account_id not in floors]
    if gone:
        session.connection().execute(
            update(ReminderEpisode)
            .where(ReminderEpisode.account_id == bindparam("gone"))
            .values(runway_floor=None),
            gone,
        )
    changed = [
        {"account_id": account_id, "number": 0, "low": False, "runway_floor": floor}
        for account_id, floor in floors.items()
        if kept.get(account_id) != floor
    ]
    if changed:
        # An account never low before gets its row here, at episode 0: its first episode is 1.
        insert = _upsert(session)(ReminderEpisode)
        session.connection().execute(
            insert.on_conflict_do_update(
                index_elements=[ReminderEpisode.account_id],
                set_={"runway_floor": insert.excluded.runway_floor},
            ),
            changed,
        )


def _rowcount(session: Session, statement: Update) -> int:
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount


def _upsert(session: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT."""
    return postgresql_insert if is_postgresql(session) else sqlite_insert


# A delivery's key, and who it went to, as unnest() columns.
KEY_COLUMNS: tuple[tuple[str, TypeEngine[Any]], ...] = (
    ("account_id", Integer()),
    ("episode", Integer()),
    ("address", String()),
)
KEY_NAMES = tuple(name for name, _ in KEY_COLUMNS)


def mark_crossings(
    session: Session, now: datetime | None = None, cooldown: timedelta = timedelta(0)
) -> tuple[int, int]:
    """Start an episode for accounts that became due an alert; end it for those that no longer are.

    Due means below the level, or with a forecast warning whose runway is too short (`_due`).
    A dip within `cooldown` of recovering reopens the last episode instead, so a balance hovering
    at its level does not alert again. A few set-based statements, each driven by a small index
    (accounts below their level; accounts with a warning; accounts in an episode), however many
    accounts there are; returns (newly due, recovered).
    """
    now = now or datetime.now(UTC)
    _refresh_floors(session, now)
    # Accounts already in an episode are left out before the upsert, which would lock each one.
    # Sorted, so they are all found before the first is written: otherwise each check could scan
    # the rows this statement has just written (the planner may take the table for empty).
    still_low = exists().where(ReminderEpisode.account_id == Account.id, _in_episode())
    postgresql = is_postgresql(session)
    inactive = _inactive(postgresql)
    # On SQLite the id as an expression (SQLite's unary +): as the column, SQLite walked every
    # account in id order to skip sorting the few below their level (85 ms a pass at 1M).
    account_id = Account.id if postgresql else literal_column("+accounts.id", Integer)
    below_level = select(account_id, literal(1), true()).where(
        _shortfall(), ~still_low, Account.id.not_in(inactive)
    )
    runway = (
        _short_runways()
        .add_columns(literal(1), true())
        .where(~_in_episode(), ReminderEpisode.account_id.not_in(inactive))
    )
    episode = _upsert(session)(ReminderEpisode).from_select(
        ["account_id", "number", "low"], below_level.union(runway).order_by(literal_column("1"))
    )
    # A first drop inserts episode 1; a drop after recovering starts the next episode, or within
    # the cooldown reopens the last one; an account still in its episode is left alone and not
    # returned.
    fell = session.execute(
        episode.on_conflict_do_update(
            index_elements=[ReminderEpisode.account_id],
            set_={
                "number": case(
                    (ReminderEpisode.recovered_at > now - cooldown, ReminderEpisode.number),
                    else_=ReminderEpisode.number + 1,
                ),
                "low": True,
            },
            where=ReminderEpisode.low.is_(False),
        ).returning(ReminderEpisode.account_id)
    ).all()
    recovered = _rowcount(
        session,
        update(ReminderEpisode)
        .where(
            _in_episode(),
            or_(
                and_(
                    ReminderEpisode.account_id.not_in(select(Account.id).where(_shortfall())),
                    ReminderEpisode.account_id.not_in(_short_runways()),
                ),
                ReminderEpisode.account_id.in_(inactive),
            ),
        )
        .values(low=False, recovered_at=now)
        .execution_options(synchronize_session=False),
    )
    return len(fell), recovered


@dataclass  # not frozen, for the reason AlertState is not: a pass builds one for each DM
class DueAlert:
    """One DM owed: this recipient has not yet been told about this account's current episode."""

    account_id: int
    reference: str
    name: str
    balance: int
    level: int
    episode: int
    recipient: Recipient
    # Claimed before by a pass that never recorded or gave it back (it died or hung): that pass
    # may have posted it, so it is looked for before it is posted.
    maybe_posted: bool = False
    recipient_id: int = 0  # its place in a pass's walk
    # The episode's alert: the newest credits it has taken in; None while it has no alert yet.
    seen_entry_id: int | None = None
    pending_post: str | None = None  # the first copy's post that may be in Slack, as it was claimed

    @property
    def position(self) -> Position:
        """Just before this alert in a pass's walk."""
        return (self.account_id, self.recipient_id - 1)


def _key_row(alert: DueAlert) -> tuple[int, int, str]:
    return (alert.account_id, alert.episode, alert.recipient.address)


SCAN_ACCOUNTS = 1000  # the most low accounts a claim looks at in one step
LAST_RECIPIENT = 2**31 - 1  # a position past every recipient of an account
Position = tuple[int, int]  # (account id, recipient id): where a pass's walk over due alerts is
START: Position = (0, 0)


def claim_due(
    session: Session, holder: str, now: datetime, lease_until: datetime, limit: int, after: Position = START
) -> tuple[list[DueAlert], Position]:
    """Claim up to `limit` alerts owed a DM, after position `after`, for `holder` until `lease_until`.

    Returns them and the position to go on from. A pass walks the low accounts in id order, a
    range at a time, so each claim costs what it looks at, not all the low accounts again. An
    alert is owed while no delivery row for its episode is sent or under a live lease. On
    PostgreSQL, replicas claiming at once skip each other's rows instead of waiting for them; the
    insert's conflict rule is what makes a claim exclusive, so a lapsed lease can be taken over.
    """
    # A step looks at as many low accounts as the batch wants alerts, since a newly low account
    # owes at least one; one that finds too few looks twice as far the next time (a steady pass
    # finds none owed), up to SCAN_ACCOUNTS.
    window = min(limit, SCAN_ACCOUNTS)
    # The due read's estimate of a range's recipients is about a thousandth of them (its
    # conditions are taken as independent): with alert_messages analyzed small, each was a scan.
    through_indexes(session)
    connection = session.connection()
    while True:
        range_read = {"after_account": after[0], "window": window}
        [low] = read_together(connection, [(_LOW_ACCOUNTS, range_read)])
        accounts = [account_id for (account_id,) in low]
        due = _due_among(session, now, accounts, after, limit) if accounts else []
        if len(due) == limit:
            after = (due[-1].account_id, due[-1].recipient_id)
        elif accounts:
            after = (accounts[-1], LAST_RECIPIENT)
        claimed = _claim(session, holder, now, lease_until, due)
        if claimed or (len(accounts) < window and len(due) < limit):
            return claimed, after
        window = min(2 * window, SCAN_ACCOUNTS)


# The next low accounts of a pass's walk, in id order; built once, as _due_statement is.
_LOW_ACCOUNTS = (
    select(ReminderEpisode.account_id)
    .where(_in_episode(), ReminderEpisode.account_id >= bindparam("after_account"))
    .order_by(ReminderEpisode.account_id)
    .limit(bindparam("window", type_=Integer()))
)


def _active_unindexed(postgresql: bool) -> ColumnElement[bool]:
    # SQLite's unary + keeps this off ix_accounts_active_balance: with it, SQLite drove each claim
    # from every active account (3 s a steady pass at 1M) instead of the episode range.
    if not postgresql:
        return literal_column("+accounts.active", Boolean)
    return cast(ColumnElement[bool], Account.active)


def _due_among(
    session: Session, now: datetime, accounts: list[int], after: Position, limit: int
) -> list[DueAlert]:
    # Read on the driver on PostgreSQL too: SQLAlchemy's machinery cost a batch of 1,000 more
    # (1.7 ms) than building its alerts.
    [rows] = read_together(
        session.connection(),
        [
            (
                _due_statement(is_postgresql(session)),
                {
                    "now": now,
                    "first": accounts[0],
                    "last": accounts[-1],
                    "after_account": after[0],
                    "after_recipient": after[1],
                    "limit": limit,
                },
            )
        ],
    )
    return [
        DueAlert(
            account_id,
            reference,
            name,
            balance,
            level,
            episode,
            Recipient(address, user),
            held is not None,
            at,
            seen,
            pending,
        )
        for (
            account_id,
            reference,
            name,
            balance,
            level,
            episode,
            address,
            user,
            held,
            at,
            seen,
            pending,
        ) in rows
    ]


@functools.cache
def _due_statement(postgresql: bool) -> Select[Any]:
    """The alerts owed a DM among a range of low accounts, after a position, built once: building
    it (four joins, a dozen conditions) cost more than running it on SQLite."""
    earlier = aliased(AlertMessage)  # the recipient's first copy: a claim whose lease lapsed, if any
    now = bindparam("now", type_=DateTime(timezone=True))
    due = (
        select(
            Account.id,
            Account.reference,
            Account.name,
            Account.balance,
            Account.reminder_level,
            ReminderEpisode.number,
            ReminderRecipient.address,
            ReminderRecipient.slack_user_id,
            earlier.claimed_by,
            ReminderRecipient.id,
            Alert.seen_entry_id,
            earlier.pending_post,
        )
        .select_from(ReminderEpisode)
        .join(Account, Account.id == ReminderEpisode.account_id)
        .join(ReminderRecipient, ReminderRecipient.account_id == Account.id)
        .outerjoin(
            earlier,
            and_(
                earlier.account_id == Account.id,
                earlier.episode == ReminderEpisode.number,
                earlier.address == ReminderRecipient.address,
                earlier.number == 1,
            ),
        )
        .outerjoin(Alert, and_(Alert.account_id == Account.id, Alert.episode == ReminderEpisode.number))
        .where(
            _in_episode(),
            ReminderEpisode.account_id.between(bindparam("first"), bindparam("last")),
            tuple_(ReminderEpisode.account_id, ReminderRecipient.id)
            > tuple_(bindparam("after_account"), bindparam("after_recipient")),
            _due(),
            _active_unindexed(postgresql),
            earlier.sent_at.is_(None),
            or_(earlier.lease_until.is_(None), earlier.lease_until <= now),
        )
        .order_by(ReminderEpisode.account_id, ReminderRecipient.id)
        .limit(bindparam("limit", type_=Integer()))
    )
    if postgresql:
        # The range again on the recipients: PostgreSQL carries equalities across a join, not
        # ranges, and without it hashed every recipient for each batch to find the range's few.
        recipients_in_range = ReminderRecipient.account_id.between(bindparam("first"), bindparam("last"))
        due = due.where(recipients_in_range).with_for_update(of=ReminderRecipient, skip_locked=True)
    return cast(Select[Any], due)


def credits_in() -> Any:
    """Purchases and moves in: what an alert takes in as news. Matches ix_ledger_entries_credits_in."""
    return text("ledger_entries.kind IN ('purchase', 'transfer_in')")


def newest_credit_in(account_id: Any) -> ScalarSelect[Any]:
    """The newest purchase or move into the account (a ledger entry id; 0 if none)."""
    return (
        select(func.coalesce(func.max(LedgerEntry.id), 0))
        .where(LedgerEntry.account_id == account_id, credits_in())
        .scalar_subquery()
    )


def ensure_alerts(session: Session, account_ids: Sequence[int]) -> None:
    """Open the current episode's alert of each of these accounts where it has none yet.

    A replica may claim an episode's first copies before the pass that marked it has opened its
    alert, and a first copy's row belongs to its alert.
    """
    current = select(
        ReminderEpisode.account_id,
        ReminderEpisode.number,
        literal(1),
        newest_credit_in(ReminderEpisode.account_id),
        false(),
    ).where(among(session, ReminderEpisode.account_id, account_ids))
    session.execute(
        _upsert(session)(Alert)
        .from_select(["account_id", "episode", "revision", "seen_entry_id", "resolved"], current)
        .on_conflict_do_nothing()
    )


# What a first copy's row holds from its claim until it is posted: no channel yet, nothing shown.
UNPOSTED = {"number": 1, "channel": "", "shown_revision": 0, "replied_entry_id": 0, "stale": False}


@functools.cache
def _claim_statement(postgresql: bool) -> Insert:
    """The claim of first copies, built once, from the keys as unnest() rows (sqlite_unnest() on
    SQLite). A row already there is taken only while it is unsent and no live lease holds it, so a
    lapsed lease can be taken over.
    """
    claim = {
        "claimed_by": bindparam("holder", type_=String()),
        "lease_until": bindparam("lease_until", type_=DateTime(timezone=True)),
    }
    keys = unnest(KEY_COLUMNS) if postgresql else sqlite_unnest(KEY_COLUMNS)
    # SQLite takes ON CONFLICT after a SELECT only with a WHERE clause (else it reads it as a join's).
    rows = select(*keys.c, *claim.values(), *(literal(value) for value in UNPOSTED.values())).where(true())
    insert: Any = (postgresql_insert if postgresql else sqlite_insert)(AlertMessage).from_select(
        [*keys.c.keys(), *claim, *UNPOSTED], rows
    )
    message = AlertMessage
    return cast(
        Insert,
        insert.on_conflict_do_update(
            index_elements=[message.account_id, message.episode, message.address, message.number],
            set_={"claimed_by": insert.excluded.claimed_by, "lease_until": insert.excluded.lease_until},
            where=and_(
                message.sent_at.is_(None),
                or_(
                    message.lease_until.is_(None),
                    message.lease_until <= bindparam("now", type_=DateTime(timezone=True)),
                ),
            ),
        ).returning(message.account_id, message.episode, message.address),
    )


def _claim(
    session: Session, holder: str, now: datetime, lease_until: datetime, alerts: list[DueAlert]
) -> list[DueAlert]:
    if not alerts:
        return []
    if missing := sorted({alert.account_id for alert in alerts if alert.seen_entry_id is None}):
        ensure_alerts(session, missing)  # a first copy's row references its alert
    claim = {"holder": holder, "lease_until": lease_until, "now": now}
    statement = _claim_statement(is_postgresql(session))
    keys = [_key_row(alert) for alert in alerts]
    given = {**unnest_parameters(KEY_COLUMNS, keys), **claim}
    mine = {tuple(row) for row in session.connection().execute(statement, given)}
    return [alert for alert in alerts if (alert.account_id, alert.episode, alert.recipient.address) in mine]


def release(session: Session, holder: str, alerts: Sequence[DueAlert]) -> None:
    """Give back `holder`'s unsent claims on these alerts, so any pass may send them at once."""
    if not alerts:
        return
    if is_postgresql(session):
        rows = unsent_first_copies(unnest(KEY_COLUMNS, [_key_row(alert) for alert in alerts]), holder)
        session.execute(
            update(AlertMessage)
            .where(*unsent_still(rows))
            .values(claimed_by=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        return
    execute_many(
        session.connection(),
        _releasing(),
        KEY_NAMES,
        [_key_row(alert) for alert in alerts],
        {"holder": holder},
    )


@functools.cache
def _releasing() -> Update:
    """SQLite: the release of one first copy by its key (KEY_NAMES), built once and run for each."""
    return (
        update(AlertMessage)
        .where(
            *(getattr(AlertMessage, name) == bindparam(name) for name in KEY_NAMES),
            AlertMessage.number == 1,
            AlertMessage.claimed_by == bindparam("holder"),
            AlertMessage.sent_at.is_(None),
        )
        .values(claimed_by=None, lease_until=None)
    )


def unsent_first_copies(given: Subquery, holder: str | None = None) -> Subquery:
    """PostgreSQL: `given` (unnest() rows with KEY_COLUMNS) with the id, `sent_at` (NULL) and claim
    of each one's unsent first copy (only those `holder` claims, if given); an update joins it
    with `unsent_still(rows)`.

    Each copy is looked up by its key, row by row (a LATERAL subquery the planner cannot fold into
    a join): joined plainly with `sent_at IS NULL`, a batch's update was planned from statistics
    that say almost every first copy is sent, as one row, and scanned the given rows once per
    unsent copy (35 ms a record instead of 2).
    """
    message = aliased(AlertMessage)
    found = select(message.id, message.sent_at, message.claimed_by).where(
        message.account_id == given.c.account_id,
        message.episode == given.c.episode,
        message.address == given.c.address,
        message.number == 1,
        message.sent_at.is_(None),
    )
    if holder is not None:
        found = found.where(message.claimed_by == holder)
    copies = found.limit(1).lateral()
    return (
        select(*given.c, copies.c.id, copies.c.sent_at, copies.c.claimed_by)
        .select_from(given.join(copies, true()))
        .subquery()
    )


def unsent_still(rows: Subquery) -> tuple[ColumnElement[bool], ...]:
    """The first copies of `rows` (from unsent_first_copies), while they are still unsent and
    claimed as they were.

    Written as a condition between the two, not on alert_messages alone: PostgreSQL checks it
    again on a row another pass changed meanwhile, and plans from the looked-up rows rather than
    from an estimate of how many first copies are unsent.
    """
    return (
        AlertMessage.id == rows.c.id,
        AlertMessage.sent_at.is_not_distinct_from(rows.c.sent_at),
        AlertMessage.claimed_by.is_not_distinct_from(rows.c.claimed_by),
    )


def try_marking_lock(session: Session) -> bool:
    """Whether this transaction may mark crossings; on PostgreSQL one replica at a time does.

    Two replicas upserting the same episode rows in different orders could deadlock; the loser
    of this transaction-scoped lock skips marking and just claims what is due.
    """
    if not is_postgresql(session):
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": MARKING_LOCK_KEY}))
