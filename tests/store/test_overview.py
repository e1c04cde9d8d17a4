"""The Home tab's numbers: totals over active accounts, and who needs attention, in order."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

from slack_sdk import WebClient
from sqlalchemy import func, select, update

from bot.config import Config
from bot.scheduler import FOLD_TOTALS_JOB, fold_account_totals, start_scheduler
from store import accounts, db, importing, invoices, ledger, overview, reminders
from store.db import SessionFactory
from store.models import account_totals
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


# ----------------------------------------------------------------------------- running totals

PRICES = invoices.Pricing(Decimal("0.05"), Decimal("0.20"), "GBP")


def totals(session_factory: SessionFactory) -> tuple[int, int, int]:
    """What the Home summary says, after checking it against every account."""
    with session_factory.begin() as session:
        shown = overview.summary(session)
        assert shown == overview.counted_totals(session, shown)
        assert ledger.balance_problems(session) == []
        return shown.accounts, shown.credits, shown.inactive


def test_the_summary_totals_follow_every_change_to_accounts(session_factory: SessionFactory) -> None:
    acme = make_account(session_factory, "EX1", "Acme", credits=500)
    bolt = make_account(session_factory, "EX2", "Bolt", credits=300)
    make_account(session_factory, "EX3", "Closed", credits=70, active=False)
    assert totals(session_factory) == (2, 800, 1)
    with session_factory.begin() as session:
        invoices.purchase(session, acme.id, 1_000, PRICES, "U012AB3CD", "buy-1", date(2026, 11, 29))
    assert totals(session_factory) == (2, 1_800, 1)
    with session_factory.begin() as session:
        ledger.transfer(session, acme.id, bolt.id, 250, "U012AB3CD", "move-1")
        ledger.record_usage(session, "EX2", 50, "api")
    assert totals(session_factory) == (2, 1_750, 1)
    with session_factory.begin() as session:
        accounts.rename(session, accounts.by_reference(session, "EX1"), "Acme Renamed", "U012AB3CD")
        accounts.set_active(session, accounts.by_reference(session, "EX2"), False, "U012AB3CD")
    assert totals(session_factory) == (1, 1_250, 2)
    with session_factory.begin() as session:
        accounts.set_active(session, accounts.by_reference(session, "EX3"), True, "U012AB3CD")
        csv = ["reference,name,keyword,credits\n", "EX4,New Co,,40\n", "EX1,Acme Again,,900\n"]
        importing.load(session, csv, "cli", update_existing=True)
    assert totals(session_factory) == (3, 1_010, 1)
    remind(session_factory, "EX4", 100, "U0ALICE01")  # 40 credits: below its level
    with session_factory.begin() as session:
        overview.fold_totals(session)
        assert overview.summary(session).below_level == 1
    assert totals(session_factory) == (3, 1_010, 1)


def test_folding_leaves_one_row_and_loses_nothing_while_money_moves(
    database_url: str, session_factory: SessionFactory
) -> None:
    ids = [make_account(session_factory, f"EX{n}", f"Account {n}", credits=1_000).id for n in range(1, 9)]
    done = threading.Event()

    def buy_and_move(worker: int) -> None:
        for step in range(25):
            with session_factory.begin() as session:
                key = f"{worker}-{step}"
                invoices.purchase(session, ids[worker], 7, PRICES, "U012AB3CD", f"buy-{key}", date.today())
                ledger.transfer(session, ids[worker], ids[(worker + 1) % 8], 3, "U012AB3CD", f"move-{key}")

    def fold_until_done() -> None:
        while not done.is_set():
            with session_factory.begin() as session:
                overview.fold_totals(session)

    with ThreadPoolExecutor(max_workers=5) as pool:
        folding = [pool.submit(fold_until_done), pool.submit(fold_until_done)]
        writers = [pool.submit(buy_and_move, worker) for worker in range(3)]
        for writer in writers:
            writer.result()
        done.set()
        for folder in folding:
            folder.result()
    assert totals(session_factory) == (8, 8_000 + 3 * 25 * 7, 0)
    with session_factory.begin() as session:
        overview.fold_totals(session)
        assert session.scalar(select(func.count()).select_from(account_totals)) == 1
    assert totals(session_factory) == (8, 8_525, 0)


def test_ledger_check_names_totals_that_went_wrong(session_factory: SessionFactory) -> None:
    make_account(session_factory, "EX1", "Acme", credits=500)
    with session_factory.begin() as session:
        overview.fold_totals(session)
        session.execute(update(account_totals).where(account_totals.c.id == 0).values(credits=9))
        assert ledger.balance_problems(session) == [
            "Home totals: the summary says 1 active accounts holding 9 credits, 0 below their level, "
            "0 inactive, but the accounts say 1 active accounts holding 500 credits, 0 below their level, "
            "0 inactive"
        ]
        session.rollback()


def test_the_scheduled_fold_keeps_the_totals_to_one_row(session_factory: SessionFactory, caplog) -> None:
    scheduler = start_scheduler(Config(), session_factory, WebClient(token="xoxb-test"))
    try:
        assert scheduler.get_job(FOLD_TOTALS_JOB).trigger.interval.total_seconds() == 30
    finally:
        scheduler.shutdown(wait=False)
    for n in range(1, 4):
        make_account(session_factory, f"EX{n}", f"Account {n}", credits=100 * n)
    fold_account_totals(session_factory)
    with session_factory.begin() as session:
        assert session.scalar(select(func.count()).select_from(account_totals)) == 1
    assert totals(session_factory) == (3, 600, 0)
    fold_account_totals(
        db.make_session_factory(db.make_engine("postgresql+psycopg://postgres@127.0.0.1:1/gone"))
    )
    assert "could not fold the account totals: OperationalError" in caplog.text
