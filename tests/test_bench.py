"""The bench runs end to end at a tiny size, so it cannot rot between full runs."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from bench import imports, run
from tests.databases import migrated


def test_bench_prints_every_table_with_targets_marked(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    status = run.main(["--sizes", "300", "--requests", "2", "--rss-requests", "1", "--move-seconds", "0.2"])
    out = capsys.readouterr().out
    assert status == 0
    # What the bot logs is part of what it costs: the bench logs as `serve` does by default.
    assert logging.getLogger().getEffectiveLevel() == logging.INFO
    rows = out.splitlines()
    # How fast the shared machine was, for the figures that are seconds rather than ratios.
    assert re.search(r"sqlite 300 searches \d+\.\d\d s; sqlite 300 reminder pass \d+\.\d\d s", out)
    for kind in ("exact reference", "a word 50% share", "a word 1% share", "two words", "no match"):
        for surface in run.SURFACES:
            assert any(
                row.startswith(f"| sqlite | 300 | {kind} |") and f"| {surface} |" in row for row in rows
            )
    assert "| sqlite | 300 | new accounts |" in out
    assert "| sqlite | 300 | `--update` of existing |" in out
    assert "| sqlite | 300 | " in out.split("Home tab publish p50 ms")[1]
    assert "moves/s" in out and "peak RSS" in out
    assert "| sqlite | 300 | 6 | " in out  # live alerts: 2% low, then 1% resolving
    # The reminder pass, DM calls subtracted and answered in process: 1% low, each DM sent.
    assert "without DM calls s (answered in process)" in out
    [reminders] = [row for row in rows if row.startswith("| sqlite | 300 | 3 | ")]
    assert "| 3 | 0 |" in reminders
    assert "failed" not in out.replace("| failed |", "")


def test_an_imports_peak_rss_is_its_own_not_the_bench_processes(tmp_path: Path) -> None:
    # A child has its parent's memory until it execs; the kernel's ru_maxrss counted that too.
    ballast = b"x" * (300 * 1024 * 1024)
    url = migrated(f"sqlite:///{tmp_path / 'bench.db'}")
    path = tmp_path / "accounts.csv"
    imports.write_csv(path, 50)
    _, peak_mb, error = imports.run_import(url, path)
    assert error == ""
    assert 0 < peak_mb < 250
    assert len(ballast) == 300 * 1024 * 1024


@pytest.mark.parametrize(
    "argv",
    [
        ["--backends", "postgresql"],  # PostgreSQL asked for, with no server to run it on
        ["--backends", "postgres"],  # no such backend
        ["--backends", "sqlite,postgresql"],
    ],
)
def test_a_bench_that_would_run_nothing_says_so_and_fails(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        run.main(argv)
    assert exited.value.code == 2
    assert "--backends" in capsys.readouterr().err
