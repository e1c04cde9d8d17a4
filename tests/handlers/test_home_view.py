"""The Home tab's and the history modal's Block Kit, built from plain values."""

from __future__ import annotations

from datetime import UTC, date, datetime

from handlers.account_box import build_account_box
from handlers.help import help_text
from handlers.history import build_history_modal, event_line
from handlers.home import build_home, build_no_access_home, summary_line
from store.accounts import Page
from store.history import Event, HistoryPage
from store.models import Account, Role
from store.overview import Summary
from tests.blockkit import assert_valid_view, visible_text

HELP = help_text(date(2024, 1, 1), "your account manager")
SUMMARY = Summary(accounts=1_000_000, credits=1_000_000_000_000, below_level=10_000, unaddressed=3)


def account(number: int, name: str = "Acme <Marketing> & Co", balance: int = 500) -> Account:
    return Account(
        id=number,
        reference=f"EX{number:07d}",
        name=name,
        keyword=None,
        active=True,
        balance=balance,
        reminder_enabled=True,
        reminder_level=1_000,
        recipient_count=0,
    )


def test_summary_line_reads_as_the_readme_quotes_it():
    assert summary_line(SUMMARY) == (
        "Active accounts: 1,000,000 · Credits: 1,000,000,000,000 · Below reminder level: 10,000 · "
        "Reminders with no recipients: 3"
    )


def test_a_full_page_of_a_million_accounts_stays_inside_block_kit_limits():
    boxes = [account(n, name="W" * 50) for n in range(1, 9)]
    page = Page(boxes, total=100, offset=800, limit=8, more=True)
    view = build_home(Role.ADMIN, SUMMARY, page, "q" * 100, HELP, build_account_box)
    assert_valid_view(view)
    assert len(view["blocks"]) <= 100
    text = visible_text(view)
    assert "More than 100 active account(s) match" in text and "showing 801–808" in text
    assert [
        b["text"]["text"] for b in view["blocks"] if b.get("block_id") == "home_paging" for b in b["elements"]
    ] == [
        "Previous",
        "Next",
        "Needs attention",
    ]


def test_viewers_get_no_invoices_button_and_billing_does():
    page = Page([account(1)], total=1, offset=0, limit=8)
    viewer = build_home(Role.VIEWER, SUMMARY, page, "", HELP, build_account_box)
    billing = build_home(Role.BILLING, SUMMARY, page, "", HELP, build_account_box)
    assert "Invoices" not in visible_text(viewer["blocks"][2]) and "Recent activity" in visible_text(viewer)
    assert "Invoices" in visible_text(billing["blocks"][2])
    assert "*Needs attention: 1 account(s)* · showing 1–1" in visible_text(viewer)
    assert "Acme &lt;Marketing&gt; &amp; Co" in visible_text(viewer)


def test_help_covers_every_command_button_and_role():
    for phrase in (
        "/accounts",
        "/invoices",
        "/invoices help",
        "*Rename*",
        "*Buy credits*",
        "*Move credits*",
        "*Low credit reminder*",
        "*History*",
        "*Deactivate*",
        "*viewer*",
        "*billing*",
        "*admin*",
        "1 January 2024",
        "your account manager",
        "Home",
    ):
        assert phrase in HELP, phrase


def test_a_stranger_sees_only_the_grant_line():
    view = build_no_access_home("U012AB3CD")
    assert_valid_view(view)
    assert len(view["blocks"]) == 1
    assert "`admin-bot roles grant U012AB3CD viewer`" in visible_text(view)


def test_history_rows_say_when_what_who_change_and_balance():
    at = datetime(2026, 11, 29, 10, 58, tzinfo=UTC)
    bought = Event(
        at, "purchase", "EX1", "U012AB3CD", credits=500, balance_after=1_500, invoice="INV-2026-000001"
    )
    renamed = Event(at, "rename", "EX1", "cli", old="Acme", new="Acme <Ltd>")
    assert event_line(bought, False) == (
        "*2026-11-29 10:58* · Purchase, invoice INV-2026-000001 · <@U012AB3CD>\n"
        "+500 credits · balance after *1,500*"
    )
    assert (
        event_line(renamed, True) == "*2026-11-29 10:58* · `EX1` · Renamed · `cli`\nAcme → Acme &lt;Ltd&gt;"
    )
    view = build_history_modal(account(1), HistoryPage([bought] * 10, 10, 10, True))
    assert_valid_view(view)
    assert [e["text"]["text"] for e in view["blocks"][-1]["elements"]] == ["Newer", "Older"]
    empty = build_history_modal(None, HistoryPage([], 0, 10, False))
    assert_valid_view(empty)
    assert "Nothing has happened yet." in visible_text(empty)
