"""Account status: deactivating keeps the money and says who did it."""

from __future__ import annotations

from store import accounts, audit
from store.db import SessionFactory
from tests.conftest import make_account


def test_deactivating_keeps_the_balance_and_is_audited_once(session_factory: SessionFactory) -> None:
    made = make_account(session_factory, credits=700)
    with session_factory.begin() as session:
        account = accounts.get(session, made.id)
        assert accounts.set_active(session, account, False, "U012AB3CD") is True
        assert accounts.set_active(session, account, False, "U012AB3CD") is False
    with session_factory.begin() as session:
        account = accounts.get(session, made.id)
        assert (account.active, account.balance) == (False, 700)
        [entry] = audit.entries_for(session, made.id)
        assert (entry.action, entry.old_value, entry.new_value, entry.actor) == (
            "status",
            "active",
            "inactive",
            "U012AB3CD",
        )
        assert accounts.set_active(session, account, True, "cli") is True
        assert accounts.get(session, made.id).active is True
