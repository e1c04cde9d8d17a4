"""Slack listeners, one module per feature; each exposes register(app)."""

from __future__ import annotations

from slack_bolt import App

from handlers import accounts, alert_actions, buy, history, home, invoices, move, reminders, rename, status

FEATURES = (accounts, rename, buy, home, history, status, move, reminders, alert_actions, invoices)


def register_all(app: App) -> None:
    for feature in FEATURES:
        feature.register(app)
