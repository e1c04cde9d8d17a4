"""The ledger's rules for usage, beyond what the state machine explores."""

from __future__ import annotations

import pytest

from store import accounts, ledger
from store.db import SessionFactory
from store.errors import InactiveAccount
from tests.conftest import balance_of, make_account


def test_usage_on_an_inactive_account_is_refused_and_changes_nothing(session_factory: SessionFactory) -> None:
    account = make_account(session_factory, credits=100)
    with session_factory.begin() as session:
        accounts.set_active(session, accounts.get(session, account.id), False, "U012AB3CD")
    with pytest.raises(InactiveAccount, match="EX0000001 is inactive"), session_factory.begin() as session:
        ledger.record_usage(session, "EX0000001", 10, "cli")
    assert balance_of(session_factory, "EX0000001") == 100
