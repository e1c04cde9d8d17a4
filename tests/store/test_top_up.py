"""Auto top-up: buys once per crossing with an invoice, stops at its monthly limit, never twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from store import accounts, audit, db, invoices, ledger, reminders, top_up
from store.errors import StoreError
from store.models import EntryKind, Invoice, LedgerEntry
from tests.conftest import balance_of, make_account

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PRICING = invoices.Pricing(Decimal("0.045"), Decimal("0.20"), "GBP")
ALEX = "U012AB3CD"
FIVE_THOUSAND_UP_TO_FOUR = top_up.Rule(5000, 4, top_up.LimitUnit.PURCHASES)


def set_up(session_factory, rule=FIVE_THOUSAND_UP_TO_FOUR, *, credits=600, level=500) -> int:
    """Acme Marketing with a reminder at `level` and auto top-up set up by Alex."""
    account = make_account(session_factory, credits=credits)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        reminders.configure(session, account, True, level, [reminders.Recipient(ALEX, ALEX)], ALEX)
        top_up.configure(session, account, rule, ALEX, NOW)
        return account.id


def use(session_factory, credits: int) -> None:
    with session_factory.begin() as session:
        ledger.record_usage(session, "EX0000001", credits, "test")


def attempt(session_factory, account_id: int, episode: int, now: datetime = NOW):
    with session_factory.begin() as session:
        return top_up.attempt(session, account_id, episode, PRICING, now)


def auto_invoices(session_factory) -> list[tuple[str, int, str]]:
    with session_factory.begin() as session:
        rows = session.execute(
            select(Invoice.number, Invoice.credits, Invoice.created_by).order_by(Invoice.id)
        )
        return [tuple(row) for row in rows]


def test_a_crossing_buys_once_with_an_invoice_recorded_as_the_rule_and_its_owner(session_factory):
    account_id = set_up(session_factory)
    use(session_factory, 560)  # 40 left, below 500

    first = attempt(session_factory, account_id, 1)
    again = attempt(session_factory, account_id, 1)

    assert first is not None and first.bought
    assert first.text() == "Auto top-up bought 5,000 credits, INV-2026-000001; 1 of 4 purchases this month."
    assert again == first
    assert balance_of(session_factory, "EX0000001") == 5040
    assert auto_invoices(session_factory) == [("INV-2026-000001", 5000, "auto-top-up:U012AB3CD")]
    with session_factory.begin() as session:
        entry = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.PURCHASE)).one()
        assert entry.actor == "auto-top-up:U012AB3CD"


def test_each_new_crossing_buys_again_until_the_monthly_purchase_limit(session_factory):
    account_id = set_up(session_factory, top_up.Rule(500, 2, top_up.LimitUnit.PURCHASES))
    outcomes = []
    for episode in (1, 2, 3):
        use(session_factory, balance_of(session_factory, "EX0000001") - 10)
        outcomes.append(attempt(session_factory, account_id, episode))

    assert [o.text() for o in outcomes] == [
        "Auto top-up bought 500 credits, INV-2026-000001; 1 of 2 purchases this month.",
        "Auto top-up bought 500 credits, INV-2026-000002; 2 of 2 purchases this month.",
        "Auto top-up did not buy: its limit of 2 purchases a month is used up.",
    ]
    assert balance_of(session_factory, "EX0000001") == 10
    # A new month starts a new allowance.
    next_month = attempt(session_factory, account_id, 4, NOW + timedelta(days=7))
    assert next_month is not None
    assert (
        next_month.text() == "Auto top-up bought 500 credits, INV-2026-000003; 1 of 2 purchases this month."
    )


def test_a_credit_limit_stops_the_purchase_that_would_pass_it(session_factory):
    account_id = set_up(session_factory, top_up.Rule(5000, 8000, top_up.LimitUnit.CREDITS))
    use(session_factory, 560)
    assert attempt(session_factory, account_id, 1).bought
    use(session_factory, 4700)

    refused = attempt(session_factory, account_id, 2)

    assert refused.text() == (
        "Auto top-up did not buy: 5,000 more credits would pass its limit of 8,000 credits a month "
        "(5,000 bought so far)."
    )
    assert len(auto_invoices(session_factory)) == 1


def test_nothing_is_bought_once_someone_else_topped_the_account_up(session_factory):
    account_id = set_up(session_factory)
    use(session_factory, 560)
    with session_factory.begin() as session:
        invoices.purchase(session, account_id, 1000, PRICING, ALEX, "view:V1", NOW.date())
    assert attempt(session_factory, account_id, 1) is None
    assert [created_by for _, _, created_by in auto_invoices(session_factory)] == [ALEX]


def test_switching_on_needs_the_reminder_and_is_audited(session_factory):
    make_account(session_factory, credits=100)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        with pytest.raises(top_up.ReminderOff, match="Switch the low credit reminder on first"):
            top_up.configure(session, account, FIVE_THOUSAND_UP_TO_FOUR, ALEX, NOW)
        reminders.configure(session, account, True, 500, [reminders.Recipient(ALEX, ALEX)], ALEX)
        assert top_up.configure(session, account, FIVE_THOUSAND_UP_TO_FOUR, ALEX, NOW)
        assert not top_up.configure(session, account, FIVE_THOUSAND_UP_TO_FOUR, ALEX, NOW)
        assert top_up.configure(session, account, None, ALEX, NOW)
        logged = [(e.action, e.old_value, e.new_value) for e in audit.entries_for(session, account.id)]
    assert logged[-2:] == [
        ("auto_top_up", "off", "on, buy 5,000 credits, up to 4 purchases a month"),
        ("auto_top_up", "on, buy 5,000 credits, up to 4 purchases a month", "off"),
    ]


def test_without_a_rule_nothing_happens(session_factory):
    make_account(session_factory, credits=10)
    with session_factory.begin() as session:
        account_id = accounts.by_reference(session, "EX0000001").id
    assert attempt(session_factory, account_id, 1) is None
    assert auto_invoices(session_factory) == []


def test_three_replicas_buy_once_for_one_crossing(database_url, session_factory):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serves a single process; replicas need PostgreSQL")
    account_id = set_up(session_factory)
    use(session_factory, 560)
    # Three replicas, each with its own engine, like three `serve` processes.
    engines = [db.make_engine(database_url) for _ in range(3)]
    start = threading.Barrier(3)
    outcomes: list[top_up.Outcome | None] = []

    def replica(engine) -> None:
        start.wait()
        outcomes.append(attempt(db.make_session_factory(engine), account_id, 1))

    threads = [threading.Thread(target=replica, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()

    assert len(outcomes) == 3 and all(
        o is not None and o.invoice_number == "INV-2026-000001" for o in outcomes
    )
    assert len(auto_invoices(session_factory)) == 1
    assert balance_of(session_factory, "EX0000001") == 5040


@pytest.mark.parametrize(
    ("credits", "limit", "unit", "message"),
    [
        ("five", "4", "purchases", "Enter a whole number of credits"),
        ("5000", "4", "weeks", "Count the monthly limit in credits or purchases."),
        (
            "5000",
            "4000",
            "credits",
            "A monthly limit of 4,000 credits would stop even one purchase of 5,000.",
        ),
        ("2000000", "4", "purchases", "Enter a whole number of credits from 1 to 1,000,000."),
    ],
)
def test_bad_rules_are_refused_with_a_reason(credits, limit, unit, message):
    with pytest.raises(StoreError, match=message):
        top_up.parse_rule(credits, limit, unit, max_credits=1_000_000)
