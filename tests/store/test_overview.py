"""The Home tab's numbers: totals over active accounts, and who needs attention, in order."""

from __future__ import annotations

from store import accounts, overview, reminders
from store.db import SessionFactory
from tests.conftest import make_account


def remind(session_factory: SessionFactory, reference: str, level: int, *recipients: str) -> None:
    with session_factory.begin() as session:
        account = accounts.by_reference(session, reference)
        chosen = [reminders.Recipient(user, user) for user in recipients]
        reminders.configure(session, account, True, level, chosen, "U012AB3CD")


def test_summary_counts_only_active_accounts_and_their_credits(session_factory: SessionFactory) -> None:
    make_account(session_factory, "EX1", "Low Co", credits=50)
    make_account(session_factory, "EX2", "Unheard Co", credits=900)
    make_account(session_factory, "EX3", "Quiet Co", credits=1_000)
    make_account(session_factory, "EX4", "Closed Co", credits=7_000, active=False)
    remind(session_factory, "EX1", 100, "U0ALICE01")
    remind(session_factory, "EX2", 100)  # on, but nobody would be told
    remind(session_factory, "EX3", 100, "U0ALICE01")
    with session_factory.begin() as session:
        assert overview.summary(session) == overview.Summary(
            accounts=3, credits=1_950, below_level=1, unaddressed=1, inactive=1
        )


def test_needs_attention_lists_below_level_first_then_unheard_by_name(
    session_factory: SessionFactory,
) -> None:
    make_account(session_factory, "EX1", "Zed Low", credits=90)
    make_account(session_factory, "EX2", "Alpha Lower", credits=10)
    make_account(session_factory, "EX3", "Mid Fine", credits=500)
    make_account(session_factory, "EX4", "Beta Off", credits=5)
    make_account(session_factory, "EX5", "Cee Nobody", credits=500)
    make_account(session_factory, "EX6", "Aardvark Closed", active=False)
    remind(session_factory, "EX1", 100, "U0ALICE01")
    remind(session_factory, "EX2", 100, "U0ALICE01")
    remind(session_factory, "EX3", 100, "U0ALICE01")
    remind(session_factory, "EX5", 100)
    with session_factory.begin() as session:
        page = overview.needs_attention(session, limit=3)
        assert [a.reference for a in page.accounts] == ["EX2", "EX1", "EX4"]
        assert (page.total, page.has_next) == (4, True)
        second = overview.needs_attention(session, offset=3, limit=3)
        assert [a.reference for a in second.accounts] == ["EX5"]
        assert not second.has_next


def test_a_page_past_the_end_shows_the_last_page_there_is(session_factory: SessionFactory) -> None:
    make_account(session_factory, "EX1", "Only Co")
    with session_factory.begin() as session:
        page = overview.needs_attention(session, offset=20, limit=10)
        assert ([a.reference for a in page.accounts], page.offset) == (["EX1"], 0)


def test_a_reminder_losing_its_recipients_counts_as_unaddressed(session_factory: SessionFactory) -> None:
    make_account(session_factory, "EX1", "Acme", credits=500)
    remind(session_factory, "EX1", 100, "U0ALICE01")
    with session_factory.begin() as session:
        assert overview.summary(session).unaddressed == 0
    remind(session_factory, "EX1", 100)
    with session_factory.begin() as session:
        assert overview.summary(session).unaddressed == 1
        assert [a.reference for a in overview.needs_attention(session).accounts] == ["EX1"]


def test_inactive_lists_only_inactive_accounts_by_name(session_factory: SessionFactory) -> None:
    make_account(session_factory, "EX1", "Open Co", credits=50)
    make_account(session_factory, "EX2", "zed Closed", credits=70, active=False)
    make_account(session_factory, "EX3", "Alpha Closed", active=False)
    make_account(session_factory, "EX4", "beta Closed", active=False)
    with session_factory.begin() as session:
        first = overview.inactive(session, limit=2)
        assert [a.name for a in first.accounts] == ["Alpha Closed", "beta Closed"]
        assert (first.total, first.has_next) == (3, True)
        assert [a.name for a in overview.inactive(session, offset=2, limit=2).accounts] == ["zed Closed"]
        assert overview.inactive(session, offset=8, limit=2).offset == 2  # the list shrank since
