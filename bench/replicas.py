"""Replicas sharing the reminder pass: 3 against 1, with every Web API call taking 100 ms.

Real Slack can take that long, so a pass spends nearly all its time waiting on DMs; replicas
that claim alerts from one PostgreSQL database should work through them about 3× as fast. Each
replica has its own engine and Web API client, as a separate process would. Working through
10,000 alerts at 100 ms per call would take a single replica half an hour, so both runs last
`seconds` and the bench compares alerts sent per second.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk import WebClient

from bench.fake_process import FakeSlackProcess
from jobs.low_credit import run_low_credit_pass
from store import db

CALL_SECONDS = 0.1
RATIO_TARGET = 2.5
LOW_ALERTS = 10_000


@dataclass
class ReplicaRun:
    replicas: int
    seconds: float
    sent: int
    failed: int

    @property
    def rate(self) -> float:
        return self.sent / self.seconds


def run_replicas(url: str, api_url: str, replicas: int, seconds: float) -> ReplicaRun:
    """`replicas` passes at once, each on its own engine, stopped after `seconds`."""
    stop = threading.Event()
    sent = [0] * replicas
    failed = [0] * replicas
    engines = [db.make_engine(url, pool_size=2) for _ in range(replicas)]

    def replica(index: int) -> None:
        client = WebClient(token="xoxb-bench-token", base_url=api_url)
        report = run_low_credit_pass(db.make_session_factory(engines[index]), client, stop=stop)
        sent[index], failed[index] = len(report.sent), len(report.failed)

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(replicas)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for engine in engines:
        engine.dispose()
    return ReplicaRun(replicas, elapsed, sum(sent), sum(failed))


def bench(url: str, seconds: float) -> list[ReplicaRun]:
    """Mark the crossings once, then 1 replica and 3 replicas, each for `seconds`."""
    engine = db.make_engine(url)
    with FakeSlackProcess(delay_seconds=CALL_SECONDS) as fake:
        marked = threading.Event()
        marked.set()  # a pass told to stop at once only marks crossings
        run_low_credit_pass(
            db.make_session_factory(engine), WebClient(base_url=fake.api_url), datetime.now(UTC), stop=marked
        )
        engine.dispose()
        runs = [run_replicas(url, fake.api_url, count, seconds) for count in (1, 3)]
    for run in runs:
        print(f"  {run.replicas} replica(s): {run.sent} DMs in {run.seconds:.1f}s", file=sys.stderr)
    return runs


def table(results: list) -> list[str]:  # type: ignore[type-arg]
    """Markdown rows for every SizeResult with replica runs."""
    lines = [
        "| DB | alerts due | Web API call | replicas | DMs sent | s | DMs/s | × 1 replica "
        f"| target ≥ {RATIO_TARGET}× |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if not r.replicas:
            continue
        one = r.replicas[0].rate or 1e-9
        for run in r.replicas:
            ratio = run.rate / one
            mark = "" if run.replicas == 1 else ("met" if ratio >= RATIO_TARGET else "**missed**")
            lines.append(
                f"| {r.backend} | {LOW_ALERTS:,} | {CALL_SECONDS * 1000:.0f} ms | {run.replicas} "
                f"| {run.sent:,} | {run.seconds:.1f} | {run.rate:.1f} | {ratio:.1f}× | {mark} |"
            )
    return lines
