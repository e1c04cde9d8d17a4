"""The weekly statement's message text and CSV, from a store.statements.Statement."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable

from handlers.common import render
from store.statements import AccountLine, Statement

CSV_HEADER = ("reference", "name", "active", "balance", "reminder_level", "week_used", "week_purchased")


def period_text(statement: Statement) -> str:
    first, last = statement.period.first, statement.period.last
    return f"{first:%-d %b} – {last:%-d %b %Y}"


def runway_text(line: AccountLine) -> str:
    """How long an account lasts, or where it stands against its level when it used nothing."""
    days = line.days_left
    if days is None:
        shortfall = (line.level or 0) - line.balance
        return f"{shortfall:,} below its reminder level" if shortfall > 0 else "no usage this week"
    if days < 1:
        return "less than a day left at this week's usage"
    whole = math.floor(days)  # rounded down: an early warning beats a late one
    return f"about {whole:,} day{'' if whole == 1 else 's'} left at this week's usage"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def week_text(statement: Statement, currency: str) -> str:
    """The week's purchases (with their invoice total) and moves."""
    s = statement
    bought = (
        f"{_count(s.purchases, 'purchase')} of {s.bought:,} credits (invoiced {currency} {s.invoiced:,.2f})"
        if s.purchases
        else "no purchases"
    )
    moved = f"{_count(s.moves, 'move')} of {s.moved:,} credits" if s.moves else "no moves"
    return f"{bought} · {moved}"


def statement_text(statement: Statement, currency: str) -> str:
    """The message posted with the chart and CSV (Slack mrkdwn)."""
    return render(
        "statement.md.j2",
        s=statement,
        period=period_text(statement),
        week=week_text(statement, currency),
        runway=runway_text,
    )


def statement_csv(lines: Iterable[AccountLine]) -> bytes:
    """Every account's balance, week's usage and purchases, one row each, as UTF-8 CSV."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for line in lines:
        level = "" if line.level is None else line.level
        active = "yes" if line.active else "no"
        writer.writerow(
            (line.reference, _cell(line.name), active, line.balance, level, line.used, line.bought)
        )
    return out.getvalue().encode()


def _cell(text: str) -> str:
    # A name such as "=HYPERLINK(...)" would run as a formula when the CSV is opened in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def csv_filename(statement: Statement) -> str:
    return f"statement-{statement.period.last:%Y-%m-%d}.csv"


def chart_filename(statement: Statement) -> str:
    return f"statement-{statement.period.last:%Y-%m-%d}.png"
