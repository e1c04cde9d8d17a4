"""Alembic revisions, and what several of them share."""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op


def execute_for_dialect(sqlite: Sequence[str], postgresql: Sequence[str]) -> None:
    """Run the statements written for the database being migrated, in order."""
    for statement in sqlite if op.get_bind().dialect.name == "sqlite" else postgresql:
        op.execute(statement)
