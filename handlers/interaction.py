"""The one path every interaction takes: the role check, the refusal, the failure and the form opener.

A listener declares what it needs with `@needs(Role.ADMIN, "rename accounts", field_error(NAME_BLOCK))`.
The decorator opens the listener's transaction, resolves the user's role in it once, and hands the
listener `session` and `role` if it asks for them. Whatever goes wrong is shown on the listener's
surface (an ephemeral reply, a notice modal, a field error, a view update): a refusal in its own
words, a database outage as "temporarily unavailable", anything else as "something went wrong"
with a reference to the log line. A listener that writes returns its acknowledgement instead of
calling ack(), so the user is told only what was committed.
"""

from __future__ import annotations

import inspect
import logging
import secrets
from collections.abc import Callable
from typing import Any

import orjson
from slack_bolt import Ack, Args, BoltContext, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session

from handlers import messages, parse
from handlers.account_box import account_summary
from handlers.messages import Malformed, Refused
from handlers.origin import origin_of, stamp
from handlers.services import Services, services
from store import accounts as account_store
from store import roles
from store.db import atomic, lock_timed_out, unavailable
from store.errors import StoreError, UnknownAccount
from store.models import Account, Role

log = logging.getLogger(__name__)

NOTICE_VIEW = "admin_bot_notice"
TITLE_LIMIT = 24  # Slack's limit on a modal title
SECTION_LIMIT = 3000  # Slack's limit on a section's text
# Context key: this request's acknowledgement already told the user why nothing happened. Bolt
# copies the context into the request's lazy listeners, whose checks then say nothing a second time.
TOLD = "admin_bot_told"
# What Bolt can inject; the decorated listener is called with the ones it names.
Listener = Callable[..., Any]
Surface = Callable[["Interaction", str, "str | None"], None]  # (request, text, block named)


class Interaction:
    """One request as the shared path sees it: Bolt's injected arguments (a listener taking `args`)."""

    def __init__(self, args: Args) -> None:
        self.args = args
        self.ack: Ack = args.ack
        self.body: dict[str, Any] = args.body or {}
        self.client: WebClient = args.client
        self.respond: Respond | None = args.respond
        self.context: BoltContext = args.context

    @property
    def services(self) -> Services:
        return services(self.context)

    @property
    def user_id(self) -> str:
        return parse.user_of(self.body)


# Block Kit for the shared path


def build_notice_view(title: str, text: str) -> dict[str, Any]:
    """A small modal that only tells the user something, e.g. why they may not go on."""
    return {
        "type": "modal",
        "callback_id": NOTICE_VIEW,
        "title": {"type": "plain_text", "text": title[:TITLE_LIMIT]},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}],
    }


def build_confirmation_view(callback_id: str, title: str, text: str, account: Account) -> dict[str, Any]:
    """The view that replaces a submitted form: what happened, then the account as it is now."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": {"type": "plain_text", "text": title[:TITLE_LIMIT]},
        "close": {"type": "plain_text", "text": "Done"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}},
            *account_summary(account),
        ],
    }


# Surfaces: how a refusal or failure reaches the user where they are


def reply(it: Interaction, text: str, block: str | None = None) -> None:
    """A slash command's acknowledgement, seen only by the user."""
    it.ack(response_type="ephemeral", text=text)


def say_privately(it: Interaction, text: str, block: str | None = None) -> None:
    """An ephemeral message where the user clicked, through response_url (works in DMs too); a DM
    where Slack gives no response_url (a click on the Home tab or in a modal)."""
    tell_privately(it.client, it.respond, it.user_id, text)


def notice(title: str) -> Surface:
    """A notice modal opened on the click's trigger; if that fails, an ephemeral message."""

    def show(it: Interaction, text: str, block: str | None = None) -> None:
        open_view(it, build_notice_view(title, text))

    return show


def field_error(block: str) -> Surface:
    """An error under a field of the submitted form (or the field the refusal names)."""

    def show(it: Interaction, text: str, named: str | None = None) -> None:
        it.ack(response_action="errors", errors={named or block: text[:2000]})

    return show


def replace_form(title: str) -> Surface:
    """The submitted form is replaced by a notice."""

    def show(it: Interaction, text: str, block: str | None = None) -> None:
        it.ack(response_action="update", view=build_notice_view(title, text))

    return show


def form(title: str) -> Surface:
    """Under the form field the refusal names; otherwise the submitted form becomes a notice."""

    def show(it: Interaction, text: str, block: str | None = None) -> None:
        if block:
            it.ack(response_action="errors", errors={block: text[:2000]})
        else:
            it.ack(response_action="update", view=build_notice_view(title, text))

    return show


