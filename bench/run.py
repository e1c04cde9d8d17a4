"""Benchmark admin-bot against a bare Bolt app in the same run, and print a markdown table.

    python -m bench.run [--sizes 10000,100000,1000000] [--postgres URL] [--requests 1000]

For each database (SQLite always; PostgreSQL when --postgres is given) and each size it:
generates accounts with opening ledger entries, serves the real bot on waitress against the fake
Slack Web API (in a process of its own, as Slack is remote), and measures, over signed HTTP
requests exactly as Slack sends them:
  - ack latency (p50/p99) of `/accounts QUERY` and of the Move credits destination
    `block_suggestion`, against a bare Bolt app answering a slash command with fixed text;
  - credit moves per second with 1, 4 and 16 concurrent clients, then checks the ledger;
  - usage API items per second with batches of 1 and of 500 (bench/usage_api.py), against the
    baseline's request rate;
  - one low-credit reminder pass with 1% of accounts below their level (DM time excluded);
  - peak RSS of an `admin-bot serve --http` subprocess after a latency run of its own.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy import Engine, text

from bench import usage_api
from bench.fake_process import FakeSlackProcess
from bot.app import create_app, make_client
from bot.config import Config
from bot.serving import ServerThread, make_http_server
from handlers.move import DESTINATION_ACTION, DESTINATION_BLOCK, build_move_modal
from jobs.low_credit import run_low_credit_pass
from store import accounts as account_store
from store import db, ledger, roles
from store.models import Role
from tests.databases import migrated, scratch_postgresql
from tests.slack_requests import DEFAULT_USER_ID, Response, SlackRequests

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
BENCH_DATABASE = "admin_bot_bench"
OPENING_CREDITS = 1_000_000
LOW_SHARE = 0.01  # accounts below their reminder level
SUFFIXES = [
    "Ltd",
    "Marketing",
    "Clinic",
    "Motors",
    "Dental",
    "Salon",
    "Bakery",
    "Events",
    "Gym",
    "Pharmacy",
    "Taxis",
    "Lettings",
    "Garden Centre",
    "Vets",
    "Florist",
]
CONSONANTS = "bcdfghjklmnprstvwz"
VOWELS = "aeiou"


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """Pronounceable made-up words, so substring queries have realistic selectivity."""
    words: set[str] = set()
    while len(words) < size:
        syllables = rng.randint(2, 3)
        words.add("".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(syllables)))
    return sorted(words)


@dataclass
class Dataset:
    """What was generated, so requests can aim at real rows."""

    size: int
    words: list[str]
    source_id: int  # an account with credits, the Move credits source
    move_view: dict[str, Any] = field(default_factory=dict)  # its Move modal, as Slack holds it


# ---------------------------------------------------------------------------------- data


def account_rows(size: int, seed: int = 6) -> tuple[list[tuple[Any, ...]], list[str]]:
    rng = random.Random(seed)
    words = vocabulary(max(200, size // 500), rng)
    now = datetime.now(UTC)
    rows = []
    low = set(rng.sample(range(1, size + 1), max(1, int(size * LOW_SHARE))))
    for account_id in range(1, size + 1):
        name = f"{rng.choice(words).title()} {rng.choice(words).title()} {rng.choice(SUFFIXES)}"
        keyword = rng.choice(words).upper() if rng.random() < 0.5 else None
        balance = OPENING_CREDITS
        # Half the accounts have reminders on; 1% of all accounts sit below their level.
        enabled = account_id in low or rng.random() < 0.5
        level = OPENING_CREDITS * 2 if account_id in low else (1000 if enabled else 0)
        rows.append(
            (
                account_id,
                f"BN{account_id:08d}",
                name[:50],
                keyword,
                True,
                balance,
                now,
                enabled,
                level,
                int(enabled),  # recipient_count: load gives each reminder one recipient
            )
        )
    return rows, words


ACCOUNT_COLUMNS = (
    "id",
    "reference",
    "name",
    "keyword",
    "active",
    "balance",
    "created_at",
    "reminder_enabled",
    "reminder_level",
    "recipient_count",
)


def load(engine: Engine, size: int) -> Dataset:
    """Bulk-load `size` accounts, each with its opening ledger entry and reminder recipient."""
    rows, words = account_rows(size)
    now = datetime.now(UTC)
    entries = [(r[0], "opening", r[5], r[5], "bench", now) for r in rows]
    recipients = [(r[0], f"U{r[0]:08d}", f"U{r[0]:08d}") for r in rows if r[7]]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY accounts ({', '.join(ACCOUNT_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            with cursor.copy(
                "COPY ledger_entries (account_id, kind, credits, balance_after, actor, created_at) FROM STDIN"
            ) as copy:
                for row in entries:
                    copy.write_row(row)
            with cursor.copy(
                "COPY reminder_recipients (account_id, address, slack_user_id) FROM STDIN"
            ) as copy:
                for row in recipients:
                    copy.write_row(row)
            cursor.execute("SELECT setval('accounts_id_seq', %s)", (size,))
        else:
            cursor.execute("BEGIN")
            marks = ", ".join("?" * len(ACCOUNT_COLUMNS))
            cursor.executemany(f"INSERT INTO accounts ({', '.join(ACCOUNT_COLUMNS)}) VALUES ({marks})", rows)
            cursor.executemany(
                "INSERT INTO ledger_entries (account_id, kind, credits, balance_after, actor, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                entries,
            )
            cursor.executemany(
                "INSERT INTO reminder_recipients (account_id, address, slack_user_id) VALUES (?, ?, ?)",
                recipients,
            )
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    with db.make_session_factory(engine).begin() as session:
        roles.grant(session, DEFAULT_USER_ID, Role.ADMIN, "bench")
    return Dataset(size, words, source_id=1)


@contextmanager
def fresh_database(kind: str, postgres_url: str | None, workdir: Path) -> Iterator[str]:
    """A new, migrated, empty database; dropped afterwards."""
    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        try:
            yield migrated(f"sqlite:///{path}")
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    assert postgres_url
    with scratch_postgresql(postgres_url, BENCH_DATABASE) as url:
        yield url


# ------------------------------------------------------------------------------- serving


def bare_bolt_app(config: Config) -> App:
    """The baseline: Bolt with the bot's settings, one slash command answered with fixed text."""
    app = App(
        signing_secret=SIGNING_SECRET,
        process_before_response=True,
        token_verification_enabled=False,
        client=make_client(config),
    )

    def pong(ack: Ack) -> None:
        ack("pong")

    app.command("/ping")(pong)
    return app


