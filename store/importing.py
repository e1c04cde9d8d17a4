"""CSV import of accounts: every row validated first, then all rows applied or none."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import accounts, audit, ledger
from store.errors import StoreError
from store.models import Account, EntryKind

HEADER = ["reference", "name", "keyword", "credits"]


class ImportRejected(StoreError):
    """The file had bad rows; nothing was imported."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"Nothing imported: {len(problems)} problem(s).\n" + "\n".join(problems))


@dataclass(frozen=True)
class Row:
    line: int
    reference: str
    name: str
    keyword: str | None
    credits: int


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def parse(lines: Iterable[str]) -> list[Row]:
    """Validated rows, or ImportRejected naming every bad line."""
    reader = csv.reader(lines)
    header = [cell.strip().lower() for cell in next(reader, [])]
    if header != HEADER:
        raise ImportRejected([f"line 1: the header must be {','.join(HEADER)}"])
    rows: list[Row] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(HEADER):
            problems.append(f"line {line}: expected {len(HEADER)} fields, found {len(cells)}")
            continue
        try:
            reference = accounts.clean_reference(cells[0])
            row = Row(
                line,
                reference,
                accounts.clean_name(cells[1]),
                accounts.clean_keyword(cells[2]),
                ledger.parse_credits(cells[3], allow_zero=True),
            )
        except StoreError as error:
            problems.append(f"line {line}: {error}")
            continue
        if reference in seen:
            problems.append(f"line {line}: reference {reference} already appears on line {seen[reference]}")
            continue
        seen[reference] = line
        rows.append(row)
    if problems:
        raise ImportRejected(problems)
    return rows


def apply(session: Session, rows: list[Row], actor: str, *, update: bool = False) -> ImportResult:
    """Create (or with `update`, also overwrite) accounts; credits become the opening balance."""
    existing = {
        account.reference: account
        for account in session.scalars(
            select(Account).where(Account.reference.in_([row.reference for row in rows]))
        )
    }
    if existing and not update:
        raise ImportRejected(
            [
                f"line {row.line}: account {row.reference} already exists (use --update to change it)"
                for row in rows
                if row.reference in existing
            ]
        )
    created = updated = 0
    for row in rows:
        account = existing.get(row.reference)
        if account is None:
            account = accounts.create(session, row.reference, row.name, row.keyword)
            if row.credits:
                ledger.post(session, account, EntryKind.OPENING, row.credits, actor)
            created += 1
            continue
        account = ledger.lock(session, account.id)[account.id]
        accounts.rename(session, account, row.name, actor)
        if account.keyword != row.keyword:
            audit.record(
                session,
                actor,
                "keyword",
                account.reference,
                account.keyword,
                row.keyword,
                account.id,
            )
            account.keyword = row.keyword
        if row.credits != account.balance:
            ledger.post(session, account, EntryKind.ADJUSTMENT, row.credits - account.balance, actor)
        updated += 1
    return ImportResult(created, updated)
