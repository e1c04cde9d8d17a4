"""word-start search tables, kept in step with accounts by triggers

Revision ID: 0012_search_words
Revises: 0010_live_alerts
Create Date: 2026-11-29

Listing a page of a word that 1% of accounts share, or of two words, sorted every match by name:
the trigram indexes find matches in no useful order. `search_words` holds each word of an
account's name and keyword (split on spaces, lower-cased as lower() does) beside the account's
lower(name) and id, so the accounts having one word are an index range already in list order,
and a page stops reading after a page. `search_fragments` is the vocabulary: every such word
(kind 'w'), every proper suffix of one ('s'), and on SQLite every three characters found in a
reference ('r'), so that store.search can tell in a look-up or two that no account has the typed
text inside a word or a reference, which is when search_words holds every match. (PostgreSQL's
trigram index on references answers that itself.) Fragments are never removed: a stale one only
sends a search down the slower, general path.

Triggers keep both tables, so every writer does, bulk loads included: on PostgreSQL one
statement-level trigger per INSERT (a million-row import adds its words in one set-based
statement); on SQLite a row trigger, as for the FTS5 table.
"""

from store.migrations.versions import execute_for_dialect

revision = "0012_search_words"
down_revision = "0010_live_alerts"
branch_labels = None
depends_on = None

NAME_MAX_LENGTH = 50  # store.models; a suffix starts at most this far in
KEYWORD_MAX_LENGTH = 50
REFERENCE_MAX_LENGTH = 20
POSITIONS = "[" + ",".join(str(n) for n in range(2, max(NAME_MAX_LENGTH, KEYWORD_MAX_LENGTH) + 1)) + "]"
REFERENCE_POSITIONS = "[" + ",".join(str(n) for n in range(1, REFERENCE_MAX_LENGTH - 1)) + "]"


def _sqlite_words(row: str) -> str:
    """A json_each() of the words of `row`'s name and keyword: json_quote escapes, spaces split."""
    text = f"lower({row}.name || ' ' || coalesce({row}.keyword, ''))"
    return f"""json_each('[' || replace(json_quote({text}), ' ', '","') || ']')"""


def _sqlite_add(row: str) -> str:
    words = _sqlite_words(row)
    return f"""
        INSERT OR IGNORE INTO search_words (word, sort_name, account_id)
            SELECT value, lower({row}.name), {row}.id FROM {words} WHERE value <> '';
        INSERT OR IGNORE INTO search_fragments (kind, fragment)
            SELECT 'w', value FROM {words} WHERE value <> ''
            UNION ALL
            SELECT 's', substr(w.value, p.value) FROM {words} AS w, json_each('{POSITIONS}') AS p
            WHERE p.value <= length(w.value);"""


def _sqlite_reference_grams(row: str) -> str:
    return f"""
        INSERT OR IGNORE INTO search_fragments (kind, fragment)
            SELECT 'r', substr(lower({row}.reference), p.value, 3)
            FROM json_each('{REFERENCE_POSITIONS}') AS p WHERE p.value <= length({row}.reference) - 2;"""


def _sqlite_remove(row: str) -> str:
    return f"""
        DELETE FROM search_words WHERE account_id = {row}.id AND sort_name = lower({row}.name)
            AND word IN (SELECT value FROM {_sqlite_words(row)});"""


SQLITE_UPGRADE = [
    """CREATE TABLE search_words (
        word TEXT NOT NULL, sort_name TEXT NOT NULL, account_id INTEGER NOT NULL,
        PRIMARY KEY (word, sort_name, account_id)) WITHOUT ROWID""",
    """CREATE TABLE search_fragments (
        kind TEXT NOT NULL, fragment TEXT NOT NULL,
        PRIMARY KEY (kind, fragment)) WITHOUT ROWID""",
    # A bulk import holds SQLite's write lock and adds its accounts' words in a few statements
    # (store.search.add_words_in_bulk); while it does, its row here turns the row trigger off.
    "CREATE TABLE search_words_deferred (since INTEGER PRIMARY KEY)",
    "CREATE TRIGGER search_words_insert AFTER INSERT ON accounts "
    "WHEN NOT EXISTS (SELECT 1 FROM search_words_deferred) "
    f"BEGIN {_sqlite_add('new')} {_sqlite_reference_grams('new')} END",
    "CREATE TRIGGER search_reference_update AFTER UPDATE OF reference ON accounts "
    f"BEGIN {_sqlite_reference_grams('new')} END",
    "CREATE TRIGGER search_words_update AFTER UPDATE OF name, keyword ON accounts "
    "WHEN old.name IS NOT new.name OR old.keyword IS NOT new.keyword "
    f"BEGIN {_sqlite_remove('old')} {_sqlite_add('new')} END",
    f"CREATE TRIGGER search_words_delete AFTER DELETE ON accounts BEGIN {_sqlite_remove('old')} END",
    f"""INSERT INTO search_words (word, sort_name, account_id)
        SELECT DISTINCT value, lower(accounts.name), accounts.id
        FROM accounts, {_sqlite_words("accounts")} WHERE value <> ''""",
    f"""INSERT OR IGNORE INTO search_fragments (kind, fragment)
        SELECT DISTINCT 'w', word FROM search_words
        UNION ALL
        SELECT DISTINCT 's', substr(w.word, p.value) FROM (SELECT DISTINCT word FROM search_words) AS w,
            json_each('{POSITIONS}') AS p WHERE p.value <= length(w.word)
        UNION ALL
        SELECT DISTINCT 'r', substr(lower(reference), p.value, 3) FROM accounts,
            json_each('{REFERENCE_POSITIONS}') AS p WHERE p.value <= length(reference) - 2""",
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS search_words_delete",
    "DROP TRIGGER IF EXISTS search_words_update",
    "DROP TRIGGER IF EXISTS search_reference_update",
    "DROP TRIGGER IF EXISTS search_words_insert",
    "DROP TABLE IF EXISTS search_words_deferred",
    "DROP TABLE IF EXISTS search_fragments",
    "DROP TABLE IF EXISTS search_words",
]

