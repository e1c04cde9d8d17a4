"""The one help text: every command, button, reminder behaviour and role, from templates/help.md.j2."""

from __future__ import annotations

import functools
from datetime import date

from handlers.common import render
from store.models import NAME_MAX_LENGTH


@functools.cache  # the same two settings for the life of the process; every Home tab draws it
def help_text(history_start: date, account_manager: str) -> str:
    """What `/accounts help`, `/invoices help` and the Home tab explain."""
    return render(
        "help.md.j2",
        name_limit=NAME_MAX_LENGTH,
        history_start=f"{history_start.day} {history_start:%B %Y}",
        account_manager=account_manager,
    )
