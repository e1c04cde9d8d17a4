"""Accounts, the credit ledger, invoices, reminders, roles and the audit log; knows nothing of Slack."""
