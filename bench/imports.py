"""`admin-bot accounts import` against a raw bulk load of the same file, in the same run.

The raw load is the floor for getting a CSV file into an indexed table: `executemany` on
SQLite, `COPY` on PostgreSQL. The import is run as people run it, `admin-bot accounts import`
in a process of its own, whose peak RSS is read from the kernel when it exits.
"""

from __future__ import annotations

import csv
import os
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench.dataset import account_rows

ROOT = Path(__file__).resolve().parent.parent
RATIO_TARGET = 10.0  # × the raw bulk load
CHANGED_SHARE = 0.05  # rows an --update file renames, re-keywords or re-credits
PEAK_POLL_SECONDS = 0.01


@dataclass
class ImportRun:
    what: str
    rows: int
    seconds: float = 0.0
    raw_seconds: float = 0.0
    peak_mb: float = 0.0
    error: str = ""

    @property
    def ratio(self) -> float:
        return self.seconds / self.raw_seconds if self.raw_seconds else float("inf")


def write_csv(path: Path, size: int, *, changed: bool = False) -> None:
    """The accounts of bench/dataset.py as an import file; `changed` alters some of every field."""
    rng = random.Random(size)
    with path.open("w", newline="", encoding="utf-8") as file:
        out = csv.writer(file)
        out.writerow(["reference", "name", "keyword", "credits"])
        for account_id, reference, name, keyword, *_ in account_rows(size):
            credits = 1000 + account_id % 5000
            if changed and rng.random() < CHANGED_SHARE:
                name, keyword, credits = f"{name} Renamed", (keyword or "NEW") + "X", credits + 7
            out.writerow([reference, name, keyword or "", credits])


def raw_load(url: str, path: Path) -> float:
    """Seconds to bulk-load `path` into a scratch table indexed on reference and name."""
    create = (
        "CREATE TABLE raw_import (reference VARCHAR(20) NOT NULL UNIQUE, name VARCHAR(50) NOT NULL, "
        "keyword VARCHAR(50), credits BIGINT NOT NULL)"
    )
    index = "CREATE INDEX ix_raw_import_name ON raw_import (lower(name))"
    parsed = make_url(url)
    started = time.perf_counter()
    if parsed.get_backend_name() == "sqlite":
        connection = sqlite3.connect(parsed.database or "")
        try:
            connection.execute(create)
            connection.execute(index)
            with path.open(newline="", encoding="utf-8") as file:
                rows = csv.reader(file)
                next(rows)
                connection.executemany("INSERT INTO raw_import VALUES (?, ?, ?, ?)", rows)
            connection.commit()
            seconds = time.perf_counter() - started
            connection.execute("DROP TABLE raw_import")
            connection.commit()
        finally:
            connection.close()
        return seconds
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as connection:
        connection.execute(create)
        connection.execute(index)
        with (
            connection.cursor().copy("COPY raw_import FROM STDIN (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as file,
        ):
            while chunk := file.read(1 << 16):
                copy.write(chunk)
        connection.commit()
        seconds = time.perf_counter() - started
        connection.execute("DROP TABLE raw_import")
    return seconds


def peak_rss_mb(pid: int) -> float:
    """The peak RSS of process `pid` so far (VmHWM), in MB; 0 once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def run_import(url: str, path: Path, *extra: str) -> tuple[float, float, str]:
    """(seconds, peak RSS MB, error) of `admin-bot accounts import` in a process of its own.

    The peak is the import's own, read while it runs: wait4's ru_maxrss also counts the memory
    of this process, which the child had until it exec'd (a `python -c pass` started by a
    300 MB parent reports 311 MB), so it grew with the bench's data, not the import's."""
    env = {**os.environ, "DATABASE_URL": url}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "accounts", "import", str(path), *extra],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peaks: list[float] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(PEAK_POLL_SECONDS):
            peaks.append(peak_rss_mb(process.pid))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, _ = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    assert process.stdout is not None and process.stderr is not None
    output = process.stdout.read() + process.stderr.read()
    error = "" if os.waitstatus_to_exitcode(status) == 0 else output.strip()[-300:]
    return seconds, max(peaks, default=0.0), error


def bench(url: str, size: int, workdir: Path) -> list[ImportRun]:
    """Import `size` new accounts, then `--update` all of them, each against a raw load."""
    runs = []
    for what, changed, extra in (
        ("new accounts", False, ()),
        ("`--update` of existing", True, ("--update",)),
    ):
        path = workdir / f"import-{size}-{int(changed)}.csv"
        write_csv(path, size, changed=changed)
        run = ImportRun(what, size)
        run.raw_seconds = raw_load(url, path)
        run.seconds, run.peak_mb, run.error = run_import(url, path, *extra)
        print(
            f"  import {what} {size:,}: {run.seconds:.1f}s, raw {run.raw_seconds:.2f}s, "
            f"{run.peak_mb:.0f} MB {run.error[:200]}",
            file=sys.stderr,
        )
        runs.append(run)
        path.unlink()
    return runs


def table(results: list[Any]) -> list[str]:
    """Markdown rows for every SizeResult with import runs."""
    lines = [
        "| DB | rows | `accounts import` | s | raw bulk load s | × raw | peak RSS | "
        f"target ≤ {RATIO_TARGET:.0f}× |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        for run in r.imports:
            if run.error:
                outcome, ratio = "**failed**", "–"
            else:
                outcome = "met" if run.ratio <= RATIO_TARGET else "**missed**"
                ratio = f"{run.ratio:.1f}×"
            lines.append(
                f"| {r.backend} | {run.rows:,} | {run.what} | {run.seconds:.1f} | {run.raw_seconds:.2f} "
                f"| {ratio} | {run.peak_mb:.0f} MB | {outcome} |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Only the import section of bench.run: `python -m bench.imports --sizes 100000 --postgres URL`."""
    import argparse
    import tempfile

    from bench.run import fresh_database, sizes  # bench.run builds on this module

    parser = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__)
    parser.add_argument("--sizes", type=sizes, default=[100000], help="comma-separated row counts")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL, as for bench.run")
    parser.add_argument("--backends", default="", help="comma-separated subset of sqlite,postgresql")
    args = parser.parse_args(argv)
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    if args.backends:
        backends = [b for b in backends if b in args.backends.split(",")]

    @dataclass
    class Result:
        backend: str
        imports: list[ImportRun]

    results = []
    with tempfile.TemporaryDirectory(prefix="admin-bot-bench-") as tmp:
        for backend in backends:
            for size in args.sizes:
                with fresh_database(backend, args.postgres, Path(tmp)) as url:
                    results.append(Result(backend, bench(url, size, Path(tmp))))
    print("\n".join(table(results)))
    failed = [run for r in results for run in r.imports if run.error]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
