"""Runway forecasts: only usage burns credits, too little history says so, on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store import accounts, forecast, ledger
from store.models import EntryKind
from tests.conftest import make_account

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def spend(session_factory, reference: str, credits: int, ago: timedelta, kind=EntryKind.USAGE) -> None:
    """A ledger entry of `kind` for `credits` (negative takes away), dated `ago` before NOW."""
    with session_factory.begin() as session:
        account_id = accounts.by_reference(session, reference).id
        account = ledger.lock(session, account_id)[account_id]
        entry = ledger.post(session, account, kind, -credits if kind is EntryKind.USAGE else credits, "test")
        entry.created_at = NOW - ago


def forecast_text(session_factory, reference: str = "EX0000001") -> str:
    with session_factory.begin() as session:
        account_id = accounts.by_reference(session, reference).id
        return forecast.for_account(session, account_id, NOW).text()


@pytest.mark.parametrize(
    ("balance", "used", "history", "expected"),
    [
        (5000, 0, timedelta(days=7), "No recent usage."),
        (5000, 300, timedelta(hours=20), "Less than a day of usage so far: too early to forecast."),
        (2870, 2870, timedelta(days=7), "About 7 days left at the last 7 days' usage (≈ 410 credits a day)."),
        (2460, 2870, timedelta(days=7), "About 6 days left at the last 7 days' usage (≈ 410 credits a day)."),
        (
            100,
            820,
            timedelta(days=2),
            "Less than a day left at the last 2 days' usage (≈ 410 credits a day).",
        ),
        (500, 1, timedelta(days=1), "More than a year left at the last day's usage (≈ 1 credit a day)."),
        (1, 1, timedelta(days=1), "About 1 day left at the last day's usage (≈ 1 credit a day)."),
    ],
)
def test_forecast_reads_as_a_runway(balance, used, history, expected):
    assert forecast.Forecast(balance, used, history).text() == expected


def test_no_history_says_no_recent_usage(session_factory):
    make_account(session_factory, credits=5000)
    assert forecast_text(session_factory) == "No recent usage."


def test_usage_older_than_the_window_is_not_recent(session_factory):
    make_account(session_factory, credits=5000)
    spend(session_factory, "EX0000001", 700, timedelta(days=8))
    assert forecast_text(session_factory) == "No recent usage."


def test_short_history_says_so_instead_of_guessing(session_factory):
    make_account(session_factory, credits=5000)
    spend(session_factory, "EX0000001", 400, timedelta(hours=5))
    assert forecast_text(session_factory) == "Less than a day of usage so far: too early to forecast."


def test_steady_burn_forecasts_from_usage_only(session_factory):
    make_account(session_factory, credits=10_000)
    for day in range(7):  # 410 a day for a week: 2,870 used, 7,130 left
        spend(session_factory, "EX0000001", 410, timedelta(days=day + 1))
    # Purchases, moves and adjustments change the balance but are not burn.
    spend(session_factory, "EX0000001", 500, timedelta(days=1), kind=EntryKind.PURCHASE)
    spend(session_factory, "EX0000001", -4000, timedelta(days=2), kind=EntryKind.ADJUSTMENT)
    # 3,630 left at 410 a day is 8.85 days: rounded down.
    assert (
        forecast_text(session_factory) == "About 8 days left at the last 7 days' usage (≈ 410 credits a day)."
    )


def test_usage_that_began_three_days_ago_is_averaged_over_three_days(session_factory):
    make_account(session_factory, credits=3000)
    spend(session_factory, "EX0000001", 900, timedelta(days=3))
    spend(session_factory, "EX0000001", 300, timedelta(hours=1))
    # 1,200 over 3 days is 400 a day; 1,800 left.
    assert (
        forecast_text(session_factory) == "About 4 days left at the last 3 days' usage (≈ 400 credits a day)."
    )


def test_many_accounts_in_one_query(session_factory):
    make_account(session_factory, "EX0000001", credits=1000)
    make_account(session_factory, "EX0000002", "Other Co", credits=1000)
    spend(session_factory, "EX0000002", 700, timedelta(days=7))
    with session_factory.begin() as session:
        ids = [accounts.by_reference(session, r).id for r in ("EX0000001", "EX0000002")]
        found = forecast.for_accounts(session, ids, NOW)
    assert [found[i].used for i in ids] == [0, 700]
    assert found[ids[1]].days_left == pytest.approx(3.0)
