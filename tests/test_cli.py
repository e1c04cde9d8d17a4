"""The `admin-bot` command line, called in-process against a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bot.cli import main
from store import db, ledger
from tests.conftest import balance_of, make_account


def write_csv(tmp_path: Path, body: str, name: str = "accounts.csv") -> str:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return str(path)


def scalar(session_factory, sql: str, **params):
    with session_factory.begin() as session:
        return session.execute(text(sql), params).scalar()


def entries(session_factory, reference: str) -> list[tuple[str, int]]:
    with session_factory.begin() as session:
        rows = session.execute(
            text(
                "SELECT e.kind, e.credits FROM ledger_entries e JOIN accounts a"
                " ON a.id = e.account_id WHERE a.reference = :ref ORDER BY e.id"
            ),
            {"ref": reference},
        )
        return [tuple(row) for row in rows]


def count_accounts(session_factory) -> int:
    return scalar(session_factory, "SELECT count(*) FROM accounts")


# accounts import


def test_import_of_good_csv_creates_accounts_with_opening_entries(cli, session_factory, tmp_path):
    path = write_csv(
        tmp_path,
        "reference,name,keyword,credits\nex0000001,Acme Marketing,ACME,1500\nEX0000002,Beta Alerts,,0\n",
    )

    code, out, err = cli("accounts", "import", path)

    assert code == 0, err
    assert "2 created, 0 updated" in out
    assert balance_of(session_factory, "EX0000001") == 1500
    assert balance_of(session_factory, "EX0000002") == 0
    assert entries(session_factory, "EX0000001") == [("opening", 1500)]
    assert entries(session_factory, "EX0000002") == []
    assert scalar(session_factory, "SELECT keyword FROM accounts WHERE reference='EX0000001'") == ("ACME")


def test_import_with_bad_rows_reports_every_line_and_imports_nothing(cli, session_factory, tmp_path):
    path = write_csv(
        tmp_path,
        "reference,name,keyword,credits\n"
        "EX1,Good Row,,100\n"  # line 2: fine
        "EX2,   ,,10\n"  # line 3: blank name
        f"EX3,{'x' * 51},,10\n"  # line 4: name too long
        "EX4,Fractional,,12.5\n"  # line 5
        "EX5,Negative,,-3\n"  # line 6
        "EX1,Duplicate,,5\n"  # line 7
        "EX7,Too few\n"  # line 8
        "EX8,Also Good,,7\n",  # line 9: fine
    )

    code, out, err = cli("accounts", "import", path)

    assert code == 1
    assert "Nothing imported: 6 problem(s)" in err
    for line in (3, 4, 5, 6, 7, 8):
        assert f"line {line}:" in err
    assert "line 2:" not in err and "line 9:" not in err
    assert "cannot be blank" in err
    assert "at most 50 characters; this one has 51" in err
    assert "not '12.5'" in err
    assert "already appears on line 2" in err
    assert "expected 4 fields, found 2" in err
    assert "Imported" not in out
    assert count_accounts(session_factory) == 0
    assert scalar(session_factory, "SELECT count(*) FROM ledger_entries") == 0


def test_reimport_of_existing_reference_fails_without_update(cli, session_factory, tmp_path):
    make_account(session_factory, "EX0000001", "Acme Marketing", credits=100, keyword="ACME")
    path = write_csv(
        tmp_path,
        "reference,name,keyword,credits\nEX0000001,Acme Renamed,NEWKW,40\nEX0000002,New,,5\n",
    )

    code, out, err = cli("accounts", "import", path)

    assert code == 1
    assert "line 2: account EX0000001 already exists (use --update to change it)" in err
    assert count_accounts(session_factory) == 1
    assert balance_of(session_factory, "EX0000001") == 100
    assert scalar(session_factory, "SELECT name FROM accounts") == "Acme Marketing"


def test_reimport_with_update_changes_name_keyword_and_adjusts_balance(cli, session_factory, tmp_path):
    make_account(session_factory, "EX0000001", "Acme Marketing", credits=100, keyword="ACME")
    path = write_csv(
        tmp_path,
        "reference,name,keyword,credits\nEX0000001,Acme Renamed,NEWKW,40\nEX0000002,New,,5\n",
    )

    code, out, err = cli("accounts", "import", path, "--update")

    assert code == 0, err
    assert "1 created, 1 updated" in out
    with session_factory.begin() as session:
        name, keyword = session.execute(
            text("SELECT name, keyword FROM accounts WHERE reference='EX0000001'")
        ).one()
    assert (name, keyword) == ("Acme Renamed", "NEWKW")
    assert balance_of(session_factory, "EX0000001") == 40
    assert entries(session_factory, "EX0000001") == [("opening", 100), ("adjustment", -60)]
    assert balance_of(session_factory, "EX0000002") == 5


def test_import_with_wrong_header_is_reported(cli, session_factory, tmp_path):
    path = write_csv(tmp_path, "ref,name,credits\nEX1,Acme,10\n")

    code, out, err = cli("accounts", "import", path)

    assert code == 1
    assert "line 1: the header must be reference,name,keyword,credits" in err
    assert count_accounts(session_factory) == 0


def test_import_of_missing_file_is_reported(cli, session_factory, tmp_path):
    code, out, err = cli("accounts", "import", str(tmp_path / "nope.csv"))

    assert code == 1
    assert "Cannot read" in err and "nope.csv" in err
    assert count_accounts(session_factory) == 0


# accounts list


@pytest.mark.parametrize("query", ["pinecrest", "ex0000002", "pharm", "PINE"])
def test_accounts_list_finds_by_name_reference_or_keyword_case_insensitively(cli, session_factory, query):
    make_account(session_factory, "EX0000001", "Acme Marketing", credits=10, keyword="ACME")
    make_account(session_factory, "EX0000002", "Pinecrest Pharmacy", credits=20, keyword="PINE")

    code, out, err = cli("accounts", "list", query)

    assert code == 0, err
    assert "EX0000002" in out and "Pinecrest Pharmacy" in out
    assert "EX0000001" not in out
    assert "1 account(s) matched; 1 shown." in out
    assert count_accounts(session_factory) == 2


def test_accounts_list_finds_by_keyword_only(cli, session_factory):
    make_account(session_factory, "EX0000001", "Acme Marketing", keyword="Zebra")
    make_account(session_factory, "EX0000002", "Beta Alerts")

    code, out, err = cli("accounts", "list", "zEbRa")

    assert code == 0
    assert "EX0000001" in out and "EX0000002" not in out
    assert "1 account(s) matched" in out


# usage record


def test_usage_record_lowers_balance_and_writes_usage_entry(cli, session_factory):
    make_account(session_factory, "EX0000001", credits=1000)

    code, out, err = cli("usage", "record", "ex0000001", "250")

    assert code == 0, err
    assert "Recorded usage of 250 credits on EX0000001; balance now 750." in out
    assert balance_of(session_factory, "EX0000001") == 750
    assert entries(session_factory, "EX0000001") == [("opening", 1000), ("usage", -250)]


def test_usage_record_beyond_balance_fails_and_records_nothing(cli, session_factory):
    make_account(session_factory, "EX0000001", credits=100)

    code, out, err = cli("usage", "record", "EX0000001", "101")

    assert code == 1
    assert "Account EX0000001 has only 100 credits, so 101 cannot be taken from it." in err
    assert out == ""
    assert balance_of(session_factory, "EX0000001") == 100
    assert entries(session_factory, "EX0000001") == [("opening", 100)]


def test_usage_record_on_unknown_reference_fails(cli, session_factory):
    make_account(session_factory, "EX0000001", credits=100)

    code, out, err = cli("usage", "record", "EX9999999", "1")

    assert code == 1
    assert "No account has the reference EX9999999." in err
    assert scalar(session_factory, "SELECT count(*) FROM ledger_entries") == 1


# roles


def grants(session_factory) -> list[tuple[str, str]]:
    with session_factory.begin() as session:
        rows = session.execute(text("SELECT slack_user_id, role FROM roles ORDER BY slack_user_id"))
        return [tuple(row) for row in rows]


def test_roles_grant_list_and_revoke(cli, session_factory):
    code, out, err = cli("roles", "list")
    assert code == 0
    assert "No roles granted yet" in out

    code, out, err = cli("roles", "grant", "u012ab3cd", "Admin")
    assert code == 0, err
    assert "U012AB3CD is now admin." in out
    assert grants(session_factory) == [("U012AB3CD", "admin")]

    code, out, err = cli("roles", "list")
    assert code == 0
    assert "U012AB3CD" in out and "admin" in out and "granted by cli" in out

    code, out, err = cli("roles", "grant", "U012AB3CD", "viewer")
    assert code == 0
    assert grants(session_factory) == [("U012AB3CD", "viewer")]

    code, out, err = cli("roles", "revoke", "U012AB3CD", "viewer")
    assert code == 0, err
    assert "U012AB3CD is no longer viewer." in out
    assert grants(session_factory) == []


@pytest.mark.parametrize(
    ("user", "role", "message"),
    [
        ("bob", "admin", "'bob' is not a Slack user id (they look like U012AB3CD)."),
        ("U012AB3CD", "owner", "Unknown role 'owner': choose one of viewer, billing, admin."),
    ],
)
def test_roles_grant_rejects_bad_user_or_role(cli, session_factory, user, role, message):
    code, out, err = cli("roles", "grant", user, role)

    assert code == 1
    assert err.strip() == f"admin-bot: {message}"
    assert grants(session_factory) == []


def test_roles_revoke_of_role_not_held_fails(cli, session_factory):
    code, out, err = cli("roles", "revoke", "U012AB3CD", "admin")
    assert code == 1
    assert "U012AB3CD has no role to revoke." in err

    assert cli("roles", "grant", "U012AB3CD", "billing")[0] == 0
    code, out, err = cli("roles", "revoke", "U012AB3CD", "admin")

    assert code == 1
    assert "U012AB3CD is billing, not admin; nothing revoked." in err
    assert grants(session_factory) == [("U012AB3CD", "billing")]


# ledger check


def test_ledger_check_passes_on_good_ledger(cli, session_factory):
    make_account(session_factory, "EX0000001", credits=100)

    code, out, err = cli("ledger", "check")

    assert code == 0
    assert "Ledger reconciles" in out
    assert err == ""


def test_ledger_check_fails_on_corrupted_balance(cli, session_factory):
    make_account(session_factory, "EX0000001", credits=100)
    with session_factory.begin() as session:
        session.execute(text("UPDATE accounts SET balance = 130 WHERE reference = 'EX0000001'"))

    code, out, err = cli("ledger", "check")

    assert code == 1
    assert "EX0000001: balance 130 but ledger entries sum to 100" in out
    assert "Ledger does NOT reconcile: 1 discrepancy(ies)." in err
    assert balance_of(session_factory, "EX0000001") == 130

    with session_factory.begin() as session:  # repair, so the engine fixture's check passes
        session.execute(text("UPDATE accounts SET balance = 100 WHERE reference = 'EX0000001'"))
    assert cli("ledger", "check")[0] == 0


def test_ledger_check_fails_when_a_transfer_leg_is_deleted(cli, session_factory):
    source = make_account(session_factory, "EX0000001", credits=100)
    destination = make_account(session_factory, "EX0000002", "Beta Alerts")
    with session_factory.begin() as session:
        moved = ledger.transfer(session, source.id, destination.id, 30, "test", key="k1")
    columns = "id, account_id, kind, credits, balance_after, transfer_id, actor, created_at"
    with session_factory.begin() as session:
        leg = (
            session.execute(text(f"SELECT {columns} FROM ledger_entries WHERE kind = 'transfer_in'"))
            .one()
            ._asdict()
        )
        session.execute(text("DELETE FROM ledger_entries WHERE id = :id"), {"id": leg["id"]})

    code, out, err = cli("ledger", "check")

    assert code == 1
    assert f"transfer {moved.transfer_id}: 1 legs netting to -30, not 2 legs netting to 0" in out
    assert "EX0000002: balance 30 but ledger entries sum to 0" in out
    assert "Ledger does NOT reconcile: 2 discrepancy(ies)." in err

    with session_factory.begin() as session:  # put the leg back
        placeholders = ", ".join(f":{name.strip()}" for name in columns.split(","))
        session.execute(text(f"INSERT INTO ledger_entries ({columns}) VALUES ({placeholders})"), leg)
    assert cli("ledger", "check")[0] == 0


# db upgrade and demo


def test_db_upgrade_prints_the_revision(cli, database_url):
    code, out, err = cli("db", "upgrade")

    assert code == 0, err
    engine = db.make_engine(database_url)
    try:
        revision = db.current_revision(engine)
    finally:
        engine.dispose()
    assert revision
    assert out.strip() == f"Database is at revision {revision}."


def test_demo_loads_accounts_and_invoices_once(cli, session_factory):
    code, out, err = cli("demo")

    assert code == 0, err
    created = count_accounts(session_factory)
    invoices = scalar(session_factory, "SELECT count(*) FROM invoices")
    ledger_rows = scalar(session_factory, "SELECT count(*) FROM ledger_entries")
    assert created > 10 and invoices > 0
    assert out.strip() == f"Loaded {created} demo accounts with {invoices} invoices."
    assert cli("ledger", "check")[0] == 0

    code, out, err = cli("demo")

    assert code == 0
    assert "Demo data is already loaded; nothing changed." in out
    assert count_accounts(session_factory) == created
    assert scalar(session_factory, "SELECT count(*) FROM invoices") == invoices
    assert scalar(session_factory, "SELECT count(*) FROM ledger_entries") == ledger_rows


# --help


@pytest.mark.parametrize(
    "verb",
    [
        [],
        ["serve"],
        ["db"],
        ["db", "upgrade"],
        ["accounts"],
        ["accounts", "import"],
        ["accounts", "list"],
        ["usage"],
        ["accounts", "history"],
        ["accounts", "deactivate"],
        ["accounts", "activate"],
        ["usage", "record"],
        ["roles"],
        ["roles", "grant"],
        ["roles", "revoke"],
        ["roles", "list"],
        ["ledger"],
        ["ledger", "check"],
        ["demo"],
    ],
    ids=lambda verb: " ".join(verb) or "admin-bot",
)
def test_every_verb_help_exits_zero(verb, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)

    with pytest.raises(SystemExit) as exit_info:
        main([*verb, "--help"])

    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: admin-bot")


# reminders forecast-warning


def test_reminders_forecast_warning_sets_and_clears_it_audited(cli, session_factory):
    make_account(session_factory, "EX0000001", "Acme", credits=100)

    code, out, err = cli("reminders", "forecast-warning", "ex0000001", "--days", "5")
    assert (code, err) == (0, "")
    assert out == (
        "Forecast warning for EX0000001 is on, fewer than 5 days of credits left.\n"
        "The low credit reminder is off: the warning alerts once it is switched on.\n"
    )
    assert scalar(session_factory, "SELECT runway_warning_days FROM accounts") == 5
    code, out, err = cli("reminders", "forecast-warning", "EX0000001", "--days", "5")
    assert out.startswith("Unchanged: the forecast warning is on, fewer than 5 days of credits left.")

    code, out, err = cli("reminders", "forecast-warning", "EX0000001", "--off")
    assert (code, out, err) == (0, "Forecast warning for EX0000001 is off.\n", "")
    assert scalar(session_factory, "SELECT runway_warning_days FROM accounts") is None
    audited = scalar(
        session_factory,
        "SELECT count(*) FROM audit_log WHERE action = 'forecast_warning' AND actor = 'cli'",
    )
    assert audited == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "0"], "admin-bot: Enter a whole number of days from 1 to 90.\n"),
        (["--days", "91"], "admin-bot: Enter a whole number of days from 1 to 90.\n"),
        (["--days", "a week"], "admin-bot: Enter a whole number of days, like 5 (not 'a week').\n"),
        (["--days", ""], "admin-bot: Give --days N (or --off).\n"),
    ],
)
def test_reminders_forecast_warning_refuses_bad_days_and_changes_nothing(cli, session_factory, args, message):
    make_account(session_factory, "EX0000001", "Acme", credits=100)
    code, out, err = cli("reminders", "forecast-warning", "EX0000001", *args)
    assert (code, out, err) == (1, "", message)
    assert scalar(session_factory, "SELECT runway_warning_days FROM accounts") is None


def test_reminders_forecast_warning_needs_days_or_off(cli, session_factory):
    with pytest.raises(SystemExit) as exited:
        cli("reminders", "forecast-warning", "EX0000001")
    assert exited.value.code == 2
