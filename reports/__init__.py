"""Documents the bot draws from the store: statement text, CSV and charts; no Slack, no database."""
