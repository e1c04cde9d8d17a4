"""The background jobs `admin-bot serve` runs: today, the low-credit reminder pass."""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient

from bot.config import Config
from handlers.reminders import run_low_credit_pass
from store.db import SessionFactory

LOW_CREDIT_JOB = "low_credit_pass"


def low_credit_pass(session_factory: SessionFactory, client: WebClient) -> None:
    """One reminder pass at the current time."""
    run_low_credit_pass(session_factory, client, datetime.now(UTC))


def start_scheduler(
    config: Config, session_factory: SessionFactory, client: WebClient
) -> BackgroundScheduler:
    """Start the jobs; replicas coordinate through the database, not a shared job store."""
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        low_credit_pass,
        "interval",
        seconds=config.low_credit_poll_seconds,
        id=LOW_CREDIT_JOB,
        args=[session_factory, client],
        replace_existing=True,
        coalesce=True,
        max_instances=1,
    )
    scheduler.start()
    return scheduler
