"""The Home tab is the Administration area: a summary, the accounts needing attention, search, help."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.kwargs_injection.args import Args
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient
from sqlalchemy.orm import Session

from handlers import invoices, messages, parse
from handlers.account_box import build_account_box
from handlers.accounts import SEEING, page_value, search_reply
from handlers.common import bold, escape, literal
from handlers.help import help_text
from handlers.history import RECENT_ACTION
from handlers.interaction import (
    Interaction,
    acknowledge,
    checked,
    dm,
    failure_message,
    notice,
    open_view,
    role_ahead,
    slack_reason,
)
from handlers.messages import Refused
from handlers.origin import form_origin
from handlers.services import Services, services
from store import accounts as account_store
from store import forecast, overview, roles
from store.accounts import Page
from store.models import Role
from store.overview import Summary
from store.search import Listed

log = logging.getLogger(__name__)

HOME_SEARCH_BLOCK = "home_search"
HOME_SEARCH_ACTION = "home_search_input"
HOME_PAGE_ACTION = "home_page"  # + _previous / _next; value: {"q": query, "offset": n}
HOME_CLEAR_ACTION = "home_clear_search"
HOME_INVOICES_ACTION = "home_open_invoices"
HOME_INACTIVE_ACTION = "home_inactive_accounts"  # admins only: the inactive accounts, to activate
PAGE_SIZE = 8  # eight boxes of at most five blocks keep the tab far inside Slack's 100 blocks
SECTION_LIMIT = 3000

Box = Callable[[Listed], list[dict[str, Any]]]


def summary_line(summary: Summary) -> str:
    """The summary at the top of the Home tab (the README quotes it)."""
    return (
        f"Active accounts: {summary.accounts:,} · Credits: {summary.credits:,} · "
        f"Below reminder level: {summary.below_level:,} · "
        f"Reminders with no recipients: {summary.unaddressed:,}"
    )


def _button(text: str, action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}


@functools.cache  # one help text for the life of the process, drawn under every Home tab
def help_sections(help_text: str) -> tuple[dict[str, Any], ...]:
    """The help, a paragraph per section (each inside Slack's 3,000 characters); shared by every
    view that shows it, so never changed."""
    return tuple(_section(part) for part in help_text.split("\n\n") if part.strip())


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


def _listing_heading(page: Page, query: str, inactive: bool) -> str:
    first, last = page.offset + 1, page.offset + len(page.accounts)
    if inactive:
        if page.total == 0:
            return "*Inactive accounts*: none. Every account is active."
        return (
            f"*Inactive accounts: {page.counted}* · showing {first}–{last}\n"
            "They keep their credits, history and invoices; *Activate* lists one again."
        )
    if page.total == 0:
        if query:
            return (
                f"No active accounts match {bold(query)}. Search by part of a name, a reference or a keyword."
            )
        return (
            "*Needs attention*: nothing. Every active account is above its reminder level "
            "and its reminder has someone to tell."
        )
    if query:
        return (
            f"*{page.counted.capitalize()} active account(s) match {literal(query)}* · showing {first}–{last}"
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
    *,
    inactive: bool = False,
    note: str | None = None,
) -> dict[str, Any]:
    """The Home tab for someone with a role: what they see depends on what their role allows.

    `inactive` lists the inactive accounts instead of needing attention or a search; `note` says
    what the user's last change did (mrkdwn), above the list it changed.
    """
    buttons = [_button("Recent activity", RECENT_ACTION, "all")]
    if role.allows(Role.BILLING):
        buttons.insert(0, _button("Invoices", HOME_INVOICES_ACTION, "all"))
    if role.allows(Role.ADMIN) and summary.inactive:
        label = f"Inactive accounts ({summary.inactive:,})"
        buttons.append(_button(label, HOME_INACTIVE_ACTION, page_value("", 0, inactive=True)))
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
        *([_section(note)] if note else []),
        _section(_listing_heading(page, query, inactive)),
    ]
    for account in page.accounts:
        blocks.extend(box(account))
    paging = []
    if page.has_previous:
        paging.append(
            _button(
                "Previous",
                f"{HOME_PAGE_ACTION}_previous",
                page_value(query, page.offset - page.limit, inactive=inactive),
            )
        )
    if page.has_next:
        paging.append(
            _button(
                "Next",
                f"{HOME_PAGE_ACTION}_next",
                page_value(query, page.offset + page.limit, inactive=inactive),
            )
        )
    if query or inactive:
        paging.append(_button("Needs attention", HOME_CLEAR_ACTION, page_value("", 0)))
    if paging:
        blocks.append({"type": "actions", "block_id": "home_paging", "elements": paging})
    blocks.append({"type": "divider"})
    blocks.extend(help_sections(help_text))
    where = page_value(query, page.offset, inactive=inactive)
    return {"type": "home", "private_metadata": where, "blocks": blocks}


# Listeners


@dataclass(frozen=True)
class Listing:
    """What the Home tab lists: needs attention, a search (`query`), or the inactive accounts."""

    query: str = ""
    offset: int = 0
    inactive: bool = False
    saved: bool = False  # read back from the tab as it was left, not asked for by a click now

    @classmethod
    def read(cls, raw: object, *, saved: bool = False) -> Listing:
        """The list a Home button or the Home view's metadata names; the first page if unreadable."""
        try:
            query, offset = parse.page(raw)
        except Refused:
            return cls(saved=saved)
        return cls(query, offset, parse.lists_inactive(raw), saved)


def home_view(
    session: Session, services: Services, user_id: str, listing: Listing, note: str | None = None
) -> dict[str, Any]:
    """The Home tab as this user may see it now; the inactive list is for admins only."""
    query, offset, inactive = listing.query, listing.offset, listing.inactive
    now = services.clock()
    # The role, the summary and the list go together, in one round trip where they can (PostgreSQL):
    # with the list's reads, or with the search's first statement. The role is checked before
    # anything is drawn.
    role_read = roles.role_ahead(session, user_id)
    summary_read = overview.summary_ahead(session)
    listed: Callable[[Summary], Page]
    if inactive:
        listed = overview.inactive_ahead(session, offset=offset, limit=PAGE_SIZE, forecasts_at=now)
    elif query:
        found = account_store.search(session, query, offset=offset, limit=PAGE_SIZE, forecasts_at=now)
        listed = lambda _summary: found  # noqa: E731 - the search's page, whatever the summary
    else:
        listed = overview.needs_attention_ahead(session, offset=offset, limit=PAGE_SIZE, forecasts_at=now)
    role = role_read()
    if role is None:
        return build_no_access_home(user_id)
    summary = summary_read()
    if inactive and not role.allows(Role.ADMIN):
        inactive = False
        if not listing.saved:  # a click asked for the list; reopening the tab asked for nothing
            note = escape(
                messages.WRONG_ROLE.format(
                    needed=Role.ADMIN.value, doing=messages.SEEING_INACTIVE, role=role.value, user_id=user_id
                )
            )
        listed = overview.needs_attention_ahead(session, offset=0, limit=PAGE_SIZE, forecasts_at=now)
    page = listed(summary)
    limits = services.limits
    outlooks = forecast.texts(page.forecasts or {})
    place = page_value(query, page.offset, inactive=inactive)
    return build_home(
        role,
        summary,
        page,
        query,
        help_text(limits.invoice_history_start, limits.account_manager),
        lambda account: build_account_box(account, role, place, outlooks.get(account.id)),
        inactive=inactive,
        note=note,
    )


def publish(
    client: WebClient, services: Services, user_id: str, listing: Listing = Listing(), note: str | None = None
) -> str | None:
    """Draw the user's Home tab as things are now; a failure is drawn there too, never a blank tab.

    None once Slack shows it, else Slack's reason it did not."""
    try:
        with services.reads.begin() as session:
            view = home_view(session, services, user_id, listing, note)
    except Exception as error:  # noqa: BLE001 - the boundary: Home says so instead of staying stale
        view = {"type": "home", "blocks": [_section(failure_message(error))]}
    try:
        client.views_publish(user_id=user_id, view=view)
    except (SlackApiError, SlackClientError, OSError) as error:
        log.warning("views.publish failed for %s: %s", user_id, slack_reason(error))
        return slack_reason(error)
    return None


def publish_or_tell(
    client: WebClient, services: Services, user_id: str, listing: Listing, note: str | None = None
) -> None:
    """publish() where the user looks at the tab for the answer (opening it, a page or search click,
    a change made there): if Slack refuses it, a DM says so, with `note`, else the user is left
    looking at an empty or stale tab."""
    reason = publish(client, services, user_id, listing, note)
    if reason is not None:
        not_redrawn = messages.HOME_NOT_REDRAWN.format(reason=reason)
        dm(client, user_id, f"{note}\n{not_redrawn}" if note else not_redrawn)


def redraw(
    client: WebClient,
    services: Services,
    user_id: str,
    origin: dict[str, str] | None,
    note: str | None = None,
) -> None:
    """After a change: the `/accounts` message it came from is replaced in place on the same page,
    and the acting user's Home tab is republished (on the page they were on, if it came from there,
    with `note` saying what the change did, and said by DM if Slack will not show it there)."""
    if origin is not None and "response_url" in origin:
        shown = Listing.read(origin.get("page"))
        try:
            with services.reads.begin() as session:
                role = role_ahead(session, user_id, Role.VIEWER, SEEING)
                reply = search_reply(session, shown.query, services.clock(), shown.offset, role=role)
            WebhookClient(origin["response_url"]).send(
                replace_original=True, response_type="ephemeral", text=reply["text"], blocks=reply["blocks"]
            )
        except Refused:
            pass  # the role was taken away meanwhile: the message stays as it was
        except Exception as error:  # noqa: BLE001 - the change is made; only the redraw failed
            log.warning("could not redraw the /accounts message: %s", slack_reason(error))
    if origin is not None and "home" in origin:
        publish_or_tell(client, services, user_id, Listing.read(origin["home"]), note)
    else:
        publish(client, services, user_id, Listing(), note)


def redraw_after_submit(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """The lazy half of an account form's submission: show the change where the form came from."""
    user_id = parse.slack_user_id((body.get("user") or {}).get("id"))
    if user_id is not None:
        redraw(client, services(context), user_id, form_origin(body.get("view") or {}))


def open_home(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """The Home tab was opened: draw it where the user left it."""
    user_id = parse.slack_user_id(event.get("user"))
    if event.get("tab") != "home" or user_id is None:
        return
    saved = (event.get("view") or {}).get("private_metadata")
    publish_or_tell(client, services(context), user_id, Listing.read(saved, saved=True))


def search_home(
    body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Enter in the search box: the list is filtered in place."""
    publish_or_tell(client, services(context), parse.user_of(body), Listing(parse.text(action.get("value"))))


def turn_home_page(
    body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Previous / Next / Needs attention / Inactive accounts on the Home tab."""
    publish_or_tell(client, services(context), parse.user_of(body), Listing.read(action.get("value")))


def open_invoices(args: Args) -> None:
    """Invoices on the Home tab: the same window as `/invoices` (billing and admin)."""
    it = Interaction(args)

    def load(session: Session, role: Role) -> dict[str, Any]:
        return invoices.modal_for(session, it.services, invoices.Filters())

    view = checked(it, Role.BILLING, invoices.DOING, notice(invoices.TITLE), load)
    if view is not None:
        open_view(it, view)


def register(app: App) -> None:
    app.action(HOME_INVOICES_ACTION)(ack=acknowledge, lazy=[open_invoices])
    app.event("app_home_opened")(ack=acknowledge, lazy=[open_home])
    app.action(HOME_SEARCH_ACTION)(ack=acknowledge, lazy=[search_home])
    for action_id in (
        f"{HOME_PAGE_ACTION}_previous",
        f"{HOME_PAGE_ACTION}_next",
        HOME_CLEAR_ACTION,
        HOME_INACTIVE_ACTION,
    ):
        app.action(action_id)(ack=acknowledge, lazy=[turn_home_page])
