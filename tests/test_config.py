"""Settings: defaults, required Slack settings per mode, and every invalid value named."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy.exc

from bot.cli import main
from bot.config import DEFAULT_DATABASE_URL, DEFAULT_SLACK_API_URL, ConfigError, load_config
from store import db

HTTP_ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "secret"}


def clear_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset the Slack variables; setting first makes monkeypatch restore (or remove) them
    afterwards, even if a .env file loaded them into os.environ meanwhile."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)


def problems_for(mode: str, environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_config(mode, environ=environ)
    return error.value.problems


def test_defaults_apply_when_nothing_is_set():
    config = load_config(environ={})

    assert config.database_url == DEFAULT_DATABASE_URL
    assert config.slack_api_url == DEFAULT_SLACK_API_URL
    assert config.credit_price == Decimal("0.045")
    assert config.vat_rate == Decimal("0.20")
    assert config.currency == "GBP"
    assert config.max_purchase_credits == 1_000_000
    assert config.low_credit_poll_seconds == 300
    assert config.invoice_history_start == date(2020, 1, 1)
    assert config.slack_bot_token == ""


def test_values_are_parsed_and_normalised():
    config = load_config(
        "http",
        environ={
            **HTTP_ENV,
            "DATABASE_URL": "postgresql://u@h/db",
            "SLACK_API_URL": "http://localhost:9000/api",
            "CURRENCY": "eur",
            "VAT_RATE": " 0.05 ",
        },
    )

    assert config.database_url == "postgresql+psycopg://u@h/db"
    assert config.slack_api_url == "http://localhost:9000/api/"
    assert config.currency == "EUR"
    assert config.vat_rate == Decimal("0.05")


def test_http_mode_lists_both_missing_slack_settings():
    problems = problems_for("http", {})

    assert len(problems) == 2
    assert problems[0].startswith("SLACK_BOT_TOKEN is not set")
    assert problems[1].startswith("SLACK_SIGNING_SECRET is not set")


def test_socket_mode_requires_app_token_but_not_signing_secret():
    problems = problems_for("socket", {"SLACK_BOT_TOKEN": "xoxb-1"})

    assert len(problems) == 1
    assert problems[0].startswith("SLACK_APP_TOKEN is not set")
    config = load_config("socket", environ={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"})
    assert config.slack_app_token == "xapp-1"


def test_tokens_with_the_wrong_prefix_are_named():
    problems = problems_for("socket", {"SLACK_BOT_TOKEN": "xapp-1", "SLACK_APP_TOKEN": "xoxb-1"})

    assert problems == [
        "SLACK_BOT_TOKEN must start with xoxb-",
        "SLACK_APP_TOKEN must start with xapp-",
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("VAT_RATE", "abc", "VAT_RATE must be a decimal number such as 0.045"),
        ("VAT_RATE", "1.5", "VAT_RATE is a fraction: 0.20 means 20%"),
        ("CURRENCY", "EURO", "CURRENCY must be a three-letter ISO 4217 code such as GBP"),
        ("MAX_PURCHASE_CREDITS", "0", "MAX_PURCHASE_CREDITS must be a whole number of at least 1"),
        ("DATABASE_POOL_SIZE", "ten", "DATABASE_POOL_SIZE must be a whole number of at least 1"),
        ("REQUEST_LOCK_TIMEOUT_SECONDS", "0", "REQUEST_LOCK_TIMEOUT_SECONDS must be a whole number of at"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL must be sqlite:///PATH or postgresql+psycopg"),
        ("DATABASE_URL", "postgresql://u:pw@h:notaport/db", "DATABASE_URL has a port that is not a number"),
        ("DATABASE_URL", "postgresql+psycopg://u@h:/db", "DATABASE_URL has a port that is not a number"),
        ("DATABASE_URL", "postgresql+psycopg://u@h:65536/db", "DATABASE_URL has a port that is not a number"),
        ("DATABASE_URL", "sqlite://", "DATABASE_URL is an in-memory SQLite database"),
        ("DATABASE_URL", "sqlite:///", "DATABASE_URL is an in-memory SQLite database"),
        ("DATABASE_URL", "sqlite:///:memory:", "DATABASE_URL is an in-memory SQLite database"),
        ("DATABASE_URL", "sqlite:///file::memory:?uri=true", "DATABASE_URL is an in-memory SQLite database"),
        (
            "DATABASE_URL",
            "sqlite:///file:x?mode=memory&uri=true",
            "DATABASE_URL is an in-memory SQLite database",
        ),
        ("INVOICE_HISTORY_START", "2020-13-01", "INVOICE_HISTORY_START must be a date"),
        ("REMINDER_COOLDOWN", "a day", "REMINDER_COOLDOWN must be a whole number of seconds, or end in s"),
        ("REMINDER_COOLDOWN", "2w", "REMINDER_COOLDOWN must be a whole number of seconds, or end in s"),
    ],
)
def test_invalid_value_is_named(name, value, message):
    problems = problems_for("", {name: value})

    assert len(problems) == 1
    assert problems[0].startswith(message)


@pytest.mark.parametrize(
    ("raw", "seconds"), [("0", 0), ("90", 90), ("90s", 90), ("30m", 1800), ("12H", 43200), ("1d", 86400)]
)
def test_reminder_cooldown_reads_as_a_duration(raw, seconds):
    assert (
        load_config(environ={"REMINDER_COOLDOWN": raw}, dotenv=None).reminder_cooldown.total_seconds()
        == seconds
    )


def test_every_invalid_value_is_reported_at_once():
    problems = problems_for(
        "http",
        {
            "VAT_RATE": "abc",
            "CURRENCY": "EURO",
            "MAX_PURCHASE_CREDITS": "0",
            "DATABASE_URL": "mysql://x",
        },
    )

    names = [problem.split()[0] for problem in problems]
    assert names == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "DATABASE_URL",
        "VAT_RATE",
        "CURRENCY",
        "MAX_PURCHASE_CREDITS",
    ]


def test_serve_without_settings_names_them_and_exits_2(monkeypatch, tmp_path, capsys):
    clear_slack_env(monkeypatch)
    monkeypatch.chdir(tmp_path)  # no .env here

    code = main(["serve", "--http"])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert ".env" in err
    assert "SLACK_BOT_TOKEN is not set" in err
    assert "SLACK_SIGNING_SECRET is not set" in err
    assert "SLACK_APP_TOKEN" not in err
    assert "Traceback" not in err


def test_dotenv_file_in_working_directory_is_read(monkeypatch, tmp_path, capsys):
    clear_slack_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-file\nSLACK_SIGNING_SECRET=s\n")

    config = load_config("http")

    assert config.slack_bot_token == "xoxb-from-file"


def test_the_pool_size_bounds_a_replicas_postgresql_connections(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no connections to budget")
    engine = db.make_engine(database_url, pool_size=2, pool_timeout=0.2)
    try:
        with ExitStack() as held:
            for _ in range(2 + 4):  # the pool, then twice as many again under load
                held.enter_context(engine.connect())
            with pytest.raises(sqlalchemy.exc.TimeoutError):
                engine.connect()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "postgresql+psycopg://admin:hunter2@127.0.0.1:notaport/db",
            "DATABASE_URL has a port that is not a number from 1 to 65535",
        ),
        (
            "sqlite:///:memory:",
            "DATABASE_URL is an in-memory SQLite database, lost when each command exits: "
            "give a file, e.g. sqlite:///admin-bot.db",
        ),
    ],
)
def test_a_database_url_no_command_can_use_stops_every_command(monkeypatch, tmp_path, capsys, url, problem):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)

    assert main(["demo"]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[1:] == [f"  - {problem}"]
