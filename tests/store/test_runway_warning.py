"""The forecast warning: an episode starts when the runway drops below N days, by the same rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from store import accounts, audit, reminders
from store.models import MAX_WARNING_DAYS, WARNED, EntryKind, ReminderEpisode
from tests.conftest import make_account
from tests.store.test_forecast import NOW, spend

NOT_A_NUMBER = "Enter a whole number of days, like 5 (not {!r})."
OUT_OF_RANGE = f"Enter a whole number of days from 1 to {MAX_WARNING_DAYS}."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5", 5),
        (" 14 ", 14),
        ("90", 90),
        ("007", 7),
        ("", None),
        ("   ", None),
        (None, None),
        ("0", OUT_OF_RANGE),
        ("-3", OUT_OF_RANGE),
        ("91", OUT_OF_RANGE),
        ("9" * 5000, OUT_OF_RANGE),  # never reaches int()
        ("five", NOT_A_NUMBER.format("five")),
        ("5 days", NOT_A_NUMBER.format("5 days")),
        ("2.5", NOT_A_NUMBER.format("2.5")),
        ("1,000", NOT_A_NUMBER.format("1,000")),
        ("+5", NOT_A_NUMBER.format("+5")),
        ("５", NOT_A_NUMBER.format("５")),
        ("٣", NOT_A_NUMBER.format("٣")),
        ("²", NOT_A_NUMBER.format("²")),
        ("\u202e5", NOT_A_NUMBER.format("\u202e5")),
        ("5\x00", NOT_A_NUMBER.format("5\x00")),
        ("x" * 40, NOT_A_NUMBER.format("x" * 19 + "…")),
    ],
)
def test_warning_days_are_ascii_whole_numbers_in_range_or_empty(raw, expected):
    if expected is None or isinstance(expected, int):
        assert reminders.parse_warning_days(raw) == expected
    else:
        with pytest.raises(reminders.InvalidWarning) as refused:
            reminders.parse_warning_days(raw)
        assert str(refused.value) == expected


def watch(session_factory, reference="EX0000001", *, credits=5000, level=500, days=5) -> int:
    """An account with its reminder on at `level` and a warning of `days` (None: none)."""
    make_account(session_factory, reference, f"Account {reference}", credits=credits)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, reference)
        reminders.configure(
            session, account, True, level, [reminders.Recipient("U0ALICE01", "U0ALICE01")], "t"
        )
        reminders.set_warning(session, account, days, "test")
        return account.id


def steady(session_factory, reference="EX0000001", per_day=410, days=7) -> None:
    for day in range(days):
        spend(session_factory, reference, per_day, timedelta(days=day + 1))


def mark(session_factory, now=NOW, cooldown=timedelta(0)) -> tuple[int, int]:
    with session_factory.begin() as session:
        return reminders.mark_crossings(session, now, cooldown)


def episode(session_factory, account_id: int) -> tuple[int, bool] | None:
    with session_factory.begin() as session:
        row = session.get(ReminderEpisode, account_id)
        return None if row is None else (row.number, row.low)


def test_a_runway_below_the_warning_starts_an_episode_while_the_balance_is_above_the_level(session_factory):
    # 4,100 - 2,870 = 1,230 left at 410 a day: 3 days, under the 5-day warning; above the level of 500.
    account_id = watch(session_factory, credits=4100)
    steady(session_factory)
    assert mark(session_factory) == (1, 0)
    assert episode(session_factory, account_id) == (1, True)
    assert mark(session_factory) == (0, 0)  # still short: the same episode


def test_a_runway_at_or_above_the_warning_starts_nothing(session_factory):
    # 4,920 left at 410 a day is 12 days.
    account_id = watch(session_factory, credits=7790)
    steady(session_factory)
    assert mark(session_factory) == (0, 0)
    assert episode(session_factory, account_id) is None


@pytest.mark.parametrize(
    "history",
    [
        [],  # no usage at all
        [(900, timedelta(hours=20))],  # less than a day of history
        [(900, timedelta(days=9))],  # usage older than the window
    ],
)
def test_without_a_forecast_the_warning_does_not_fire(session_factory, history):
    account_id = watch(session_factory, credits=1500)
    for credits, ago in history:
        spend(session_factory, "EX0000001", credits, ago)
    # Purchases, moves and adjustments are not burn.
    spend(session_factory, "EX0000001", 400, timedelta(days=2), kind=EntryKind.ADJUSTMENT)
    assert mark(session_factory) == (0, 0)
    assert episode(session_factory, account_id) in (None, (0, False))


def test_credits_that_restore_the_runway_end_the_episode(session_factory):
    account_id = watch(session_factory, credits=4100)
    steady(session_factory)
    mark(session_factory)
    spend(session_factory, "EX0000001", 800, timedelta(0), kind=EntryKind.PURCHASE)  # 2,030: 4.95 days
    assert mark(session_factory) == (0, 0)
    spend(session_factory, "EX0000001", 20, timedelta(0), kind=EntryKind.PURCHASE)  # 2,050: 5 days
    assert mark(session_factory) == (0, 1)
    assert episode(session_factory, account_id) == (1, False)


def test_clearing_the_warning_or_the_reminder_ends_a_forecast_episode(session_factory):
    account_id = watch(session_factory, credits=4100)
    steady(session_factory)
    mark(session_factory)
    with session_factory.begin() as session:
        reminders.set_warning(session, accounts.by_reference(session, "EX0000001"), None, "test")
    assert mark(session_factory) == (0, 1)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        reminders.set_warning(session, account, 5, "test")
    assert mark(session_factory) == (1, 0)
    assert episode(session_factory, account_id) == (2, True)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        reminders.configure(session, account, False, 500, [], "test")
    assert mark(session_factory) == (0, 1)


def test_a_forecast_episode_follows_the_cooldown(session_factory):
    account_id = watch(session_factory, credits=4100)
    steady(session_factory)
    mark(session_factory)
    spend(session_factory, "EX0000001", 1000, timedelta(0), kind=EntryKind.PURCHASE)
    mark(session_factory, NOW + timedelta(hours=1), timedelta(days=1))
    spend(session_factory, "EX0000001", 1000, timedelta(0))
    # Dipping again within the cooldown reopens the same episode.
    assert mark(session_factory, NOW + timedelta(hours=2), timedelta(days=1)) == (1, 0)
    assert episode(session_factory, account_id) == (1, True)


def test_a_balance_below_the_level_is_due_whatever_the_warning(session_factory):
    account_id = watch(session_factory, credits=400, days=None)
    assert mark(session_factory) == (1, 0)
    assert episode(session_factory, account_id) == (1, True)


def test_the_warning_is_audited_and_reads_as_a_setting(session_factory):
    account_id = watch(session_factory, days=None)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        assert reminders.set_warning(session, account, 5, "U0BILLING") is True
        assert reminders.set_warning(session, account, 5, "U0BILLING") is False
        assert reminders.set_warning(session, account, 1, "cli") is True
        assert reminders.set_warning(session, account, None, "cli") is True
    with session_factory.begin() as session:
        log = [
            (e.actor, e.old_value, e.new_value)
            for e in audit.entries_for(session, account_id)
            if e.action == "forecast_warning"
        ]
    assert log == [
        ("U0BILLING", "off", "on, fewer than 5 days of credits left"),
        ("cli", "on, fewer than 5 days of credits left", "on, fewer than 1 day of credits left"),
        ("cli", "on, fewer than 1 day of credits left", "off"),
    ]


def test_the_database_refuses_a_warning_out_of_range(session_factory):
    account_id = watch(session_factory, days=None)
    with pytest.raises(IntegrityError, match="runway_warning_days"), session_factory.begin() as session:
        session.execute(text(f"UPDATE accounts SET runway_warning_days = 91 WHERE id = {account_id}"))


def test_the_warned_accounts_are_read_from_their_own_index(database_url, engine):
    """Accounts without a warning cost the pass nothing: the query reads only the partial index."""
    query = f"SELECT id FROM accounts WHERE {WARNED}"
    with engine.connect() as connection:
        if database_url.startswith("sqlite"):
            plan = " ".join(str(row) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {query}")))
        else:
            connection.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(str(row) for row in connection.execute(text(f"EXPLAIN {query}")))
    assert "ix_accounts_runway_warning" in plan
