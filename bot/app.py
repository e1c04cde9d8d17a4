"""The app factory: one Bolt app wired to its store, Slack client and feature handlers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.listener_matcher.builtins import BuiltinListenerMatcher
from slack_bolt.listener_matcher.custom_listener_matcher import CustomListenerMatcher
from slack_bolt.listener_matcher.listener_matcher import ListenerMatcher
from slack_bolt.middleware import Middleware
from slack_bolt.request.payload_utils import to_command
from slack_sdk import WebClient

import handlers
from bot import boundary
from bot.config import Config
from bot.retries import retry_handlers
from handlers.services import Limits, Services, utc_now
from store.db import (
    SessionFactory,
    make_engine,
    make_read_session_factory,
    make_session_factory,
    waiting_at_most,
)
from store.invoices import Pricing, Supplier


def make_client(config: Config) -> WebClient:
    """A Web API client that repeats only what cannot happen twice (see bot.retries)."""
    return WebClient(
        token=config.slack_bot_token or None,
        base_url=config.slack_api_url,
        timeout=10,
        retry_handlers=retry_handlers(),
    )


def pricing(config: Config) -> Pricing:
    """CREDIT_PRICE, VAT_RATE and CURRENCY as one value."""
    return Pricing(config.credit_price, config.vat_rate, config.currency)


def make_services(
    config: Config, session_factory: SessionFactory, clock: Callable[[], datetime] | None = None
) -> Services:
    """The settings as the domain values listeners use; handlers never read Config."""
    address = tuple(line.strip() for line in config.supplier_address.split("|") if line.strip())
    # Slack gives up on a request after 3 s; jobs, the CLI and the usage API keep waiting.
    requests = waiting_at_most(session_factory, config.request_lock_timeout_seconds)
    return Services(
        clock=clock or utc_now,
        session_factory=requests,
        reads=make_read_session_factory(requests),
        pricing=pricing(config),
        supplier=Supplier(config.supplier_name, address, config.supplier_vat_number),
        limits=Limits(config.max_purchase_credits, config.invoice_history_start, config.account_manager),
    )


def create_app(
    config: Config, session_factory: SessionFactory | None = None, clock: Callable[[], datetime] | None = None
) -> App:
    """Build the Bolt app; tests pass their own Config, session factory and, to fix the time, clock."""
    if session_factory is None:
        session_factory = make_session_factory(make_engine(config.database_url))
    app = App(
        client=make_client(config),
        signing_secret=config.slack_signing_secret or "unset",
        # Answer as soon as the listener returns instead of polling for ack() every 10 ms;
        # slow work (DMs, PDFs) runs in lazy listeners after the response.
        process_before_response=True,
        token_verification_enabled=False,
        # What no listener handles reaches answer_failure, which says it is out of date (not a 404).
        raise_error_for_unhandled_request=True,
    )

    app.use(ProvideServices(make_services(config, session_factory, clock)))
    app.use(boundary.RejectMalformed())
    app.error(boundary.answer_failure)
    handlers.register_all(app)
    quicken_matchers(app)
    return app


class ProvideServices(Middleware):
    """Puts the store and settings in every request's context (see handlers.services)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        req.context["services"] = self.services
        return next()


# What a matcher may ask for, read straight from the payload.
_MATCHER_ARGS: dict[str, Callable[[BoltRequest], object]] = {
    "body": lambda req: req.body,
    "command": lambda req: to_command(req.body),
}


class QuickMatcher(ListenerMatcher):
    """A listener matcher given only what it asks for (the body, the command).

    Bolt hands each matcher every argument a listener could take (each payload accessor, the
    utilities), and it asks every listener in registration order until one matches: a Move
    picker's suggestion request, registered late, paid for 25 such sets before its listener ran.
    """

    def __init__(self, func: Callable[..., Any], arg_names: list[str]) -> None:
        self.func = func
        self.readers = [(name, _MATCHER_ARGS[name]) for name in arg_names]

    def matches(self, req: BoltRequest, resp: BoltResponse) -> bool:
        return bool(self.func(**{name: read(req) for name, read in self.readers}))


def quicken_matchers(app: App) -> None:
    """Replace the matchers of the app's listeners that take only the body or the command."""
    for listener in getattr(app, "_listeners", ()):
        listener.matchers = [_quick(matcher) for matcher in listener.matchers]


def _quick(matcher: ListenerMatcher) -> ListenerMatcher:
    if isinstance(matcher, BuiltinListenerMatcher | CustomListenerMatcher):
        names = list(matcher.arg_names)
        if names and all(name in _MATCHER_ARGS for name in names):
            return QuickMatcher(matcher.func, names)
    return matcher
