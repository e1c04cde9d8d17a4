"""Slack listeners, one module per feature; each exposes register(app)."""

from __future__ import annotations

from slack_bolt import App

from handlers import accounts, alert_actions, buy, history, home, invoices, move, reminders, rename, status

# Bolt asks each listener in this order until one matches, on every request: the searches, which
# are typed a keystroke at a time (`/accounts`, the Move picker's suggestions), come first.
FEATURES = (accounts, move, rename, buy, home, history, status, reminders, alert_actions, invoices)


def register_all(app: App) -> None:
    for feature in FEATURES:
        feature.register(app)
