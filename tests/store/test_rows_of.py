"""SQLite's reads straight on the driver (store.db.rows_of) answer as SQLAlchemy's Core does
(PostgreSQL's go through Core, and answer the same)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, bindparam, event, exc, func, insert, select, text, update

from store import accounts, db
from store.models import Account, RoleGrant


def create_accounts(session_factory: db.SessionFactory, count: int) -> None:
    with session_factory.begin() as session:
        for n in range(count):
            accounts.create(session, f"EX{n:07d}", f"Acme {n}")


def test_rows_and_their_types_are_those_core_reads(
    engine: Engine, session_factory: db.SessionFactory
) -> None:
    create_accounts(session_factory, 3)
    listed = select(
        Account.id,
        Account.active,  # a boolean: SQLite stores 1
        Account.created_at,  # a time: SQLite stores text
        Account.keyword,
        Account.active == bindparam("active"),  # a bound boolean
        Account.created_at < bindparam("now"),  # a bound time
        select(func.aggregate_strings(Account.name, " | ")).scalar_subquery(),  # a value in the SQL
    ).where(Account.id.in_(bindparam("ids", expanding=True)))
    now = datetime.now(UTC)
    with engine.connect() as connection:
        for ids in ([1], [1, 2, 3], [2, 3], [3, 1], [9]):
            parameters = {"ids": ids, "active": True, "now": now}
            core = [tuple(row) for row in connection.execute(listed, parameters)]
            rows = db.rows_of(connection, listed, parameters)
            assert rows == core
            assert [[type(value) for value in row] for row in rows] == [
                [type(value) for value in row] for row in core
            ]
        assert db.rows_of(connection, listed, {"ids": [], "active": True, "now": now}) == []


def test_listeners_see_the_statement_and_errors_come_as_sqlalchemys(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's statements go through Core, with its own placeholders")
    seen: list[str] = []

    def keep(_connection, _cursor, statement, _parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with engine.connect() as connection:
            assert db.rows_of(connection, text("SELECT :n + 1"), {"n": 1}) == [(2,)]
            # A database error is told as one (db.unavailable, the user's "temporarily unavailable").
            with pytest.raises(exc.OperationalError) as raised:
                db.rows_of(connection, text("SELECT * FROM nowhere"), {})
            assert db.unavailable(raised.value)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert seen == ["SELECT ? + 1", "SELECT * FROM nowhere"]


def test_statements_run_for_many_rows_store_and_return_what_core_does(
    engine: Engine, session_factory: db.SessionFactory
) -> None:
    create_accounts(session_factory, 6)
    # A time shared by every row (SQLite stores its text), a boolean of each row's own.
    changing = (
        update(Account)
        .where(Account.reference == bindparam("ref"))
        .values(created_at=bindparam("at"), active=bindparam("on"))
        .returning(Account.id, Account.created_at, Account.active)
    )
    at = datetime(2026, 11, 30, 9, 1, 2, 345678, tzinfo=UTC)
    rows = [(f"EX{n:07d}", n % 3 == 0) for n in range(6)]  # the same booleans in each half
    stored = text("SELECT created_at, active FROM accounts WHERE reference = :ref")
    with engine.begin() as connection:
        core = [
            tuple(connection.execute(changing, {"ref": ref, "on": on, "at": at}).one())
            for ref, on in rows[:3]
        ]
        many = db.execute_many(connection, changing, ("ref", "on"), rows[3:], {"at": at})
        assert [row[1:] for row in many] == [row[1:] for row in core]
        assert [[type(value) for value in row] for row in many] == [
            [type(value) for value in row] for row in core
        ]
        raw = [tuple(connection.execute(stored, {"ref": ref}).one()) for ref, _ in rows]
        assert raw[:3] == raw[3:]
        # Without RETURNING, an executemany; a row's values may be given by any names' order.
        plain = update(Account).where(Account.reference == bindparam("ref")).values(name=bindparam("new"))
        assert db.execute_many(connection, plain, ("new", "ref"), [("Renamed", "EX0000005")]) == []
        assert db.execute_many(connection, plain, ("new", "ref"), []) == []
        assert connection.scalar(select(Account.name).where(Account.reference == "EX0000005")) == "Renamed"


def test_an_insert_for_many_rows_returns_and_stores_what_core_does(engine: Engine) -> None:
    granting = (
        insert(RoleGrant)
        .values(
            slack_user_id=bindparam("user"),
            role=bindparam("role"),
            granted_by="U0ADMIN",
            granted_at=bindparam("at"),
        )
        .returning(RoleGrant.slack_user_id, RoleGrant.granted_at)
    )
    at = datetime(2026, 11, 30, 9, 1, 2, 345678, tzinfo=UTC)
    stored = text("SELECT role, granted_by, granted_at FROM roles WHERE slack_user_id = :user")
    with engine.begin() as connection:
        core = connection.execute(granting, [{"user": "U01", "role": "admin", "at": at}]).all()
        users = [(f"U1{n:05d}", "admin") for n in range(5)]
        many = db.execute_many(connection, granting, ("user", "role"), users, {"at": at})
        assert sorted(many) == [(user, core[0][1]) for user, _ in users]
        assert (
            connection.execute(stored, {"user": "U01"}).one()
            == connection.execute(stored, {"user": "U100000"}).one()
        )
