"""PostgreSQL keeps the references' trigrams in the search vocabulary too, as SQLite does

Revision ID: 0041_reference_grams_pg
Revises: 0040_name_order_holds_keyword_pg
Create Date: 2026-12-01

One or two characters are too short for the trigram indexes, so counting the accounts that hold
them read every account: 0.34 s at a million for two letters no account has. SQLite answers that
from its vocabulary (migration 0012): a piece of a word starts the word or one of its suffixes,
and a piece of a reference of three or more characters is inside one of its trigrams. PostgreSQL
kept the words and suffixes; it now keeps every three characters found in a reference as well
(kind 'r', lower-cased as lower() does).

A trigger adds them for each INSERT statement and each changed reference. A bulk writer (an
import, with the search triggers aside: migration 0018) does not: the trigrams of a million
references cost an import of them a tenth of its time. Instead `search_reference_coverage.upto`
says how far the vocabulary covers: every account with a greater id that a bulk writer added is
counted the general way by a search of one or two characters, until `serve`'s upkeep job
(store.search.fold_reference_grams) adds their trigrams and moves `upto` past them; no row there
covers nothing. As for words, a stale trigram is never removed: it only sends a search down the
slower, general path.
"""

from store.migrations.versions import execute_for_dialect

revision = "0041_reference_grams_pg"
down_revision = "0040_name_order_holds_keyword_pg"
branch_labels = None
depends_on = None


def _grams(source: str) -> str:
    """Add the trigrams of the references of `source`, rows with a `reference` column.

    Ordered, so concurrent writers add new fragments in the same order and never wait in a circle.
    """
    return f"""INSERT INTO search_fragments (kind, fragment)
        SELECT DISTINCT 'r', substr(lower(a.reference), p, 3)
        FROM {source} AS a, generate_series(1, length(a.reference) - 2) AS p
        ORDER BY 1, 2
        ON CONFLICT DO NOTHING"""


# SQLite's writers add the trigrams themselves, so it never reads the table; it has it for a
# schema the same on both (tests empty every table the models name).
COVERAGE = "CREATE TABLE search_reference_coverage (upto integer NOT NULL)"

UPGRADE = [
    COVERAGE,
    f"""CREATE FUNCTION search_reference_grams_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_grams("added")};
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION search_reference_grams_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_grams("(SELECT NEW.reference AS reference)")};
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER search_reference_grams_insert AFTER INSERT ON accounts "
    "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
    "WHEN (current_setting('admin_bot.search_in_bulk', true) IS DISTINCT FROM 'on') "
    "EXECUTE FUNCTION search_reference_grams_added()",
    # Bulk or not: an account already covered must keep its trigrams when its reference changes.
    "CREATE TRIGGER search_reference_grams_update AFTER UPDATE OF reference ON accounts FOR EACH ROW "
    "WHEN (old.reference IS DISTINCT FROM new.reference) "
    "EXECUTE FUNCTION search_reference_grams_changed()",
    _grams("accounts"),
    "INSERT INTO search_reference_coverage (upto) SELECT coalesce(max(id), 0) FROM accounts",
]

DOWNGRADE = [
    "DROP TRIGGER search_reference_grams_update ON accounts",
    "DROP TRIGGER search_reference_grams_insert ON accounts",
    "DROP FUNCTION search_reference_grams_changed()",
    "DROP FUNCTION search_reference_grams_added()",
    "DROP TABLE search_reference_coverage",
    "DELETE FROM search_fragments WHERE kind = 'r'",
]


def upgrade() -> None:
    execute_for_dialect([COVERAGE], UPGRADE)


def downgrade() -> None:
    execute_for_dialect(["DROP TABLE search_reference_coverage"], DOWNGRADE)