def redraw(title: str) -> Surface:
    """The open modal is redrawn as a notice (after a dispatch action was acknowledged; after a
    submission's acknowledgement updated it, redraw_submitted)."""

    def show(it: Interaction, text: str, block: str | None = None) -> None:
        if redraw_in_place(it, build_notice_view(title, text)):
            direct_message(it, text)  # the notice itself, where Slack would not show it

    return show


def redraw_submitted(title: str, failed: str) -> Surface:
    """The modal a submission's acknowledgement updated is redrawn as a notice (see replace_submitted)."""

    def show(it: Interaction, text: str, block: str | None = None) -> None:
        replace_submitted(it, build_notice_view(title, text), failed)

    return show


def no_options(it: Interaction, text: str, block: str | None = None) -> None:
    """A select menu's suggestions: none (Slack shows no text there)."""
    it.ack(options=[])


def direct_message(it: Interaction, text: str, block: str | None = None) -> None:
    """A DM from the bot, for work done after the acknowledgement with no response_url."""
    dm(it.client, it.user_id, text)


def quietly(it: Interaction, text: str, block: str | None = None) -> None:
    """Nothing to show: the acknowledgement already told the user."""


# The declaration


def role_for(session: Session, user_id: str, needed: Role, doing: str) -> Role:
    """The user's role if it allows `needed`, read in the caller's transaction, else Refused."""
    return allowed(roles.role_of(session, user_id), user_id, needed, doing)


def allowed(role: Role | None, user_id: str, needed: Role, doing: str) -> Role:
    """`role` if it allows `needed`, else Refused saying why."""
    if role is None:
        raise Refused(messages.NO_ACCESS.format(user_id=user_id))
    if not role.allows(needed):
        raise Refused(
            messages.WRONG_ROLE.format(needed=needed.value, doing=doing, role=role.value, user_id=user_id),
        )
    return role


def checked(
    it: Interaction,
    needed: Role,
    doing: str,
    refuse: Surface,
    work: Callable[[Session, Role], Any],
    *,
    writes: bool = False,
    failures: Surface | None = None,
) -> Any:
    """work(session, role) in one transaction after the role check; None if it was refused or failed.

    Refusals go to `refuse`, failures that are not the user's doing to `failures` (default: the same).
    After an acknowledgement that already refused or failed, a lazy listener's check does nothing.
    """

    def run(session: Session, user_id: str) -> Any:
        return work(session, role_for(session, user_id, needed, doing))

    return guarded(it, refuse, run, writes=writes, failures=failures)


def role_ahead(session: Session, user_id: str, needed: Role, doing: str) -> Callable[[], Role]:
    """role_for, read with the session's next statement (a round trip fewer on PostgreSQL): call it
    for the role, or Refused."""
    role = roles.role_ahead(session, user_id)
    return lambda: allowed(role(), user_id, needed, doing)


def answered(
    it: Interaction,
    needed: Role,
    doing: str,
    refuse: Surface,
    answer: Callable[[Session, Callable[[], Role]], Any],
    *,
    failures: Surface | None = None,
) -> Any:
    """answer(session, role), read-only, checked as `checked` checks, with `role` from role_ahead.

    The role read goes with the work's first statement and is checked before the answer is used
    (the work may call role() sooner, before any Slack call); a refusal wins over the work's own
    errors, as if it came first.
    """

    def run(session: Session, user_id: str) -> Any:
        role = role_ahead(session, user_id, needed, doing)
        try:
            result = answer(session, role)
        except Exception:
            refused = _refusal(role)
            if refused is not None:
                raise refused from None
            raise
        role()
        return result

    return guarded(it, refuse, run, failures=failures, read_only=True)


def _refusal(role: Callable[[], Role]) -> Refused | None:
    """The refusal the role read means, if any (None too when the read failed with the work)."""
    try:
        role()
    except Refused as refused:
        return refused
    except Exception:  # noqa: BLE001 - the read failed with the work: the work's failure is the one to tell
        return None
    return None


def guarded(
    it: Interaction,
    refuse: Surface,
    work: Callable[[Session, str], Any],
    *,
    writes: bool = False,
    failures: Surface | None = None,
    read_only: bool = False,
) -> Any:
    """work(session, user_id) in one transaction; None after a refusal or failure, shown on its surface.

    `read_only`: the work only reads (a role_ahead listener), so its session is closed uncommitted.
    """
    if it.context.get(TOLD):
        return None
    factory = it.services.session_factory if writes else it.services.reads
    try:
        user_id = it.user_id
        return atomic(factory, lambda session: work(session, user_id), read_only=read_only)
    except Malformed:
        raise  # the error boundary answers 400
    except Refused as refused:
        show(refuse, it, str(refused), refused.block)
    except UnknownAccount as gone:  # an old button or message: say where the current accounts are
        show(refuse, it, messages.ACCOUNT_GONE.format(problem=gone), None)
    except StoreError as refused:
        show(refuse, it, str(refused), None)
    except Exception as error:  # noqa: BLE001 - the boundary: the user hears, the log keeps the detail
        show(failures or refuse, it, failure_message(error), None)
    return None