# The fragments of a set of words; ordered so that concurrent writers add new fragments in the
# same order and never wait for each other in a circle.
PG_FRAGMENTS = """
    INSERT INTO search_fragments (kind, fragment)
    SELECT DISTINCT f.kind, f.fragment
    FROM (SELECT DISTINCT w FROM {source}) AS words (w),
        LATERAL (SELECT 'w', words.w
                 UNION ALL
                 SELECT 's', substr(words.w, p) FROM generate_series(2, length(words.w)) AS p)
        AS f (kind, fragment)
    ORDER BY f.kind, f.fragment
    ON CONFLICT DO NOTHING"""

POSTGRESQL_UPGRADE = [
    """CREATE TABLE search_words (
        word text COLLATE "C" NOT NULL, sort_name text NOT NULL, account_id integer NOT NULL,
        PRIMARY KEY (word, sort_name, account_id))""",
    """CREATE TABLE search_fragments (
        kind char(1) NOT NULL, fragment text COLLATE "C" NOT NULL,
        PRIMARY KEY (kind, fragment))""",
    """CREATE FUNCTION search_words_of(name text, keyword text) RETURNS SETOF text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT w FROM unnest(string_to_array(lower(name || ' ' || coalesce(keyword, '')), ' ')) AS w
        WHERE w <> '' $$""",
    # One sort both drops an account's repeated words and inserts in index order.
    f"""CREATE FUNCTION search_words_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        WITH new_words AS MATERIALIZED (
            SELECT DISTINCT w AS word, lower(a.name) AS sort_name, a.id AS account_id
            FROM added AS a, search_words_of(a.name, a.keyword) AS w ORDER BY 1, 2, 3),
        inserted AS (INSERT INTO search_words (word, sort_name, account_id) SELECT * FROM new_words)
        {PG_FRAGMENTS.format(source="new_words AS n (w)").strip()};
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION search_words_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM search_words WHERE account_id = OLD.id AND sort_name = lower(OLD.name)
            AND word IN (SELECT search_words_of(OLD.name, OLD.keyword));
        IF TG_OP = 'UPDATE' THEN
            INSERT INTO search_words (word, sort_name, account_id)
                SELECT DISTINCT w, lower(NEW.name), NEW.id FROM search_words_of(NEW.name, NEW.keyword) AS w;
            {PG_FRAGMENTS.format(source="search_words_of(NEW.name, NEW.keyword) AS w")};
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER search_words_insert AFTER INSERT ON accounts REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION search_words_added()",
    "CREATE TRIGGER search_words_update AFTER UPDATE OF name, keyword ON accounts FOR EACH ROW "
    "WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.keyword IS DISTINCT FROM NEW.keyword) "
    "EXECUTE FUNCTION search_words_changed()",
    "CREATE TRIGGER search_words_delete AFTER DELETE ON accounts FOR EACH ROW "
    "EXECUTE FUNCTION search_words_changed()",
    """INSERT INTO search_words (word, sort_name, account_id)
        SELECT DISTINCT w, lower(a.name), a.id FROM accounts AS a, search_words_of(a.name, a.keyword) AS w
        ORDER BY 1, 2, 3""",
    PG_FRAGMENTS.format(source="search_words AS s (w)"),
]

POSTGRESQL_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS search_words_delete ON accounts",
    "DROP TRIGGER IF EXISTS search_words_update ON accounts",
    "DROP TRIGGER IF EXISTS search_words_insert ON accounts",
    "DROP FUNCTION IF EXISTS search_words_changed()",
    "DROP FUNCTION IF EXISTS search_words_added()",
    "DROP FUNCTION IF EXISTS search_words_of(text, text)",
    "DROP TABLE IF EXISTS search_fragments",
    "DROP TABLE IF EXISTS search_words",
]


def upgrade() -> None:
    execute_for_dialect(SQLITE_UPGRADE, POSTGRESQL_UPGRADE)


def downgrade() -> None:
    execute_for_dialect(SQLITE_DOWNGRADE, POSTGRESQL_DOWNGRADE)
