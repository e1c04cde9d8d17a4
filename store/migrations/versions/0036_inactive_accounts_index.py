"""an index of the accounts that are not active (PostgreSQL)

Revision ID: 0036_inactive_accounts_index
Revises: 0035_messages_updated_in_place
Create Date: 2026-11-30

A search by word counts its matches ("more than 100") from search_words, whose entries already
hold the typed words. What was left to test was whether each entry's account is active, and that
read every entry's account from the table: most of the count's time on PostgreSQL. Asked of this
index instead, the test reads the few accounts that are not active, from an index PostgreSQL keeps
itself, with no trigger. SQLite's search reads each account from the name-order index already.
"""

from store.migrations.versions import execute_for_dialect

revision = "0036_inactive_accounts_index"
down_revision = "0035_messages_updated_in_place"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_for_dialect([], ["CREATE INDEX ix_accounts_inactive ON accounts (id) WHERE NOT active"])


def downgrade() -> None:
    execute_for_dialect([], ["DROP INDEX ix_accounts_inactive"])
