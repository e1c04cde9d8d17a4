"""A throwaway PostgreSQL server of a test's own, which the test may stop and start again.

The shared server on 5432 is never touched: this one lives in a temporary directory, listens on
a free port on 127.0.0.1 and keeps its unix socket beside its data. Durability is switched off
(fsync, synchronous_commit, full_page_writes): the data is thrown away afterwards anyway.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# initdb refuses to run as root; as root, the server runs as this account instead.
SERVER_USER = "postgres"
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "30",
    "shared_buffers": "16MB",
}


def available() -> str | None:
    """None if a server can be started here, else why not."""
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run the server"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OwnPostgres:
    """One initialised PostgreSQL cluster in `directory`; start(), stop() and url."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.sockets = directory / "sockets"
        self.port = free_port()
        self.running = False

    @property
    def url(self) -> str:
        """A SQLAlchemy URL for the `postgres` database, over TCP."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        if os.geteuid() == 0:
            command = ("runuser", "-u", SERVER_USER, "--", *command)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def initialise(self) -> None:
        self.sockets.mkdir()
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVER_USER)
            for path in (self.directory, self.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            "postgres",
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = [
            f"-c port={self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.sockets}",
            *(f"-c {name}={value}" for name, value in FAST_SETTINGS.items()),
        ]
        log = self.directory / "server.log"
        self._run(
            "pg_ctl", "--pgdata", str(self.data), "--log", str(log), "-o", " ".join(options), "-w", "start"
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: "fast" ends every session; "immediate" is a crash, without a checkpoint."""
        self._run("pg_ctl", "--pgdata", str(self.data), "-m", mode, "-w", "stop")
        self.running = False


# In CI a missing server is a failure, not a skip: the outage tests are what prove recovery.
needs_own_postgres = pytest.mark.skipif(
    available() is not None and not os.environ.get("CI"), reason=f"no own PostgreSQL: {available()}"
)


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    """A running server of our own, stopped and deleted afterwards, whatever happened."""
    directory = Path(tempfile.mkdtemp(prefix="admin-bot-pg-"))
    server = OwnPostgres(directory)
    try:
        server.initialise()
        server.start()
        yield server
    finally:
        if server.running:
            server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
