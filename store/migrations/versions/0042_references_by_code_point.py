"""PostgreSQL compares references by code point, as SQLite does

Revision ID: 0042_references_by_code_point
Revises: 0041_reference_grams_pg
Create Date: 2026-12-02

A search for the start of many references ("BN0012", 1% of a million) sorts them by name, and
read them through the trigram index, whose postings for "bn0" and "n00" hold every reference
(25 ms). When the vocabulary shows that the typed text is only ever at the start of a reference,
they are a range of the unique index instead: but under a linguistic collation (ICU's Danish
sorts "AA" after "Z") the references starting with a text need not be one range. References are
codes, not words: compared by code point, the strings starting with a text are always the range
from it to the text with its last character's successor, as on SQLite, and ORDER BY reference
lists them the same on both. The column's indexes are rebuilt; the table is not rewritten.
"""

from store.migrations.versions import execute_for_dialect

revision = "0042_references_by_code_point"
down_revision = "0041_reference_grams_pg"
branch_labels = None
depends_on = None


# 0041's trigger names the column, so it is set aside while the column changes.
TRIGGER = "search_reference_grams_update"
RECREATE_TRIGGER = (
    f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF reference ON accounts FOR EACH ROW "
    "WHEN (old.reference IS DISTINCT FROM new.reference) "
    "EXECUTE FUNCTION search_reference_grams_changed()"
)


def _collated(collation: str) -> list[str]:
    return [
        f"DROP TRIGGER {TRIGGER} ON accounts",
        f'ALTER TABLE accounts ALTER COLUMN reference TYPE varchar(20) COLLATE "{collation}"',
        RECREATE_TRIGGER,
    ]


def upgrade() -> None:
    execute_for_dialect([], _collated("C"))


def downgrade() -> None:
    execute_for_dialect([], _collated("default"))
