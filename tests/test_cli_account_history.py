"""`admin-bot accounts history / deactivate / activate`, in-process against a real database."""

from __future__ import annotations

from store import accounts, ledger
from tests.conftest import make_account


def test_history_lists_usage_rename_and_status_newest_first(cli, session_factory):
    made = make_account(session_factory, "EX0000001", "Acme", credits=1_000)
    with session_factory.begin() as session:
        ledger.record_usage(session, "EX0000001", 250, "cli")
    with session_factory.begin() as session:
        accounts.rename(session, accounts.get(session, made.id), "Acme Ltd", "U012AB3CD")

    code, out, err = cli("accounts", "history", "ex0000001")

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "History of Acme Ltd (EX0000001), newest first:"
    assert lines[2].split()[2:] == ["U012AB3CD", "Renamed:", "Acme", "→", "Acme", "Ltd"]
    assert lines[3].split()[2:] == ["cli", "-250", "credits", "750", "Usage"]
    assert lines[4].split()[2:] == ["test", "+1,000", "credits", "1,000", "Opening", "balance"]


def test_history_pages_with_offset(cli, session_factory):
    make_account(session_factory, "EX0000001", "Acme", credits=10)
    for _ in range(3):
        with session_factory.begin() as session:
            ledger.record_usage(session, "EX0000001", 1, "cli")

    code, out, _ = cli("accounts", "history", "EX0000001", "--limit", "2")
    assert code == 0
    assert out.splitlines()[-1] == "More: admin-bot accounts history EX0000001 --offset 2"
    code, out, _ = cli("accounts", "history", "EX0000001", "--limit", "2", "--offset", "2")
    assert [line.split()[-1] for line in out.splitlines()[2:]] == ["Usage", "balance"]


def test_history_of_unknown_account_fails(cli, session_factory):
    code, out, err = cli("accounts", "history", "EX9")
    assert (code, out) == (1, "")
    assert "No account has the reference EX9." in err


def test_deactivate_keeps_the_credits_and_says_so_then_activate(cli, session_factory):
    make_account(session_factory, "EX0000001", "Acme", credits=700)

    code, out, err = cli("accounts", "deactivate", "EX0000001")
    assert code == 0, err
    assert out.strip() == (
        "Acme (EX0000001) is now inactive. It keeps its 700 credits, its history and its invoices; "
        "it is left out of lists, pickers and reminders until it is activated again."
    )
    code, out, _ = cli("accounts", "list")
    assert "EX0000001" not in out
    code, out, _ = cli("accounts", "deactivate", "EX0000001")
    assert out.strip() == "Acme (EX0000001) is already inactive; nothing changed."

    code, out, _ = cli("accounts", "activate", "EX0000001")
    assert code == 0
    assert out.strip().startswith("Acme (EX0000001) is active again")
    code, out, _ = cli("accounts", "history", "EX0000001")
    assert [line.split()[-1] for line in out.splitlines()[2:4]] == ["Activated", "Deactivated"]
    with session_factory.begin() as session:
        assert accounts.by_reference(session, "EX0000001").balance == 700
