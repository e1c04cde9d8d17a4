"""The app factory: one Bolt app wired to its store, Slack client and feature handlers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

import handlers
from bot import boundary
from bot.config import Config
from bot.retries import retry_handlers
from handlers.services import Limits, Services, utc_now
from store.db import SessionFactory, make_engine, make_read_session_factory, make_session_factory
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
    return Services(
        clock=clock or utc_now,
        session_factory=session_factory,
        reads=make_read_session_factory(session_factory),
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
    )

    services = make_services(config, session_factory, clock)

    @app.middleware
    def provide_store(context: BoltContext, next: Callable[[], None]) -> None:
        context["services"] = services
        next()

    app.middleware(boundary.reject_malformed)
    app.error(boundary.answer_failure)
    handlers.register_all(app)
    return app
