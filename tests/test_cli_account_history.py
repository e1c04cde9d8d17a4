"""`admin-bot accounts history / deactivate / activate`, in-process against a real database."""

from __future__ import annotations

import pytest

from store import accounts, history, ledger
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


def argparse_error(cli, capsys, *args: str) -> str:
    """The error line argparse prints for a refused command line, which exits 2."""
    with pytest.raises(SystemExit) as exited:
        cli(*args)
    out, err = capsys.readouterr()
    assert (exited.value.code, out) == (2, "")
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("option", "value", "lowest"),
    [
        ("--limit", "0", 1),
        ("--limit", "-1", 1),
        ("--limit", "1001", 1),
        ("--limit", "100000000000000000000", 1),
        ("--offset", "-1", 0),
        ("--offset", "1001", 0),
        ("--offset", "100000000000000000000", 0),
        ("--offset", "two", 0),
    ],
)
def test_history_limit_and_offset_outside_their_range_are_refused(
    cli, session_factory, capsys, option, value, lowest
):
    make_account(session_factory, "EX0000001", "Acme", credits=10)

    error = argparse_error(cli, capsys, "accounts", "history", "EX0000001", option, value)

    assert error == (
        f"admin-bot accounts history: error: argument {option}: must be a whole number from {lowest} "
        f"to 1000 (not {value!r})"
    )


def test_history_says_where_offset_stops_reaching_further_back(cli, session_factory, monkeypatch):
    monkeypatch.setattr(history, "MAX_EVENTS", 2)  # as if the account had more than 1,000 events
    make_account(session_factory, "EX0000001", "Acme", credits=10)
    for _ in range(4):
        with session_factory.begin() as session:
            ledger.record_usage(session, "EX0000001", 1, "cli")

    code, out, _ = cli("accounts", "history", "EX0000001", "--limit", "2")
    assert out.splitlines()[-1] == "More: admin-bot accounts history EX0000001 --offset 2"
    code, out, _ = cli("accounts", "history", "EX0000001", "--limit", "2", "--offset", "2")
    assert code == 0
    assert out.splitlines()[-1] == ("Older entries go back further than --offset reaches (at most 2).")
