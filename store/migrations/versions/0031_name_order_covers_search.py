"""the name-order index carries what a word search reads of each account (SQLite)

Revision ID: 0031_name_order_covers_search
Revises: 0027_names_by_code_point
Create Date: 2026-11-30

A word search reads its entries from search_words or search_pairs in name order, and for each
one the account's active flag, name, reference and keyword: to test it and to show it. Read from
the table, each was a row somewhere among a million, a page of its own read cold. The name-order
index now holds those columns too, so the entries find them in index order, where neighbours in
a list sit together (store.search reads it by name and id).

PostgreSQL's search reads the table, with its own plans; it gets nothing here.
"""

from store.migrations.versions import execute_for_dialect

revision = "0031_name_order_covers_search"
down_revision = "0027_names_by_code_point"
branch_labels = None
depends_on = None


def _name_order(columns: str) -> list[str]:
    return [
        "DROP INDEX ix_accounts_name_order",
        f"CREATE INDEX ix_accounts_name_order ON accounts (lower(name), id{columns})",
    ]


def upgrade() -> None:
    execute_for_dialect(_name_order(", active, name, reference, keyword"), [])


def downgrade() -> None:
    execute_for_dialect(_name_order(""), [])