def failure_message(error: BaseException) -> str:
    """What the user is told about a failure that is not theirs; the log line gets the detail."""
    if lock_timed_out(error):  # before unavailable(): to SQLAlchemy it is an OperationalError too
        log.warning("gave up waiting for a lock: %s", type(error).__name__)
        return messages.IMPORT_RUNNING
    if unavailable(error):
        log.warning("database unavailable: %s", type(error).__name__)
        return messages.UNAVAILABLE
    reference = secrets.token_hex(4)
    log.error("request failed (reference %s)", reference, exc_info=error)
    return messages.SOMETHING_WENT_WRONG.format(reference=reference)


def show(surface: Surface, it: Interaction, text: str, block: str | None) -> None:
    it.context[TOLD] = True
    try:
        surface(it, text, block)
    except Exception:  # noqa: BLE001 - the user cannot be reached; nothing was changed
        log.exception("could not show a refusal")


def needs(
    needed: Role,
    doing: str,
    refuse: Surface,
    *,
    writes: bool = False,
    failures: Surface | None = None,
    role_ahead: bool = False,
) -> Callable[[Listener], Listener]:
    """Declare the role a listener needs, the surface its refusals use, and whether it writes.

    `role_ahead`: the listener reads, and the role is read with its first statement (see `answered`).
    It may take `role` as a call that returns the checked role (or raises the refusal), and calls it
    before it calls Slack; a listener that only returns its answer need not take it.
    """

    def decorate(listener: Listener) -> Listener:
        wanted = inspect.getfullargspec(listener).args
        if role_ahead and writes:
            raise TypeError(f"{listener.__name__}: a role_ahead listener reads")

        def run_listener(args: Args) -> None:
            it = Interaction(args)

            def call(session: Session, role: Role | Callable[[], Role] | None) -> Any:
                extra = {"session": session, "role": role, "services": it.services, "user_id": it.user_id}
                return listener(
                    **{name: extra[name] if name in extra else getattr(args, name) for name in wanted}
                )

            if role_ahead:
                answer = answered(it, needed, doing, refuse, call, failures=failures)
            else:
                answer = checked(it, needed, doing, refuse, call, writes=writes, failures=failures)
            if answer is not None:
                acknowledge_with(it.ack, answer)

        run_listener.__name__ = run_listener.__qualname__ = listener.__name__
        run_listener.__doc__ = listener.__doc__
        run_listener.__module__ = listener.__module__
        return run_listener

    return decorate


def acknowledge_with(ack: Ack, answer: dict[str, Any]) -> None:
    """ack(**answer): the same response, but a message with blocks or a list of options (a page
    of search results, a picker's 100 options) is encoded by orjson, not by Bolt's json.dumps,
    which took 117 µs for a page of eight account boxes (orjson: 10 µs)."""
    if answer.get("blocks") and answer.keys() <= {"text", "response_type", "blocks"}:
        # Bolt's body for ack(text=..., response_type=..., blocks=...), in its order.
        body: dict[str, Any] = {"text": answer.get("text", "")}
        if answer.get("response_type"):
            body["response_type"] = answer["response_type"]
        body["blocks"] = answer["blocks"]
    elif answer.keys() == {"options"} and answer["options"] is not None:
        body = answer
    else:
        ack(**answer)
        return
    # A str body starting with "{" is sent as application/json, as Bolt sends a dict body.
    ack.response = BoltResponse(status=200, body=orjson.dumps(body, default=_to_dict).decode())


def _to_dict(value: Any) -> Any:
    """slack_sdk's Block Kit objects, as Bolt's ack converts them."""
    return value.to_dict()


# Opening an account's form


def account_form(
    needed: Role,
    doing: str,
    title: str,
    build: Callable[[Account, Role, Services], dict[str, Any]],
) -> Listener:
    """The lazy listener for an account button: read the id, load the account, check, open the form."""

    def open_form(args: Args) -> None:
        it = Interaction(args)
        action = (it.body.get("actions") or [{}])[0]
        open_account_form(
            it,
            needed,
            doing,
            title,
            lambda: parse.account_id(action.get("value")),
            lambda session, account, role: build(account, role, it.services),
        )

    open_form.__name__ = open_form.__qualname__ = f"open_{title.lower().replace(' ', '_')}_form"
    return open_form


