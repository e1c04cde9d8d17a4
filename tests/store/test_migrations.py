"""Schema migrations: they go down and up again cleanly, and PostgreSQL's search indexes stay fast."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, text

from store import accounts, db, overview
from store.errors import StoreError
from store.models import Account
from tests.conftest import make_account


def written_before(engine: Engine, rows: list[tuple[int, str, str, bool, int]]) -> None:
    """Accounts (id, reference, name, active, balance), each with its opening entry, as an older
    schema's writer left them: raw SQL, since the models are the newest schema's."""
    given = [
        {"id": id_, "reference": reference, "name": name, "active": active, "balance": balance}
        for id_, reference, name, active, balance in rows
    ]
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (id, reference, name, active, balance, created_at, reminder_enabled, "
                "reminder_level, recipient_count) "
                "VALUES (:id, :reference, :name, :active, :balance, CURRENT_TIMESTAMP, false, 0, 0)"
            ),
            given,
        )
        connection.execute(
            text(
                "INSERT INTO ledger_entries (account_id, kind, credits, balance_after, actor, created_at) "
                "VALUES (:id, 'opening', :balance, :balance, 'test', CURRENT_TIMESTAMP)"
            ),
            given,
        )


def test_downgrading_to_nothing_and_upgrading_again_gives_a_working_store(engine: Engine, session_factory):
    db.upgrade(engine)
    head = db.current_revision(engine)
    command.downgrade(db.alembic_config(engine), "base")
    assert db.current_revision(engine) is None
    db.upgrade(engine)
    assert db.current_revision(engine) == head
    make_account(session_factory, "EX0000001", "Acme Marketing", keyword="PROMO")
    with session_factory.begin() as session:  # the search index is back and kept in step
        assert [a.reference for a in accounts.search(session, "promo").accounts] == ["EX0000001"]
        assert [a.reference for a in accounts.search(session, "acme mark").accounts] == ["EX0000001"]


def test_the_head_revision_is_the_newest_migrations_and_each_is_named_after_its_file() -> None:
    # The command line compares the database's revision with this before every command, without
    # loading Alembic's script directory (80 ms of imports for every command).
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(db.alembic_config(None))  # type: ignore[arg-type]
    assert db.head_revision() == scripts.get_current_head()
    for script in scripts.walk_revisions():
        assert script.path.endswith(f"/{script.revision}.py"), script.path


def test_postgresql_trigram_indexes_have_small_pending_lists(database_url: str, engine: Engine):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's FTS5 index has no pending list")
    with engine.connect() as connection:
        options = dict(
            connection.execute(
                text("SELECT relname, reloptions FROM pg_class WHERE relname LIKE 'ix_accounts_%_trgm'")
            ).all()
        )
    assert options == {
        f"ix_accounts_{column}_trgm": ["gin_pending_list_limit=64"]
        for column in ("name", "reference", "keyword")
    }


def test_postgresql_alert_messages_keep_room_for_updated_copies(database_url: str, engine: Engine):
    # Migration 0035: a copy's record and later edits stay on its page (HOT), not in every index.
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite updates rows in place")

    def options() -> list[str] | None:
        with engine.connect() as connection:
            return connection.scalar(text("SELECT reloptions FROM pg_class WHERE relname = 'alert_messages'"))

    assert options() == ["fillfactor=50"]
    command.downgrade(db.alembic_config(engine), "0033_first_copy_is_delivery")
    assert options() is None
    db.upgrade(engine)
    assert options() == ["fillfactor=50"]


def test_postgresql_indexes_the_accounts_that_are_not_active(database_url: str, engine: Engine):
    # Migration 0036: a word search asks this index whether each entry's account is active.
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's word search reads each account from the name-order index")

    def definition() -> str | None:
        with engine.connect() as connection:
            return connection.scalar(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_accounts_inactive'")
            )

    assert (
        definition()
        == "CREATE INDEX ix_accounts_inactive ON public.accounts USING btree (id) WHERE (NOT active)"
    )
    command.downgrade(db.alembic_config(engine), "0035_messages_updated_in_place")
    assert definition() is None
    db.upgrade(engine)
    assert definition() is not None


def test_postgresql_compares_references_by_code_point(database_url: str, engine: Engine, session_factory):
    # Migration 0042: the references starting with a text are one range of the unique index, as on
    # SQLite, whatever the database's collation; a reference can still change afterwards.
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite compares text by its bytes")

    def collation() -> str | None:
        with engine.connect() as connection:
            return connection.scalar(
                text(
                    "SELECT collation_name FROM information_schema.columns "
                    "WHERE table_name = 'accounts' AND column_name = 'reference'"
                )
            )

    assert collation() == "C"
    command.downgrade(db.alembic_config(engine), "0041_reference_grams_pg")
    assert collation() is None
    db.upgrade(engine)
    assert collation() == "C"
    account = make_account(session_factory, "EX0000001")
    with session_factory.begin() as session:
        session.get(Account, account.id).reference = "EXQ0000001"
    with engine.connect() as connection:
        grams = connection.scalars(text("SELECT fragment FROM search_fragments WHERE kind = 'r'")).all()
    assert "exq" in grams  # 0041's trigger, set aside while the column changed, is back


def test_reminder_state_moves_to_its_own_table_and_back(engine: Engine, session_factory):
    command.downgrade(db.alembic_config(engine), "0003_bounded_gin_pending_lists")
    with engine.begin() as connection:  # one account mid-episode (no credits), one never low
        connection.execute(
            text(
                "INSERT INTO accounts (id, reference, name, active, balance, created_at, reminder_enabled, "
                "reminder_level, reminder_episode, reminder_low) VALUES "
                "(1, 'EX0000001', 'Low Co', true, 0, CURRENT_TIMESTAMP, true, 10, 2, true), "
                "(2, 'EX0000002', 'Fine Co', true, 0, CURRENT_TIMESTAMP, false, 0, 0, false)"
            )
        )
    db.upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT account_id, number, low FROM reminder_episodes")).all() == [
            (1, 2, True)
        ]
    command.downgrade(db.alembic_config(engine), "0003_bounded_gin_pending_lists")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, reminder_episode, reminder_low FROM accounts ORDER BY id")
        ).all()
        assert rows == [(1, 2, True), (2, 0, False)]
    db.upgrade(engine)


def test_postgresql_connections_plan_searches_for_their_own_values(database_url: str, engine: Engine):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has no generic plans")
    with engine.connect() as connection:
        assert connection.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"


def test_an_sqlite_too_old_for_the_schema_is_named_before_anything_runs():
    with pytest.raises(
        StoreError, match=r"needs SQLite 3\.35 or newer, but this Python's sqlite3 module has 3\.31\.1"
    ):
        db.check_sqlite_version((3, 31, 1))
    db.check_sqlite_version((3, 35, 0))  # the oldest that works


def test_the_home_totals_start_from_the_accounts_already_there(engine: Engine, session_factory):
    command.downgrade(db.alembic_config(engine), "0015_runway_warning")
    written_before(
        engine,
        [
            (1, "EX0000001", "Open Co", True, 700),
            (2, "EX0000002", "Also Open", True, 50),
            (3, "EX0000003", "Closed Co", False, 9),
        ],
    )
    db.upgrade(engine)
    with session_factory.begin() as session:
        shown = overview.summary(session)
        assert (shown.accounts, shown.credits, shown.inactive) == (2, 750, 1)


def test_postgresql_estimates_accounts_below_their_level_from_statistics(database_url: str, engine: Engine):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's planner reads the partial index itself")
    with engine.begin() as connection:  # 1 account in 100 below its level
        connection.execute(
            text(
                "INSERT INTO accounts (reference, name, active, balance, created_at, reminder_enabled, "
                "reminder_level, recipient_count) SELECT 'EX' || n, 'Account ' || n, true, "
                "CASE WHEN n % 100 = 0 THEN 0 ELSE 1000 END, CURRENT_TIMESTAMP, true, 10, 0 "
                "FROM generate_series(1, 20000) AS n"
            )
        )
        connection.execute(
            text(
                "INSERT INTO ledger_entries (account_id, kind, credits, balance_after, actor, created_at) "
                "SELECT id, 'opening', balance, balance, 'test', CURRENT_TIMESTAMP FROM accounts"
            )
        )
        connection.execute(text("ANALYZE accounts"))
        plan = connection.execute(
            text(
                "EXPLAIN (FORMAT JSON) SELECT count(*) FROM accounts WHERE CASE WHEN reminder_enabled "
                "THEN balance - reminder_level ELSE balance END < 0 AND active"
            )
        ).scalar_one()
    estimated = plan[0]["Plan"]["Plans"][0]["Plan Rows"]
    assert 50 <= estimated <= 800, estimated  # 200 really; a third of 20,000 without the statistics


def test_deliveries_become_first_copies_and_come_back(engine: Engine, session_factory):
    # Migration 0033: a recipient's first copy of an alert is also the record of their DM.
    command.downgrade(db.alembic_config(engine), "0031_name_order_covers_search")
    for n in (1, 2):
        make_account(session_factory, f"EX000000{n}", f"Low {n}")
    lease = "2026-11-30 10:00:00+00:00"
    with engine.begin() as connection:
        for statement in (
            # Account 1 is low in episode 2; account 2 recovered from its only episode.
            "INSERT INTO reminder_episodes (account_id, number, low) VALUES (1, 2, true), (2, 1, false)",
            "INSERT INTO alerts (account_id, episode, revision, seen_entry_id, resolved) "
            "VALUES (1, 2, 1, 0, false)",
            # Episode 1 of account 1 was delivered before live alerts; so was account 2's.
            "INSERT INTO reminder_deliveries (account_id, episode, address, slack_user_id, sent_at) VALUES "
            "(1, 1, 'ann@example.com', 'U0ANN0001', '2026-11-01 09:00:00+00:00'), "
            "(2, 1, 'U0BOB0001', 'U0BOB0001', '2026-11-02 09:00:00+00:00')",
            # Episode 2: Ann's DM sent and posted, Bob's claimed and maybe posted, Cy's claim given back.
            "INSERT INTO reminder_deliveries (account_id, episode, address, slack_user_id, sent_at, "
            f"claimed_by, lease_until) VALUES (1, 2, 'ann@example.com', 'U0ANN0001', '{lease}', 'p1', NULL), "
            f"(1, 2, 'U0BOB0001', NULL, NULL, 'p2', '{lease}'), (1, 2, 'U0CY00001', NULL, NULL, NULL, NULL)",
            "INSERT INTO alert_messages (account_id, episode, address, number, channel, ts, shown_revision, "
            "replied_entry_id, stale, pending_post) VALUES "
            "(1, 2, 'ann@example.com', 1, 'D0ANN0001', '1.0001', 1, 0, false, NULL), "
            "(1, 2, 'U0BOB0001', 1, 'D0BOB0001', NULL, 0, 0, false, 'alert:1:2:1'), "
            # Dee's copy was posted and recorded, but not its delivery.
            "(1, 2, 'U0DEE0001', 1, 'D0DEE0001', '1.0002', 1, 0, false, NULL)",
        ):
            connection.execute(text(statement))
    db.upgrade(engine)
    first_copies = (
        "SELECT account_id, episode, address, channel, ts, pending_post, claimed_by, "
        "lease_until IS NOT NULL, sent_at IS NOT NULL, slack_user_id FROM alert_messages "
        "WHERE number = 1"
    )
    with engine.connect() as connection:
        assert sorted(connection.execute(text(first_copies)).all()) == [
            (1, 1, "ann@example.com", "", None, None, None, False, True, "U0ANN0001"),
            (1, 2, "U0BOB0001", "D0BOB0001", None, "alert:1:2:1", "p2", True, False, None),
            (1, 2, "U0CY00001", "", None, None, None, False, False, None),
            (1, 2, "U0DEE0001", "D0DEE0001", "1.0002", None, None, False, True, None),
            (1, 2, "ann@example.com", "D0ANN0001", "1.0001", None, None, False, True, "U0ANN0001"),
            (2, 1, "U0BOB0001", "", None, None, None, False, True, "U0BOB0001"),
        ]
        # Every first copy belongs to an alert: the episodes delivered before live alerts are resolved.
        assert connection.execute(
            text("SELECT account_id, episode, resolved FROM alerts ORDER BY account_id, episode")
        ).all() == [(1, 1, True), (1, 2, False), (2, 1, True)]
    command.downgrade(db.alembic_config(engine), "0031_name_order_covers_search")
    with engine.connect() as connection:
        assert sorted(
            connection.execute(
                text(
                    "SELECT account_id, episode, address, slack_user_id, sent_at IS NOT NULL, claimed_by, "
                    "lease_until IS NOT NULL FROM reminder_deliveries"
                )
            ).all()
        ) == [
            (1, 1, "ann@example.com", "U0ANN0001", True, None, False),
            (1, 2, "U0BOB0001", None, False, "p2", True),
            (1, 2, "U0DEE0001", None, True, None, False),
            (1, 2, "ann@example.com", "U0ANN0001", True, None, False),
            (2, 1, "U0BOB0001", "U0BOB0001", True, None, False),
        ]
        assert sorted(
            connection.execute(
                text("SELECT address, channel, ts, pending_post, claimed_by FROM alert_messages")
            ).all()
        ) == [
            ("U0BOB0001", "D0BOB0001", None, "alert:1:2:1", None),
            ("U0DEE0001", "D0DEE0001", "1.0002", None, None),
            ("ann@example.com", "D0ANN0001", "1.0001", None, None),
        ]
    db.upgrade(engine)


def test_accounts_from_before_the_reference_vocabulary_are_found_by_two_characters_of_their_reference(
    engine: Engine, session_factory
):
    # Two characters are answered from the vocabulary of reference trigrams (PostgreSQL's since
    # 0041): without those of the accounts already there, "x7" would find nothing.
    command.downgrade(db.alembic_config(engine), "0040_name_order_holds_keyword_pg")
    written_before(engine, [(1, "EX7000001", "Open Co", True, 700)])
    db.upgrade(engine)
    with session_factory.begin() as session:
        assert [a.reference for a in accounts.search(session, "x7").accounts] == ["EX7000001"]
        assert accounts.search(session, "qx").accounts == []
