"""Bench: the reminder pass with live alerts, at SIZE accounts with 1% low and a further 1% resolving.

    python -m bench.alerts --size 1000000 [--postgres postgresql+psycopg://postgres@127.0.0.1/postgres]

The low accounts' alerts are seeded as already sent, so the timings are the pass itself: a steady
pass (nothing changed), then a pass after a purchase into each of a further 1% of accounts, which
posts one thread reply and one chat.update per resolving alert. Each pass is timed after a
checkpoint (settled), and the time spent in Slack API calls (a local fake in another process) is
subtracted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from bench.fake_process import FakeSlackProcess, TimedClient
from jobs.low_credit import run_low_credit_pass
from store import db
from tests.databases import migrated, scratch_postgresql

LOW_EVERY = 100  # 1% of accounts are low (ids divisible by 100)...
RESOLVING_EVERY = 100  # ...and a further 1% (ids that are 50 more) are low, then bought back up
TOKEN = "xoxb-bench"


def _numbers(engine: Engine, size: int) -> str:
    """A row source of n = 1..size in this dialect."""
    if engine.dialect.name == "postgresql":
        return f"generate_series(1, {size}) AS g(n)"
    return (
        f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {size}) SELECT n FROM s)"
    )


def seed(engine: Engine, size: int) -> None:
    """`size` accounts, half with a reminder at 500; 2% below it, each with one alert already sent."""
    now = datetime.now(UTC).isoformat(sep=" ")
    low = f"(n % {LOW_EVERY} = 0 OR n % {RESOLVING_EVERY} = 50)"
    statements = [
        f"INSERT INTO accounts (id, reference, name, active, balance, created_at, reminder_enabled, "
        f"reminder_level, recipient_count) SELECT n, 'EX' || n, 'Account ' || n, true, "
        f"CASE WHEN {low} THEN 100 ELSE 1000 END, '{now}', n % 2 = 0 OR {low}, 500, "
        f"CASE WHEN {low} THEN 1 ELSE 0 END FROM {_numbers(engine, size)}",
        f"INSERT INTO reminder_recipients (account_id, address, slack_user_id) "
        f"SELECT n, 'U0BENCH01', 'U0BENCH01' FROM {_numbers(engine, size)} WHERE {low}",
        f"INSERT INTO reminder_episodes (account_id, number, low) "
        f"SELECT n, 1, true FROM {_numbers(engine, size)} WHERE {low}",
        f"INSERT INTO alerts (account_id, episode, revision, seen_entry_id, resolved) "
        f"SELECT n, 1, 1, 0, false FROM {_numbers(engine, size)} WHERE {low}",
        f"INSERT INTO alert_messages (account_id, episode, address, number, channel, ts, shown_revision, "
        f"replied_entry_id, stale, sent_at, slack_user_id) SELECT n, 1, 'U0BENCH01', 1, 'DU0BENCH01', "
        f"n || '.000100', 1, 0, false, '{now}', 'U0BENCH01' FROM {_numbers(engine, size)} WHERE {low}",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))


def buy_back_up(engine: Engine) -> int:
    """A purchase of 1,000 credits into each resolving account, as the ledger records it."""
    resolving = f"id % {RESOLVING_EVERY} = 50"
    now = datetime.now(UTC).isoformat(sep=" ")
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE accounts SET balance = balance + 1000 WHERE {resolving}"))
        return connection.execute(
            text(
                "INSERT INTO ledger_entries (account_id, kind, credits, balance_after, actor, created_at) "
                f"SELECT id, 'purchase', 1000, balance, 'U0BENCH02', '{now}' FROM accounts WHERE {resolving}"
            )
        ).rowcount


def settled(engine: Engine) -> None:
    """Write out what the bench wrote before a pass is timed: a checkpoint on PostgreSQL, SQLite's
    log folded into the database. Otherwise the pass shares the disk and a core with the
    write-back of a load, a seed or moves before it, which is their cost, not the pass's."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("CHECKPOINT")
        return
    # On the driver: SQLAlchemy's connection would begin a transaction, which the fold waits for.
    driver = engine.raw_connection()
    try:
        driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        driver.close()


def timed_pass(session_factory: db.SessionFactory, api_url: str) -> tuple[float, float, Any]:
    """(seconds, seconds outside Slack API calls, report) for one pass."""
    client = TimedClient(token=TOKEN, base_url=api_url)
    started = time.perf_counter()
    report = run_low_credit_pass(session_factory, client, datetime.now(UTC))
    elapsed = time.perf_counter() - started
    return elapsed, elapsed - client.api_seconds, report


@contextmanager
def database(postgres: str | None, size: int) -> Iterator[str]:
    if postgres:
        with scratch_postgresql(postgres, f"admin_bot_bench_alerts_{size}") as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as workdir:
        yield migrated(f"sqlite:///{Path(workdir) / 'bench.db'}")


TARGET_S = 1.0  # a pass without Web API calls, at 1M accounts


@dataclass
class AlertsRun:
    """One database's steady pass and resolving pass."""

    backend: str
    size: int
    steady_s: float  # without API calls
    resolving: int
    edited: int
    resolving_s: float  # without API calls
    resolving_total_s: float


def measure(size: int, postgres: str | None) -> AlertsRun:
    """Seed `size` accounts, then time a steady pass and a pass after 1% are bought back up."""
    with database(postgres, size) as url, FakeSlackProcess() as fake:
        engine = db.make_engine(url)
        seed(engine, size)
        session_factory = db.make_session_factory(engine)
        settled(engine)
        _, steady_own, _ = timed_pass(session_factory, fake.api_url)
        resolving = buy_back_up(engine)
        settled(engine)
        total, own, report = timed_pass(session_factory, fake.api_url)
        engine.dispose()
    backend = "postgresql" if postgres else "sqlite"
    return AlertsRun(backend, size, steady_own, resolving, len(report.updates.updated), own, total)


def table(results: list) -> list[str]:  # type: ignore[type-arg]
    """Markdown rows for every result with an alerts run."""
    runs = [r.alerts for r in results if getattr(r, "alerts", None)]
    if not runs:
        return []
    lines = [
        "",
        "| DB | accounts | low (alerts out) | steady pass s | resolving | alerts edited "
        f"| resolving pass s | per resolving account | with API calls s | target < {TARGET_S:.0f} s at 1M |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        met = max(run.steady_s, run.resolving_s) < TARGET_S
        target = ("met" if met else "**missed**") if run.size >= 1_000_000 else ""
        lines.append(
            f"| {run.backend} | {run.size:,} | {2 * run.size // LOW_EVERY:,} | {run.steady_s:.3f} "
            f"| {run.resolving:,} | {run.edited:,} | {run.resolving_s:.3f} "
            f"| {run.resolving_s / max(run.resolving, 1) * 1e6:,.0f} µs | {run.resolving_total_s:.3f} "
            f"| {target} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL; without it, SQLite")
    args = parser.parse_args(argv)
    from bench.run import log_as_serve_does  # bench.run builds on this module

    log_as_serve_does()

    @dataclass
    class Result:
        alerts: AlertsRun

    print("\n".join(table([Result(measure(args.size, args.postgres))])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
