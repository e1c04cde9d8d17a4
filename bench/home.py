"""Benchmark publishing the Home tab, as a ratio against the bare-Bolt baseline of bench.run.

    python -m bench.home [--sizes 10000,100000,1000000] [--postgres URL] [--requests 100]

For each database and size it bulk-loads accounts with bench.run.load (1% below their reminder
level, half with reminders on), then times home.publish for an admin: the summary, a page of
needs attention, the view, and the views.publish call to the fake Slack Web API in a process of
its own, which is all the work after Slack's event is acknowledged. The same run measures the
bare Bolt slash command, bench.run's baseline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bench.fake_process import FakeSlackProcess
from bench.http import KeepAliveRequests
from bench.run import (
    SIGNING_SECRET,
    Latency,
    bare_bolt_app,
    bench_config,
    fresh_database,
    is_pong,
    load,
    mark,
    served,
)
from bot.app import make_client, make_services
from bot.config import Config
from handlers import home
from store import db
from tests.slack_requests import DEFAULT_USER_ID

# Published well inside Slack's 3-second window; the aim is bench.run's ratio for an acknowledgement.
P50_TARGET = 3.0  # × the bare-Bolt baseline
P99_TARGET = 10.0


def table(results: list[Any]) -> list[str]:
    """Markdown rows for every bench.run SizeResult with a Home publish run, against its baseline."""
    lines = [
        "| DB | accounts | Home tab publish p50 ms | p99 ms | p50 × Bolt | p99 × Bolt | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if r.home is not None:
            p50x, p99x = r.home.p50 / r.baseline.p50, r.home.p99 / r.baseline.p99
            lines.append(
                f"| {r.backend} | {r.size:,} | {r.home.p50:.1f} | {r.home.p99:.1f} | {p50x:.1f}× "
                f"| {p99x:.1f}× | {mark(p50x <= P50_TARGET and p99x <= P99_TARGET)} |"
            )
    return lines


def publish_run(config: Config, session_factory: db.SessionFactory, count: int) -> Latency:
    """home.publish for the bench's admin, `count` times after a warm-up."""
    services, client = make_services(config, session_factory), make_client(config)
    result = Latency()
    for _ in range(min(10, count)):
        home.publish(client, services, DEFAULT_USER_ID)
    for _ in range(count):
        started = time.perf_counter()
        home.publish(client, services, DEFAULT_USER_ID)
        result.samples.append(time.perf_counter() - started)
    return result


def baseline_run(engine: Engine, fake: FakeSlackProcess, config: Config, count: int) -> Latency:
    """bench.run's baseline: the bare Bolt slash command on the same server stack."""
    result = Latency()
    with served(bare_bolt_app(config), engine) as url:
        client = KeepAliveRequests(url, SIGNING_SECRET, fake)
        for _ in range(count):
            result.timed("baseline", lambda: client.command("/ping", "x"), is_pong)
        client.close()
    return result


def bench_one(
    backend: str, size: int, args: argparse.Namespace, fake: FakeSlackProcess, workdir: Path
) -> str:
    with fresh_database(backend, args.postgres, workdir) as url:
        engine = db.make_engine(url)
        load(engine, size)
        config = bench_config(fake.api_url, url)
        baseline = baseline_run(engine, fake, config, args.requests)
        run = publish_run(config, db.make_session_factory(engine), args.requests)
        engine.dispose()
    return (
        f"| {backend} | {size:,} | {baseline.p50:.1f} | {run.p50:.1f} | {run.p99:.1f} "
        f"| {run.p50 / baseline.p50:.1f}× | {run.p99 / baseline.p99:.1f}× |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.home", description=__doc__)
    parser.add_argument("--sizes", default="10000", help="comma-separated account counts (default 10000)")
    parser.add_argument(
        "--postgres", metavar="URL", help="a PostgreSQL server URL (a scratch database is used)"
    )
    parser.add_argument(
        "--requests", type=int, default=100, help="publishes and baseline requests (default 100)"
    )
    args, _ = parser.parse_known_args(argv)  # `make bench` passes bench.run's options too
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size]
    lines = [
        "| DB | accounts | baseline p50 ms | Home publish p50 ms | p99 ms | p50 × baseline "
        "| p99 × baseline |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    with FakeSlackProcess() as fake, tempfile.TemporaryDirectory(prefix="admin-bot-bench-") as tmp:
        for backend in ["sqlite"] + (["postgresql"] if args.postgres else []):
            for size in sizes:
                lines.append(bench_one(backend, size, args, fake, Path(tmp)))
                print(lines[-1], file=sys.stderr)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
