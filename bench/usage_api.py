"""Usage API throughput: items per second with batches of 1 and of 500, against the bare-Bolt baseline.

Called from bench.run for each database and size, after the baseline latency run: the ratio is
the API's request rate over the baseline's request rate in the same run (both sequential, a new
HTTP connection per request, on the bot's own waitress stack).
"""

from __future__ import annotations

import http.client
import json
import sys
import time
import uuid
from dataclasses import dataclass
from statistics import mean
from typing import Any

from sqlalchemy import Engine, select

from api.app import create_api
from api.openapi import MAX_ITEMS
from bot.app import create_app
from bot.config import Config
from bot.serving import ServerThread, make_http_server
from store import db
from store.models import Account

TOKEN = "bench-usage-token"
BATCHES = (1, MAX_ITEMS)
LARGE_BATCH_REQUESTS = 20


@dataclass
class UsageRun:
    """One batch size's result."""

    batch: int
    requests: int
    items: int
    seconds: float
    refused: int
    errors: int

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds


def _send(host: str, port: int, body: bytes) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request(
            "POST",
            "/api/usage",
            body,
            {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def measure(
    engine: Engine, session_factory: db.SessionFactory, config: Config, requests: int
) -> list[UsageRun]:
    """POST /api/usage sequentially with each batch size; every item takes 1 credit from an active account."""
    with session_factory.begin() as session:
        references = session.scalars(
            select(Account.reference).where(Account.active, Account.balance > 0).limit(1000)
        ).all()
    app = create_app(config, session_factory)
    server = make_http_server(app, engine, "127.0.0.1", 0, create_api(session_factory, TOKEN))
    runs = []
    with ServerThread(server) as running:
        host, port = running.server.effective_host, running.server.effective_port
        for batch in BATCHES:
            run_id = uuid.uuid4().hex[:8]
            bodies = [
                json.dumps(
                    [
                        {
                            "reference": references[(start + n) % len(references)],
                            "credits": 1,
                            "key": f"{run_id}-{start + n}",
                        }
                        for n in range(batch)
                    ]
                ).encode()
                for start in range(0, batch * (requests if batch == 1 else LARGE_BATCH_REQUESTS), batch)
            ]
            for body in bodies[:5]:  # warm up with replays of the first batches: nothing applies twice
                _send(host, port, body)
            refused = errors = 0
            started = time.perf_counter()
            for body in bodies:
                status, answer = _send(host, port, body)
                if status != 200:
                    errors += 1
                    continue
                refused += answer["refused"]
            seconds = time.perf_counter() - started
            runs.append(UsageRun(batch, len(bodies), len(bodies) * batch, seconds, refused, errors))
            if errors:
                print(f"  ! usage API batch {batch}: {errors} failed requests", file=sys.stderr)
    return runs


def report_lines(results: list[Any]) -> list[str]:
    """The bench table: each run against its size's baseline request rate."""
    rows = [r for r in results if getattr(r, "usage_api", None)]
    if not rows:
        return []
    lines = [
        "",
        "| DB | accounts | batch | items/s | requests/s | requests/s × baseline "
        "| items/s × baseline requests/s "
        "| refused | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        baseline_rate = 1 / mean(r.baseline.samples)
        for run in r.usage_api:
            lines.append(
                f"| {r.backend} | {r.size:,} | {run.batch} | {run.items_per_second:,.0f} "
                f"| {run.requests_per_second:,.0f} | {run.requests_per_second / baseline_rate:.2f}× "
                f"| {run.items_per_second / baseline_rate:.1f}× | {run.refused} | {run.errors} |"
            )
    return lines
