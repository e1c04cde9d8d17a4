"""The `admin-bot` command line, called in-process against a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bot.cli import main
from store import db, ledger
from store.models import Role
from tests.conftest import balance_of, grant_role, make_account


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


# arguments refused before any command runs


def argparse_error(cli, capsys, *args: str) -> str:
    """The error line argparse prints for a refused command line, which exits 2."""
    with pytest.raises(SystemExit) as exited:
        cli(*args)
    out, err = capsys.readouterr()
    assert (exited.value.code, out) == (2, "")
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("accounts", "history", "EX0000001\udcff"), "reference"),
        (("accounts", "deactivate", "EX0000001\udcff"), "reference"),
        (("accounts", "activate", "EX0000001\udcff"), "reference"),
        (("accounts", "list", "acme\udcff"), "query"),
        (("usage", "record", "EX0000001", "5\udcff"), "credits"),
        (("reminders", "forecast-warning", "EX0000001\udcff", "--off"), "reference"),
        (("reminders", "auto-top-up", "EX0000001", "--off", "--by", "U012AB3C\ud800"), "--by"),
    ],
    ids=lambda value: " ".join(value[:2]) if isinstance(value, tuple) else value,
)
def test_an_argument_that_is_not_utf8_is_refused_naming_it(cli, session_factory, args, name):
    """A byte that is not UTF-8 in argv (a Latin-1 terminal, say) reaches Python as a lone surrogate."""
    make_account(session_factory, "EX0000001", "Acme", credits=100)

    code, out, err = cli(*args)

    assert (code, out) == (2, "")
    assert (
        err == f"admin-bot: argument {name} is not UTF-8 text; check the terminal's or script's encoding.\n"
    )
    assert balance_of(session_factory, "EX0000001") == 100
    assert scalar(session_factory, "SELECT active FROM accounts") in (True, 1)


@pytest.mark.parametrize("limit", ["0", "-1", "100001", "100000000000000000000", "ten", "²"])
def test_accounts_list_limit_outside_its_range_is_refused(cli, session_factory, capsys, limit):
    make_account(session_factory, "EX0000001", "Acme", credits=100)

    error = argparse_error(cli, capsys, "accounts", "list", "--limit", limit)

    assert error == (
        f"admin-bot accounts list: error: argument --limit: must be a whole number from 1 to 100000 "
        f"(not {limit!r})"
    )


def test_accounts_list_limit_is_how_many_rows_are_shown(cli, session_factory):
    for number in range(1, 4):
        make_account(session_factory, f"EX000000{number}", f"Acme {number}")

    code, out, err = cli("accounts", "list", "--limit", "2")

    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "3 account(s) matched; 2 shown."


# statement --out


def test_statement_out_empty_is_refused_and_nothing_is_posted(
    cli, session_factory, capsys, fake_slack, monkeypatch
):
    """`admin-bot statement --out "$DIR"` in a script whose DIR is unset must not post to the channel."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("STATEMENT_CHANNEL", "C0STATEMENTS")

    for out in ("", "  "):
        error = argparse_error(cli, capsys, "statement", "--out", out)
        assert error == f"admin-bot statement: error: argument --out: must name a directory (not {out!r})"
    assert fake_slack.calls == []


def test_statement_out_to_a_file_or_an_unwritable_place_is_one_line(cli, session_factory, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("not a directory")

    assert cli("statement", "--out", str(taken)) == (
        1,
        "",
        f"admin-bot: Cannot write the statement to {taken}: it is a file, not a directory.\n",
    )
    assert taken.read_text() == "not a directory"
    code, out, err = cli("statement", "--out", "/proc/admin-bot-statement")
    assert (code, out) == (1, "")
    assert err.startswith("admin-bot: Cannot write the statement to /proc/admin-bot-statement: ")
    assert len(err.splitlines()) == 1


# reminders auto-top-up


@pytest.fixture
def top_up_ready(session_factory) -> None:
    """EX0000001 with its reminder on; U012AB3CD holds the billing role."""
    make_account(session_factory, "EX0000001", "Acme", credits=100)
    grant_role(session_factory, "U012AB3CD", Role.BILLING)
    with session_factory.begin() as session:
        session.execute(text("UPDATE accounts SET reminder_enabled = true, reminder_level = 10"))


def top_ups(session_factory) -> int:
    return scalar(session_factory, "SELECT count(*) FROM auto_top_ups")


@pytest.mark.parametrize("limit", ["0", "-3", "x", "1000000001"])
def test_auto_top_up_limit_outside_its_range_is_named(cli, session_factory, capsys, top_up_ready, limit):
    error = argparse_error(
        cli,
        capsys,
        "reminders",
        "auto-top-up",
        "EX0000001",
        "--credits",
        "100",
        "--limit",
        limit,
        "--by",
        "U012AB3CD",
    )

    assert error == (
        "admin-bot reminders auto-top-up: error: argument --limit: must be a whole number from 1 to "
        f"1000000000 (not {limit!r})"
    )
    assert top_ups(session_factory) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--credits", "0", "--limit", "4"),
            "--credits: Enter a whole number of credits from 1 to 1,000,000.",
        ),
        (
            ("--credits", "100", "--limit", "4", "--per", "weeks"),
            "--per: Count the monthly limit in credits or purchases.",
        ),
        (
            ("--credits", "100", "--limit", "50", "--per", "credits"),
            "--limit: A monthly limit of 50 credits would stop even one purchase of 100.",
        ),
    ],
)
def test_auto_top_up_names_the_option_a_rule_is_wrong_in(cli, session_factory, top_up_ready, args, message):
    code, out, err = cli("reminders", "auto-top-up", "EX0000001", *args, "--by", "U012AB3CD")

    assert (code, out, err) == (1, "", f"admin-bot: {message}\n")
    assert top_ups(session_factory) == 0


