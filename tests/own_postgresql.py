"""A PostgreSQL server of a test's own, in a temporary directory, that the test may stop and start.

The shared server must never be stopped; outages are played on this one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _as_postgres(*command: str) -> list[str]:
    # PostgreSQL refuses to run as root; run it as the postgres user when we are root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


class OwnPostgreSQL:
    """pg_ctl over one data directory, listening on a free local port."""

    def __init__(self, directory: Path) -> None:
        self.data = directory / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust")

    def _run(self, *command: str) -> None:
        subprocess.run(_as_postgres(*command), check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c max_connections=20"
        # -l: the server must not inherit our output pipe, or waiting for pg_ctl never ends.
        log = str(self.data.parent / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextmanager
def own_postgresql() -> Iterator[OwnPostgreSQL]:
    """A running server of our own, removed afterwards; skips the test if PostgreSQL is not installed."""
    if not shutil.which("initdb") or not shutil.which("pg_ctl"):
        pytest.skip("initdb and pg_ctl are needed to play a database outage")
    directory = Path(tempfile.mkdtemp(prefix="admin-bot-pg-"))
    os.chmod(directory, 0o777)  # the postgres user writes here
    server = OwnPostgreSQL(directory)
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(directory, ignore_errors=True)
