"""The account box every feature draws: what each role sees on it, escaped, as valid Block Kit."""

from __future__ import annotations

import re
from typing import Any

import pytest

from handlers.account_box import build_account_box, place_of
from store.models import Account, Role
from tests.blockkit import assert_valid_blocks, visible_text

PLACE = '{"q": "acme", "offset": 8}'


def account(
    *, active: bool = True, balance: int = 1_500, name: str = "Acme Alerts", **changes: Any
) -> Account:
    columns: dict[str, Any] = {
        "id": 42,
        "reference": "EX0000042",
        "name": name,
        "keyword": "ACME",
        "active": active,
        "balance": balance,
        "reminder_enabled": True,
        "reminder_level": 1_000,
        "recipient_count": 1,
        "runway_warning_days": None,
    }
    return Account(**{**columns, **changes})


def buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(text, action id) of every button on the box, in order."""
    return [
        (element["text"]["text"], element["action_id"])
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def test_an_admins_box_shows_the_account_its_forecast_and_every_button_exactly():
    blocks = build_account_box(account(), Role.ADMIN, PLACE, "About 12 days of credits left.")

    assert blocks == [
        {
            "type": "section",
            "block_id": "account-42",
            "text": {"type": "mrkdwn", "text": "*Acme Alerts*\n`EX0000042` · keyword _ACME_"},
            "fields": [
                {"type": "mrkdwn", "text": "*Credits*\n1,500"},
                {"type": "mrkdwn", "text": "*Status*\nactive"},
            ],
        },
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "Low credit reminder: on, below 1,000"},
                {"type": "mrkdwn", "text": "Forecast: About 12 days of credits left."},
            ],
        },
        {
            "type": "actions",
            "block_id": f"manage-42|{PLACE}",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": text},
                    "action_id": action_id,
                    "value": "42",
                }
                for text, action_id in [
                    ("Rename", "open_rename"),
                    ("Buy credits", "open_buy"),
                    ("Move credits", "open_move"),
                    ("Low credit reminder", "open_reminder"),
                    ("History", "open_history"),
                ]
            ]
            + [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Deactivate"},
                    "action_id": "deactivate_account",
                    "value": "42",
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Deactivate this account?"},
                        "text": {
                            "type": "mrkdwn",
                            "text": "It keeps its 1,500 credits, its history and its invoices, but is left "
                            "out of lists, pickers and reminders until an admin activates it again.",
                        },
                        "confirm": {"type": "plain_text", "text": "Deactivate"},
                        "deny": {"type": "plain_text", "text": "Cancel"},
                    },
                }
            ],
        },
        {"type": "divider"},
    ]
    assert place_of(blocks[2]["block_id"]) == PLACE


# One row per role and account state: the buttons shown, and whether the box says why Move is missing.
BUTTONS = [
    (None, account(), [], False),
    (Role.VIEWER, account(), ["Low credit reminder", "History"], False),
    (Role.BILLING, account(), ["Buy credits", "Low credit reminder", "History"], False),
    (
        Role.ADMIN,
        account(),
        ["Rename", "Buy credits", "Move credits", "Low credit reminder", "History", "Deactivate"],
        False,
    ),
    (
        Role.ADMIN,
        account(balance=0),
        ["Rename", "Buy credits", "Low credit reminder", "History", "Deactivate"],
        True,
    ),
    (Role.BILLING, account(balance=0), ["Buy credits", "Low credit reminder", "History"], False),
    (Role.ADMIN, account(active=False), ["History", "Activate"], False),
    (Role.ADMIN, account(active=False, balance=0), ["History", "Activate"], False),
    (Role.VIEWER, account(active=False), ["History"], False),
]


@pytest.mark.parametrize(("role", "shown", "texts", "says_no_credits"), BUTTONS)
def test_each_role_sees_only_the_buttons_it_can_use(role, shown, texts, says_no_credits):
    blocks = build_account_box(shown, role)

    assert [text for text, _ in buttons(blocks)] == texts
    assert ("No credits to move" in visible_text(blocks)) is says_no_credits
    assert all(block["elements"][-1]["value"] == "42" for block in blocks if block["type"] == "actions")
    assert_valid_blocks(blocks)


# One row per reminder setting: the line under the account.
REMINDERS = [
    ({"reminder_enabled": False}, "Low credit reminder: off"),
    ({}, "Low credit reminder: on, below 1,000"),
    ({"runway_warning_days": 1}, "Low credit reminder: on, below 1,000, or fewer than 1 day of credits left"),
    (
        {"runway_warning_days": 7},
        "Low credit reminder: on, below 1,000, or fewer than 7 days of credits left",
    ),
    ({"balance": 999}, ":warning: Low credit reminder: on, below 1,000; the balance is below it"),
    ({"recipient_count": 0}, "Low credit reminder: on, below 1,000; no recipients, so nobody is told"),
]


@pytest.mark.parametrize(("changes", "line"), REMINDERS)
def test_the_reminder_line_says_how_the_account_is_watched(changes, line):
    blocks = build_account_box(account(**changes))

    assert blocks[1]["elements"] == [{"type": "mrkdwn", "text": line}]


def test_user_text_on_the_box_and_its_confirmation_is_escaped_and_stays_one_bold_name():
    crafted = account(active=False, name="<!channel> *Best* & _Co_", reference="EX<1>&", keyword="A<b>")
    blocks = build_account_box(crafted, Role.ADMIN)

    assert (
        blocks[0]["text"]["text"]
        == "*&lt;!channel&gt; ∗Best∗ &amp; ˍCoˍ*\n`EX&lt;1&gt;&amp;` · keyword _A&lt;b&gt;_"
    )
    confirmation = blocks[2]["elements"][-1]["confirm"]["text"]["text"]
    assert confirmation.startswith(
        "*&lt;!channel&gt; ∗Best∗ &amp; ˍCoˍ* and its 1,500 credits are listed again"
    )
    assert_valid_blocks(blocks)


# Names of 50 characters (the longest), and whether Activate's confirmation must shorten them.
LONG_NAMES = [
    ("&" * 40 + " Holdings", True),  # each "&" is drawn as "&amp;"
    ("<" * 50, True),
    ("xx" + "&" * 48, True),
    ("*_" * 25, False),  # look-alikes are one character each
]


@pytest.mark.parametrize(("name", "shortened"), LONG_NAMES)
def test_a_confirmation_stays_inside_slacks_300_characters_whatever_the_name(name, shortened):
    for active in (True, False):
        blocks = build_account_box(account(active=active, name=name, balance=10**15), Role.ADMIN)
        assert_valid_blocks(blocks)
        confirmation = blocks[2]["elements"][-1]["confirm"]["text"]["text"]
        assert len(confirmation) <= 300
    named = blocks[0]["text"]["text"].split("\n")[0]  # the box itself shows the whole name
    said = confirmation.split(" and its 1,000,000,000,000,000 credits")[0]
    assert (said != named) is shortened
    if shortened:  # cut with an ellipsis, between characters, never inside an escape such as &amp;
        cut = said.removesuffix("…*")
        assert cut != said and named.startswith(cut)
        assert re.fullmatch(r"\*([^&]|&(amp|lt|gt);)+", cut)


def test_a_place_too_long_for_a_block_id_is_left_out_not_cut_into_another_page():
    fits, too_long = '{"q":"' + "x" * 200 + '","offset":8}', '{"q":"' + "x" * 250 + '","offset":8}'
    for place, kept in ((fits, fits), (too_long, None)):
        blocks = build_account_box(account(), Role.ADMIN, place)
        assert_valid_blocks(blocks)
        [actions] = [block for block in blocks if block["type"] == "actions"]
        assert place_of(actions["block_id"]) == kept
