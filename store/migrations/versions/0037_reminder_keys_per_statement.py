"""the reminder tables' keys checked once per statement, not once per row (PostgreSQL)

Revision ID: 0037_reminder_keys_per_statement
Revises: 0036_inactive_accounts_index
Create Date: 2026-11-30

A foreign key checks each row it is given with a query of its own that locks the parent row
(FOR KEY SHARE): a write to the parent's page, often its first since the last checkpoint, so a
full-page image in the WAL. The reminder pass writes one episode, one alert and one first copy for
each account that runs low, in one statement per batch, and at a million accounts (10,000 low)
the episodes' check on `accounts` alone was 534 ms of the 813 ms insert after a checkpoint (13 µs
a row warm), the alerts' check on their episode 145 ms.

Each of those three keys is now a trigger that runs once per statement: it looks for rows the
statement wrote whose parent is missing, in one anti-join, and refuses them as the key did
(foreign_key_violation, under the key's name); deleting a parent still deletes its children, and
theirs in turn. The insert above took 92 ms, its check 21 ms. What the triggers do not repeat is
the lock: a parent deleted while another transaction inserts its child could leave that child
behind. Nothing deletes accounts, episodes or alerts but an administrator by hand, and no code
changes the key columns these link, which the keys would also have checked.

SQLite locks nothing for a key check; its tables keep their foreign keys.
"""

from __future__ import annotations

from alembic import op

revision = "0037_reminder_keys_per_statement"
down_revision = "0036_inactive_accounts_index"
branch_labels = None
depends_on = None

# (table, its key's name, its columns, the parent table, the parent's columns)
LINKS = [
    ("reminder_episodes", "reminder_episodes_account_id_fkey", ("account_id",), "accounts", ("id",)),
    ("alerts", "alerts_account_id_fkey", ("account_id",), "reminder_episodes", ("account_id",)),
    (
        "alert_messages",
        "alert_messages_account_id_fkey",
        ("account_id", "episode"),
        "alerts",
        ("account_id", "episode"),
    ),
]


def _matching(child: str, columns: tuple[str, ...], parent: str, parent_columns: tuple[str, ...]) -> str:
    return " AND ".join(f"{child}.{c} = {parent}.{p}" for c, p in zip(columns, parent_columns, strict=True))


def _create(
    table: str, key: str, columns: tuple[str, ...], parent: str, parent_columns: tuple[str, ...]
) -> None:
    listed = ", ".join(columns)
    op.execute(
        f"""CREATE FUNCTION {key}_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE orphan text;
BEGIN
    SELECT ({listed})::text INTO orphan FROM written
    WHERE NOT EXISTS (SELECT 1 FROM {parent} WHERE {_matching("written", columns, parent, parent_columns)})
    LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING CONSTRAINT = '{key}', TABLE = '{table}',
            MESSAGE = format('insert on table "{table}" violates foreign key "{key}": ({listed})=%s '
                             'is not present in table "{parent}"', orphan);
    END IF;
    RETURN NULL;
END $$"""
    )
    op.execute(
        f"CREATE TRIGGER {key} AFTER INSERT ON {table} REFERENCING NEW TABLE AS written "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {key}_check()"
    )
    op.execute(
        f"""CREATE FUNCTION {key}_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {table} USING deleted WHERE {_matching(table, columns, "deleted", parent_columns)};
    RETURN NULL;
END $$"""
    )
    op.execute(
        f"CREATE TRIGGER {key}_cascade AFTER DELETE ON {parent} REFERENCING OLD TABLE AS deleted "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {key}_cascade()"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, key, columns, parent, parent_columns in LINKS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {key}")
        _create(table, key, columns, parent, parent_columns)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, key, columns, parent, parent_columns in LINKS:
        op.execute(f"DROP TRIGGER {key}_cascade ON {parent}")
        op.execute(f"DROP TRIGGER {key} ON {table}")
        op.execute(f"DROP FUNCTION {key}_cascade()")
        op.execute(f"DROP FUNCTION {key}_check()")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {key} FOREIGN KEY ({', '.join(columns)}) "
            f"REFERENCES {parent} ({', '.join(parent_columns)}) ON DELETE CASCADE"
        )
