"""leave room in alert_messages' pages, so a copy's updates stay on its page (PostgreSQL)

Revision ID: 0035_messages_updated_in_place
Revises: 0033_first_copy_is_delivery
Create Date: 2026-11-30

A first copy is written by its claim and rewritten moments later by its record, then again as
its alert changes. In a full page each new version went elsewhere and took a new entry in every
index; with half of each page free it stays on its page (a HOT update) and the indexes are left
alone, which made the reminder pass's records cheaper. Only pages written from now on keep the
room. SQLite updates rows in place: nothing to do there.
"""

from alembic import op

revision = "0035_messages_updated_in_place"
down_revision = "0034_reference_length_postgresql"
branch_labels = None
depends_on = None

FILLFACTOR = 50  # percent of each page filled by inserts; the rest is kept for updated versions


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE alert_messages SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE alert_messages RESET (fillfactor)")
