"""`admin-bot usage import FILE.csv`: the API's per-item rules, line numbers for refusals, safe to rerun."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from store import usage
from store.models import EntryKind, LedgerEntry
from tests.conftest import balance_of, make_account
from tests.test_cli import write_csv

HEADER = "reference,credits,key,occurred_at\n"


def usage_entries(session_factory) -> int:
    with session_factory.begin() as session:
        return session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == EntryKind.USAGE.value)
        )


def test_import_applies_good_rows_and_names_every_refused_line(cli, tmp_path, session_factory):
    make_account(session_factory, "EX0000001", "Acme", credits=1000)
    make_account(session_factory, "EX0000002", "Old Co", credits=50, active=False)
    path = write_csv(
        tmp_path,
        HEADER
        + "EX0000001,100,m-1,2026-11-02T10:00:00Z\n"
        + "EX9999999,5,m-2,\n"
        + "EX0000002,5,m-3,\n"
        + "ex0000001,lots,m-4,\n"
        + "EX0000001,2000,m-5,\n"
        + "EX0000001,5,,\n"
        + "EX0000001,5,m-6,last tuesday\n"
        + "EX0000001,50,m-1,2026-11-02T10:00:00Z\n"
        + "EX0000001,5,m-7,,surplus\n"
        + "EX0000001,200,m-8\n",
        "usage.csv",
    )
    code, out, _ = cli("usage", "import", path)
    assert code == 1
    assert out.splitlines() == [
        "line 3: unknown_reference: No account has the reference EX9999999.",
        "line 4: inactive_account: Account EX0000002 is inactive: no usage is recorded.",
        "line 5: invalid_credits: Enter a whole number of credits, like 500 or 1,500 (not 'lots').",
        "line 6: insufficient_credits: Account EX0000001 has only 900 credits, "
        "so 2,000 cannot be taken from it.",
        "line 7: invalid_key: key must be 1-200 printable characters, unique to this usage.",
        "line 8: invalid_occurred_at: occurred_at must be an ISO 8601 time such as 2026-11-02T10:15:00Z.",
        "line 9: key_conflict: key 'm-1' was already used for 100 credits on EX0000001 at "
        "2026-11-02T10:00:00+00:00; send new usage under a new key.",
        "line 10: invalid_item: The row has more fields than the header.",
        f"Imported usage from {path}: 2 applied, 0 already recorded, 8 refused.",
    ]
    assert balance_of(session_factory, "EX0000001") == 700


def test_importing_the_same_file_twice_changes_nothing(cli, tmp_path, session_factory):
    make_account(session_factory, "EX0000001", "Acme", credits=10_000)
    rows = "".join(f"EX0000001,{n % 7 + 1},msg-{n},2026-11-0{n % 9 + 1}T08:00:00\n" for n in range(1200))
    path = write_csv(tmp_path, HEADER + rows, "usage.csv")
    used = sum(n % 7 + 1 for n in range(1200))
    assert cli("usage", "import", path) == (
        0,
        f"Imported usage from {path}: 1,200 applied, 0 already recorded, 0 refused.\n",
        "",
    )
    assert cli("usage", "import", path) == (
        0,
        f"Imported usage from {path}: 0 applied, 1,200 already recorded, 0 refused.\n",
        "",
    )
    assert balance_of(session_factory, "EX0000001") == 10_000 - used
    assert usage_entries(session_factory) == 1200


def test_the_import_reads_the_file_a_chunk_at_a_time():
    lines = iter([HEADER] + [f"EX0000001,1,k{n}\n" for n in range(usage.CSV_CHUNK * 2 + 1)])
    chunks = usage.read_csv(lines)
    first = next(chunks)
    assert len(first) == usage.CSV_CHUNK and first[0][0] == 2
    # Only the first chunk's lines (and the header) have been read so far.
    assert next(lines) == f"EX0000001,1,k{usage.CSV_CHUNK}\n"


def test_a_wrong_header_is_refused_before_anything_is_applied(cli, tmp_path, session_factory):
    make_account(session_factory, "EX0000001", "Acme", credits=100)
    path = write_csv(tmp_path, "ref,credits,key\nEX0000001,5,a\n", "usage.csv")
    code, out, err = cli("usage", "import", path)
    assert code == 1
    assert err == (
        "admin-bot: The header must be reference,credits,key,occurred_at (occurred_at optional); "
        "got ref,credits,key.\n"
    )
    assert balance_of(session_factory, "EX0000001") == 100
    assert cli("usage", "import", str(tmp_path / "missing.csv"))[2].startswith("admin-bot: Cannot read")


def write_bytes(tmp_path, body: bytes) -> str:
    path = tmp_path / "usage.csv"
    path.write_bytes(body)
    return str(path)


def test_a_line_that_is_not_utf8_is_refused_by_number_and_the_others_applied(cli, tmp_path, session_factory):
    make_account(session_factory, "EX0000001", "Acme", credits=100)
    path = write_bytes(
        tmp_path,
        b"reference,credits,key\nEX0000001,1,k1\n"
        + "EX0000001,1,café\n".encode("latin-1")
        + b"EX0000001,1,k3\n",
    )

    code, out, err = cli("usage", "import", path)

    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "line 3: invalid_item: The file must be UTF-8 text, and byte 0xE9 on this line is not "
        "(save it as CSV UTF-8).",
        f"Imported usage from {path}: 2 applied, 0 already recorded, 1 refused.",
    ]
    assert balance_of(session_factory, "EX0000001") == 98


def test_a_utf16_file_is_refused_before_anything_is_applied(cli, tmp_path, session_factory):
    make_account(session_factory, "EX0000001", "Acme", credits=100)
    path = write_bytes(tmp_path, "reference,credits,key\nEX0000001,1,k1\n".encode("utf-16"))

    code, out, err = cli("usage", "import", path)

    assert (code, out) == (1, "")
    assert err == "admin-bot: The file must be UTF-8 text, and this one is UTF-16 (save it as CSV UTF-8).\n"
    assert balance_of(session_factory, "EX0000001") == 100


def test_rows_the_csv_reader_cannot_read_are_refused_by_the_line_they_start_on(
    cli, tmp_path, session_factory
):
    make_account(session_factory, "EX0000001", "Acme", credits=100)
    huge = write_csv(tmp_path, HEADER + "EX0000001,1," + "k" * 200_000 + ",\nEX0000001,1,k2,\n", "huge.csv")
    unclosed = write_csv(
        tmp_path, HEADER + 'EX0000001,1,k3,\nEX0000001,1,"k4,\nEX0000001,1,k5,\n', "quote.csv"
    )

    code, out, err = cli("usage", "import", huge)
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "line 2: invalid_item: This is not a CSV row (field larger than field limit (131072)).",
        f"Imported usage from {huge}: 1 applied, 0 already recorded, 1 refused.",
    ]

    code, out, err = cli("usage", "import", unclosed)
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "line 3: invalid_item: The quote opened on this line is never closed.",
        f"Imported usage from {unclosed}: 1 applied, 0 already recorded, 1 refused.",
    ]
    assert balance_of(session_factory, "EX0000001") == 98


def test_the_header_is_read_as_the_accounts_import_reads_it(cli, tmp_path, session_factory):
    make_account(session_factory, "EX0000001", "Acme", credits=100)
    path = write_csv(tmp_path, "Key , REFERENCE,Credits\nk1,EX0000001,5\n", "usage.csv")

    assert cli("usage", "import", path) == (
        0,
        f"Imported usage from {path}: 1 applied, 0 already recorded, 0 refused.\n",
        "",
    )
    assert balance_of(session_factory, "EX0000001") == 95


def test_a_database_lost_midway_says_what_was_applied_and_running_again_finishes(
    cli, tmp_path, session_factory, monkeypatch
):
    make_account(session_factory, "EX0000001", "Acme", credits=10_000)
    rows = "".join(f"EX0000001,1,k{n}\n" for n in range(1, 1201))  # lines 2-1201: three chunks
    path = write_csv(tmp_path, HEADER + rows, "usage.csv")
    apply_batch = usage.apply_batch
    chunks = []

    def lost_at_the_second_chunk(*args, **kwargs):
        chunks.append(1)
        if len(chunks) == 2:
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
        return apply_batch(*args, **kwargs)

    monkeypatch.setattr(usage, "apply_batch", lost_at_the_second_chunk)
    code, out, err = cli("usage", "import", path)

    counts = "500 applied, 0 already recorded, 0 refused"
    assert code == 1
    assert out == f"Stopped importing usage from {path} after line 501: {counts}.\n"
    assert err.startswith("admin-bot: ") and len(err.splitlines()) == 1
    assert err.endswith(
        ". Lines up to 501 were applied (counted above), later ones perhaps not: "
        "import the same file again to finish; each key is applied at most once.\n"
    )
    assert balance_of(session_factory, "EX0000001") == 9_500

    monkeypatch.setattr(usage, "apply_batch", apply_batch)
    assert cli("usage", "import", path) == (
        0,
        f"Imported usage from {path}: 700 applied, 500 already recorded, 0 refused.\n",
        "",
    )
    assert balance_of(session_factory, "EX0000001") == 8_800
    assert usage_entries(session_factory) == 1200