@contextmanager
def served(app: App, engine: Engine) -> Iterator[str]:
    """The app on the bot's own waitress stack, on a free port."""
    with ServerThread(make_http_server(app, engine, "127.0.0.1", 0)) as running:
        yield f"{running.url}/slack/events"


@dataclass
class Latency:
    name: str
    samples: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def p50(self) -> float:
        return percentile(self.samples, 0.50) * 1000

    @property
    def p99(self) -> float:
        return percentile(self.samples, 0.99) * 1000


def measure(
    name: str, count: int, send: Callable[[int], Response], ok: Callable[[Response], bool]
) -> Latency:
    result = Latency(name)
    for i in range(min(50, count)):  # warm up connections, caches and prepared statements
        send(i)
    for i in range(count):
        started = time.perf_counter()
        answer = send(i)
        result.samples.append(time.perf_counter() - started)
        if not ok(answer):
            result.errors += 1
            if result.errors <= 3:
                print(f"  ! {name}: HTTP {answer.status} {answer.text[:200]}", file=sys.stderr)
    return result


def search_terms(data: Dataset, count: int) -> list[str]:
    """What people type: a word of an account's name, a keyword, or a reference fragment."""
    rng = random.Random(count)
    terms = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            terms.append(rng.choice(data.words))
        elif kind == 1:
            terms.append(rng.choice(data.words)[:4])
        else:
            terms.append(f"BN{rng.randint(1, data.size):08d}"[-6:])
    return terms


