"""Usage batches racing credit moves and each other: every key once, the ledger conserved."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from store import ledger, usage
from store.db import SessionFactory
from store.errors import InsufficientCredits
from store.models import Account, UsageRecord
from store.usage import Applied, Refused, UsageItem
from tests.conftest import make_account
from tests.store.test_transfer_concurrency import postgres_only  # noqa: F401 - fixture

ACCOUNTS = 6
STARTING = 2_000


@pytest.mark.usefixtures("postgres_only")
def test_usage_and_moves_at_once_conserve_credits_on_postgresql(session_factory: SessionFactory):
    ids = [
        make_account(session_factory, f"EX{n:07d}", f"Account {n}", credits=STARTING).id
        for n in range(1, ACCOUNTS + 1)
    ]
    rng = random.Random(13)
    items = [
        UsageItem(f"use-{n}", f"EX{rng.randint(1, ACCOUNTS):07d}", rng.randint(1, 150)) for n in range(240)
    ]
    # Every batch is sent twice, by different threads, in different orders.
    batches = [items[i : i + 20] for i in range(0, len(items), 20)]
    sends = batches + [list(reversed(batch)) for batch in batches]
    moves = [(*rng.sample(ids, 2), rng.randint(1, 300)) for _ in range(120)]
    start = threading.Barrier(6)
    applied: dict[str, int] = {}
    lock = threading.Lock()

    def send_usage(worker: int) -> None:
        start.wait()
        for batch in sends[worker::3]:
            for outcome in usage.apply_batch(session_factory, batch, "U0LOAD"):
                assert isinstance(outcome, Applied) or outcome.reason == usage.Reason.INSUFFICIENT_CREDITS
                if isinstance(outcome, Applied):
                    with lock:
                        assert (
                            applied.setdefault(outcome.item.key, outcome.balance_after)
                            == outcome.balance_after
                        )

    def send_moves(worker: int) -> None:
        start.wait()
        for index, (source, destination, credits) in list(enumerate(moves))[worker::3]:
            try:
                with session_factory.begin() as session:
                    ledger.transfer(session, source, destination, credits, "U0LOAD", key=f"move:{index}")
            except InsufficientCredits:
                pass

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(send_usage, n) for n in range(3)] + [
            pool.submit(send_moves, n) for n in range(3)
        ]
        for future in futures:
            future.result()

    used = sum(item.credits for item in items if item.key in applied)
    with session_factory.begin() as session:
        assert session.scalar(select(func.sum(Account.balance))) == ACCOUNTS * STARTING - used
        assert session.scalar(select(func.count()).select_from(UsageRecord)) == len(applied)
        assert ledger.balance_problems(session) == []
    assert len(applied) > len(items) // 2  # most usage fitted: the race really ran


def test_a_batch_refused_midway_leaves_no_item_half_applied(session_factory: SessionFactory):
    make_account(session_factory, "EX0000001", "Acme", credits=100)
    outcomes = usage.apply_batch(
        session_factory,
        [
            UsageItem("a", "EX0000001", 60),
            UsageItem("b", "EX0000001", 60),
            Refused(usage.Reason.INVALID_KEY, "bad"),
        ],
        "test",
    )
    assert [type(o).__name__ for o in outcomes] == ["Applied", "Refused", "Refused"]
    with session_factory.begin() as session:
        assert session.scalar(select(Account.balance)) == 40
        assert session.scalars(select(UsageRecord.key)).all() == ["a"]
