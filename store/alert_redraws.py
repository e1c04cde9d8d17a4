"""An open alert drawn again when what it shows changes other than by credits coming in.

Credits in are news that store.alerts.follow_episodes takes in on the next pass, with a reply in
each copy's thread. A rename, or a new level or forecast warning, changes the alert's text and
its suggested fix with nothing to reply: the alert's revision goes up and its copies are marked
stale, so the next pass edits them. Here, not in store.alerts, because the account and reminder
stores that make those changes sit below it.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from store.models import Alert, AlertMessage


def open_alert_changed(session: Session, account_id: int) -> None:
    """The account's open alert, if it has one, is drawn again in every copy by the next pass."""
    episodes = session.scalars(
        update(Alert)
        .where(Alert.account_id == account_id, Alert.resolved.is_(False))
        .values(revision=Alert.revision + 1)
        .returning(Alert.episode)
        .execution_options(synchronize_session=False)
    ).all()
    if episodes:
        session.execute(
            update(AlertMessage)
            .where(AlertMessage.account_id == account_id, AlertMessage.episode.in_(episodes))
            .values(stale=True)
            .execution_options(synchronize_session=False)
        )
