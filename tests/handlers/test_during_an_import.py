"""Requests made while `accounts import` runs: each gets a prompt, specific answer, and nothing is lost."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from handlers import messages
from handlers.rename import NAME_BLOCK
from store import importing
from store.models import Role
from tests.blockkit import visible_text
from tests.conftest import grant_role, make_account
from tests.handlers.test_rename import click_rename, name_of, submit_name
from tests.slack_requests import SlackRequests

USER = "U012AB3CD"
FILE = ["reference,name,keyword,credits\n", *(f"BN{n:08d},Acme Alerts {n},KW{n},{n}\n" for n in range(1, 6))]


@contextmanager
def import_held_open(engine, session_factory) -> Iterator[None]:
    """An import of FILE in a thread, held just before its commit until the block ends: by then
    it holds every lock it takes."""
    reached, release = threading.Event(), threading.Event()

    def run() -> None:
        with session_factory.begin() as session:
            importing.load(session, FILE, "cli")

    importer = threading.Thread(target=run)

    def hold(conn) -> None:
        if threading.current_thread() is importer:
            reached.set()
            release.wait(timeout=30)

    event.listen(engine, "commit", hold)
    importer.start()
    try:
        assert reached.wait(timeout=30), "the import never got to its end"
        yield
    finally:
        release.set()
        importer.join(timeout=30)
        event.remove(engine, "commit", hold)


def test_a_search_during_a_first_import_answers_at_once(
    slack: SlackRequests, database_url, engine, session_factory
):
    # Into an empty PostgreSQL store the import holds the accounts table to itself until it
    # commits; the search gives up after REQUEST_LOCK_TIMEOUT_SECONDS instead of Slack's 3 s.
    # On SQLite readers never wait: the search sees the store as it was.
    grant_role(session_factory, USER, Role.VIEWER)
    with import_held_open(engine, session_factory):
        reply = slack.command("/accounts", "acme", user_id=USER).json()
    if database_url.startswith("sqlite"):
        assert "No accounts match *acme*" in visible_text(reply)
    else:
        assert reply == {"response_type": "ephemeral", "text": messages.IMPORT_RUNNING}
    assert "Acme Alerts 3" in visible_text(slack.command("/accounts", "alerts 3", user_id=USER).json())


def test_a_search_and_a_rename_during_an_import_into_a_store_with_accounts(
    slack: SlackRequests, fake_slack, database_url, engine, session_factory
):
    grant_role(session_factory, USER, Role.ADMIN)
    account = make_account(session_factory, "EX0000001", "Already Here")
    view = click_rename(slack, fake_slack, account.id, user_id=USER)
    with import_held_open(engine, session_factory):
        # Text inside a word: PostgreSQL asks the trigram indexes the import is adding to.
        found = visible_text(slack.command("/accounts", "lready", user_id=USER).json())
        renamed = submit_name(slack, view, "Still Here", user_id=USER)
    assert "Already Here" in found
    if database_url.startswith("sqlite"):  # one writer at a time: the rename is refused, not lost
        assert renamed == {"response_action": "errors", "errors": {NAME_BLOCK: messages.IMPORT_RUNNING}}
        assert name_of(session_factory) == "Already Here"
    else:  # the import's locks are its own rows': the rename goes through at once
        assert "Renamed *Already Here* to *Still Here*" in visible_text(renamed["view"])
        assert name_of(session_factory) == "Still Here"
    assert name_of(session_factory, "BN00000004") == "Acme Alerts 4"
