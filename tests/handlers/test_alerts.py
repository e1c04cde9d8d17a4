"""Alert messages in every state of an episode, and their thread replies: valid Block Kit, escaped."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from handlers import messages, parse
from handlers.alerts import (
    ACKNOWLEDGE_ACTION,
    SNOOZE_ACTION,
    SNOOZE_UNTIL_ACTION,
    SUGGESTED_BUY_ACTION,
    SUGGESTED_MOVE_ACTION,
    build_alert,
    build_reply,
    snooze_until,
)
from handlers.messages import Refused
from store.alerts import AlertState, Reply
from store.forecast import Forecast
from store.suggestions import Source, Suggestion
from tests.blockkit import assert_valid_blocks, visible_text

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
AT_NOW = "<!date^1795510800^{date_short_pretty} at {time}|2026-11-24 09:00 UTC>"
OPEN = AlertState(
    account_id=7,
    episode=2,
    reference="EX0000001",
    name="Acme <Marketing> & Co",
    balance=40,
    level=500,
    forecast="About 6 days left at the last 7 days' usage (≈ 410 credits a day).",
    suggestion=Suggestion(3330, Source(9, "EX0000009", "Spare & Co", 12_000)),
)


def valid(message: dict) -> dict:
    assert_valid_blocks(message["blocks"])
    assert message["text"]
    return message


def controls(message: dict) -> list[tuple[str, str]]:
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    return [
        (element["action_id"], element.get("text", element.get("placeholder", {})).get("text", ""))
        for block in actions
        for element in block["elements"]
    ]


def test_open_alert_shows_balance_forecast_and_the_suggested_fix_with_buttons():
    message = valid(build_alert(OPEN))
    text = visible_text(message)
    assert "*Acme &lt;Marketing&gt; &amp; Co* (`EX0000001`) has *40* credits" in text
    assert "About 6 days left at the last 7 days' usage (≈ 410 credits a day)." in text
    assert "move *3,330* credits in from *Spare &amp; Co* (`EX0000009`), which has 12,000 to spare" in text
    assert controls(message) == [
        (SUGGESTED_MOVE_ACTION, "Move 3,330 credits"),
        (SUGGESTED_BUY_ACTION, "Buy 3,330 credits"),
        (ACKNOWLEDGE_ACTION, "I'm on it"),
        (SNOOZE_ACTION, "Snooze"),
        (SNOOZE_UNTIL_ACTION, "Snooze until…"),
    ]
    values = [e.get("value") for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert values[:3] == ["7:3330:9", "7:3330", "7:2"]
    snooze = next(
        e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"] if "options" in e
    )
    assert [(o["text"]["text"], o["value"]) for o in snooze["options"]] == [
        ("1 hour", "7:2:1h"),
        ("1 day", "7:2:1d"),
        ("1 week", "7:2:1w"),
    ]


def test_without_a_source_only_buying_is_suggested():
    message = valid(build_alert(replace(OPEN, suggestion=Suggestion(460, None))))
    assert "buy *460* credits; no other account has credits to spare" in visible_text(message)
    assert [a for a, _ in controls(message)][:2] == [SUGGESTED_BUY_ACTION, ACKNOWLEDGE_ACTION]


def test_acknowledged_alert_names_who_and_when_and_drops_im_on_it():
    message = valid(build_alert(replace(OPEN, handler="U0ALICE01", handled_at=NOW)))
    text = visible_text(message)
    assert f"<@U0ALICE01> is handling this since {AT_NOW}." in text
    assert ACKNOWLEDGE_ACTION not in [a for a, _ in controls(message)]


def test_snoozed_and_topped_up_notes_show():
    outcome = "Auto top-up did not buy: its limit of 4 purchases a month is used up."
    message = valid(build_alert(replace(OPEN, snoozed_until=NOW + timedelta(days=1), top_up=outcome)))
    text = visible_text(message)
    assert outcome in text
    assert "Snoozed for you until <!date^1795597200^" in text


def test_reminder_after_a_snooze_links_the_first_alert():
    link = "https://example.slack.com/archives/D0ALICE01/p1795510800000100"
    message = valid(build_alert(replace(OPEN, first_alert_link=link)))
    assert f"Still low after your snooze. <{link}|See the first alert>." in visible_text(message)


def test_resolved_alert_has_no_buttons_and_keeps_what_happened():
    bought = "Auto top-up bought 5,000 credits, INV-2026-000123; 2 of 4 purchases this month."
    message = valid(
        build_alert(
            replace(OPEN, resolved=True, balance=5040, top_up=bought, handler="U0ALICE01", handled_at=NOW)
        )
    )
    assert (
        message["text"]
        == "Resolved: Acme &lt;Marketing&gt; &amp; Co has 5,040 credits, above its reminder level of 500"
    )
    assert not [b for b in message["blocks"] if b["type"] == "actions"]
    text = visible_text(message)
    assert bought in text and "<@U0ALICE01> is handling this" in text


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            build_reply(Reply(11, "purchase", "U0ALEX001", 5000, 5040, "INV-2026-000123", None, None)),
            "<@U0ALEX001> bought 5,000 credits (INV-2026-000123). Balance 5,040.",
        ),
        (
            build_reply(Reply(12, "transfer_in", "U0ALEX001", 1000, 1040, None, "Spare <&> Co", "EX0000009")),
            "<@U0ALEX001> moved 1,000 credits in from *Spare &lt;&amp;&gt; Co* (`EX0000009`). Balance 1,040.",
        ),
        (
            build_reply(
                Reply(13, "purchase", "auto-top-up:U0ALEX001", 5000, 5040, "INV-2026-000124", None, None)
            ),
            "Auto top-up (set up by <@U0ALEX001>) bought 5,000 credits (INV-2026-000124). Balance 5,040.",
        ),
        (
            build_reply(Reply(14, "purchase", "billing <script>", 10, 50, "INV-2026-000125", None, None)),
            "billing &lt;script&gt; bought 10 credits (INV-2026-000125). Balance 50.",
        ),
    ],
)
def test_thread_replies(message, expected):
    assert valid(message)["text"] == expected
    assert visible_text(message["blocks"]) == expected


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("7:3330:9", (7, 3330, 9)), ("7:3330", (7, 3330, None))],
)
def test_suggested_button_values_parse(value, parsed):
    assert parse.suggested_fix(value) == parsed


@pytest.mark.parametrize("value", ["", "7", "7:0", "x:1", "7:1:2:3", "7:-1", "7:99999999999"])
def test_crafted_suggested_values_are_refused_as_out_of_date(value):
    with pytest.raises(Refused, match="That button is out of date"):
        parse.suggested_fix(value)


@pytest.mark.parametrize(
    ("choice", "until"),
    [
        ("1h", NOW + timedelta(hours=1)),
        ("1d", NOW + timedelta(days=1)),
        ("1w", NOW + timedelta(weeks=1)),
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2027-02-22", datetime(2027, 2, 22, tzinfo=UTC)),  # 90 days after today
    ],
)
def test_snooze_choices(choice, until):
    assert snooze_until(choice, NOW) == until


@pytest.mark.parametrize(
    ("choice", "why"),
    [
        ("2026-11-24", "Pick a day after today to snooze until."),  # already begun
        ("2027-02-23", "Pick a day within the next 90 days to snooze until."),
        ("9999-12-31", "Pick a day within the next 90 days to snooze until."),
        # Neither a menu choice nor a day as the date picker sends it: crafted, or from a future form.
        *((crafted, messages.SNOOZE_UNKNOWN) for crafted in ("tomorrow", "2y", "", "1D", "-1h")),
        *((crafted, messages.SNOOZE_UNKNOWN) for crafted in ("20261201", "2026-W49-1", "2026-02-30")),
        ("２０２６-１２-０１", messages.SNOOZE_UNKNOWN),  # digits, but not as the picker sends them
    ],
)
def test_snooze_choices_that_are_not_taken_say_why(choice, why):
    with pytest.raises(Refused) as refused:
        snooze_until(choice, NOW)
    assert str(refused.value) == why


def test_names_with_formatting_characters_stay_one_bold_name():
    tricky = replace(
        OPEN,
        name="Acme *Best*_Co",
        suggestion=Suggestion(3330, Source(9, "EX0000009", "Spare ~Co~ `x`", 12_000)),
    )
    text = visible_text(valid(build_alert(tricky)))
    assert "from *Spare ∼Co∼ ˋxˋ* (`EX0000009`)" in text
    resolved = valid(build_alert(replace(tricky, resolved=True, balance=5040)))
    assert (
        "*Resolved: Acme ∗Best∗ˍCo has 5,040 credits, above its reminder level of 500* (`EX0000001`)"
        in visible_text(resolved)
    )
    reply = build_reply(Reply(12, "transfer_in", "U0ALEX001", 1000, 1040, None, "Spare *Co*", "EX0000009"))
    assert (
        reply["text"] == "<@U0ALEX001> moved 1,000 credits in from *Spare ∗Co∗* (`EX0000009`). Balance 1,040."
    )


def test_a_channel_copy_says_its_snooze_is_the_channels():
    link = "https://example.slack.com/archives/C0OPS0001/p1795510800000100"
    snoozed = valid(build_alert(replace(OPEN, in_channel=True, snoozed_until=NOW + timedelta(days=1))))
    assert "Snoozed in this channel until <!date^1795597200^" in visible_text(snoozed)
    reminder = valid(build_alert(replace(OPEN, in_channel=True, first_alert_link=link)))
    assert f"Still low after the snooze. <{link}|See the first alert>." in visible_text(reminder)


def test_an_alert_for_the_forecast_warning_says_why_and_escapes_the_name():
    week = Forecast(1230, 2870, timedelta(days=7))  # 3 days left at 410 a day
    state = replace(OPEN, balance=1230, forecast=week.text(), outlook=week, warning_days=5)
    message = valid(build_alert(state))
    text = visible_text(message)
    assert (
        ":warning: *Credits running out:* *Acme &lt;Marketing&gt; &amp; Co* (`EX0000001`) has about 3 days "
        "of credits left at the last 7 days' usage (≈ 410 credits a day): below its 5-day warning. "
        "Balance *1,230* credits; reminder level 500."
    ) in text
    assert "<Marketing>" not in text
    assert (
        message["text"]
        == "Low credit: Acme &lt;Marketing&gt; &amp; Co (EX0000001) has about 3 days of credits left"
    )
    assert text.count("About 3 days left") == 0  # said once, in the alert itself
    assert "It brings the runway back to 5 days and covers a week of usage." in text

    # A balance below the level is the reason whatever the warning says; so is no warning at all.
    for other in (replace(state, balance=40), replace(state, warning_days=None)):
        assert "below its reminder level of 500" in visible_text(valid(build_alert(other)))

    back = Forecast(4100, 2870, timedelta(days=7))
    resolved = replace(state, resolved=True, balance=4100, forecast=back.text(), outlook=back)
    text = visible_text(valid(build_alert(resolved)))
    assert (
        "Resolved: Acme &lt;Marketing&gt; &amp; Co has 4,100 credits, above its reminder level of 500" in text
    )
    assert "About 10 days left at the last 7 days' usage" in text  # the runway it is back to


def test_an_alerts_first_section_reads_exactly_so_for_both_reasons():
    # Pins the wording, escaping and number format of the alert's own text, built once per DM.
    state = replace(OPEN, name="A*b_c~d`e <x> & y", reference="EX<1>&", balance=1_234_567, level=2_000_000)
    assert build_alert(state)["blocks"][0]["text"]["text"] == (
        ":warning: *Low credit:* *A∗bˍc∼dˋe &lt;x&gt; &amp; y* (`EX&lt;1&gt;&amp;`) has *1,234,567* credits, "
        "below its reminder level of 2,000,000.\nBuy credits or move some in so its messages keep sending."
    )
    day = Forecast(1_100_000, 1_200_000, timedelta(days=1))  # less than a day left at 1.2M a day
    warned = replace(state, balance=2_100_000, forecast=day.text(), outlook=day, warning_days=1)
    assert build_alert(warned)["blocks"][0]["text"]["text"] == (
        ":warning: *Credits running out:* *A∗bˍc∼dˋe &lt;x&gt; &amp; y* (`EX&lt;1&gt;&amp;`) has less than "
        "a day of credits left at the last day's usage (≈ 1,200,000 credits a day): below its 1-day "
        "warning. Balance *2,100,000* credits; reminder level 2,000,000.\n"
        "Buy credits or move some in so its messages keep sending."
    )
