"""the index on the length of references, on PostgreSQL too

Revision ID: 0034_reference_length_postgresql
Revises: 0033_first_copy_is_delivery
Create Date: 2026-11-30

Migration 0023 gave SQLite an index on length(reference), so that a reference typed whole is read
from the unique index when no reference is longer. PostgreSQL asked its trigram index instead,
intersecting the postings of the reference's last characters, which every numeric reference
shares: at a million accounts that cost more than the rest of the search. With this index it
asks the same one-seek question first.
"""

from store.migrations.versions import execute_for_dialect

revision = "0034_reference_length_postgresql"
down_revision = "0033_first_copy_is_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_for_dialect([], ["CREATE INDEX ix_accounts_reference_length ON accounts (length(reference))"])


def downgrade() -> None:
    execute_for_dialect([], ["DROP INDEX ix_accounts_reference_length"])
