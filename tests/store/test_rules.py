"""The domain rules the bot, the CLI and the CSV import share: credits and names."""

from __future__ import annotations

import pytest

from store.accounts import clean_keyword, clean_name
from store.errors import InvalidCredits, InvalidName
from store.ledger import MAX_CREDITS, parse_credits

NOT_A_NUMBER = "Enter a whole number of credits, like 500 or 1,500 (not {!r})."
OUT_OF_RANGE = f"Enter a whole number of credits from 1 to {MAX_CREDITS:,}."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("500", 500),
        (" 1500 ", 1500),
        ("1,500", 1500),
        ("1,000,000", 1_000_000),
        (250, 250),
        ("1,5", NOT_A_NUMBER.format("1,5")),
        ("15,00", NOT_A_NUMBER.format("15,00")),
        ("1,500,", NOT_A_NUMBER.format("1,500,")),
        (",500", NOT_A_NUMBER.format(",500")),
        ("--5", NOT_A_NUMBER.format("--5")),
        ("²", NOT_A_NUMBER.format("²")),
        ("１２", NOT_A_NUMBER.format("１２")),
        ("٣", NOT_A_NUMBER.format("٣")),
        ("1.5", NOT_A_NUMBER.format("1.5")),
        ("1e3", NOT_A_NUMBER.format("1e3")),
        ("+5", NOT_A_NUMBER.format("+5")),
        ("", NOT_A_NUMBER.format("")),
        ("5\x00", NOT_A_NUMBER.format("5\x00")),
        ("x" * 40, NOT_A_NUMBER.format("x" * 19 + "…")),
        ("0", OUT_OF_RANGE),
        ("-5", OUT_OF_RANGE),
        ("1000000001", OUT_OF_RANGE),
        ("9" * 5000, OUT_OF_RANGE),  # never reaches int(): Python refuses 4,300+ digits
        (True, NOT_A_NUMBER.format("True")),
    ],
)
def test_credits_are_ascii_whole_numbers_with_optional_thousands_groups(raw, expected):
    if isinstance(expected, int):
        assert parse_credits(raw) == expected
    else:
        with pytest.raises(InvalidCredits) as refused:
            parse_credits(raw)
        assert str(refused.value) == expected


def test_a_reminder_level_may_be_zero():
    assert parse_credits("0", allow_zero=True) == 0


BLANK = "Enter a name: it cannot be blank."
CONTROL = "A name cannot contain control characters such as tabs or line breaks."
INVISIBLE = (
    "A name cannot contain invisible formatting characters such as zero-width spaces or right-to-left marks."
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Acme Retail  ", "Acme Retail"),
        ("Łódź Taxis", "Łódź Taxis"),
        ("Smith & Sons <UK>", "Smith & Sons <UK>"),
        ("*Star*_Co_", "*Star*_Co_"),
        ("Rocket 🚀", "Rocket 🚀"),
        ("x" * 50, "x" * 50),
        ("", BLANK),
        ("   ", BLANK),
        (None, BLANK),
        ("\u200b\u200b\u200b", BLANK),  # zero-width spaces only
        ("\u3164\u3000", BLANK),  # a Hangul filler and an ideographic space draw nothing
        ("Acme\u2028Retail", CONTROL),  # line separator
        ("Acme\u2029Retail", CONTROL),  # paragraph separator
        ("Acme\nRetail", CONTROL),
        ("Acme\tRetail", CONTROL),
        ("Acme\x00", CONTROL),
        ("Invoice\u202efdp.exe", INVISIBLE),  # right-to-left override
        ("Acme\u2066Co", INVISIBLE),  # left-to-right isolate
        ("Ac\u200bme", INVISIBLE),  # zero-width space inside a name
        ("Acme\ufeff", INVISIBLE),  # byte order mark
        ("Acme\ud800", INVISIBLE),  # a lone surrogate, which no database stores
        ("x" * 51, "A name can be at most 50 characters; this one has 51."),
    ],
)
def test_names_refuse_what_would_hide_or_break_them(raw, expected):
    if expected.startswith(("Enter", "A name")):
        with pytest.raises(InvalidName) as refused:
            clean_name(raw)
        assert str(refused.value) == expected
    else:
        assert clean_name(raw) == expected


def test_keywords_follow_the_same_rule_and_may_be_absent():
    assert clean_keyword("  ") is None
    assert clean_keyword(" PROMO ") == "PROMO"
    with pytest.raises(InvalidName, match="A keyword cannot contain invisible formatting characters"):
        clean_keyword("PRO\u200bMO")
