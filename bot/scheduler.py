"""The background jobs `admin-bot serve` runs: the low-credit reminder pass, weekly statements,
folding the Home tab's running totals and folding imported references into the search vocabulary."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.app import pricing
from bot.config import Config
from jobs import low_credit, statements
from store import overview, search
from store.db import SessionFactory

LOW_CREDIT_JOB = low_credit.JOB_ID
FOLD_TOTALS_JOB = "fold_account_totals"
FOLD_TOTALS_SECONDS = 30  # differences waiting meanwhile cost the Home summary a row each
FOLD_REFERENCES_JOB = "fold_reference_grams"
# Until then, searches of one or two characters read every account an import added since the last.
FOLD_REFERENCES_SECONDS = 30

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


def _fold(session_factory: SessionFactory, fold: Callable[[Session], object], what: str) -> None:
    """Run one of the store's folds in a transaction of its own; a failure waits for the next run."""
    try:
        with session_factory.begin() as session:
            fold(session)
    except SQLAlchemyError as error:
        log.warning("could not fold %s: %s", what, type(error).__name__)


def fold_account_totals(session_factory: SessionFactory) -> None:
    """Keep the Home summary's running totals a few rows long."""
    _fold(session_factory, overview.fold_totals, "the account totals")


def fold_reference_grams(session_factory: SessionFactory) -> None:
    """Add the reference trigrams of imported accounts to the search vocabulary (PostgreSQL); while
    an import is at work, the next run does."""
    _fold(session_factory, search.fold_reference_grams, "the references into the search vocabulary")


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
    for fold, job_id, seconds in (
        (fold_account_totals, FOLD_TOTALS_JOB, FOLD_TOTALS_SECONDS),
        (fold_reference_grams, FOLD_REFERENCES_JOB, FOLD_REFERENCES_SECONDS),
    ):
        scheduler.add_job(
            fold,
            "interval",
            seconds=seconds,
            id=job_id,
            args=[session_factory],
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
    statements.schedule(scheduler, config, session_factory, client)
    scheduler.start()
    return scheduler
