"""adjacent word pairs of account names and keywords, kept in step with accounts by triggers

Revision ID: 0017_search_pairs
Revises: 0015_runway_warning
Create Date: 2026-11-29

A search for a word and a number (`Alerts 7`) listed its page by sorting every match: the number
starts a dozen words, too many to merge, and the accounts having `alerts` hold the matches thinly
in name order. `search_pairs` holds each pair of adjacent words of an account's name, and of its
keyword, as "first second" beside the account's lower(name) and id, so that the accounts where
`alerts` is followed by a word starting with `7` are the entries of a few pairs ("alerts 7",
"alerts 70"...), each already in list order, and nearly every one of them a match. It is kept
exactly like search_words (migration 0012): by a statement-level trigger per INSERT on
PostgreSQL and a row trigger on SQLite, which bulk imports turn off through
search_words_deferred and replace with set-based statements (store.search.words_added_in_bulk).
"""

from store.migrations.versions import execute_for_dialect

revision = "0017_search_pairs"
down_revision = "0015_runway_warning"
branch_labels = None
depends_on = None


def _sqlite_words(text: str, alias: str) -> str:
    """A json_each() of the words of `text`, split on each space, as 0012's triggers split them."""
    return f"""json_each('[' || replace(json_quote({text}), ' ', '","') || ']') AS {alias}"""


def _sqlite_pairs(row: str, columns: str = "", source: str = "") -> str:
    """SELECT [columns,] each adjacent word pair of `row`'s name, then of its keyword, FROM [source,] ..."""
    selects = []
    for column in ("name", "keyword"):
        text = f"lower(coalesce({row}.{column}, ''))"
        selects.append(
            f"SELECT {columns}a.value || ' ' || b.value FROM {source}{_sqlite_words(text, 'a')}, "
            f"{_sqlite_words(text, 'b')} WHERE instr({row}.{column}, ' ') > 0 "  # no space, no pair
            "AND b.key = a.key + 1 AND a.value <> '' AND b.value <> ''"
        )
    return " UNION ALL ".join(selects)


def _sqlite_add(row: str) -> str:
    return f"""
        INSERT OR IGNORE INTO search_pairs (sort_name, account_id, pair)
            {_sqlite_pairs(row, columns=f"lower({row}.name), {row}.id, ")};"""


def _sqlite_remove(row: str) -> str:
    return f"""
        DELETE FROM search_pairs WHERE account_id = {row}.id AND sort_name = lower({row}.name)
            AND pair IN ({_sqlite_pairs(row)});"""


SQLITE_UPGRADE = [
    """CREATE TABLE search_pairs (
        pair TEXT NOT NULL, sort_name TEXT NOT NULL, account_id INTEGER NOT NULL,
        PRIMARY KEY (pair, sort_name, account_id)) WITHOUT ROWID""",
    "CREATE TRIGGER search_pairs_insert AFTER INSERT ON accounts "
    f"WHEN NOT EXISTS (SELECT 1 FROM search_words_deferred) BEGIN {_sqlite_add('new')} END",
    "CREATE TRIGGER search_pairs_update AFTER UPDATE OF name, keyword ON accounts "
    "WHEN old.name IS NOT new.name OR old.keyword IS NOT new.keyword "
    f"BEGIN {_sqlite_remove('old')} {_sqlite_add('new')} END",
    f"CREATE TRIGGER search_pairs_delete AFTER DELETE ON accounts BEGIN {_sqlite_remove('old')} END",
    f"""INSERT OR IGNORE INTO search_pairs (sort_name, account_id, pair) SELECT * FROM (
        {_sqlite_pairs("accounts", columns="lower(accounts.name), accounts.id, ", source="accounts, ")}
        ) ORDER BY 3, 1, 2""",
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS search_pairs_delete",
    "DROP TRIGGER IF EXISTS search_pairs_update",
    "DROP TRIGGER IF EXISTS search_pairs_insert",
    "DROP TABLE IF EXISTS search_pairs",
]

POSTGRESQL_UPGRADE = [
    """CREATE TABLE search_pairs (
        pair text COLLATE "C" NOT NULL, sort_name text NOT NULL, account_id integer NOT NULL,
        PRIMARY KEY (pair, sort_name, account_id))""",
    """CREATE FUNCTION search_pairs_of(name text, keyword text) RETURNS SETOF text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT DISTINCT w[i] || ' ' || w[i + 1]
        FROM (SELECT string_to_array(lower(t), ' ') FROM unnest(ARRAY[name, keyword]) AS t
              WHERE t IS NOT NULL) AS words (w),
            generate_series(1, cardinality(w) - 1) AS i
        WHERE w[i] <> '' AND w[i + 1] <> '' $$""",
    # One sort both drops repeats and inserts in index order, as search_words_added() does.
    """CREATE FUNCTION search_pairs_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO search_pairs (pair, sort_name, account_id)
            SELECT p, lower(a.name), a.id FROM added AS a, search_pairs_of(a.name, a.keyword) AS p
            ORDER BY 1, 2, 3;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION search_pairs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM search_pairs WHERE account_id = OLD.id AND sort_name = lower(OLD.name)
            AND pair IN (SELECT search_pairs_of(OLD.name, OLD.keyword));
        IF TG_OP = 'UPDATE' THEN
            INSERT INTO search_pairs (pair, sort_name, account_id)
                SELECT p, lower(NEW.name), NEW.id FROM search_pairs_of(NEW.name, NEW.keyword) AS p;
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER search_pairs_insert AFTER INSERT ON accounts REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION search_pairs_added()",
    "CREATE TRIGGER search_pairs_update AFTER UPDATE OF name, keyword ON accounts FOR EACH ROW "
    "WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.keyword IS DISTINCT FROM NEW.keyword) "
    "EXECUTE FUNCTION search_pairs_changed()",
    "CREATE TRIGGER search_pairs_delete AFTER DELETE ON accounts FOR EACH ROW "
    "EXECUTE FUNCTION search_pairs_changed()",
    """INSERT INTO search_pairs (pair, sort_name, account_id)
        SELECT p, lower(a.name), a.id FROM accounts AS a, search_pairs_of(a.name, a.keyword) AS p
        ORDER BY 1, 2, 3""",
]

POSTGRESQL_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS search_pairs_delete ON accounts",
    "DROP TRIGGER IF EXISTS search_pairs_update ON accounts",
    "DROP TRIGGER IF EXISTS search_pairs_insert ON accounts",
    "DROP FUNCTION IF EXISTS search_pairs_changed()",
    "DROP FUNCTION IF EXISTS search_pairs_added()",
    "DROP FUNCTION IF EXISTS search_pairs_of(text, text)",
    "DROP TABLE IF EXISTS search_pairs",
]


def upgrade() -> None:
    execute_for_dialect(SQLITE_UPGRADE, POSTGRESQL_UPGRADE)


def downgrade() -> None:
    execute_for_dialect(SQLITE_DOWNGRADE, POSTGRESQL_DOWNGRADE)
