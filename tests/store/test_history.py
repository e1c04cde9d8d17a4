"""An account's history: every ledger entry and audit record, newest first, told as events."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from store import accounts, history, invoices, ledger, reminders
from store.db import SessionFactory
from tests.conftest import make_account

PRICES = invoices.Pricing(Decimal("0.05"), Decimal("0.20"), "GBP")
ADMIN = "U012AB3CD"


def test_history_tells_each_change_newest_first(session_factory: SessionFactory) -> None:
    acme = make_account(session_factory, "EX1", "Acme", credits=1_000)
    other = make_account(session_factory, "EX2", "Beta")
    with session_factory.begin() as session:
        bought = invoices.purchase(session, acme.id, 500, PRICES, ADMIN, "k1", date(2026, 11, 29))
        number = bought.invoice.number
    with session_factory.begin() as session:
        ledger.transfer(session, acme.id, other.id, 200, ADMIN, "k2")
    with session_factory.begin() as session:
        ledger.record_usage(session, "EX1", 300, "cli")
        account = accounts.get(session, acme.id)
        accounts.rename(session, account, "Acme Ltd", ADMIN)
        reminders.configure(session, account, True, 100, [reminders.Recipient(ADMIN, ADMIN)], ADMIN)
        accounts.set_active(session, account, False, ADMIN)
    with session_factory.begin() as session:
        page = history.history(session, acme.id, limit=20)
    told = [(e.kind, e.credits, e.balance_after, e.invoice, e.other, e.old, e.new) for e in page.events]
    # Settings changes in one transaction share a timestamp; the money came before them.
    assert sorted(told[:4], key=str) == sorted(
        [
            ("status", None, None, None, None, "active", "inactive"),
            ("reminder_recipients", None, None, None, None, None, ADMIN),
            ("reminder", None, None, None, None, "off", "on, below 100 credits"),
            ("rename", None, None, None, None, "Acme", "Acme Ltd"),
        ],
        key=str,
    )
    assert told[4:] == [
        ("usage", -300, 1_000, None, None, None, None),
        ("transfer_out", -200, 1_300, None, "Beta (EX2)", None, None),
        ("purchase", 500, 1_500, number, None, None, None),
        ("opening", 1_000, 1_000, None, None, None, None),
    ]
    assert page.events[-1].actor == "test" and not page.has_next


def test_history_pages_and_leaves_other_accounts_out(session_factory: SessionFactory) -> None:
    acme = make_account(session_factory, "EX1", "Acme", credits=10)
    make_account(session_factory, "EX2", "Beta", credits=99)
    for used in range(1, 6):
        with session_factory.begin() as session:
            ledger.record_usage(session, "EX1", 1, f"user{used}")
    with session_factory.begin() as session:
        first = history.history(session, acme.id, limit=4)
        second = history.history(session, acme.id, offset=4, limit=4)
    assert [e.actor for e in first.events] == ["user5", "user4", "user3", "user2"]
    assert first.has_next and not first.has_previous
    assert [(e.actor, e.balance_after) for e in second.events] == [("user1", 9), ("test", 10)]
    assert not second.has_next and second.has_previous


def test_recent_activity_covers_every_account_and_both_sides_of_a_move(
    session_factory: SessionFactory,
) -> None:
    acme = make_account(session_factory, "EX1", "Acme", credits=10)
    beta = make_account(session_factory, "EX2", "Beta")
    with session_factory.begin() as session:
        ledger.transfer(session, acme.id, beta.id, 4, ADMIN, "k")
    with session_factory.begin() as session:
        page = history.history(session, None, limit=2)
    assert {(e.reference, e.kind, e.other) for e in page.events} == {
        ("EX1", "transfer_out", "Beta (EX2)"),
        ("EX2", "transfer_in", "Acme (EX1)"),
    }
