"""`/invoices`: list, filter and search invoices, and DM the selected ones as PDF copies."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from slack_bolt import App, Args
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session

from handlers import messages, parse
from handlers.accounts import asks_for_help, show_help
from handlers.common import bold, escape, join_within
from handlers.interaction import (
    Interaction,
    acknowledge,
    checked,
    direct_message,
    needs,
    open_view,
    quietly,
    redraw,
    redraw_in_place,
    replace_form,
    reply,
    say_privately,
    slack_reason,
)
from handlers.invoice_pdf import invoice_filename, long_date, render_invoice_pdf
from handlers.services import Services
from handlers.uploads import NotSent, Upload, post_files
from store import invoices as invoice_store
from store.models import Invoice, Role

INVOICES_COMMAND = "/invoices"
INVOICES_VIEW = "invoices"
FROM_BLOCK, FROM_ACTION = "invoices_from", "invoices_from_date"
TO_BLOCK, TO_ACTION = "invoices_to", "invoices_to_date"
NUMBER_BLOCK, NUMBER_ACTION = "invoices_number", "invoices_number_search"
SELECTION_BLOCK_PREFIX = "invoices_selection"  # + a fingerprint of the filters, see build_modal
SELECT_ACTION = "invoices_selected"
MAX_OPTIONS = 100  # Block Kit's limit on a select's options
OPTION_TEXT_LIMIT = 75
SECTION_TEXT_LIMIT = 3000
NUMBER_MAX_LENGTH = 32
DOING = "see and download invoices"
TITLE = "Invoices"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filters:
    """What the modal's date pickers and number search currently ask for."""

    date_from: date | None = None
    date_to: date | None = None
    number: str = ""

    @classmethod
    def from_state(cls, values: dict[str, Any]) -> Filters:
        def picked(block: str, action: str) -> date | None:
            raw = (values.get(block, {}).get(action) or {}).get("selected_date")
            try:
                return date.fromisoformat(raw) if raw else None
            except (TypeError, ValueError):
                return None

        number = (values.get(NUMBER_BLOCK, {}).get(NUMBER_ACTION) or {}).get("value")
        return cls(
            picked(FROM_BLOCK, FROM_ACTION),
            picked(TO_BLOCK, TO_ACTION),
            parse.text(number, NUMBER_MAX_LENGTH),
        )

    def fingerprint(self) -> str:
        raw = json.dumps([str(self.date_from), str(self.date_to), self.number])
        return hashlib.sha1(raw.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Listed:
    """One screenful of the listing: the invoices shown and how many matched in all."""

    invoices: list[Invoice]
    matched: int


def find(session: Session, filters: Filters, cutoff: date) -> Listed:
    statement = invoice_store.listing(
        since=cutoff,
        date_from=filters.date_from,
        date_to=filters.date_to,
        number=filters.number,
    )
    shown = list(session.scalars(statement.limit(MAX_OPTIONS)).unique())
    return Listed(shown, invoice_store.count_listed(session, statement))


# Block Kit builders


def _text(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": kind, "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _text(text)}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_text(text)]}


def _datepicker(block_id: str, action_id: str, label: str, value: date | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "datepicker",
        "action_id": action_id,
        "placeholder": _text("Any date", "plain_text"),
    }
    if value is not None:
        element["initial_date"] = value.isoformat()
    return {
        "type": "input",
        "block_id": block_id,
        "optional": True,
        "dispatch_action": True,
        "label": _text(label, "plain_text"),
        "element": element,
    }


def build_filter_blocks(filters: Filters) -> list[dict[str, Any]]:
    search: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": NUMBER_ACTION,
        "max_length": NUMBER_MAX_LENGTH,
        "placeholder": _text("e.g. INV-2024-000123, then press Enter", "plain_text"),
        "dispatch_action_config": {"trigger_actions_on": ["on_enter_pressed"]},
    }
    if filters.number:
        search["initial_value"] = filters.number
    return [
        _datepicker(FROM_BLOCK, FROM_ACTION, "From", filters.date_from),
        _datepicker(TO_BLOCK, TO_ACTION, "To", filters.date_to),
        {
            "type": "input",
            "block_id": NUMBER_BLOCK,
            "optional": True,
            "dispatch_action": True,
            "label": _text("Invoice number", "plain_text"),
            "element": search,
        },
    ]


def invoice_line(invoice: Invoice) -> str:
    total = invoice_store.format_money(invoice.total, invoice.currency)
    return (
        f"`{escape(invoice.number)}` · {invoice.issued_on.isoformat()} · "
        f"{bold(invoice.account.name)} · {invoice.credits:,} credits · {total}"
    )


def option_text(invoice: Invoice) -> str:
    """Number, date, total and as much of the account name as fits Block Kit's 75 characters.

    An option's text is plain_text, which Slack shows literally: the name is not escaped.
    """
    total = invoice_store.format_money(invoice.total, invoice.currency)
    head = f"{invoice.number} · {invoice.issued_on.isoformat()} · {total} · "
    name = invoice.account.name
    room = OPTION_TEXT_LIMIT - len(head)
    if len(name) > room:
        name = name[: max(room - 1, 0)] + "…"
    return (head + name).removesuffix(" · ")[:OPTION_TEXT_LIMIT]


