"""The Home tab stays inside Block Kit's limits however many accounts there are."""

from __future__ import annotations

import os

import pytest

from bench.run import LOW_SHARE, load
from tests.blockkit import assert_valid_view, visible_text
from tests.slack_requests import DEFAULT_USER_ID

# A million accounts take minutes to load on SQLite: run with RUN_SLOW_TESTS=1.
SIZES = [10_000, pytest.param(1_000_000, marks=pytest.mark.slow)]


@pytest.mark.parametrize("size", SIZES)
def test_home_at_size_is_a_valid_view_inside_100_blocks(size, slack, fake_slack, engine):
    if size > 10_000 and not os.environ.get("RUN_SLOW_TESTS"):
        pytest.skip("set RUN_SLOW_TESTS=1 to build a million accounts")
    load(engine, size)  # bulk insert, as bench.run does; DEFAULT_USER_ID is an admin
    slack.event({"type": "app_home_opened", "user": DEFAULT_USER_ID, "channel": "D0HOME", "tab": "home"})
    [call] = fake_slack.wait_for("views.publish", timeout=120)
    view = call.params["view"]
    assert_valid_view(view)
    assert len(view["blocks"]) <= 100
    text = visible_text(view)
    assert f"Active accounts: {size:,} · " in text
    assert f"Below reminder level: {int(size * LOW_SHARE):,} · " in text
    assert "Reminders with no recipients: 0" in text
    # Those below their level, then the first 100 whose reminder is off: counting stops there.
    assert f"*Needs attention: more than {int(size * LOW_SHARE) + 100:,} account(s)* · showing 1–8" in text
