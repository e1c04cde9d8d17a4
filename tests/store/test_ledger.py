"""The ledger's rules beyond what the state machine explores: 64-bit balances, the balance limit, usage."""

from __future__ import annotations

import pytest

from store import accounts, ledger
from store.db import SessionFactory
from store.errors import BalanceLimit, InactiveAccount
from store.models import EntryKind
from tests.conftest import balance_of, make_account


def test_a_move_can_take_a_balance_past_2_147_483_647(session_factory):
    # On PostgreSQL this was "integer out of range" while balances were 32-bit columns.
    big = make_account(session_factory, "EX0000001", credits=2_000_000_000)
    other = make_account(session_factory, "EX0000002", credits=900_000_000)
    with session_factory.begin() as session:
        ledger.transfer(session, other.id, big.id, 900_000_000, actor="test", key="k1")
    assert balance_of(session_factory, "EX0000001") == 2_900_000_000


def test_a_balance_past_the_limit_is_refused_and_nothing_changes(session_factory):
    full = make_account(session_factory, "EX0000001", credits=ledger.MAX_BALANCE - 10)
    giver = make_account(session_factory, "EX0000002", credits=100)
    with pytest.raises(BalanceLimit) as refused, session_factory.begin() as session:
        ledger.transfer(session, giver.id, full.id, 11, actor="test", key="k2")
    assert str(refused.value) == (
        "Account EX0000001 has 999,999,999,990 credits and can hold at most 1,000,000,000,000; "
        "nothing was changed."
    )
    assert balance_of(session_factory, "EX0000001") == ledger.MAX_BALANCE - 10
    assert balance_of(session_factory, "EX0000002") == 100
    with session_factory.begin() as session:  # exactly at the limit is fine
        account = ledger.lock(session, full.id)[full.id]
        ledger.post(session, account, EntryKind.ADJUSTMENT, 10, "test")
    assert balance_of(session_factory, "EX0000001") == ledger.MAX_BALANCE


def test_usage_on_an_inactive_account_is_refused_and_changes_nothing(session_factory: SessionFactory) -> None:
    account = make_account(session_factory, credits=100)
    with session_factory.begin() as session:
        accounts.set_active(session, accounts.get(session, account.id), False, "U012AB3CD")
    with pytest.raises(InactiveAccount, match="EX0000001 is inactive"), session_factory.begin() as session:
        ledger.record_usage(session, "EX0000001", 10, "cli")
    assert balance_of(session_factory, "EX0000001") == 100
