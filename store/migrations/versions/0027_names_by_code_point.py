"""search lists names by code point on PostgreSQL too, whatever the database's collation

Revision ID: 0027_names_by_code_point
Revises: 0023_reference_length_index
Create Date: 2026-11-29

Search merges and pages its lists in Python, which compares strings by code point, as SQLite
does. A PostgreSQL database with a linguistic default collation (en_US.UTF-8, ICU en-US: most
production ones) ordered the same names otherwise ("acme z" after "acmé", "acme_d" before
"acme-b"): pages came out of order, and the word and substring searches listed the same accounts
in different orders (a page boundary between them could skip or repeat an account). The Home
tab's lists by name (accounts no reminder reaches, inactive accounts) take the same order, so a
name sits at the same place there as in a search.
Only the order changes: lower() still folds with the database's own locale.

SQLite compares bytes already, which is code-point order for UTF-8; it gets nothing here.
"""

from store.migrations.versions import execute_for_dialect

UNHEARD = "active AND (NOT reminder_enabled OR recipient_count = 0)"  # as in 0011

revision = "0027_names_by_code_point"
down_revision = "0023_reference_length_index"
branch_labels = None
depends_on = None


def _order(collation: str) -> list[str]:
    return [
        f"ALTER TABLE search_words ALTER COLUMN sort_name TYPE text COLLATE {collation}",
        f"ALTER TABLE search_pairs ALTER COLUMN sort_name TYPE text COLLATE {collation}",
        "DROP INDEX ix_accounts_name_order",
        f"CREATE INDEX ix_accounts_name_order ON accounts ((lower(name) COLLATE {collation}), id)",
        "DROP INDEX ix_accounts_unheard_name_order",
        f"CREATE INDEX ix_accounts_unheard_name_order ON accounts ((lower(name) COLLATE {collation}), id) "
        f"WHERE {UNHEARD}",
    ]


def upgrade() -> None:
    execute_for_dialect([], _order('"C"'))


def downgrade() -> None:
    execute_for_dialect([], _order('"default"'))
