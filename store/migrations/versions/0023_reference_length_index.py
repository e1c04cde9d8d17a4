"""an index on the length of references (SQLite)

Revision ID: 0023_reference_length_index
Revises: 0022_reminder_rows_chain
Create Date: 2026-11-29

A reference typed whole (`BN00012345`) can only be held by itself or by a longer reference. When
no reference is longer, store.search reads that one account from the unique index, where it asked
the trigram index for the reference's last characters and checked thousands of postings at a
million accounts. This index answers "is any reference longer than the needle" with one seek.

PostgreSQL's search asks its own trigram index; it gets nothing here.
"""

from store.migrations.versions import execute_for_dialect

revision = "0023_reference_length_index"
down_revision = "0022_reminder_rows_chain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_for_dialect(["CREATE INDEX ix_accounts_reference_length ON accounts (length(reference))"], [])


def downgrade() -> None:
    execute_for_dialect(["DROP INDEX ix_accounts_reference_length"], [])