def build_listing_sections(invoices: list[Invoice]) -> list[dict[str, Any]]:
    """The invoices as lines of mrkdwn, packed into as few sections as their text limit allows."""
    sections: list[dict[str, Any]] = []
    chunk = ""
    for line in map(invoice_line, invoices):
        if chunk and len(chunk) + 1 + len(line) > SECTION_TEXT_LIMIT:
            sections.append(_section(chunk))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        sections.append(_section(chunk))
    return sections


def cutoff_note(cutoff: date, account_manager: str) -> list[dict[str, Any]]:
    """Always said, as the help article does: from when invoices are listed, and who has older ones."""
    return [
        _context(
            f":information_source: Invoices are listed from {long_date(cutoff)}. For a copy of an "
            f"older invoice, contact {escape(account_manager)}."
        )
    ]


def build_modal(listed: Listed, filters: Filters, cutoff: date, account_manager: str) -> dict[str, Any]:
    """The invoices modal: filters, how many matched, the selection and the listing."""
    blocks = build_filter_blocks(filters)
    blocks.extend(cutoff_note(cutoff, account_manager))
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        blocks.append(_context("The *From* date is after the *To* date."))
    shown = len(listed.invoices)
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": INVOICES_VIEW,
        "title": _text(TITLE, "plain_text"),
        "close": _text("Close", "plain_text"),
    }
    if shown == 0:
        searched = f" matching {bold(filters.number)}" if filters.number else ""
        blocks.append(
            _section(
                f"No invoices{searched} in this period. Invoices are listed from "
                f"{long_date(cutoff)} onwards; change the filters to see others."
            )
        )
        view["blocks"] = blocks
        return view
    if listed.matched > shown:
        summary = (
            f"*{listed.matched:,} invoices* match; showing the newest {shown}. "
            "Narrow the dates or search by number to see the others."
        )
    else:
        summary = f"*{listed.matched:,} invoice(s)* match."
    blocks.append(_section(summary))
    blocks.append(
        {
            "type": "input",
            # A new block id whenever the filters change, so Slack drops choices no longer listed.
            "block_id": f"{SELECTION_BLOCK_PREFIX}_{filters.fingerprint()}",
            "label": _text("Invoices to download", "plain_text"),
            "element": {
                "type": "multi_static_select",
                "action_id": SELECT_ACTION,
                "placeholder": _text("Choose invoices", "plain_text"),
                "options": [
                    {"text": _text(option_text(invoice), "plain_text"), "value": str(invoice.id)}
                    for invoice in listed.invoices
                ],
            },
        }
    )
    blocks.append({"type": "divider"})
    blocks.extend(build_listing_sections(listed.invoices))
    view["blocks"] = blocks
    view["submit"] = _text("Download selected", "plain_text")
    return view


def build_notice_view(text: str) -> dict[str, Any]:
    """A modal with just a message and a Close button."""
    return {
        "type": "modal",
        "callback_id": f"{INVOICES_VIEW}_notice",
        "title": _text(TITLE, "plain_text"),
        "close": _text("Close", "plain_text"),
        "blocks": [_section(text)],
    }


def build_sent_view(numbers: list[str]) -> dict[str, Any]:
    listed = ", ".join(f"`{escape(number)}`" for number in numbers)
    return build_notice_view(f":outbox_tray: Your copies are on their way to your DM: {listed}.")


def modal_for(session: Session, services: Services, filters: Filters) -> dict[str, Any]:
    limits = services.limits
    listed = find(session, filters, limits.invoice_history_start)
    return build_modal(listed, filters, limits.invoice_history_start, limits.account_manager)


# Listeners


@needs(Role.BILLING, DOING, reply)
def acknowledge_command() -> dict[str, Any]:
    """Refuse users without billing at once; everyone else gets the modal from the lazy listener."""
    return {}


def open_invoices(args: Args) -> None:
    """Open the modal, already searched when `/invoices NUMBER` named one."""
    it, command = Interaction(args), args.command or {}
    filters = Filters(number=parse.command_text(command.get("text"), NUMBER_MAX_LENGTH))
    # A refusal was already the acknowledgement's answer; only failures are told here.
    view = checked(
        it,
        Role.BILLING,
        DOING,
        quietly,
        lambda session, _: modal_for(session, it.services, filters),
        failures=say_privately,
    )
    if view is not None:
        open_view(it, view)


def refresh_listing(args: Args) -> None:
    """A filter changed: redraw the modal in place for the new dates or number."""
    it = Interaction(args)
    current = it.body.get("view") or {}
    filters = Filters.from_state(current.get("state", {}).get("values", {}))
    view = checked(
        it, Role.BILLING, DOING, redraw(TITLE), lambda session, _: modal_for(session, it.services, filters)
    )
    if view is None:
        return
    redraw_in_place(it, view, messages.LISTING_NOT_REFRESHED)