@pytest.mark.parametrize(
    "extra",
    [("--credits", "100"), ("--limit", "4"), ("--per", "credits"), ("--credits", "x", "--limit", "4")],
)
def test_auto_top_up_off_with_a_rule_option_is_refused(cli, session_factory, top_up_ready, extra):
    assert (
        cli("reminders", "auto-top-up", "EX0000001", "--credits", "100", "--limit", "4", "--by", "U012AB3CD")[
            0
        ]
        == 0
    )

    code, out, err = cli("reminders", "auto-top-up", "EX0000001", "--off", *extra, "--by", "U012AB3CD")

    assert (code, out) == (2, "")
    assert err == "admin-bot: --off switches auto top-up off: leave out --credits, --limit and --per.\n"
    assert top_ups(session_factory) == 1


# accounts import: the file's encoding, its quotes and its header


def write_bytes(tmp_path: Path, body: bytes, name: str = "accounts.csv") -> str:
    path = tmp_path / name
    path.write_bytes(body)
    return str(path)


ACCOUNTS_HEADER = b"reference,name,keyword,credits\n"
NOT_UTF8 = "the file must be UTF-8 text, and byte {} on this line is not (save it as CSV UTF-8)"


def numbered_rows(count: int) -> bytes:
    """`count` good account rows, from line 2 on."""
    return b"".join(b"EX%07d,Name %d,,1\n" % (n, n) for n in range(1, count + 1))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            ACCOUNTS_HEADER + "EX0000003,Café Co,,5\n".encode("latin-1"),
            ["line 2: " + NOT_UTF8.format("0xE9")],
        ),
        (
            ACCOUNTS_HEADER
            + numbered_rows(1900)
            + "EX9999998,Café,,1\n".encode("cp1252")
            + b"EX9999999,\x93Q\x94,,1\n",
            ["line 1902: " + NOT_UTF8.format("0xE9"), "line 1903: " + NOT_UTF8.format("0x93")],
        ),
        (
            (ACCOUNTS_HEADER.decode() + "EX0000003,Acme,,5\n").encode("utf-16"),
            ["line 1: the file must be UTF-8 text, and this one is UTF-16 (save it as CSV UTF-8)"],
        ),
    ],
    ids=["latin-1", "late-bytes", "utf-16"],
)
def test_import_of_a_file_that_is_not_utf8_names_each_line_and_imports_nothing(
    cli, session_factory, tmp_path, body, expected
):
    code, out, err = cli("accounts", "import", write_bytes(tmp_path, body))

    assert (code, out) == (1, "")
    assert err.splitlines()[1:] == expected
    assert count_accounts(session_factory) == 0


def test_import_names_an_unclosed_quote_by_the_line_it_opens_on(cli, session_factory, tmp_path):
    short = write_csv(
        tmp_path, 'reference,name,keyword,credits\nEX0000001,A,,1\nEX0000002,"Open,,5\nEX0000003,B,,6\n'
    )
    long_ = write_csv(
        tmp_path,
        'reference,name,keyword,credits\nEX0000002,"Open,,5\n'
        + "".join(f"EX{n:07d},N,,1\n" for n in range(3, 20_000)),
        "long.csv",
    )

    code, out, err = cli("accounts", "import", short)
    assert (code, out) == (1, "")
    assert err.splitlines()[1:] == ["line 3: the quote opened on this line is never closed"]

    code, out, err = cli("accounts", "import", long_)
    assert (code, out) == (1, "")
    assert err.splitlines()[1].startswith(
        "line 2: this is not a CSV row (field larger than field limit (131072)); it runs"
    )
    assert err.splitlines()[1].endswith(": is a quote left open?")
    assert count_accounts(session_factory) == 0


