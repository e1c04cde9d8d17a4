"""The throwaway PostgreSQL helper: it runs, stops, comes back with its data, and leaves nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.own_postgres import needs_own_postgres, own_postgres

pytestmark = needs_own_postgres


def test_own_postgres_stops_starts_again_with_its_data_and_cleans_up() -> None:
    with own_postgres() as server:
        assert server.port != 5432
        engine = create_engine(server.url, pool_pre_ping=True)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE kept (n int)"))
            connection.execute(text("INSERT INTO kept VALUES (7)"))
        server.stop()
        with pytest.raises(OperationalError), engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        server.start()
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT n FROM kept")) == 7
        engine.dispose()
        directory = server.directory
    assert not directory.exists()
