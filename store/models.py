"""Typed SQLAlchemy models: the schema every migration builds."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    case,
    func,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

NAME_MAX_LENGTH = 50  # the help article's limit for an account name
REFERENCE_MAX_LENGTH = 20
KEYWORD_MAX_LENGTH = 50
MAX_WARNING_DAYS = 90  # the longest runway a forecast warning may ask for; a week's usage is its basis


class Base(DeclarativeBase):
    """Declarative base for all tables."""


class EntryKind(enum.StrEnum):
    """Why a balance changed."""

    OPENING = "opening"
    PURCHASE = "purchase"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    USAGE = "usage"
    ADJUSTMENT = "adjustment"


class Role(enum.StrEnum):
    """What a Slack user may do; each role includes the ones before it."""

    VIEWER = "viewer"
    BILLING = "billing"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_ROLE_RANKS = {role: rank for rank, role in enumerate(Role)}  # every account box asks, per button


class Account(Base):
    """A customer's SMS account and its current credit balance."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("reminder_level >= 0", name="reminder_level_not_negative"),
        CheckConstraint(
            f"runway_warning_days BETWEEN 1 AND {MAX_WARNING_DAYS}", name="runway_warning_days_in_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(REFERENCE_MAX_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    keyword: Mapped[str | None] = mapped_column(String(KEYWORD_MAX_LENGTH))
    active: Mapped[bool] = mapped_column(default=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reminder_enabled: Mapped[bool] = mapped_column(default=False)
    reminder_level: Mapped[int] = mapped_column(BigInteger, default=0)
    # How many recipients the reminder has, kept by store.reminders.configure, so the Home tab
    # finds reminders nobody would receive from an index instead of probing every account.
    recipient_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The forecast warning: alert when fewer than this many days of credits are left (None: off).
    runway_warning_days: Mapped[int | None] = mapped_column(Integer)

    recipients: Mapped[list[ReminderRecipient]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="ReminderRecipient.id"
    )


# The reminder pass reads only accounts below their level, so its cost grows with the number of
# low accounts, not with the table: `balance - reminder_level < 0` is a range scan of this index.
Index(
    "ix_accounts_reminder_shortfall",
    Account.balance - Account.reminder_level,
    sqlite_where=Account.reminder_enabled,
    postgresql_where=Account.reminder_enabled,
)
# The forecast warning's part of the pass reads only accounts that have one (store.reminders).
WARNED = "accounts.reminder_enabled AND accounts.runway_warning_days IS NOT NULL"
Index("ix_accounts_runway_warning", Account.id, sqlite_where=text(WARNED), postgresql_where=text(WARNED))
# A suggested move's source is the first entry of this index; see store.suggestions.
Index(
    "ix_accounts_spare_credits",
    case((Account.reminder_enabled, Account.balance - Account.reminder_level), else_=Account.balance),
    Account.id,
    sqlite_where=Account.active,
    postgresql_where=Account.active,
)


class by_code_point(FunctionElement[str]):
    """A text compared by code point, as Python and SQLite compare it, whatever PostgreSQL's collation.

    Search merges and pages its lists in Python: a linguistic order ("acme z" after "acmé") listed
    them out of order, and each kind of search in its own (migration 0027)."""

    type = String()
    inherit_cache = True


@compiles(by_code_point)
def _by_bytes(element: by_code_point, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)  # SQLite's BINARY: UTF-8 bytes, code-point order


@compiles(by_code_point, "postgresql")
def _by_code_point_postgresql(element: by_code_point, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


# Search results are listed in this order; see store.search.
LIST_ORDER = by_code_point(func.lower(Account.name))
# On SQLite it also holds active, name, reference and keyword (migration 0031), on PostgreSQL name,
# reference, keyword, active and balance (0038, 0040): a word search reads its accounts from it, and
# a walk of the names tests them there.
Index("ix_accounts_name_order", LIST_ORDER, Account.id)
# search_words' and search_pairs' sort_name (lower(name)): that order's values, compared so too.
CODE_POINT_TEXT = String().with_variant(String(collation="C"), "postgresql")
# The words of each account's name and keyword, and the vocabulary with every word's proper
# suffixes: kept by triggers (migration 0012), read by store.search.
search_words = Table(
    "search_words",
    Base.metadata,
    Column("word", String, primary_key=True),
    Column("sort_name", CODE_POINT_TEXT, primary_key=True),
    Column("account_id", Integer, primary_key=True),
)
search_fragments = Table(
    "search_fragments",
    Base.metadata,
    Column("kind", String(1), primary_key=True),  # w: a word, s: a proper suffix, r: in a reference
    Column("fragment", String, primary_key=True),
)
# PostgreSQL (migration 0041): the vocabulary holds the reference trigrams of every account up to
# this id; store.search.fold_reference_grams adds those bulk writers left out.
search_reference_coverage = Table(
    "search_reference_coverage", Base.metadata, Column("upto", Integer, nullable=False)
)
# Each pair of adjacent words of a name, and of a keyword, as "first second" (migration 0017):
# the accounts where `alerts` is followed by 7 are one pair's entries, in list order.
search_pairs = Table(
    "search_pairs",
    Base.metadata,
    Column("pair", String, primary_key=True),
    Column("sort_name", CODE_POINT_TEXT, primary_key=True),
    Column("account_id", Integer, primary_key=True),
)
# Rows that add up to the Home summary's numbers (but reminders without recipients): kept by
# triggers (migration 0019), read by store.overview.summary. Row 0 is the base; on PostgreSQL the
# others are differences waiting for store.overview.fold_totals.
account_totals = Table(
    "account_totals",
    Base.metadata,
    Column("id", BigInteger, primary_key=True),
    Column("accounts", BigInteger, nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("inactive", BigInteger, nullable=False),
    Column("below_level", BigInteger, nullable=False),
)
# The Home tab's summary and needs-attention list (store.overview) read only these indexes.
# The predicates are SQL text, written exactly as store.overview's queries write them, so that
# both planners see the query implies the index's WHERE clause.
UNADDRESSED = "accounts.active AND accounts.reminder_enabled AND accounts.recipient_count = 0"
UNHEARD = "accounts.active AND (NOT accounts.reminder_enabled OR accounts.recipient_count = 0)"
Index("ix_accounts_active_balance", Account.active, Account.balance)
Index(
    "ix_accounts_reminder_unaddressed",
    Account.id,
    sqlite_where=text(UNADDRESSED),
    postgresql_where=text(UNADDRESSED),
)
Index(
    "ix_accounts_unheard_name_order",
    LIST_ORDER,
    Account.id,
    sqlite_where=text(UNHEARD),
    postgresql_where=text(UNHEARD),
)


class ReminderEpisode(Base):
    """An account's low-credit episodes: how many began, and whether one is under way.

    Kept off `accounts` so that the reminder pass never writes (or locks) the rows that money
    moves lock, and never pays for the accounts table's search indexes on every update.
    """

    __tablename__ = "reminder_episodes"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer)  # the current (or last) episode, from 1; 0 before the first
    low: Mapped[bool]
    recovered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # for the cooldown
    # Set by the pass while the forecast warning applies: the balance that would last the warning's
    # days at the recent rate. Comparing the live balance with it sees credits that came in since.
    runway_floor: Mapped[int | None] = mapped_column(BigInteger)


# The accounts in an episode: what a pass checks for recovery, however many accounts there are.
Index(
    "ix_reminder_episodes_low",
    ReminderEpisode.account_id,
    sqlite_where=ReminderEpisode.low,
    postgresql_where=ReminderEpisode.low,
)
# The accounts whose runway is below their forecast warning, as of the last pass.
SHORT_RUNWAY = "reminder_episodes.runway_floor IS NOT NULL"
Index(
    "ix_reminder_episodes_runway_floor",
    ReminderEpisode.account_id,
    sqlite_where=text(SHORT_RUNWAY),
    postgresql_where=text(SHORT_RUNWAY),
)


class LedgerEntry(Base):
    """One append-only change to one account's balance."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    credits: Mapped[int] = mapped_column(BigInteger)  # signed: negative takes credits away
    balance_after: Mapped[int] = mapped_column(BigInteger)
    transfer_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # Set on the first entry of an operation so a retried request finds it and applies nothing.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    actor: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# Forecasts read an account's usage in a time window, never its purchases or moves.
Index(
    "ix_ledger_entries_usage",
    LedgerEntry.account_id,
    LedgerEntry.created_at,
    sqlite_where=text(f"kind = '{EntryKind.USAGE.value}'"),
    postgresql_where=text(f"kind = '{EntryKind.USAGE.value}'"),
)

# An alert's thread replies: purchases and moves into one account after a given entry.
Index(
    "ix_ledger_entries_credits_in",
    LedgerEntry.account_id,
    LedgerEntry.id,
    sqlite_where=text("kind IN ('purchase', 'transfer_in')"),
    postgresql_where=text("kind IN ('purchase', 'transfer_in')"),
)


class Invoice(Base):
    """A bill for purchased credits; the customer pays it outside the bot."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    issued_on: Mapped[date] = mapped_column(Date, index=True)
    credits: Mapped[int] = mapped_column(BigInteger)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    net: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    vat: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    created_by: Mapped[str] = mapped_column(String(40))

    account: Mapped[Account] = relationship()


class AutoTopUp(Base):
    """An account's auto top-up rule: below its reminder level, buy `credits`, within a monthly limit."""

    __tablename__ = "auto_top_ups"
    __table_args__ = (
        CheckConstraint("credits > 0", name="auto_top_up_credits_positive"),
        CheckConstraint("monthly_limit > 0", name="auto_top_up_limit_positive"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    credits: Mapped[int] = mapped_column(Integer)
    monthly_limit: Mapped[int] = mapped_column(Integer)
    limit_unit: Mapped[str] = mapped_column(String(10))  # a LimitUnit: credits or purchases
    set_by: Mapped[str] = mapped_column(String(20))  # the Slack user the purchases are made for
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AutoTopUpAttempt(Base):
    """What auto top-up did for one low-credit episode: bought (with its invoice) or why not.

    Its primary key makes the decision once-only per episode, whichever replica gets there first.
    """

    __tablename__ = "auto_top_up_attempts"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    episode: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    credits: Mapped[int] = mapped_column(Integer)  # bought, or that would have been bought
    skipped: Mapped[str | None] = mapped_column(String(200))  # why nothing was bought

    invoice: Mapped[Invoice | None] = relationship()


class Alert(Base):
    """What every copy of one episode's alert shows; `revision` counts its changes.

    On PostgreSQL its foreign key references its account's reminder_episodes row, and a message's
    references its alert (migration 0022): a key on `accounts` locked the account's row for every
    row written. Those keys, and the episode's on `accounts`, are checked there by a trigger once
    per statement instead of a locking query per row (migration 0037). SQLite keeps the keys on
    `accounts` declared here.
    """

    __tablename__ = "alerts"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    episode: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    # The newest purchase or move into the account the alert has taken in (a ledger entry id).
    seen_entry_id: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[bool]
    handler: Mapped[str | None] = mapped_column(String(20))  # who said "I'm on it"
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How it ended, as it was then (a copy drawn later says what was true): the balance, the
    # level, and why ("resolved", "off": the reminder switched off, "inactive": deactivated).
    ended_balance: Mapped[int | None] = mapped_column(BigInteger)
    ended_level: Mapped[int | None] = mapped_column(BigInteger)
    ended_why: Mapped[str | None] = mapped_column(String(10))


# The alerts still open: what a pass checks for news, however many alerts there have been.
Index(
    "ix_alerts_open",
    Alert.account_id,
    sqlite_where=text("NOT resolved"),
    postgresql_where=text("NOT resolved"),
)


class AlertMessage(Base):
    """One posted copy of an alert: where it is, and what it shows so far.

    Written with `ts` empty before chat.postMessage, so a pass that lost Slack's answer looks for
    the message instead of posting it again.

    A recipient's first copy (`number` 1) is also the record that they were told, once per episode
    (migration 0033; it was a row of its own): a pass claims it with a lease before posting, and
    `sent_at` is set when Slack accepted it. Until then it is a claim that lapses at `lease_until`.
    """

    __tablename__ = "alert_messages"
    __table_args__ = (UniqueConstraint("account_id", "episode", "address", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    episode: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(254))  # the recipient, as in reminder_recipients
    number: Mapped[int] = mapped_column(Integer)  # 1, then 2 for the reminder after a snooze
    channel: Mapped[str] = mapped_column(String(20))  # empty while a first copy is only claimed
    ts: Mapped[str | None] = mapped_column(String(32))
    shown_revision: Mapped[int] = mapped_column(Integer)
    replied_entry_id: Mapped[int] = mapped_column(Integer)  # the last ledger entry replied in its thread
    stale: Mapped[bool]  # behind its alert's revision or owed thread replies
    # A post that may have reached Slack without its answer reaching us: looked for before a retry.
    pending_post: Mapped[str | None] = mapped_column(String(40))
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    snoozed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How often it was snoozed: a redraw drawn before the last snooze is behind (store.alerts).
    snoozes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_link: Mapped[str | None] = mapped_column(String(300))  # a reminder's link to the first copy
    # The error (e.g. not_in_channel) whoever added a channel was told about, so they are told once.
    problem_reported: Mapped[str | None] = mapped_column(String(40))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # a first copy Slack accepted
    slack_user_id: Mapped[str | None] = mapped_column(String(20))  # whom a sent first copy reached


Index("ix_alert_messages_stale", AlertMessage.id, sqlite_where=text("stale"), postgresql_where=text("stale"))


class ReminderRecipient(Base):
    """Who is alerted when an account runs low: an email address, a Slack user or a Slack channel."""

    __tablename__ = "reminder_recipients"
    __table_args__ = (UniqueConstraint("account_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # An email address, or a Slack user or channel id for people and channels chosen in a picker.
    address: Mapped[str] = mapped_column(String(254))
    slack_user_id: Mapped[str | None] = mapped_column(String(20))
    added_by: Mapped[str | None] = mapped_column(String(40))  # the actor who added it; told of problems

    account: Mapped[Account] = relationship(back_populates="recipients")


class RoleGrant(Base):
    """The role a Slack user holds."""

    __tablename__ = "roles"

    slack_user_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    role: Mapped[str] = mapped_column(String(10))
    granted_by: Mapped[str] = mapped_column(String(40))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Who changed what, from which value to which."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    subject: Mapped[str] = mapped_column(String(100))
    old_value: Mapped[str | None] = mapped_column(String(2000))
    new_value: Mapped[str | None] = mapped_column(String(2000))


class UsageRecord(Base):
    """One usage item applied from the API or an import; its unique key makes it once-only."""

    __tablename__ = "usage_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    credits: Mapped[int] = mapped_column(Integer)  # credits used: positive
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ledger_entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)

    account: Mapped[Account] = relationship()
    entry: Mapped[LedgerEntry] = relationship()


class CopyRequest(Base):
    """One invoice download form whose copies were sent: a replay of the form sends nothing again."""

    __tablename__ = "copy_requests"

    view_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StatementRun(Base):
    """One scheduled statement slot, claimed by one replica; its state says what became of it."""

    __tablename__ = "statement_runs"

    slot: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    # claimed → sending → posted; a refused upload is "failed" (retried), a lost answer "unknown".
    state: Mapped[str] = mapped_column(String(16))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    detail: Mapped[str | None] = mapped_column(String(500))
