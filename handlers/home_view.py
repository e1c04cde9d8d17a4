"""The Home tab is the Administration area: a summary, accounts needing attention, search and help."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from handlers.common import escape
from handlers.history import RECENT_ACTION
from store.accounts import Page
from store.models import Account, Role
from store.overview import Summary

HOME_SEARCH_BLOCK = "home_search"
HOME_SEARCH_ACTION = "home_search_input"
HOME_PAGE_ACTION = "home_page"  # + _previous / _next; value: {"q": query, "offset": n}
HOME_CLEAR_ACTION = "home_clear_search"
HOME_INVOICES_ACTION = "home_open_invoices"
PAGE_SIZE = 8  # eight boxes of at most five blocks keep the tab far inside Slack's 100 blocks
SECTION_LIMIT = 3000

Box = Callable[[Account], list[dict[str, Any]]]


def summary_line(summary: Summary) -> str:
    """The summary at the top of the Home tab (the README quotes it)."""
    return (
        f"Active accounts: {summary.accounts:,} · Credits: {summary.credits:,} · "
        f"Below reminder level: {summary.below_level:,} · "
        f"Reminders with no recipients: {summary.unaddressed:,}"
    )


def page_value(query: str, offset: int) -> str:
    """Where a Home page is: the same shape `/accounts` paging uses, so one parser reads both."""
    return json.dumps({"q": query, "offset": max(offset, 0)})


def _button(text: str, action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}


def help_sections(help_text: str) -> list[dict[str, Any]]:
    """The help, a paragraph per section (each inside Slack's 3,000 characters)."""
    return [_section(part) for part in help_text.split("\n\n") if part.strip()]


def build_no_access_home(user_id: str) -> dict[str, Any]:
    """Someone without a role sees only the line an admin should run."""
    return {
        "type": "home",
        "blocks": [
            _section(
                "Ask an admin to give you access to admin-bot by running:\n"
                f"`admin-bot roles grant {user_id} viewer`"
            )
        ],
    }


def _listing_heading(page: Page, query: str) -> str:
    if page.total == 0:
        if query:
            return (
                f"No active accounts match *{escape(query)}*. "
                "Search by part of a name, a reference or a keyword."
            )
        return (
            "*Needs attention*: nothing. Every active account is above its reminder level "
            "and its reminder has someone to tell."
        )
    first, last = page.offset + 1, page.offset + len(page.accounts)
    if query:
        return (
            f"*{page.counted.capitalize()} active account(s) match {escape(query)}* · showing {first}–{last}"
        )
    return (
        f"*Needs attention: {page.counted} account(s)* · showing {first}–{last}\n"
        "Below their reminder level first, then those whose reminder is off or has no recipients."
    )


def build_home(
    role: Role,
    summary: Summary,
    page: Page,
    query: str,
    help_text: str,
    box: Box,
) -> dict[str, Any]:
    """The Home tab for someone with a role: what they see depends on what their role allows."""
    buttons = [_button("Recent activity", RECENT_ACTION, "all")]
    if role.allows(Role.BILLING):
        buttons.insert(0, _button("Invoices", HOME_INVOICES_ACTION, "all"))
    search: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": HOME_SEARCH_ACTION,
        "max_length": 100,
        "placeholder": {"type": "plain_text", "text": "Name, reference or keyword, then Enter"},
        "dispatch_action_config": {"trigger_actions_on": ["on_enter_pressed"]},
    }
    if query:
        search["initial_value"] = query
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Administration"}},
        _section(summary_line(summary)),
        {"type": "actions", "block_id": "home_actions", "elements": buttons},
        {
            "type": "input",
            "block_id": HOME_SEARCH_BLOCK,
            "dispatch_action": True,
            "optional": True,
            "label": {"type": "plain_text", "text": "Search accounts"},
            "element": search,
        },
        _section(_listing_heading(page, query)),
    ]
    for account in page.accounts:
        blocks.extend(box(account))
    paging = []
    if page.has_previous:
        paging.append(
            _button("Previous", f"{HOME_PAGE_ACTION}_previous", page_value(query, page.offset - page.limit))
        )
    if page.has_next:
        paging.append(
            _button("Next", f"{HOME_PAGE_ACTION}_next", page_value(query, page.offset + page.limit))
        )
    if query:
        paging.append(_button("Needs attention", HOME_CLEAR_ACTION, page_value("", 0)))
    if paging:
        blocks.append({"type": "actions", "block_id": "home_paging", "elements": paging})
    blocks.append({"type": "divider"})
    blocks.extend(help_sections(help_text))
    return {"type": "home", "private_metadata": page_value(query, page.offset), "blocks": blocks}
