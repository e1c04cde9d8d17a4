"""Settings read from the environment (and a `.env` file), validated in one place."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///admin-bot.db"


class ConfigError(Exception):
    """One or more settings are missing or invalid; each problem names its variable."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Setting:
    """How one environment variable is documented, parsed and defaulted."""

    name: str
    help: str
    default: str | None = None
    parse: Callable[[str], Any] = str
    required_for: str = ""  # "http", "socket" or "" (optional everywhere)
    secret: bool = False


def _positive_int(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError("must be a whole number of at least 1")
    return int(raw)


def _boolean(raw: str) -> bool:
    if raw.lower() in ("true", "yes", "1", "on"):
        return True
    if raw.lower() in ("false", "no", "0", "off"):
        return False
    raise ValueError("must be true or false")


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.lower() not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return raw.lower()

    return parse


def _money(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError("must be a decimal number such as 0.045") from None
    if not value.is_finite() or value < 0:
        raise ValueError("must be a decimal number of 0 or more")
    return value


def _rate(raw: str) -> Decimal:
    value = _money(raw)
    if value > 1:
        raise ValueError("is a fraction: 0.20 means 20%")
    return value


def _currency(raw: str) -> str:
    if len(raw) != 3 or not raw.isalpha():
        raise ValueError("must be a three-letter ISO 4217 code such as GBP")
    return raw.upper()


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(raw: str) -> timedelta:
    """ "90s", "30m", "12h", "1d" or plain seconds; 0 is allowed."""
    number, unit = (raw[:-1], raw[-1].lower()) if raw[-1:].isalpha() else (raw, "s")
    if not number.isdigit() or unit not in DURATION_UNITS:
        raise ValueError("must be a whole number of seconds, or end in s, m, h or d (e.g. 12h, 1d)")
    return timedelta(seconds=int(number) * DURATION_UNITS[unit])


def _iso_date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError("must be a date in the form YYYY-MM-DD") from None


def _api_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return raw if raw.endswith("/") else raw + "/"


def _database_url(raw: str) -> str:
    from sqlalchemy.engine import make_url

    if raw.startswith("postgresql://"):
        # SQLAlchemy's bare postgresql:// means psycopg2; we ship psycopg 3.
        raw = "postgresql+psycopg://" + raw.removeprefix("postgresql://")
    if not raw.startswith(("sqlite://", "postgresql+psycopg://")):
        raise ValueError("must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
    try:
        url = make_url(raw)  # int() on whatever follows the host's colon
        if url.port is not None and not 1 <= url.port <= 65535:
            raise ValueError
    except ValueError:
        # The URL is not echoed: it may carry a password.
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if url.get_backend_name() == "sqlite" and _in_memory(url.database or "", url.query):
        raise ValueError(
            "is an in-memory SQLite database, lost when each command exits: "
            "give a file, e.g. sqlite:///admin-bot.db"
        )
    return raw


def _in_memory(database: str, query: Mapping[str, Any]) -> bool:
    """Whether SQLite keeps this database in memory: no file name, ":memory:", or a memory URI."""
    return (
        database in ("", ":memory:") or database.startswith("file::memory:") or query.get("mode") == "memory"
    )


def _cron(raw: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(raw)
    except ValueError as error:
        raise ValueError(f"must be a cron expression such as '0 9 * * mon' ({error})") from None
    return raw


def _timezone(raw: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as Europe/London or UTC") from None
    return raw


def _channel(raw: str) -> str:
    if not raw.isalnum() or raw[0] not in "CGD":
        raise ValueError("must be a channel id such as C0123ABCDEF (channel details → About)")
    return raw


def _token(prefix: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not raw.startswith(prefix):
            raise ValueError(f"must start with {prefix}")
        return raw

    return parse


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "SLACK_BOT_TOKEN",
        "Bot token (xoxb-…) from OAuth & Permissions.",
        parse=_token("xoxb-"),
        required_for="http socket",
        secret=True,
    ),
    Setting(
        "SLACK_SIGNING_SECRET",
        "Signing secret from Basic Information; verifies HTTP requests.",
        required_for="http",
        secret=True,
    ),
    Setting(
        "SLACK_APP_TOKEN",
        "App-level token (xapp-…) with connections:write; Socket Mode only.",
        parse=_token("xapp-"),
        required_for="socket",
        secret=True,
    ),
    Setting(
        "SLACK_API_URL",
        "Slack Web API base URL; tests point it at a local fake.",
        DEFAULT_SLACK_API_URL,
        _api_url,
    ),
    Setting(
        "DATABASE_URL",
        "SQLite file (default) or postgresql+psycopg://… for production.",
        DEFAULT_DATABASE_URL,
        _database_url,
    ),
    Setting(
        "DATABASE_POOL_SIZE",
        "PostgreSQL connections `serve` keeps open; up to twice as many more open under load.",
        "10",
        _positive_int,
    ),
    Setting(
        "REQUEST_LOCK_TIMEOUT_SECONDS",
        "How long a Slack request waits for a lock another transaction holds (an accounts import) "
        "before it tells the user to try again; below Slack's 3 seconds.",
        "2",
        _positive_int,
    ),
    Setting("CREDIT_PRICE", "Net price of one credit.", "0.045", _money),
    Setting("VAT_RATE", "VAT as a fraction of the net price.", "0.20", _rate),
    Setting("CURRENCY", "ISO 4217 currency code on prices and invoices.", "GBP", _currency),
    Setting("MAX_PURCHASE_CREDITS", "Most credits one purchase may buy.", "1000000", _positive_int),
    Setting(
        "LOW_CREDIT_POLL_SECONDS",
        "Seconds between low-credit reminder passes.",
        "300",
        _positive_int,
    ),
    Setting(
        "REMINDER_LEASE_SECONDS",
        "How long a replica's claim on reminder DMs lasts before another may take them over.",
        "60",
        _positive_int,
    ),
    Setting(
        "SHUTDOWN_GRACE_SECONDS",
        "On SIGTERM or SIGINT, how long requests and the reminder DM in flight get to finish.",
        "20",
        _positive_int,
    ),
    Setting(
        "MIGRATE_ON_START",
        "Whether `serve` migrates the database before serving; false if you run `db upgrade` yourself.",
        "true",
        _boolean,
    ),
    Setting(
        "LOG_LEVEL",
        "How much `serve` logs: debug, info, warning or error.",
        "info",
        _choice("debug", "info", "warning", "error"),
    ),
    Setting("LOG_FORMAT", "text, or json for one JSON object per line.", "text", _choice("text", "json")),
    Setting(
        "REMINDER_COOLDOWN",
        "After an account recovers, a dip within this long updates its alert instead of alerting again.",
        "1d",
        _duration,
    ),
    Setting(
        "INVOICE_HISTORY_START",
        "Invoices dated before this day are not listed.",
        "2020-01-01",
        _iso_date,
    ),
    Setting(
        "ACCOUNT_MANAGER",
        "Who to ask for older invoices: 'Name <email>'.",
        "Your account manager <accounts@example.com>",
    ),
    Setting("SUPPLIER_NAME", "Supplier name printed on invoices.", "Example SMS Ltd"),
    Setting(
        "SUPPLIER_ADDRESS",
        "Supplier address on invoices; use | between lines.",
        "1 Example Street|London|EC1A 1AA",
    ),
    Setting("SUPPLIER_VAT_NUMBER", "Supplier VAT registration number on invoices.", "GB123456789"),
    Setting(
        "USAGE_API_TOKEN",
        "Bearer token for the usage API under /api; unset turns the API off (404).",
        secret=True,
    ),
    Setting(
        "STATEMENT_CHANNEL",
        "Channel id (C…) for the weekly statement; unset means no statements are posted.",
        parse=_channel,
    ),
    Setting(
        "STATEMENT_SCHEDULE",
        "When statements are posted: a cron expression (minute hour day month weekday).",
        "0 9 * * mon",
        _cron,
    ),
    Setting(
        "STATEMENT_TIMEZONE", "Time zone of STATEMENT_SCHEDULE and of a statement's days.", "UTC", _timezone
    ),
)


@dataclass(frozen=True)
class Config:
    """Everything the bot needs to run; tests build one directly."""

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    database_pool_size: int = 10
    request_lock_timeout_seconds: int = 2
    credit_price: Decimal = Decimal("0.045")
    vat_rate: Decimal = Decimal("0.20")
    currency: str = "GBP"
    max_purchase_credits: int = 1_000_000
    low_credit_poll_seconds: int = 300
    reminder_lease_seconds: int = 60
    shutdown_grace_seconds: int = 20
    migrate_on_start: bool = True
    log_level: str = "info"
    log_format: str = "text"
    reminder_cooldown: timedelta = timedelta(days=1)
    invoice_history_start: date = date(2020, 1, 1)
    account_manager: str = "Your account manager <accounts@example.com>"
    supplier_name: str = "Example SMS Ltd"
    supplier_address: str = "1 Example Street|London|EC1A 1AA"
    supplier_vat_number: str = "GB123456789"
    usage_api_token: str = ""
    statement_channel: str = ""
    statement_schedule: str = "0 9 * * mon"
    statement_timezone: str = "UTC"


assert {s.name.lower() for s in SETTINGS} == {f.name for f in fields(Config)}


def load_config(
    mode: str = "", environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")
) -> Config:
    """Read and validate settings; `mode` ("http"/"socket") decides which Slack ones are required.

    Raises ConfigError listing every problem at once, so a newcomer fixes them in one go.
    """
    if environ is None:
        if dotenv is not None and dotenv.exists():
            from dotenv import load_dotenv

            load_dotenv(dotenv, override=False)
        environ = os.environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for setting in SETTINGS:
        raw = (environ.get(setting.name) or "").strip()
        if not raw:
            if mode and mode in setting.required_for.split():
                problems.append(f"{setting.name} is not set: {setting.help}")
            if setting.default is None:
                continue
            raw = setting.default
        try:
            values[setting.name.lower()] = setting.parse(raw)
        except ValueError as error:
            problems.append(f"{setting.name} {error}")
    if problems:
        raise ConfigError(problems)
    return Config(**values)
