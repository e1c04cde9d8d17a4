"""A Hypothesis state machine that runs every money path through the store and audits the books
after each step: balances equal their ledger, only purchases, usage and adjustments change the
total, nothing goes negative, transfers net to zero, and a refused step changes nothing.

CI runs a bounded number of examples; `make property` runs many more (HYPOTHESIS_PROFILE=long).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.orm import Session

from store import accounts, db, importing, invoices, ledger, reminders
from store.errors import (
    DuplicateOperation,
    InactiveAccount,
    InsufficientCredits,
    InvalidName,
    SameAccount,
    StoreError,
)
from store.models import (
    NAME_MAX_LENGTH,
    Account,
    AuditEntry,
    Base,
    EntryKind,
    Invoice,
    LedgerEntry,
    ReminderRecipient,
)

PRICING = invoices.Pricing(Decimal("0.05"), Decimal("0.20"), "GBP")
TODAY = date(2026, 11, 29)
ACTOR = "U012AB3CD"
# Amounts stay small enough that any run keeps every balance far inside the columns' range, and
# small enough that moves and usage often meet a balance exactly.
CREDITS = st.integers(min_value=1, max_value=2_000)
OPENING = st.integers(min_value=0, max_value=5_000)
VALID_NAMES = st.text(
    st.characters(
        codec="utf-8",
        categories=("L", "N", "Zs"),
        include_characters="&*_-'.",
        exclude_characters="".join(accounts.BLANK_LETTERS),  # letters that draw nothing
    ),
    min_size=1,
    max_size=NAME_MAX_LENGTH,
).filter(lambda name: name.strip())
INVALID_NAMES = st.sampled_from(
    [
        "",
        "   ",
        "tab\there",
        "line\nbreak",
        "x" * (NAME_MAX_LENGTH + 1),
        "\u200b\u200b\u200b",
        "Invoice\u202efdp.exe",
        "Acme\u2028Retail",
    ]
)
# Sorted: the store keeps recipients in the order first added, so a reordered list reads as a change.
EMAILS = st.lists(st.sampled_from(["ana@example.com", "bo@example.org", "cy@example.net"]), unique=True).map(
    sorted
)
# One kind per way a balance can change from outside; transfers only move credits around.
EXTERNAL_KINDS = (EntryKind.OPENING, EntryKind.PURCHASE, EntryKind.USAGE, EntryKind.ADJUSTMENT)


def reset(engine: Engine) -> None:
    """Empty every table, so each example starts from a fresh, migrated database."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if db.is_sqlite(engine):
            for table in tables:
                connection.execute(delete(table))
        else:
            names = ", ".join(table.name for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@dataclass
class Expected:
    """What the machine believes about one account."""

    id: int
    name: str
    balance: int
    active: bool = True
    reminder: tuple[bool, int, tuple[str, ...]] = (False, 0, ())


@dataclass(frozen=True)
class Done:
    """An operation applied under an idempotency key, to replay later."""

    kind: str  # "purchase" or "transfer"
    source: str
    destination: str | None
    credits: int


@dataclass
class Books:
    """The machine's model: accounts by reference, the credits that entered from outside, keys used."""

    accounts: dict[str, Expected] = field(default_factory=dict)
    total: int = 0
    purchases: int = 0
    keys: dict[str, Done] = field(default_factory=dict)


def snapshot(session: Session) -> tuple[Any, ...]:
    """Everything a refused step must leave exactly as it was."""
    return (
        session.execute(
            select(
                Account.id,
                Account.reference,
                Account.name,
                Account.keyword,
                Account.active,
                Account.balance,
                Account.reminder_enabled,
                Account.reminder_level,
            ).order_by(Account.id)
        ).all(),
        session.execute(select(LedgerEntry.id, LedgerEntry.credits).order_by(LedgerEntry.id)).all(),
        session.execute(select(AuditEntry.id).order_by(AuditEntry.id)).all(),
        session.execute(select(Invoice.id).order_by(Invoice.id)).all(),
        session.execute(
            select(ReminderRecipient.account_id, ReminderRecipient.address).order_by(ReminderRecipient.id)
        ).all(),
    )


class LedgerMachine(RuleBasedStateMachine):
    """Random sequences of imports, purchases, moves, usage, renames, reminders and status changes."""

    engine: Engine  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        reset(self.engine)
        self.sessions = db.make_session_factory(self.engine)
        self.books = Books()
        self.references = (f"PR{n:07d}" for n in itertools.count(1))
        self.key_serial = itertools.count(1)
        with self.sessions.begin() as session:
            self.seen = snapshot(session)  # the database as the last invariant check saw it

    # helpers

    def pick(self, index: int) -> tuple[str, Expected]:
        reference = sorted(self.books.accounts)[index % len(self.books.accounts)]
        return reference, self.books.accounts[reference]

    def new_key(self) -> str:
        return f"key-{next(self.key_serial)}"

    def apply(self, operation: Any) -> Any:
        """Run operation(session) in one transaction; if the store refuses it, prove nothing changed."""
        try:
            with self.sessions.begin() as session:
                return operation(session)
        except StoreError as error:
            with self.sessions.begin() as session:
                assert snapshot(session) == self.seen, f"refused with {error!r} but the database changed"
            return error

    def has_accounts(self) -> bool:
        return bool(self.books.accounts)

    # rules

    @initialize(openings=st.lists(OPENING, min_size=2, max_size=4))
    def import_first_accounts(self, openings: list[int]) -> None:
        self.import_accounts(openings)

    @rule(openings=st.lists(OPENING, min_size=1, max_size=3))
    def import_accounts(self, openings: list[int]) -> None:
        new = [(next(self.references), credits) for credits in openings]
        lines = [",".join(importing.HEADER)] + [f"{ref},Customer {ref},,{credits}" for ref, credits in new]
        result = self.apply(lambda session: importing.load(session, lines, ACTOR))
        assert result == importing.ImportResult(created=len(new), updated=0)
        with self.sessions.begin() as session:
            for reference, credits in new:
                account = accounts.by_reference(session, reference)
                self.books.accounts[reference] = Expected(account.id, f"Customer {reference}", credits)
                self.books.total += credits

    @precondition(has_accounts)
    @rule(index=st.integers(0, 99), credits=OPENING)
    def import_update_adjusts_balance(self, index: int, credits: int) -> None:
        reference, expected = self.pick(index)
        lines = [",".join(importing.HEADER), f"{reference},{expected.name},,{credits}"]
        result = self.apply(lambda session: importing.load(session, lines, ACTOR, update_existing=True))
        assert result == importing.ImportResult(created=0, updated=1)
        self.books.total += credits - expected.balance
        expected.balance = credits

    @precondition(has_accounts)
    @rule(index=st.integers(0, 99), credits=CREDITS)
    def buy(self, index: int, credits: int) -> None:
        reference, expected = self.pick(index)
        key = self.new_key()
        result = self.apply(
            lambda session: invoices.purchase(session, expected.id, credits, PRICING, ACTOR, key, TODAY)
        )
        if not expected.active:
            assert isinstance(result, InactiveAccount)
            return
        assert isinstance(result, invoices.Purchase) and not result.replayed
        assert (result.account.balance, result.invoice.credits) == (expected.balance + credits, credits)
        expected.balance += credits
        self.books.total += credits
        self.books.purchases += 1
        self.books.keys[key] = Done("purchase", reference, None, credits)

    @precondition(has_accounts)
    @rule(source=st.integers(0, 99), destination=st.integers(0, 99), credits=CREDITS)
    def move(self, source: int, destination: int, credits: int) -> None:
        (from_ref, giver), (to_ref, taker) = self.pick(source), self.pick(destination)
        key = self.new_key()
        result = self.apply(lambda session: ledger.transfer(session, giver.id, taker.id, credits, ACTOR, key))
        if from_ref == to_ref:
            assert isinstance(result, SameAccount)
        elif not (giver.active and taker.active):
            assert isinstance(result, InactiveAccount)
        elif credits > giver.balance:
            assert isinstance(result, InsufficientCredits) and result.balance == giver.balance
        else:
            assert isinstance(result, ledger.Transfer) and not result.replayed
            assert (result.source.balance, result.destination.balance) == (
                giver.balance - credits,
                taker.balance + credits,
            )
            giver.balance -= credits
            taker.balance += credits
            self.books.keys[key] = Done("transfer", from_ref, to_ref, credits)

    @precondition(has_accounts)
    @rule(index=st.integers(0, 99), credits=st.integers(1, 4_000))
    def move_everything_or_more(self, index: int, credits: int) -> None:
        """Moves that meet the balance exactly or just pass it: the edge of "too many credits"."""
        reference, giver = self.pick(index)
        to_ref, taker = self.pick(index + 1)
        if reference == to_ref or not (giver.active and taker.active):
            return
        wanted = giver.balance + (credits % 2)  # everything, or one credit too many
        if wanted < 1:
            return
        key = self.new_key()
        result = self.apply(lambda session: ledger.transfer(session, giver.id, taker.id, wanted, ACTOR, key))
        if wanted > giver.balance:
            assert isinstance(result, InsufficientCredits)
            return
        assert isinstance(result, ledger.Transfer) and result.source.balance == 0
        giver.balance, taker.balance = 0, taker.balance + wanted
        self.books.keys[key] = Done("transfer", reference, to_ref, wanted)

    @precondition(lambda self: self.books.keys)
    @rule(
        which=st.integers(0, 999),
        variant=st.sampled_from(["same", "more", "other kind"]),
        other=st.integers(0, 99),
    )
    def replay_key(self, which: int, variant: str, other: int) -> None:
        """A retried request under a used key: whatever its values, nothing applies a second time."""
        key = sorted(self.books.keys)[which % len(self.books.keys)]
        done = self.books.keys[key]
        source = self.books.accounts[done.source]
        kind = (
            done.kind
            if variant != "other kind"
            else {"purchase": "transfer", "transfer": "purchase"}[done.kind]
        )
        credits = done.credits + (variant == "more")
        destination = self.books.accounts[done.destination] if done.destination else self.pick(other)[1]

        def replay(session: Session) -> Any:
            if kind == "purchase":
                return invoices.purchase(session, source.id, credits, PRICING, ACTOR, key, TODAY)
            return ledger.transfer(session, source.id, destination.id, credits, ACTOR, key)

        result = self.apply(replay)
        with self.sessions.begin() as session:
            assert snapshot(session) == self.seen, f"replaying {key} ({variant}) changed the database"
        if variant == "other kind":
            assert isinstance(result, (DuplicateOperation, SameAccount)), f"{done} as {kind} gave {result!r}"
            return
        # Different credits under a used key are answered with what the key already did.
        assert isinstance(result, (ledger.Transfer, invoices.Purchase)) and result.replayed, repr(result)
        replayed = result.credits if isinstance(result, ledger.Transfer) else result.invoice.credits
        assert replayed == done.credits

    @precondition(has_accounts)
    @rule(index=st.integers(0, 99), credits=CREDITS)
    def use(self, index: int, credits: int) -> None:
        reference, expected = self.pick(index)
        result = self.apply(lambda session: ledger.record_usage(session, reference, credits, ACTOR))
        if not expected.active:
            assert isinstance(result, InactiveAccount), f"usage on an inactive account gave {result!r}"
        elif credits > expected.balance:
            assert isinstance(result, InsufficientCredits)
        else:
            assert isinstance(result, LedgerEntry) and result.balance_after == expected.balance - credits
            expected.balance -= credits
            self.books.total -= credits

    @precondition(has_accounts)
    @rule(index=st.integers(0, 99), name=VALID_NAMES)
    def rename(self, index: int, name: str) -> None:
        reference, expected = self.pick(index)
        result = self.apply(
            lambda session: accounts.rename(session, accounts.get(session, expected.id), name, ACTOR)
        )
        assert isinstance(result, Account) and result.name == name.strip(), f"{name!r} gave {result!r}"
        expected.name = name.strip()

    @precondition(has_accounts)
    @rule(index=st.integers(0, 99), name=INVALID_NAMES)
    def rename_refused(self, index: int, name: str) -> None:
        reference, expected = self.pick(index)
        result = self.apply(
            lambda session: accounts.rename(session, accounts.get(session, expected.id), name, ACTOR)
        )
        assert isinstance(result, InvalidName), f"{name!r} gave {result!r}"

    @precondition(has_accounts)
    @rule(index=st.integers(0, 99), enabled=st.booleans(), level=st.integers(0, 5_000), emails=EMAILS)
    def change_reminder(self, index: int, enabled: bool, level: int, emails: list[str]) -> None:
        reference, expected = self.pick(index)
        recipients = [reminders.Recipient(email) for email in emails]

        def configure(session: Session) -> bool:
            account = accounts.get(session, expected.id)
            return reminders.configure(session, account, enabled, level, recipients, ACTOR)

        changed = self.apply(configure)
        wanted = (enabled, level, tuple(emails))
        assert changed is (wanted != expected.reminder)
        expected.reminder = wanted

    @precondition(has_accounts)
    @rule(index=st.integers(0, 99), active=st.booleans())
    def set_active(self, index: int, active: bool) -> None:
        reference, expected = self.pick(index)
        changed = self.apply(
            lambda session: accounts.set_active(session, accounts.get(session, expected.id), active, ACTOR)
        )
        assert changed is (active != expected.active)
        expected.active = active

    # what must hold after every step

    @invariant()
    def books_balance(self) -> None:
        with self.sessions.begin() as session:
            self.check_books(session)

    def check_books(self, session: Session) -> None:
        rows = session.execute(
            select(Account.reference, Account.balance, Account.name, Account.active).order_by(
                Account.reference
            )
        ).all()
        assert {ref: (balance, name, active) for ref, balance, name, active in rows} == {
            ref: (e.balance, e.name, e.active) for ref, e in self.books.accounts.items()
        }
        assert all(balance >= 0 for _, balance, _, _ in rows)

        sums = dict(
            session.execute(
                select(LedgerEntry.account_id, func.sum(LedgerEntry.credits)).group_by(LedgerEntry.account_id)
            ).all()
        )
        assert {e.id: e.balance for e in self.books.accounts.values()} == {
            e.id: sums.get(e.id, 0) for e in self.books.accounts.values()
        }, "a balance differs from its ledger sum"

        external = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.credits), 0)).where(
                LedgerEntry.kind.in_([kind.value for kind in EXTERNAL_KINDS])
            )
        )
        total = sum(balance for _, balance, _, _ in rows)
        assert total == external == self.books.total, "credits appeared or vanished outside the books"

        legs: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for transfer_id, kind, credits in session.execute(
            select(LedgerEntry.transfer_id, LedgerEntry.kind, LedgerEntry.credits).where(
                LedgerEntry.transfer_id.is_not(None)
            )
        ):
            legs[transfer_id].append((kind, credits))
        for transfer_id, pair in legs.items():
            kinds = sorted(kind for kind, _ in pair)
            assert kinds == [EntryKind.TRANSFER_IN, EntryKind.TRANSFER_OUT], f"{transfer_id}: {pair}"
            assert sum(credits for _, credits in pair) == 0, f"{transfer_id} does not net to zero: {pair}"
        moves = sum(1 for done in self.books.keys.values() if done.kind == "transfer")
        assert len(legs) == moves

        invoiced = session.execute(
            select(Invoice.credits, LedgerEntry.credits, LedgerEntry.kind).join(
                LedgerEntry, Invoice.ledger_entry_id == LedgerEntry.id
            )
        ).all()
        assert len(invoiced) == self.books.purchases
        assert all(billed == credited and kind == EntryKind.PURCHASE for billed, credited, kind in invoiced)

        assert ledger.balance_problems(session) == [], "`ledger check` disagrees"
        self.seen = snapshot(session)


def test_every_step_keeps_the_books(engine: Engine) -> None:
    LedgerMachine.engine = engine
    run_state_machine_as_test(LedgerMachine)
