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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bench.fake_process import FakeSlackProcess, TimedClient
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
from bot.app import make_services
from bot.config import Config
from handlers import home
from store import db
from tests.slack_requests import DEFAULT_USER_ID

# Published well inside Slack's 3-second window; the aim is bench.run's ratio for an acknowledgement.
P50_TARGET = 3.0  # × the bare-Bolt baseline
P99_TARGET = 10.0


def table(results: list[Any]) -> list[str]:
    """Markdown rows for every bench.run SizeResult with a Home publish run, against its baseline."""
    lines = [HEADER, "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    lines += [row(r.backend, r.size, r.baseline, r.home) for r in results if r.home is not None]
    return lines


HEADER = (
    "| DB | accounts | baseline p50 ms | Home tab publish p50 ms | p99 ms | p50 × Bolt | p99 × Bolt "
    "| `views.publish` p50 ms (Slack's time, left out) | target |"
)


def row(backend: str, size: int, baseline: Latency, run: PublishRun) -> str:
    """One size's figures: the bot's own time against the baseline, and Slack's time beside it."""
    p50x, p99x = run.own.p50 / baseline.p50, run.own.p99 / baseline.p99
    return (
        f"| {backend} | {size:,} | {baseline.p50:.1f} | {run.own.p50:.1f} | {run.own.p99:.1f} | {p50x:.1f}× "
        f"| {p99x:.1f}× | {run.slack.p50:.1f} | {mark(p50x <= P50_TARGET and p99x <= P99_TARGET)} |"
    )


@dataclass
class PublishRun:
    """The bot's own time per publish, and Slack's (the `views.publish` call), apart."""

    own: Latency
    slack: Latency


def publish_run(config: Config, session_factory: db.SessionFactory, count: int) -> PublishRun:
    """home.publish for the bench's admin, `count` times after a warm-up."""
    services = make_services(config, session_factory)
    client = TimedClient(token=config.slack_bot_token, base_url=config.slack_api_url)
    result = PublishRun(Latency(), Latency())
    for _ in range(min(10, count)):
        home.publish(client, services, DEFAULT_USER_ID)
    for _ in range(count):
        slack_before = client.api_seconds
        started = time.perf_counter()
        home.publish(client, services, DEFAULT_USER_ID)
        slack = client.api_seconds - slack_before
        result.own.samples.append(time.perf_counter() - started - slack)
        result.slack.samples.append(slack)
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
    return row(backend, size, baseline, run)


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
    lines = [HEADER, "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    with FakeSlackProcess() as fake, tempfile.TemporaryDirectory(prefix="admin-bot-bench-") as tmp:
        for backend in ["sqlite"] + (["postgresql"] if args.postgres else []):
            for size in sizes:
                lines.append(bench_one(backend, size, args, fake, Path(tmp)))
                print(lines[-1], file=sys.stderr)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
