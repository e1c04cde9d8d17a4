"""The suggested fix: the account with the most spare credits, and how much to move or buy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store import accounts, reminders, suggestions
from store.forecast import Forecast
from tests.conftest import make_account

NO_USAGE = Forecast(0, 0, timedelta(0))


def remind(session_factory, reference: str, level: int) -> None:
    with session_factory.begin() as session:
        account = accounts.by_reference(session, reference)
        reminders.configure(
            session, account, True, level, [reminders.Recipient("U012AB3CD", "U012AB3CD")], "t"
        )


def suggest(session_factory, reference: str, forecast: Forecast = NO_USAGE) -> suggestions.Suggestion:
    with session_factory.begin() as session:
        account = accounts.by_reference(session, reference)
        return suggestions.suggest(session, account.id, account.balance, account.reminder_level, forecast)


def test_source_is_the_account_with_most_credits_above_its_own_level(session_factory):
    make_account(session_factory, "EX0000001", "Low Co", credits=40)
    make_account(session_factory, "EX0000002", "Rich But Guarded", credits=9000)  # 1,000 spare
    make_account(session_factory, "EX0000003", "Mid Co", credits=3000)  # no reminder: all spare
    make_account(session_factory, "EX0000004", "Inactive Co", credits=50_000, active=False)
    remind(session_factory, "EX0000001", 500)
    remind(session_factory, "EX0000002", 8000)

    suggestion = suggest(session_factory, "EX0000001", Forecast(40, 700, timedelta(days=7)))

    assert suggestion.source is not None
    assert (suggestion.source.reference, suggestion.source.spare) == ("EX0000003", 3000)
    # 460 back to the level plus a week at 100 a day.
    assert suggestion.credits == 460 + 700
    assert suggestion.move_credits == 1160


def test_the_low_account_itself_is_never_its_own_source(session_factory):
    make_account(session_factory, "EX0000001", "Big Low Co", credits=90_000)
    make_account(session_factory, "EX0000002", "Small Co", credits=200)
    remind(session_factory, "EX0000001", 100_000)

    suggestion = suggest(session_factory, "EX0000001")

    assert suggestion.source is not None and suggestion.source.reference == "EX0000002"
    assert suggestion.credits == 10_000
    assert suggestion.move_credits == 200  # all it can spare


def test_no_source_when_nothing_is_spare(session_factory):
    make_account(session_factory, "EX0000001", "Low Co", credits=10)
    make_account(session_factory, "EX0000002", "Also Low", credits=100)
    remind(session_factory, "EX0000001", 500)
    remind(session_factory, "EX0000002", 300)

    suggestion = suggest(session_factory, "EX0000001")

    assert suggestion.source is None and suggestion.credits == 490


WEEK_AT_410 = Forecast(1230, 2870, timedelta(days=7))  # 1,230 left at 410 a day: 3 days


@pytest.mark.parametrize(
    ("balance", "level", "warning_days", "expected"),
    [
        (1230, 500, None, 2870),  # above the level, no warning: a week of usage
        (1230, 500, 5, 2050 - 1230 + 2870),  # back to 5 days (2,050), then a week
        (1230, 3000, 5, 3000 - 1230 + 2870),  # the level asks for more than the warning
        (4000, 500, 5, 2870),  # the warning is covered already
    ],
)
def test_the_amount_restores_the_level_and_the_warnings_days_then_adds_a_week(
    balance, level, warning_days, expected
):
    outlook = Forecast(balance, 2870, timedelta(days=7))
    credits = suggestions.needed(balance, level, outlook, warning_days)
    assert credits == expected
    after = Forecast(balance + credits, 2870, timedelta(days=7))
    assert not after.short_of(warning_days) and balance + credits >= level


def test_without_a_forecast_the_warning_adds_nothing():
    assert suggestions.needed(1230, 500, NO_USAGE, 5) == 1
    assert WEEK_AT_410.runway_floor(None) is None and NO_USAGE.runway_floor(5) is None
