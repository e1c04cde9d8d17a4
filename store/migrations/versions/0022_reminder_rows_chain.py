"""reminder rows reference their parent row, not accounts (PostgreSQL)

Revision ID: 0022_reminder_rows_chain
Revises: 0019_account_totals
Create Date: 2026-11-29

Each low-credit alert writes an alert row, a delivery row and a message row, and each of their
foreign keys on `accounts` made PostgreSQL lock the account's row (FOR KEY SHARE) once per row
written: a write to a page of the million-row accounts table, often its first since the last
checkpoint, so a full-page image in the WAL. At 1M accounts that was 25-40 µs a row, most of each
insert (10,000 alerts: 243 ms of the alerts insert's 291 ms).

The same consistency holds through a chain instead: an alert belongs to its account's episode row
(`reminder_episodes`, itself checked against `accounts`), a message to its alert, and a delivery
to its account's episode row. Deleting an account still cascades to every one of them, through
the episode row and the alert. The rows locked are now the reminder tables' own small, hot ones.

SQLite locks nothing for a foreign-key check, so its tables keep their keys on `accounts`.
"""

from alembic import op

revision = "0022_reminder_rows_chain"
down_revision = "0019_account_totals"
branch_labels = None
depends_on = None

# (table, constraint, what it references from this revision on); before, each referenced accounts
CHAIN = [
    ("alerts", "alerts_account_id_fkey", "(account_id) REFERENCES reminder_episodes (account_id)"),
    (
        "alert_messages",
        "alert_messages_account_id_fkey",
        "(account_id, episode) REFERENCES alerts (account_id, episode)",
    ),
    (
        "reminder_deliveries",
        "reminder_deliveries_account_id_fkey",
        "(account_id) REFERENCES reminder_episodes (account_id)",
    ),
]
BEFORE = "(account_id) REFERENCES accounts (id)"


def _point(references: dict[str, str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name, _ in CHAIN:
        op.execute(
            f"ALTER TABLE {table} DROP CONSTRAINT {name}, "
            f"ADD CONSTRAINT {name} FOREIGN KEY {references[table]} ON DELETE CASCADE"
        )


def upgrade() -> None:
    _point({table: references for table, _, references in CHAIN})


def downgrade() -> None:
    _point({table: BEFORE for table, _, _ in CHAIN})
