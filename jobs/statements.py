"""The weekly statement: posted to STATEMENT_CHANNEL once per scheduled slot, however many replicas run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.config import Config
from handlers.uploads import NotSent, Upload, post_files
from reports.charts import draw_chart
from reports.statement import chart_filename, csv_filename, statement_csv, statement_text
from store import statements
from store.db import SessionFactory, make_read_session_factory
from store.statements import Period, RunState, Statement

STATEMENT_JOB = "weekly_statement"
CATCH_UP_JOB = "weekly_statement_catch_up"
CATCH_UP_MINUTES = 15  # a missed or refused statement is posted this soon after start-up or a fix
# How far back to look for the latest slot: past a year, a missed statement is not worth posting.
LOOKBACKS = (timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=367))

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatementSettings:
    """Where and when statements go, from Config at wiring time."""

    channel: str
    trigger: CronTrigger
    zone: ZoneInfo
    currency: str

    @classmethod
    def from_config(cls, config: Config) -> StatementSettings:
        zone = ZoneInfo(config.statement_timezone)
        return cls(
            config.statement_channel,
            CronTrigger.from_crontab(config.statement_schedule, timezone=zone),
            zone,
            config.currency,
        )


@dataclass(frozen=True)
class Drawn:
    """A statement and its two attachments."""

    statement: Statement
    text: str
    chart: bytes
    csv: bytes


def latest_slot(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The most recent time at or before `now` the schedule names, in UTC."""
    for lookback in LOOKBACKS:
        latest, fire = None, trigger.get_next_fire_time(None, now - lookback)
        while fire is not None and fire <= now:
            latest, fire = fire, trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        if latest is not None:
            return latest.astimezone(UTC)
    return None


def draw(session_factory: SessionFactory, period: Period, now: datetime, currency: str) -> Drawn:
    """Gather the statement for `period` and draw its text, chart and CSV."""
    with make_read_session_factory(session_factory, streaming=True).begin() as session:
        statement = statements.gather(session, period, now)
        csv = statement_csv(statements.account_lines(session, period))
    chart = draw_chart(
        statement.series, "Daily usage and total balance, last 8 weeks", "Sum of reminder levels"
    )
    return Drawn(statement, statement_text(statement, currency), chart, csv)


def upload_client(client: WebClient) -> WebClient:
    """The bot's client without retries on lost connections: a retried upload could post twice."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],  # a 429 did nothing
    )


def upload(client: WebClient, channel: str, drawn: Drawn) -> None:
    """Post the text with the PNG and the CSV attached, in one message (see handlers.uploads)."""
    files = [
        Upload(drawn.chart, chart_filename(drawn.statement), "Usage and balance"),
        Upload(drawn.csv, csv_filename(drawn.statement), "Accounts"),
    ]
    post_files(upload_client(client), channel, drawn.text, files)


def post_due_statement(
    session_factory: SessionFactory, client: WebClient, settings: StatementSettings, now: datetime
) -> str:
    """Post the statement for the latest slot unless it is posted or being posted; says what happened."""
    slot = latest_slot(settings.trigger, now)
    if slot is None:
        return "No statement is due yet."
    if not statements.claim(session_factory, slot, now):
        return f"The statement for {slot:%Y-%m-%d %H:%M} UTC is already posted or being posted."
    try:
        drawn = draw(session_factory, Period.week_before(slot, settings.zone), now, settings.currency)
    except Exception as error:
        statements.mark(session_factory, slot, RunState.FAILED, now, f"drawing failed: {error!r}")
        raise
    if not statements.start_sending(session_factory, slot, claimed_at=now):
        return f"The statement for {slot:%Y-%m-%d %H:%M} UTC was taken over by another replica."
    try:
        upload(client, settings.channel, drawn)
    except SlackApiError as error:
        # Slack answered: it refused, so nothing was posted and the next pass may try again.
        reason = str(error.response.get("error"))
        statements.mark(session_factory, slot, RunState.FAILED, now, reason)
        log.warning("statement for %s not posted: %s; will retry", slot, reason)
        return f"Slack refused the statement for {slot:%Y-%m-%d %H:%M} UTC ({reason}); it will be retried."
    except NotSent as error:
        statements.mark(session_factory, slot, RunState.FAILED, now, str(error))
        log.warning("statement for %s not posted: %s; will retry", slot, error)
        return (
            f"The statement for {slot:%Y-%m-%d %H:%M} UTC did not reach Slack ({error}); "
            "nothing was posted, so it will be retried."
        )
    except Exception as error:  # noqa: BLE001 - lost answer: posted or not, it is never sent twice
        statements.mark(session_factory, slot, RunState.UNKNOWN, now, repr(error))
        log.error("statement for %s: no answer from Slack (%r); not resending", slot, error)
        return (
            f"No answer from Slack for the statement of {slot:%Y-%m-%d %H:%M} UTC; it may have been "
            "posted, so it is not sent again. Check the channel; `admin-bot statement --now` posts one."
        )
    statements.mark(session_factory, slot, RunState.POSTED, datetime.now(UTC))
    return f"Posted the statement for {slot:%Y-%m-%d %H:%M} UTC to {settings.channel}."


def statement_pass(session_factory: SessionFactory, client: WebClient, settings: StatementSettings) -> None:
    """The scheduled job: post the due statement at the current time."""
    log.info(post_due_statement(session_factory, client, settings, datetime.now(UTC)))


def schedule(
    scheduler: BaseScheduler, config: Config, session_factory: SessionFactory, client: WebClient
) -> None:
    """Post statements on the schedule; check at start-up and every few minutes for one missed or refused."""
    if not config.statement_channel:
        return
    settings = StatementSettings.from_config(config)
    options = {
        "args": [session_factory, client, settings],
        "replace_existing": True,
        "coalesce": True,
        "max_instances": 1,
    }
    scheduler.add_job(statement_pass, settings.trigger, id=STATEMENT_JOB, misfire_grace_time=None, **options)
    scheduler.add_job(
        statement_pass,
        "interval",
        minutes=CATCH_UP_MINUTES,
        id=CATCH_UP_JOB,
        next_run_time=datetime.now(UTC),
        **options,
    )


def write_files(
    session_factory: SessionFactory, out: Path, period: Period, now: datetime, currency: str
) -> Drawn:
    """`admin-bot statement --out DIR`: the PNG and CSV written locally, nothing sent."""
    drawn = draw(session_factory, period, now, currency)
    out.mkdir(parents=True, exist_ok=True)
    (out / chart_filename(drawn.statement)).write_bytes(drawn.chart)
    (out / csv_filename(drawn.statement)).write_bytes(drawn.csv)
    return drawn
