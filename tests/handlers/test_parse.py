"""The boundary parsers: each Slack value becomes a domain value or the exact refusal the user sees."""

from __future__ import annotations

import pytest

from handlers import messages, parse
from handlers.messages import Malformed, Refused


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("42", 42),
        (" 7 ", 7),
        (42, 42),
        (str(2**31 - 1), 2**31 - 1),
        (str(2**31), None),
        ("99999999999999999999", None),  # 10^20: crafted, names nothing
        ("1" + "0" * 30, None),
        ("0", None),
        ("-1", None),
        ("--5", None),
        ("²", None),
        ("１２", None),
        ("1,5", None),
        ("", None),
        (None, None),
        (True, None),
        (3.0, None),
        ("12\x00", None),
    ],
)
def test_database_id_accepts_only_positive_ascii_ids_in_range(raw, expected):
    assert parse.database_id(raw) == expected


def test_a_crafted_button_value_is_refused_as_out_of_date():
    with pytest.raises(Refused, match="That button is out of date; run `/accounts` again."):
        parse.account_id("99999999999999999999")


@pytest.mark.parametrize("raw", ["abc", "", None, "[]", "null", "1", '{"source": "x"', "[" * 100_000])
def test_private_metadata_that_is_not_an_object_is_an_out_of_date_form(raw):
    with pytest.raises(Refused) as refused:
        parse.metadata(raw)
    assert str(refused.value) == messages.STALE_FORM == "This form is out of date, please open it again."


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({}, "source"),
        ({"source": "x"}, "source"),
        ({"source": 10**20}, "source"),
        ({"source": True}, "source"),
    ],
)
def test_metadata_ids_are_bounded(fields, key):
    with pytest.raises(Refused, match="This form is out of date"):
        parse.metadata_id(fields, key)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"q": "acme", "offset": 8}', ("acme", 8)),
        ('{"q": "", "offset": 0}', ("", 0)),
        # the bot wrote the query itself: Slack's slash-command escaping never applied to it
        ('{"q": "&amp; &lt;b&gt;", "offset": 8}', ("&amp; &lt;b&gt;", 8)),
        ('{"q": "a", "offset": 1000000000000000000000000000000}', None),  # 10^30
        ('{"q": "a", "offset": -8}', None),
        ('{"q": "a", "offset": "8"}', None),
        ('{"q": 5, "offset": 8}', None),
        ('{"offset": 8}', None),
        ("not json", None),
        (None, None),
    ],
)
def test_page_links_are_parsed_or_refused_as_stale(raw, expected):
    if expected is None:
        with pytest.raises(Refused, match="That page link is not valid any more"):
            parse.page(raw)
    else:
        assert parse.page(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Smith &amp; Sons", "Smith & Sons"),
        ("&lt;b&gt;", "<b>"),
        ("&amp;lt;", "&lt;"),  # unescaped once, as Slack escaped once
        ("  acme  ", "acme"),
        ("ac\x00me", "acme"),
        ("ac\u200bme", "acme"),  # invisible formatting: a name can never hold it
        ("\u202eacme", "acme"),  # a right-to-left override is never echoed back
        ("acme\u2028retail", "acme retail"),  # line breaks and controls read as spaces
        (None, ""),
        ("x" * 500, "x" * 100),
    ],
)
def test_command_text_is_unescaped_nul_free_and_bounded(raw, expected):
    assert parse.command_text(raw) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"user": {"id": "U012AB3CD"}}, "U012AB3CD"),
        ({"user_id": "W012AB3CD"}, "W012AB3CD"),
        ({"event": {"user": "U012AB3CD"}}, "U012AB3CD"),
        ({}, None),
        ({"user": {"id": "UALICE0001> <!channel"}}, None),
        ({"user_id": "u012ab3cd"}, None),
        ({"user": None}, None),
    ],
)
def test_the_user_behind_a_request_is_a_real_slack_id_or_malformed(body, expected):
    if expected is None:
        with pytest.raises(Malformed):
            parse.user_of(body)
    else:
        assert parse.user_of(body) == expected