@pytest.mark.parametrize("reference", ["ＥＸ0000001", "EX²", "exß1", "EX٠١", "EX-1", "EX0000001\x00", "É1"])
def test_import_refuses_a_reference_that_is_not_ascii_letters_and_digits(
    cli, session_factory, tmp_path, reference
):
    path = write_csv(
        tmp_path, f"reference,name,keyword,credits\nEX0000001,Ascii,,5\n{reference},Lookalike,,5\n"
    )

    code, out, err = cli("accounts", "import", path)

    assert (code, out) == (1, "")
    assert err.splitlines()[1] == (
        f"line 3: {reference!r} is not an account reference: use 1-20 letters A-Z and digits 0-9."
    )
    assert count_accounts(session_factory) == 0


def test_update_counts_only_the_accounts_it_changes(cli, session_factory, tmp_path):
    first = write_csv(tmp_path, "reference,name,keyword,credits\nEX0000001,Acme,,100\nEX0000002,Beta,KW,5\n")
    changed = write_csv(
        tmp_path,
        "reference,name,keyword,credits\nEX0000001,Acme,,100\nEX0000002,Beta,KW,6\nEX0000003,Gamma,,0\n",
        "changed.csv",
    )
    assert cli("accounts", "import", first)[0] == 0

    assert cli("accounts", "import", first, "--update") == (
        0,
        f"Imported {first}: 0 created, 0 updated, 2 unchanged.\n",
        "",
    )
    assert cli("accounts", "import", changed, "--update") == (
        0,
        f"Imported {changed}: 1 created, 1 updated, 1 unchanged.\n",
        "",
    )
    assert entries(session_factory, "EX0000002") == [("opening", 5), ("adjustment", 1)]


# references looked up, and Slack user ids: one rule each


@pytest.mark.parametrize(
    "args",
    [
        ("usage", "record", "EX0000001 ", "5"),
        ("usage", "record", " ex0000001", "5"),
        ("accounts", "history", "ex0000001 "),
        ("accounts", "deactivate", " EX0000001 "),
    ],
)
def test_a_reference_is_found_whatever_its_case_and_surrounding_spaces(cli, session_factory, args):
    make_account(session_factory, "EX0000001", "Acme", credits=100)

    code, out, err = cli(*args)

    assert (code, err) == (0, ""), err


@pytest.mark.parametrize("verb", [("usage", "record"), ("accounts", "history"), ("accounts", "activate")])
@pytest.mark.parametrize("reference", ["EX0000001\x00", "exß1"])
def test_a_reference_that_cannot_be_one_is_named_as_such(cli, session_factory, verb, reference):
    make_account(session_factory, "EX0000001", "Acme", credits=100)
    make_account(session_factory, "EXSS1", "Sharp", credits=100)

    code, out, err = cli(*verb, reference, *(["5"] if verb[0] == "usage" else []))

    assert (code, out) == (1, "")
    assert (
        err == f"admin-bot: {reference!r} is not an account reference: use 1-20 letters A-Z and digits 0-9.\n"
    )
    assert "\x00" not in err
    assert (balance_of(session_factory, "EX0000001"), balance_of(session_factory, "EXSS1")) == (100, 100)


@pytest.mark.parametrize(
    "user",
    [
        "U１２３４５６７８",
        "UÉÉÉÉÉÉÉÉ",
        "U012AB3C²",
        "Uß012AB3C",
        "U012AB3C\u0130",
        "U012-AB3C",
        "U1",
        "A012AB3CD",
    ],
)
def test_roles_grant_refuses_ids_slack_never_issues(cli, session_factory, user):
    from handlers import parse

    code, out, err = cli("roles", "grant", user, "admin")

    assert (code, out) == (1, "")
    assert err == f"admin-bot: {user!r} is not a Slack user id (they look like U012AB3CD).\n"
    assert grants(session_factory) == []
    assert parse.slack_user_id(user) is None  # the rule Slack's requests are held to


@pytest.mark.parametrize("user", ["U0ADMIN", "W012AB3CD", "u012ab3cd", "U0123456789ABCDEFGHI"])
def test_roles_grant_takes_every_id_a_slack_request_may_carry(cli, session_factory, user):
    from handlers import parse

    assert parse.slack_user_id(user.upper()) == user.upper()
    assert cli("roles", "grant", user, "viewer") == (0, f"{user.upper()} is now viewer.\n", "")


@pytest.mark.parametrize("verb", [("usage", "record"), ("accounts", "history"), ("accounts", "activate")])
def test_a_lookalike_reference_finds_nothing_and_changes_nothing(cli, session_factory, verb):
    make_account(session_factory, "EX0000001", "Acme", credits=100)

    code, out, err = cli(*verb, "ＥＸ0000001", *(["5"] if verb[0] == "usage" else []))

    assert (code, out) == (1, "")
    assert "No account has the reference ＥＸ0000001" in err
    assert balance_of(session_factory, "EX0000001") == 100