def selected_ids(view: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The selection block's id (None when the modal has none) and the chosen values."""
    for block_id, actions in view.get("state", {}).get("values", {}).items():
        if block_id.startswith(SELECTION_BLOCK_PREFIX) and SELECT_ACTION in actions:
            chosen = actions[SELECT_ACTION].get("selected_options") or []
            return block_id, [str(option.get("value", "")) for option in chosen]
    return None, []


def chosen_invoices(session: Session, services: Services, values: list[str]) -> list[Invoice] | None:
    """The invoices for the chosen values, or None if any is crafted, unknown or too old."""
    ids = {parse.database_id(value) for value in values}
    if not values or len(values) > MAX_OPTIONS or None in ids:
        return None
    wanted = sorted(i for i in ids if i is not None)
    found = invoice_store.available(session, wanted, since=services.limits.invoice_history_start)
    return found if len(found) == len(wanted) else None


@needs(Role.BILLING, DOING, replace_form(TITLE))
def submit_download(view: dict[str, Any], session: Session, services: Services) -> dict[str, Any]:
    """Check the selection and the user's role, then promise the copies; sending is lazy."""
    block_id, values = selected_ids(view)
    if block_id is None:
        return {"response_action": "update", "view": build_notice_view(messages.NOTHING_TO_DOWNLOAD)}
    if not values:
        return {"response_action": "errors", "errors": {block_id: messages.NOTHING_SELECTED}}
    invoices = chosen_invoices(session, services, values)
    if invoices is None:
        return {"response_action": "errors", "errors": {block_id: messages.NOT_AVAILABLE}}
    return {"response_action": "update", "view": build_sent_view([invoice.number for invoice in invoices])}


def send_copies(args: Args) -> None:
    """Render each selected invoice and upload it to the user's DM; report any that failed."""
    it, client, view = Interaction(args), args.client, args.view or {}
    chosen = selected_ids(view)[1]

    def owed(session: Session, _: Role) -> list[Invoice] | None:
        invoices = chosen_invoices(session, it.services, chosen)
        if invoices is None:
            return None
        # A replayed submission of the same form sends nothing: the first is sending its copies.
        first = invoice_store.first_request_for_copies(
            session, str(view["id"]), it.user_id, datetime.now(UTC)
        )
        return invoices if first else []

    # A refusal was already the acknowledgement's answer; only failures are told here.
    invoices = checked(it, Role.BILLING, DOING, quietly, owed, writes=True, failures=direct_message)
    if not invoices:
        return
    user_id = it.user_id
    invoices.sort(key=lambda invoice: (invoice.issued_on, invoice.id), reverse=True)
    try:
        channel = client.conversations_open(users=user_id)["channel"]["id"]
    except (SlackApiError, SlackClientError, OSError) as error:
        tell(client, user_id, messages.NO_DM_FOR_COPIES.format(reason=slack_reason(error)))
        return
    sent: list[str] = []
    failed: list[tuple[str, str]] = []
    unknown: list[str] = []  # the connection dropped: Slack may have shared it; never re-sent blindly
    for invoice in invoices:
        try:
            pdf = Upload(
                render_invoice_pdf(invoice, it.services.supplier),
                invoice_filename(invoice),
                f"Invoice {invoice.number}",
            )
            post_files(client, channel, f"Copy of invoice {invoice.number}", [pdf])
        except SlackApiError as error:
            failed.append((invoice.number, slack_reason(error)))
        except NotSent:
            failed.append((invoice.number, "upload failed"))
        except (SlackClientError, OSError) as error:
            log.warning("upload of %s: outcome unknown (%s)", invoice.number, slack_reason(error))
            unknown.append(invoice.number)
        else:
            sent.append(invoice.number)
    if failed or unknown:
        tell(client, channel, build_copies_report(sent, failed, unknown))


def build_copies_report(sent: list[str], failed: list[tuple[str, str]], unknown: list[str]) -> str:
    """What happened to each copy that did not plainly arrive, and what to do about it."""
    lines = [f"• `{escape(number)}`: {escape(reason)}" for number, reason in failed]
    lines += [f"• `{escape(number)}`: {messages.COPY_OUTCOME_UNKNOWN}" for number in unknown]
    done = ", ".join(f"`{escape(number)}`" for number in sent)
    return messages.COPIES_NOT_SENT.format(
        lines=join_within(lines, 2500, "\n"),
        sent=f"Sent: {done}." if sent else "No copies were sent.",
    )


def tell(client: WebClient, channel: str, text: str) -> None:
    """DM the user (a user id posts into the app's DM); log if even that fails."""
    try:
        client.chat_postMessage(channel=channel, text=text)
    except (SlackApiError, SlackClientError, OSError) as error:
        log.warning("could not tell %s: %s", channel, slack_reason(error))


def register(app: App) -> None:
    app.command(INVOICES_COMMAND, matchers=[asks_for_help])(show_help)
    app.command(INVOICES_COMMAND)(ack=acknowledge_command, lazy=[open_invoices])
    for action_id in (FROM_ACTION, TO_ACTION, NUMBER_ACTION):
        app.action(action_id)(ack=acknowledge, lazy=[refresh_listing])
    app.view(INVOICES_VIEW)(ack=submit_download, lazy=[send_copies])
