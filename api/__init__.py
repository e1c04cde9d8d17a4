"""The usage intake API: the messaging platform records usage and checks balances over HTTP."""
