"""The background jobs `admin-bot serve` runs: the low-credit reminder pass, weekly statements and
folding the Home tab's running totals."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.app import pricing
from bot.config import Config
from jobs import low_credit, statements
from store import overview
from store.db import SessionFactory

LOW_CREDIT_JOB = low_credit.JOB_ID
FOLD_TOTALS_JOB = "fold_account_totals"
FOLD_TOTALS_SECONDS = 30  # differences waiting meanwhile cost the Home summary a row each

log = logging.getLogger(__name__)


def pass_options(config: Config) -> dict[str, Any]:
    """The settings a reminder pass runs with, as domain values."""
    return {
        "lease_seconds": config.reminder_lease_seconds,
        "pricing": pricing(config),
        "cooldown": config.reminder_cooldown,
    }


def low_credit_pass(
    session_factory: SessionFactory, client: WebClient, config: Config, stop: threading.Event
) -> None:
    """One reminder pass at the current time; `stop` ends it after the DM in flight."""
    low_credit.run_low_credit_pass(
        session_factory, client, datetime.now(UTC), stop=stop, **pass_options(config)
    )


def fold_account_totals(session_factory: SessionFactory) -> None:
    """Keep the Home summary's running totals a few rows long; a failure waits for the next run."""
    try:
        with session_factory.begin() as session:
            overview.fold_totals(session)
    except SQLAlchemyError as error:
        log.warning("could not fold the account totals: %s", type(error).__name__)


def start_scheduler(
    config: Config,
    session_factory: SessionFactory,
    client: WebClient,
    stop: threading.Event | None = None,
) -> BackgroundScheduler:
    """Start the jobs; replicas coordinate through the database, not a shared job store."""
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        low_credit_pass,
        "interval",
        seconds=config.low_credit_poll_seconds,
        id=LOW_CREDIT_JOB,
        args=[session_factory, client, config, stop or threading.Event()],
        replace_existing=True,
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        fold_account_totals,
        "interval",
        seconds=FOLD_TOTALS_SECONDS,
        id=FOLD_TOTALS_JOB,
        args=[session_factory],
        replace_existing=True,
        coalesce=True,
        max_instances=1,
    )
    statements.schedule(scheduler, config, session_factory, client)
    scheduler.start()
    return scheduler
