"""Finding, creating and renaming accounts."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from store import alert_redraws, audit
from store.errors import InactiveAccount, InvalidName, StoreError, UnknownAccount
from store.models import KEYWORD_MAX_LENGTH, NAME_MAX_LENGTH, REFERENCE_MAX_LENGTH, Account
from store.search import COUNT_LIMIT, Page, first_matches, search  # noqa: F401 - callers' old home

# Line and paragraph separators break a name over lines; format characters (Cf) draw nothing or
# reorder what follows (U+202E turns "Invoice\u202efdp.exe" into "Invoiceexe.pdf"); surrogates
# cannot be stored. Control characters (Cc) are tabs, line breaks and the like, NUL included.
LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})
FORMATTING = frozenset({"Cf", "Cs"})
# Letters that draw nothing: a name made only of these (or of spaces) looks blank.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def clean_text(raw: str | None, what: str, max_length: int) -> str:
    """User-typed text as it will be stored (trimmed), or InvalidName saying what is wrong with it."""
    text = (raw or "").strip()
    # Printable ASCII has no control, formatting or blank-drawing characters: only emptiness and
    # length can be wrong. Most names are like this, and a large import would otherwise spend
    # most of its Python time on the character checks below.
    if text and len(text) <= max_length and text.isascii() and text.isprintable():
        return text
    visible = [
        c for c in text if not (c.isspace() or c in BLANK_LETTERS or unicodedata.category(c) in FORMATTING)
    ]
    if not visible:
        raise InvalidName(f"Enter a {what}: it cannot be blank.")
    categories = {unicodedata.category(char) for char in text}
    if categories & LINE_BREAKING:
        raise InvalidName(f"A {what} cannot contain control characters such as tabs or line breaks.")
    if categories & FORMATTING:
        raise InvalidName(
            f"A {what} cannot contain invisible formatting characters such as zero-width spaces "
            "or right-to-left marks."
        )
    if len(text) > max_length:
        raise InvalidName(f"A {what} can be at most {max_length} characters; this one has {len(text)}.")
    return text


def clean_name(raw: str | None) -> str:
    """The account name as it will be stored, or InvalidName saying what is wrong with it."""
    return clean_text(raw, "name", NAME_MAX_LENGTH)


def as_reference(raw: str, *, new: bool = False) -> str | None:
    """`raw` as references are stored (upper-case, surrounding spaces trimmed), or None if no
    reference can be it.

    A new reference is ASCII letters and digits only: str.isalnum() and str.upper() would take
    lookalikes ("ＥＸ1", "EX²") as references beside the ones they imitate, and turn "exß1" into
    "EXSS1". Look-ups stay as wide as earlier versions were, so a reference stored then is found.
    """
    text = raw.strip(" ")
    if not (len(text) <= REFERENCE_MAX_LENGTH and text.isalnum()) or (new and not text.isascii()):
        return None
    reference = text.upper()
    # "exß1" would look up EXSS1, another account: a reference upper-cases letter for letter.
    return reference if len(reference) == len(text) else None


def clean_reference(raw: str, *, new: bool = False) -> str:
    """An account reference as stored, to look one up (or, `new`, to create one); or StoreError."""
    reference = as_reference(raw, new=new)
    if reference is None:
        raise StoreError(
            f"{raw!r} is not an account reference: use 1-{REFERENCE_MAX_LENGTH} letters A-Z and digits 0-9."
        )
    return reference


def clean_keyword(raw: str | None) -> str | None:
    """The keyword as it will be stored (None when there is none), or InvalidName."""
    if not (raw or "").strip():
        return None
    return clean_text(raw, "keyword", KEYWORD_MAX_LENGTH)


def get(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise UnknownAccount(account_id)
    return account


def by_reference(session: Session, raw: str) -> Account:
    reference = clean_reference(raw)
    account = session.scalar(select(Account).where(Account.reference == reference))
    if account is None:
        raise UnknownAccount(reference)
    return account


def active(session: Session, account_id: int) -> Account:
    account = get(session, account_id)
    if not account.active:
        raise InactiveAccount(account.reference)
    return account


def create(
    session: Session, reference: str, name: str, keyword: str | None = None, active: bool = True
) -> Account:
    account = Account(
        reference=clean_reference(reference, new=True),
        name=clean_name(name),
        keyword=clean_keyword(keyword),
        active=active,
        balance=0,
        created_at=datetime.now(UTC),
        reminder_enabled=False,
        reminder_level=0,
    )
    session.add(account)
    session.flush()
    return account


def rename(session: Session, account: Account, new_name: str, actor: str) -> Account:
    name = clean_name(new_name)
    if name != account.name:
        audit.record(session, actor, "rename", account.reference, account.name, name, account.id)
        account.name = name
        alert_redraws.open_alert_changed(session, account.id)
    return account


def set_active(session: Session, account: Account, active: bool, actor: str) -> bool:
    """Make an account active or inactive, audited; True if it changed.

    An inactive account keeps its balance, ledger and invoices; it is only left out of lists,
    pickers and reminders, and refuses new purchases, moves and usage.
    """
    if account.active == active:
        return False
    audit.record(
        session,
        actor,
        "status",
        account.reference,
        "active" if account.active else "inactive",
        "active" if active else "inactive",
        account.id,
    )
    account.active = active
    session.flush()
    return True


def status_message(account: Account, changed: bool) -> str:
    """What an activate or deactivate did, in plain text: the CLI and Slack say the same."""
    who = f"{account.name} ({account.reference})"
    if not changed:
        return f"{who} is already {'active' if account.active else 'inactive'}; nothing changed."
    if account.active:
        return (
            f"{who} is active again. It has its {account.balance:,} credits; it is listed, "
            "can be chosen, and its reminder works."
        )
    return (
        f"{who} is now inactive. It keeps its {account.balance:,} credits, its history and its "
        "invoices; it is left out of lists, pickers and reminders until it is activated again."
    )
