"""admin-bot: an SMS provider's Customer Administration area, in Slack."""