def latency_runs(slack: SlackRequests, data: Dataset, count: int) -> list[Latency]:
    terms = search_terms(data, count + 50)
    view = data.move_view

    def is_results(answer: Response) -> bool:
        return answer.status == 200 and "account(s)" in answer.text

    def is_options(answer: Response) -> bool:
        return answer.status == 200 and '"options"' in answer.text

    search = measure("`/accounts QUERY`", count, lambda i: slack.command("/accounts", terms[i]), is_results)
    suggest = measure(
        "Move destination `block_suggestion`",
        count,
        lambda i: slack.block_suggestion(DESTINATION_ACTION, terms[i], block_id=DESTINATION_BLOCK, view=view),
        is_options,
    )
    return [search, suggest]


def build_move_modal_view(session_factory: db.SessionFactory, source_id: int) -> dict[str, Any]:
    """The Move credits modal as Slack would hold it, with the ids Slack adds."""
    with session_factory.begin() as session:
        view = build_move_modal(account_store.get(session, source_id))
    return {**view, "id": "VBENCH001", "hash": "1.bench", "team_id": "T0BENCH"}


def baseline_run(engine: Engine, fake: FakeSlackProcess, config: Config, count: int) -> Latency:
    with served(bare_bolt_app(config), engine) as url:
        slack = SlackRequests(url, SIGNING_SECRET, fake)
        return measure(
            "bare Bolt slash command (baseline)",
            count,
            lambda i: slack.command("/ping", "x"),
            lambda answer: answer.status == 200 and "pong" in answer.text,
        )


# ------------------------------------------------------------------------------ throughput


def move_throughput(
    session_factory: db.SessionFactory, size: int, clients: int, seconds: float
) -> tuple[float, int, int]:
    """Random-pair moves of 1 credit for `seconds`; (moves/s, moves done, errors)."""
    done = [0] * clients
    errors = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(index: int) -> None:
        rng = random.Random(index)
        while time.perf_counter() < stop:
            source, destination = rng.sample(range(1, size + 1), 2)
            try:
                with session_factory.begin() as session:
                    ledger.transfer(session, source, destination, 1, "bench", key=f"bench:{uuid.uuid4()}")
                done[index] += 1
            except Exception as error:  # noqa: BLE001 - every failure is counted and shown
                errors[index] += 1
                if errors[index] <= 2:
                    print(f"  ! move failed: {type(error).__name__}: {error}", file=sys.stderr)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return sum(done) / elapsed, sum(done), sum(errors)


