"""Background jobs that `admin-bot serve` schedules: work no Slack request starts."""
