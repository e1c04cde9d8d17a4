"""The forecast on account boxes (`/accounts`) and the Home tab: one query for the page, fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event

from store import accounts, db, ledger
from store.models import EntryKind
from tests.blockkit import assert_valid_view, visible_text
from tests.conftest import make_account
from tests.slack_requests import DEFAULT_USER_ID

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
STEADY = "Forecast: About 6 days left at the last 7 days' usage (≈ 410 credits a day)."
SHORT = "Forecast: Less than a day of usage so far: too early to forecast."
NONE = "Forecast: No recent usage."


@pytest.fixture
def clock():
    """The bot's clock stands still at NOW."""
    return lambda: NOW


def statements_sent(engine: Engine) -> list[str]:
    """Every statement the engine's connections send from now on, those read in a PostgreSQL
    pipeline (store.db.Ahead and read_together, past SQLAlchemy's events) too.

    On PostgreSQL each statement is recorded where psycopg converts it for sending, which both
    execute() and store.db's queued pipeline reads go through."""
    sent: list[str] = []

    class Recording(psycopg.Cursor):  # type: ignore[type-arg]
        def _convert_query(self, query: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(str(query))
            return super()._convert_query(query, *args, **kwargs)

    def checkout(dbapi_connection: Any, connection_record: Any, *_: Any) -> None:
        if engine.dialect.name == "sqlite":
            dbapi_connection.set_trace_callback(sent.append)
        else:
            dbapi_connection.cursor_factory = Recording
            # Cursors store.db keeps from before would send past the recorder.
            connection_record.info.pop(db.KEPT_CURSORS, None)

    event.listen(engine, "checkout", checkout)
    return sent


def use(session_factory, reference: str, credits: int, ago: timedelta) -> None:
    """Usage of `credits`, dated `ago` before NOW."""
    with session_factory.begin() as session:
        account_id = accounts.by_reference(session, reference).id
        account = ledger.lock(session, account_id)[account_id]
        ledger.post(session, account, EntryKind.USAGE, -credits, "test").created_at = NOW - ago


@pytest.fixture
def three(session_factory) -> None:
    """A steady week of usage, two hours of it, and none at all."""
    make_account(session_factory, "EX0000001", "Acme Marketing", credits=5330)
    use(session_factory, "EX0000001", 410, timedelta(days=7))
    use(session_factory, "EX0000001", 2460, timedelta(days=1))
    make_account(session_factory, "EX0000002", "Beta Co", credits=900)
    use(session_factory, "EX0000002", 100, timedelta(hours=2))
    make_account(session_factory, "EX0000003", "Gamma Ltd", credits=700)
    with session_factory.begin() as session:  # a purchase is not usage: no forecast from it
        ledger.post(session, accounts.by_reference(session, "EX0000003"), EntryKind.PURCHASE, 50, "test")


def box_texts(blocks: list[dict]) -> dict[str, str]:
    """Each account box's context line(s), by the reference in the box above it."""
    found, reference = {}, None
    for block in blocks:
        if block["type"] == "section" and "`EX" in block["text"]["text"]:
            reference = block["text"]["text"].split("`")[1]
        elif block["type"] == "context" and reference:
            found[reference] = visible_text(block)
            reference = None
    return found


def test_accounts_boxes_show_each_accounts_forecast(slack, admin, three):
    reply = slack.command("/accounts").json()
    boxes = box_texts(reply["blocks"])
    assert STEADY in boxes["EX0000001"]
    assert SHORT in boxes["EX0000002"]
    assert NONE in boxes["EX0000003"]


def test_home_tab_boxes_show_each_accounts_forecast(slack, admin, fake_slack, three):
    slack.event({"type": "app_home_opened", "user": DEFAULT_USER_ID, "channel": "D0HOME", "tab": "home"})
    [call] = fake_slack.wait_for("views.publish")
    view = call.params["view"]
    assert_valid_view(view)
    boxes = box_texts(view["blocks"])
    assert STEADY in boxes["EX0000001"]
    assert SHORT in boxes["EX0000002"]
    assert NONE in boxes["EX0000003"]


def test_the_home_page_reads_usage_in_one_query_however_many_accounts_it_shows(
    slack, admin, fake_slack, engine, session_factory
):
    statements = statements_sent(engine)

    def usage_queries_for_home(first: int, more: int) -> int:
        for n in range(first, first + more):
            make_account(session_factory, f"EX1{n:06d}", f"Account {n}", credits=100)
        statements.clear()
        published = len(fake_slack.calls_to("views.publish"))
        slack.event({"type": "app_home_opened", "user": DEFAULT_USER_ID, "channel": "D0HOME", "tab": "home"})
        fake_slack.wait_for("views.publish", published + 1)
        return sum("ledger_entries" in statement for statement in statements)

    assert usage_queries_for_home(0, 2) == 1
    assert usage_queries_for_home(2, 6) == 1  # eight on the page now