def open_account_form(
    it: Interaction,
    needed: Role,
    doing: str,
    title: str,
    account_id: Callable[[], int],
    build: Callable[[Session, Account, Role], dict[str, Any]],
) -> None:
    """Check the role, load the active account `account_id()` names, and open `build`'s form for it."""

    def load(session: Session, role: Role) -> dict[str, Any]:
        wanted = account_id()
        try:
            account = account_store.active(session, wanted)
        except StoreError as gone:
            raise Refused(messages.ACCOUNT_GONE.format(problem=gone)) from None
        return build(session, account, role)

    view = checked(it, needed, doing, notice(title), load)
    if view is not None:
        open_view(it, stamp(view, origin_of(it.body)))


def acknowledge(ack: Ack) -> None:
    """Acknowledge a click at once; the lazy listener does the work."""
    ack()


# Talking to Slack


def slack_reason(error: BaseException) -> str:
    """Slack's error code, or the kind of connection failure; never a token or a URL."""
    if isinstance(error, SlackApiError):
        return str(error.response.get("error") or error.response.status_code)
    return type(error).__name__


def open_view(it: Interaction, view: dict[str, Any]) -> None:
    """views.open on the request's trigger; if Slack refuses or the connection fails, say so
    privately where the user clicked."""
    try:
        it.client.views_open(trigger_id=it.body.get("trigger_id", ""), view=view)
    except (SlackApiError, SlackClientError, OSError) as error:
        reason = slack_reason(error)
        log.warning("views.open failed: %s", reason)
        say_privately(it, messages.NOT_OPENED.format(reason=reason))


def update_view(
    client: WebClient, view_id: str, view: dict[str, Any], view_hash: str | None = None
) -> str | None:
    """views.update; None if it worked, else Slack's reason (a hash_conflict: a newer redraw won)."""
    try:
        client.views_update(view_id=view_id, hash=view_hash, view=view)
    except (SlackApiError, SlackClientError, OSError) as error:
        reason = slack_reason(error)
        if reason != "hash_conflict":
            log.warning("views.update failed: %s", reason)
        return reason
    return None


def redraw_in_place(it: Interaction, view: dict[str, Any], failed: str | None = None) -> str | None:
    """The open modal becomes `view`, where the redraw is the click's only answer. If Slack refuses
    (other than a newer redraw winning), its reason; with `failed` ({reason}), the user is told so
    by DM rather than left looking at a form that did not change."""
    current = it.body.get("view") or {}
    reason = update_view(it.client, current.get("id", ""), view, current.get("hash"))
    if reason in (None, "hash_conflict"):
        return None
    if failed is not None:
        direct_message(it, failed.format(reason=reason))
    return reason


def replace_submitted(it: Interaction, view: dict[str, Any], failed: str) -> None:
    """The submitted modal becomes `view`, a lazy listener's answer after the acknowledgement updated it.

    By view id alone: that update gave the modal a hash the submission does not carry, and only this
    answer redraws it. If Slack refuses, `failed` ({reason}, {result}) says the answer by DM.
    """
    reason = update_view(it.client, (it.body.get("view") or {}).get("id", ""), view)
    if reason is not None:
        direct_message(it, failed.format(reason=reason, result=sections_text(view)))


def sections_text(view: dict[str, Any]) -> str:
    """The mrkdwn a view's sections show, for saying its result in a message instead."""
    return "\n".join(
        block["text"]["text"] for block in view.get("blocks", []) if block.get("type") == "section"
    )[:SECTION_LIMIT]


def tell_privately(client: WebClient, respond: Respond | None, user_id: str, text: str) -> None:
    """Ephemeral through the request's response_url; a DM where Slack gives none, or it fails."""
    if respond is None or respond.response_url is None or not _told(respond, text):
        dm(client, user_id, text)


def dm(client: WebClient, user_id: str, text: str) -> None:
    """A DM from the bot; logged if Slack refuses it."""
    try:
        client.chat_postMessage(channel=user_id, text=text)
    except (SlackApiError, SlackClientError, OSError) as error:
        log.warning("could not DM %s: %s", user_id, slack_reason(error))


def _told(respond: Respond, text: str) -> bool:
    """An ephemeral message through response_url; whether Slack took it (logged if not)."""
    try:
        answer = respond(text=text[:SECTION_LIMIT], response_type="ephemeral", replace_original=False)
    except Exception as error:  # noqa: BLE001 - a DM is tried instead; nothing was changed
        log.warning("could not tell the user (%s): %s", type(error).__name__, text[:200])
        return False
    if not 200 <= answer.status_code < 300:
        log.warning("response_url answered %s; telling the user by DM", answer.status_code)
        return False
    return True
