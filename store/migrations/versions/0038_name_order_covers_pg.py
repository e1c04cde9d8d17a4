"""the name-order index carries what the Move picker reads of each account (PostgreSQL)

Revision ID: 0038_name_order_covers_pg
Revises: 0037_reminder_keys_per_statement
Create Date: 2026-11-30

The Move picker reads up to 109 entries of search_words or search_pairs in name order, and for
each one the account's name and reference (to show it), and its active flag and balance (to test
it). Read from the table, each account was a page of its own among a million, often read cold:
0.3-0.45 ms of a "Sales 58" keystroke at 1M accounts. The name-order index now holds those
columns too (INCLUDE), so store.search looks each entry up by name and id there: an index-only
scan where neighbours in the list sit in the same leaf pages. SQLite's has held them since 0031.
"""

from store.migrations.versions import execute_for_dialect

revision = "0038_name_order_covers_pg"
down_revision = "0037_reminder_keys_per_statement"
branch_labels = None
depends_on = None


def _name_order(included: str) -> list[str]:
    return [
        "DROP INDEX ix_accounts_name_order",
        f'CREATE INDEX ix_accounts_name_order ON accounts ((lower(name) COLLATE "C"), id){included}',
    ]


def upgrade() -> None:
    execute_for_dialect([], _name_order(" INCLUDE (name, reference, active, balance)"))


def downgrade() -> None:
    execute_for_dialect([], _name_order(""))
