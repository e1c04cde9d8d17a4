"""Schema migrations: they go down and up again cleanly, and PostgreSQL's search indexes stay fast."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, text

from store import accounts, db
from tests.conftest import make_account


def test_downgrading_to_nothing_and_upgrading_again_gives_a_working_store(engine: Engine, session_factory):
    db.upgrade(engine)
    head = db.current_revision(engine)
    command.downgrade(db.alembic_config(engine), "base")
    assert db.current_revision(engine) is None
    db.upgrade(engine)
    assert db.current_revision(engine) == head
    make_account(session_factory, "EX0000001", "Acme Marketing", keyword="PROMO")
    with session_factory.begin() as session:  # the search index is back and kept in step
        assert [a.reference for a in accounts.search(session, "promo").accounts] == ["EX0000001"]
        assert [a.reference for a in accounts.search(session, "acme mark").accounts] == ["EX0000001"]


def test_postgresql_trigram_indexes_have_small_pending_lists(database_url: str, engine: Engine):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's FTS5 index has no pending list")
    with engine.connect() as connection:
        options = dict(
            connection.execute(
                text("SELECT relname, reloptions FROM pg_class WHERE relname LIKE 'ix_accounts_%_trgm'")
            ).all()
        )
    assert options == {
        f"ix_accounts_{column}_trgm": ["gin_pending_list_limit=64"]
        for column in ("name", "reference", "keyword")
    }
