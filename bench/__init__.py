"""Benchmarks for admin-bot: `python -m bench.run` (not part of the test suite)."""
