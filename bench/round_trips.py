"""Statements per search request, i.e. PostgreSQL round trips (store.db.Ahead reads go with a
statement, in its pipeline, and are not counted; store.db.read_together's reads, one round trip,
count once): `python -m bench.round_trips URL`, against a loaded bench database (read only)."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from bench.dataset import SEARCH_KINDS, terms
from bench.fake_process import FakeSlackProcess
from bench.http import KeepAliveRequests
from bench.run import SIGNING_SECRET, Dataset, bench_config, build_move_modal_view, home_searcher, served
from bot.app import create_app
from handlers.move import DESTINATION_ACTION, DESTINATION_BLOCK
from store import db

WARM_UP, COUNTED = 5, 10


def main(url: str, size: int = 100_000) -> None:
    engine = db.make_engine(url)
    sent = [0]

    def count(*_: Any) -> None:
        sent[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    session_factory = db.make_session_factory(engine)
    data = Dataset(size, source_id=1)
    data.move_view = build_move_modal_view(session_factory, data.source_id)
    with (
        FakeSlackProcess() as fake,
        served(create_app(bench_config(fake.api_url, url), session_factory), engine) as bot_url,
    ):
        bot = KeepAliveRequests(bot_url, SIGNING_SECRET, fake)
        home = home_searcher(bench_config(fake.api_url, url), session_factory)
        surfaces: dict[str, Callable[[str], object]] = {
            "/accounts": lambda term: bot.command("/accounts", term),
            "Move picker": lambda term: bot.block_suggestion(
                DESTINATION_ACTION, term, block_id=DESTINATION_BLOCK, view=data.move_view
            ),
            "Home tab": home.search,
        }
        for kind in SEARCH_KINDS:
            typed = terms(kind, size, WARM_UP + COUNTED)
            for surface, send in surfaces.items():
                for term in typed[:WARM_UP]:
                    send(term)
                seen = []
                for term in typed[WARM_UP:]:
                    sent[0] = 0
                    send(term)
                    seen.append(sent[0])
                print(
                    f"{kind.name:20} {surface:12} {statistics.median(seen):g} (range {min(seen)}-{max(seen)})"
                )
        bot.close()
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], *(int(arg) for arg in sys.argv[2:3]))
