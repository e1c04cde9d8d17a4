"""substring search indexes: pg_trgm GIN on PostgreSQL, FTS5 trigram table on SQLite

Revision ID: 0002_substring_search_indexes
Revises: 0001_initial_schema
Create Date: 2026-11-24

`/accounts QUERY` and the Move credits destination picker search name, reference and keyword
for a substring. A B-tree cannot serve `LIKE '%q%'`, so without these every search is a table
scan. PostgreSQL's pg_trgm GIN indexes serve `lower(col) LIKE '%q%'` directly; SQLite gets an
external-content FTS5 table with the trigram tokenizer (SQLite >= 3.34), kept in step with
`accounts` by triggers, which store.accounts.matching() queries for needles of 3+ characters.
"""

from alembic import op

revision = "0002_substring_search_indexes"
down_revision = "0001_initial_schema"
branch_labels = None
depends_on = None

SEARCHED = ("name", "reference", "keyword")

SQLITE_UPGRADE = [
    """CREATE VIRTUAL TABLE accounts_fts USING fts5(
        name, reference, keyword,
        content='accounts', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER accounts_fts_insert AFTER INSERT ON accounts BEGIN
        INSERT INTO accounts_fts(rowid, name, reference, keyword)
        VALUES (new.id, new.name, new.reference, new.keyword);
    END""",
    """CREATE TRIGGER accounts_fts_delete AFTER DELETE ON accounts BEGIN
        INSERT INTO accounts_fts(accounts_fts, rowid, name, reference, keyword)
        VALUES ('delete', old.id, old.name, old.reference, old.keyword);
    END""",
    # Only a change to a searched column touches the index; balance updates stay cheap.
    """CREATE TRIGGER accounts_fts_update AFTER UPDATE OF name, reference, keyword ON accounts
    BEGIN
        INSERT INTO accounts_fts(accounts_fts, rowid, name, reference, keyword)
        VALUES ('delete', old.id, old.name, old.reference, old.keyword);
        INSERT INTO accounts_fts(rowid, name, reference, keyword)
        VALUES (new.id, new.name, new.reference, new.keyword);
    END""",
    "INSERT INTO accounts_fts(accounts_fts) VALUES ('rebuild')",
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS accounts_fts_update",
    "DROP TRIGGER IF EXISTS accounts_fts_delete",
    "DROP TRIGGER IF EXISTS accounts_fts_insert",
    "DROP TABLE IF EXISTS accounts_fts",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_UPGRADE:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in SEARCHED:
            op.execute(
                f"CREATE INDEX ix_accounts_{column}_trgm ON accounts USING gin (lower({column}) gin_trgm_ops)"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_DOWNGRADE:
            op.execute(statement)
    elif dialect == "postgresql":
        for column in SEARCHED:
            op.execute(f"DROP INDEX IF EXISTS ix_accounts_{column}_trgm")
