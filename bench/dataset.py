"""Accounts named as real customers name them, and the searches people type over them.

A deployment serves one customer, who names most accounts after itself: *Acme Marketing*,
*Acme Alerts 2*, *Acme EU*. So one word is shared by half of all accounts, a partner's name by
1%, and the rest by departments and teams with made-up names.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

OPENING_CREDITS = 1_000_000
LOW_SHARE = 0.01  # accounts below their reminder level
COMMON_WORD = "Acme"  # in half of all names
RARE_WORD = "Northwind"  # in 1% of names
PURPOSES = [
    "Marketing",
    "Alerts",
    "EU",
    "Support",
    "OTP",
    "Billing",
    "Logistics",
    "Retail",
    "Clinic",
    "Events",
    "Notifications",
    "Dispatch",
    "Sales",
    "Reminders",
    "Promotions",
]
NUMBERED_SHARE = 0.4  # names that end in a number: "Acme Alerts 2"
CONSONANTS = "bcdfghjklmnprstvwz"
VOWELS = "aeiou"
ACCOUNT_COLUMNS = (
    "id",
    "reference",
    "name",
    "keyword",
    "active",
    "balance",
    "created_at",
    "reminder_enabled",
    "reminder_level",
    "recipient_count",
)


def reference(account_id: int) -> str:
    return f"BN{account_id:08d}"


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """Pronounceable made-up words (never containing the common or the rare word)."""
    words: set[str] = set()
    while len(words) < size:
        syllables = rng.randint(2, 3)
        words.add("".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(syllables)))
    return sorted(words)


def account_rows(size: int, seed: int = 6, low_share: float = LOW_SHARE) -> Iterator[tuple[Any, ...]]:
    """`size` accounts in ACCOUNT_COLUMNS order, generated lazily so 1M never sits in memory.

    Accounts with reminders on have one recipient each (bench.run.load adds them).
    """
    rng = random.Random(seed)
    words = vocabulary(max(200, size // 200), rng)
    now = datetime.now(UTC)
    low = set(rng.sample(range(1, size + 1), max(1, int(size * low_share))))
    for account_id in range(1, size + 1):
        draw = rng.random()
        owner = COMMON_WORD if draw < 0.5 else RARE_WORD if draw < 0.51 else rng.choice(words).title()
        name = f"{owner} {rng.choice(PURPOSES)}"
        if rng.random() < NUMBERED_SHARE:
            name += f" {rng.randint(2, 99)}"
        keyword = rng.choice(words).upper() if rng.random() < 0.5 else None
        # Half the accounts have reminders on; 1% of all accounts sit below their level.
        enabled = account_id in low or rng.random() < 0.5
        level = OPENING_CREDITS * 2 if account_id in low else (1000 if enabled else 0)
        yield (
            account_id,
            reference(account_id),
            name,
            keyword,
            True,
            OPENING_CREDITS,
            now,
            enabled,
            level,
            int(enabled),
        )


@dataclass(frozen=True)
class SearchKind:
    """One kind of search people type, and the terms the bench types for it."""

    name: str
    terms: Callable[[random.Random, int], str]  # (rng, accounts) -> a term
    listed: bool = True  # one of the kinds issue 15 lists, with its targets


ABSENT_LETTERS = "qxy"  # in no name, keyword or reference the bench makes


SEARCH_KINDS = [
    SearchKind("exact reference", lambda rng, size: reference(rng.randint(1, size))),
    SearchKind("a word 50% share", lambda rng, size: rng.choice([COMMON_WORD.lower(), COMMON_WORD])),
    SearchKind("a word 1% share", lambda rng, size: rng.choice([RARE_WORD.lower(), RARE_WORD])),
    SearchKind("two words", lambda rng, size: f"{COMMON_WORD} {rng.choice(PURPOSES)}".lower()),
    SearchKind("a word and a number", lambda rng, size: f"{rng.choice(PURPOSES)} {rng.randint(2, 99)}"),
    SearchKind("no match", lambda rng, size: f"xyzzy{rng.randint(10, 99)}"),
    # Beyond the list: what people type on the way to those, or instead of them.
    SearchKind(
        "the first letters of a word",
        lambda rng, size: rng.choice([COMMON_WORD, RARE_WORD])[: rng.randint(3, 5)].lower(),
        listed=False,
    ),
    # Typing "acme marketing", the picker is asked at each key: "acme m", "northwind sup".
    SearchKind(
        "a word and the first letters of the next",
        lambda rng, size: (
            f"{rng.choice([COMMON_WORD, RARE_WORD])} {rng.choice(PURPOSES)[: rng.randint(1, 3)]}".lower()
        ),
        listed=False,
    ),
    SearchKind(
        "the start of a reference", lambda rng, size: reference(rng.randint(1, size))[:6], listed=False
    ),
    SearchKind("a number", lambda rng, size: str(rng.randint(2, 99)), listed=False),
    SearchKind("one letter", lambda rng, size: rng.choice("aeiou"), listed=False),
    # A purpose two letters long, "Acme EU": too short for the trigram indexes.
    SearchKind("a two-letter word", lambda rng, size: rng.choice(["EU", "eu"]), listed=False),
    SearchKind(
        "two letters no account has",
        lambda rng, size: "".join(rng.sample(ABSENT_LETTERS, 2)),
        listed=False,
    ),
]


def terms(kind: SearchKind, size: int, count: int) -> list[str]:
    rng = random.Random(f"{kind.name}:{count}")
    return [kind.terms(rng, size) for _ in range(count)]


def share_matched(kind: SearchKind, size: int, sample: int = 20_000) -> float:
    """The share of accounts a term of this kind matches, averaged over terms and a sample of rows."""
    rng = random.Random(0)
    chosen = sorted(rng.sample(range(size), min(sample, size)))
    haystacks = []
    wanted = iter(chosen)
    next_index = next(wanted, None)
    for index, row in enumerate(account_rows(size)):
        if index == next_index:
            haystacks.append("\n".join(str(cell).lower() for cell in row[1:4] if cell))
            next_index = next(wanted, None)
    needles = [term.lower() for term in terms(kind, size, 20)]
    if kind.name == "exact reference":
        return 1 / size  # a reference is unique, and no other reference contains it
    hits = sum(needle in haystack for needle in needles for haystack in haystacks)
    return hits / (len(needles) * len(haystacks))
