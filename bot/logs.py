"""Logging for `admin-bot serve`: a level, text or JSON lines, quiet libraries, no secrets."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

# Libraries that narrate routine work at INFO (fontTools: ~75 lines per invoice PDF; APScheduler:
# every run of every job) or warn about what we chose on purpose; at DEBUG they speak again.
CHATTY = ("fontTools", "apscheduler", "waitress", "slack_sdk", "slack_bolt", "urllib3", "alembic")
# Any Slack token, even one that is not ours (e.g. echoed back in an error).
TOKEN = re.compile(r"\bx(?:ox[a-z]|app)-[A-Za-z0-9-]+")
REDACTED = "[redacted]"


class _Redacting(logging.Formatter):
    """Formats with `inner`, then blanks out the secrets and anything shaped like a Slack token."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return TOKEN.sub(REDACTED, text)


class _Expected(logging.Filter):
    """Drops warnings about choices made on purpose."""

    def __init__(self) -> None:
        super().__init__()
        from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

        # Bolt reads SLACK_BOT_TOKEN from the environment although we hand it a client built
        # from the same token (with retry handlers), then warns that the token goes unused.
        self.messages = {warning_client_prioritized_and_token_skipped()}

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self.messages


class _Json(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, format: str, secrets: Iterable[str], stream: TextIO | None = None) -> None:
    """Send every log record to `stream` (stderr) at `level`, as text or JSON, with `secrets` blanked out."""
    inner = (
        _Json() if format == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Redacting(inner, secrets))
    handler.addFilter(_Expected())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.NOTSET if numeric <= logging.DEBUG else logging.WARNING)
    logging.captureWarnings(True)
