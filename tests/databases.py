"""Scratch databases for the tests and the bench: created migrated, dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from store import db


def migrated(url: str) -> str:
    """Bring the database at `url` to the newest schema; returns the url."""
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    return url


@contextmanager
def scratch_postgresql(server_url: str, name: str, options: str = "") -> Iterator[str]:
    """A new, migrated database `name` on the PostgreSQL server at server_url, dropped afterwards;
    `options` are CREATE DATABASE's (a locale, say).

    Fails loudly if the server cannot be reached, or cannot create it so.
    """
    admin = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name} {options}"))
    try:
        yield migrated(make_url(server_url).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
