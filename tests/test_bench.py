"""The bench runs end to end at a tiny size, so it cannot rot between full runs."""

from __future__ import annotations

import pytest

from bench import run


def test_bench_prints_every_table_with_targets_marked(capsys: pytest.CaptureFixture[str]) -> None:
    status = run.main(["--sizes", "300", "--requests", "2", "--rss-requests", "1", "--move-seconds", "0.2"])
    out = capsys.readouterr().out
    assert status == 0
    for kind in ("exact reference", "a word 50% share", "a word 1% share", "two words", "no match"):
        assert f"| sqlite | 300 | {kind} |" in out
    assert "| sqlite | 300 | new accounts |" in out
    assert "| sqlite | 300 | `--update` of existing |" in out
    assert "| sqlite | 300 | " in out.split("Home tab publish p50 ms")[1]
    assert "moves/s" in out and "peak RSS" in out
    assert "| sqlite | 300 | 6 | " in out  # live alerts: 2% low, then 1% resolving
    assert "failed" not in out.replace("| failed |", "")
