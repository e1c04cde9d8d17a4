"""Many simultaneous moves: credits are conserved and only InsufficientCredits can refuse one."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from handlers.move import AMOUNT_ACTION, AMOUNT_BLOCK, DESTINATION_ACTION, DESTINATION_BLOCK
from store import ledger
from store.db import SessionFactory
from store.errors import InsufficientCredits
from store.models import Account
from tests.conftest import make_account
from tests.slack_requests import SlackRequests, external_select, plain_text

STARTING_CREDITS = 500
THREADS = 8


@pytest.fixture
def postgres_only(database_url: str) -> None:
    """Skip on SQLite, where one writer at a time makes races impossible by construction."""
    if database_url.startswith("sqlite"):
        pytest.skip("row-lock races need PostgreSQL; the SQLite variant runs below")


def make_accounts(session_factory: SessionFactory, count: int) -> list[int]:
    return [
        make_account(session_factory, f"EX{n:07d}", f"Account {n}", credits=STARTING_CREDITS).id
        for n in range(1, count + 1)
    ]


def random_moves(account_ids: list[int], count: int, seed: int) -> list[tuple[int, int, int]]:
    """(source, destination, credits), some larger than any balance can be."""
    rng = random.Random(seed)
    moves = []
    for _ in range(count):
        source, destination = rng.sample(account_ids, 2)
        moves.append((source, destination, rng.randint(1, STARTING_CREDITS)))
    return moves


def run_moves(
    session_factory: SessionFactory, moves: list[tuple[int, int, int]], threads: int, *, repeat: int = 1
) -> Counter[str]:
    """Apply every move `repeat` times (same key) from `threads` threads, each in its own session."""
    attempts = [(index, move) for _ in range(repeat) for index, move in enumerate(moves)]
    start = threading.Barrier(threads)
    outcomes: Counter[str] = Counter()
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def worker(worker_id: int) -> None:
        start.wait()
        for index, (source, destination, credits) in attempts[worker_id::threads]:
            try:
                with session_factory.begin() as session:
                    ledger.transfer(
                        session, source, destination, credits, actor="U0LOAD", key=f"load:{index}"
                    )
                outcome = "moved"
            except InsufficientCredits:
                outcome = "insufficient"
            except BaseException as error:  # noqa: BLE001 - any other failure is the bug we test for
                with lock:
                    unexpected.append(error)
                continue
            with lock:
                outcomes[outcome] += 1

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    assert unexpected == [], [repr(error) for error in unexpected[:5]]
    return outcomes


def assert_conserved(session_factory: SessionFactory, account_count: int) -> list[int]:
    with session_factory.begin() as session:
        balances = list(session.scalars(select(Account.balance).order_by(Account.id)))
        assert sum(balances) == account_count * STARTING_CREDITS
        assert min(balances) >= 0
        assert ledger.balance_problems(session) == []
    return balances


def transfer_count(session_factory: SessionFactory) -> int:
    from store.models import LedgerEntry

    with session_factory.begin() as session:
        return session.scalar(select(func.count(func.distinct(LedgerEntry.transfer_id)))) or 0


def test_simultaneous_moves_conserve_credits_on_postgresql(postgres_only, session_factory):
    account_ids = make_accounts(session_factory, 4)
    moves = random_moves(account_ids, 200, seed=20261124)
    outcomes = run_moves(session_factory, moves, THREADS)
    assert outcomes["moved"] + outcomes["insufficient"] == 200
    assert outcomes["moved"] > 0 and outcomes["insufficient"] > 0
    assert_conserved(session_factory, 4)
    assert transfer_count(session_factory) == outcomes["moved"]


def test_replaying_every_move_at_once_applies_each_once_on_postgresql(postgres_only, session_factory):
    account_ids = make_accounts(session_factory, 3)
    moves = random_moves(account_ids, 40, seed=7)
    outcomes = run_moves(session_factory, moves, THREADS, repeat=2)  # each key sent twice at once
    assert outcomes["moved"] + outcomes["insufficient"] == 80
    assert_conserved(session_factory, 3)
    assert transfer_count(session_factory) <= 40


def test_simultaneous_moves_through_slack_conserve_credits_on_postgresql(
    postgres_only, slack: SlackRequests, admin, session_factory
):
    account_ids = make_accounts(session_factory, 3)
    moves = random_moves(account_ids, 48, seed=99)
    start = threading.Barrier(THREADS)

    def submit(worker_id: int) -> list[dict[str, Any]]:
        start.wait()
        answers = []
        for index in range(worker_id, len(moves), THREADS):
            source, destination, credits = moves[index]
            view = {
                "id": f"VLOAD{index:04d}",
                "type": "modal",
                "callback_id": "move_credits",
                "private_metadata": json.dumps({"source": source, "balance": STARTING_CREDITS}),
            }
            values = {
                DESTINATION_BLOCK: {DESTINATION_ACTION: external_select(str(destination))},
                AMOUNT_BLOCK: {AMOUNT_ACTION: plain_text(str(credits))},
            }
            answer = slack.view_submission(view, values)
            assert answer.status == 200, answer.text
            answers.append(answer.json())
        return answers

    with ThreadPoolExecutor(THREADS) as pool:
        answers = [a for batch in pool.map(submit, range(THREADS)) for a in batch]
    moved = [a for a in answers if a["response_action"] == "update"]
    refused = [a for a in answers if a["response_action"] == "errors"]
    assert len(moved) + len(refused) == 48 and moved
    for answer in refused:
        assert set(answer["errors"]) == {AMOUNT_BLOCK}
        assert "cannot be moved" in answer["errors"][AMOUNT_BLOCK]
    assert_conserved(session_factory, 3)
    assert transfer_count(session_factory) == len(moved)


def test_threads_moving_credits_on_sqlite_conserve_credits(database_url, session_factory):
    if not database_url.startswith("sqlite"):
        pytest.skip("the PostgreSQL variants above cover this with more load")
    account_ids = make_accounts(session_factory, 3)
    moves = random_moves(account_ids, 40, seed=3)
    outcomes = run_moves(session_factory, moves, 4)
    assert outcomes["moved"] + outcomes["insufficient"] == 40
    assert_conserved(session_factory, 3)
    assert transfer_count(session_factory) == outcomes["moved"]