def moves_recorded(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(
            text("SELECT count(*) FROM ledger_entries WHERE kind = 'transfer_out' AND actor = 'bench'")
        )


# ------------------------------------------------------------------------------- reminders


class TimedClient(WebClient):
    """A WebClient that adds up the time spent in Web API calls, to subtract the DMs."""

    api_seconds = 0.0

    def api_call(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return super().api_call(*args, **kwargs)
        finally:
            self.api_seconds += time.perf_counter() - started


def reminder_pass(session_factory: db.SessionFactory, fake: FakeSlackProcess) -> dict[str, float]:
    client = TimedClient(token=BOT_TOKEN, base_url=fake.api_url)
    started = time.perf_counter()
    report = run_low_credit_pass(session_factory, client, datetime.now(UTC))
    first = time.perf_counter() - started
    dm_seconds = client.api_seconds
    sent, failed = len(report.sent), len(report.failed)
    started = time.perf_counter()
    run_low_credit_pass(session_factory, client, datetime.now(UTC))
    steady = time.perf_counter() - started
    return {
        "first": first,
        "first_without_dms": first - dm_seconds,
        "sent": sent,
        "failed": failed,
        "steady": steady,
    }


# ------------------------------------------------------------------------------------- RSS


def serve_subprocess_rss(url: str, fake: FakeSlackProcess, data: Dataset, count: int) -> tuple[float, int]:
    """Peak RSS (MB) of `admin-bot serve --http` after `count` search and suggestion requests."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": fake.api_url,
        "SLACK_APP_TOKEN": "xapp-bench-token",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--http", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://[\d.]+:(\d+)/slack/events", line)
        if not match:
            raise RuntimeError(f"admin-bot serve did not start: {line!r}")
        slack = SlackRequests(f"http://127.0.0.1:{match.group(1)}/slack/events", SIGNING_SECRET, fake)
        runs = latency_runs(slack, data, count)
        errors = sum(run.errors for run in runs)
        status = Path(f"/proc/{process.pid}/status").read_text()
        peak_kb = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
        return peak_kb / 1024, errors
    finally:
        process.terminate()
        process.wait(timeout=10)


# ------------------------------------------------------------------------------------ main


@dataclass
class SizeResult:
    backend: str
    size: int
    load_seconds: float
    baseline: Latency
    runs: list[Latency]
    throughput: list[tuple[int, float, int, int]] = field(default_factory=list)
    ledger_ok: bool | None = None
    moves_lost: int | None = None
    reminders: dict[str, float] = field(default_factory=dict)
    rss_mb: float | None = None
    rss_errors: int = 0
    usage_api: list[usage_api.UsageRun] = field(default_factory=list)


def bench_one(
    backend: str, size: int, args: argparse.Namespace, fake: FakeSlackProcess, workdir: Path
) -> SizeResult:
    with fresh_database(backend, args.postgres, workdir) as url:
        engine = db.make_engine(url)
        started = time.perf_counter()
        data = load(engine, size)
        load_seconds = time.perf_counter() - started
        print(f"[{backend} {size:,}] loaded in {load_seconds:.1f}s", file=sys.stderr)
        session_factory = db.make_session_factory(engine)
        data.move_view = build_move_modal_view(session_factory, data.source_id)
        config = Config(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_app_token="xapp-bench-token",
            slack_api_url=fake.api_url,
            database_url=url,
        )
        baseline = baseline_run(engine, fake, config, args.requests)
        with served(create_app(config, session_factory), engine) as bot_url:
            runs = latency_runs(SlackRequests(bot_url, SIGNING_SECRET, fake), data, args.requests)
        result = SizeResult(backend, size, load_seconds, baseline, runs)
        print(f"[{backend} {size:,}] latency done", file=sys.stderr)
        if not args.skip_usage_api:
            result.usage_api = usage_api.measure(engine, session_factory, config, args.requests)
            print(f"[{backend} {size:,}] usage API done", file=sys.stderr)

        if not args.skip_moves:
            total = 0
            for clients in (1, 4, 16):
                rate, moves, errors = move_throughput(session_factory, size, clients, args.move_seconds)
                total += moves
                result.throughput.append((clients, rate, moves, errors))
            with session_factory.begin() as session:
                problems = ledger.balance_problems(session)
            for problem in problems[:5]:
                print(f"  ! ledger: {problem}", file=sys.stderr)
            result.ledger_ok = not problems
            result.moves_lost = total - moves_recorded(engine)
            print(f"[{backend} {size:,}] moves done", file=sys.stderr)

        result.reminders = reminder_pass(session_factory, fake)
        engine.dispose()
        if not args.skip_rss:
            try:
                result.rss_mb, result.rss_errors = serve_subprocess_rss(url, fake, data, args.requests)
            except Exception as error:  # noqa: BLE001 - reported in the table, not fatal
                print(f"  ! RSS run failed: {error}", file=sys.stderr)
        return result


def report(results: list[SizeResult], args: argparse.Namespace) -> str:
    lines = [
        f"Requests per measurement: {args.requests} (sequential, new HTTP connection each, "
        f"signed as Slack signs them); Python {sys.version.split()[0]}.",
        "",
        "| DB | accounts | request | p50 ms | p99 ms | p50 × baseline | p99 × baseline | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for run in [r.baseline, *r.runs]:
            lines.append(
                f"| {r.backend} | {r.size:,} | {run.name} | {run.p50:.1f} | {run.p99:.1f} "
                f"| {run.p50 / r.baseline.p50:.1f}× | {run.p99 / r.baseline.p99:.1f}× "
                f"| {run.errors} |"
            )
    if any(r.throughput for r in results):
        lines += [
            "",
            "| DB | accounts | moves/s with 1 / 4 / 16 clients | moves | errors | ledger check "
            "| moves lost |",
            "|---|---:|---|---:|---:|---|---:|",
        ]
        for r in results:
            if r.throughput:
                rates = " / ".join(f"{rate:,.0f}" for _, rate, _, _ in r.throughput)
                moves = sum(moves for _, _, moves, _ in r.throughput)
                errors = sum(errors for _, _, _, errors in r.throughput)
                lines.append(
                    f"| {r.backend} | {r.size:,} | {rates} | {moves:,} | {errors} "
                    f"| {'passes' if r.ledger_ok else 'FAILS'} | {r.moves_lost} |"
                )
    if any(r.reminders for r in results):
        lines += [
            "",
            "| DB | accounts | low accounts | first pass s | without DM calls s "
            "| without DM calls, per low account | DMs sent | failed | next pass s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results:
            m = r.reminders
            lines.append(
                f"| {r.backend} | {r.size:,} | {int(r.size * LOW_SHARE):,} | {m['first']:.3f} "
                f"| {m['first_without_dms']:.3f} "
                f"| {m['first_without_dms'] / max(r.size * LOW_SHARE, 1) * 1e6:.0f} µs "
                f"| {int(m['sent']):,} | {int(m['failed'])} "
                f"| {m['steady']:.3f} |"
            )
    lines += usage_api.report_lines(results)
    if any(r.rss_mb is not None for r in results):
        lines += [
            "",
            "| DB | accounts | `admin-bot serve --http` peak RSS (VmHWM) | errors |",
            "|---|---:|---:|---:|",
        ]
        for r in results:
            if r.rss_mb is not None:
                lines.append(f"| {r.backend} | {r.size:,} | {r.rss_mb:.0f} MB | {r.rss_errors} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000", help="comma-separated account counts (default 10000)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help=f"a PostgreSQL server URL; the bench creates and drops its own database {BENCH_DATABASE} there",
    )
    parser.add_argument(
        "--requests", type=int, default=1000, help="requests per latency measurement (default 1000)"
    )
    parser.add_argument(
        "--move-seconds", type=float, default=3.0, help="seconds per move-throughput run (default 3)"
    )
    parser.add_argument("--skip-moves", action="store_true")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--skip-usage-api", action="store_true")
    parser.add_argument(
        "--backends", default="", help="comma-separated subset of sqlite,postgresql (default: all available)"
    )
    args = parser.parse_args(argv)
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size]
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    if args.backends:
        backends = [b for b in backends if b in args.backends.split(",")]
    results = []
    with FakeSlackProcess() as fake, tempfile.TemporaryDirectory(prefix="admin-bot-bench-") as tmp:
        for backend in backends:
            for size in sizes:
                results.append(bench_one(backend, size, args, fake, Path(tmp)))
    print(report(results, args))
    failed = any(run.errors for r in results for run in [r.baseline, *r.runs])
    failed |= any(r.ledger_ok is False or r.moves_lost for r in results)
    failed |= any(error for r in results for _, _, _, error in r.throughput)
    failed |= any(r.reminders.get("failed") for r in results)
    failed |= any(run.errors for r in results for run in r.usage_api)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
