"""bound the pg_trgm indexes' pending lists

Revision ID: 0003_bounded_gin_pending_lists
Revises: 0002_substring_search_indexes
Create Date: 2026-11-24

GIN indexes buffer new entries in a "pending list" that every search scans in full until
(auto)vacuum merges it. Balance updates are not HOT (balance is in the reminder shortfall
index), so every credit move adds entries; with the default 4 MB limit a busy hour made a
`/accounts` search at 100k accounts take ~4 ms in the index scan alone instead of ~0.05 ms.
64 kB (the minimum) keeps inserts batched while bounding what a search has to scan.
SQLite's FTS5 index has no such list: nothing to do there.
"""

from alembic import op

revision = "0003_bounded_gin_pending_lists"
down_revision = "0002_substring_search_indexes"
branch_labels = None
depends_on = None

TRIGRAM_INDEXES = ("ix_accounts_name_trgm", "ix_accounts_reference_trgm", "ix_accounts_keyword_trgm")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for index in TRIGRAM_INDEXES:
            op.execute(f"ALTER INDEX {index} SET (gin_pending_list_limit = 64)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for index in TRIGRAM_INDEXES:
            op.execute(f"ALTER INDEX {index} RESET (gin_pending_list_limit)")
