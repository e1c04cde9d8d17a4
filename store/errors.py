"""Domain errors whose messages are shown to users as-is: in modals, in Slack replies and on the CLI."""

from __future__ import annotations


class StoreError(Exception):
    """A request the store refused; nothing was changed."""


class UnknownAccount(StoreError):
    def __init__(self, reference: str | int):
        # An int is an account's id, which only a button or a form carries (an old or crafted one).
        self.reference = reference
        what = f"the id {reference}" if isinstance(reference, int) else f"the reference {reference}"
        super().__init__(f"No account has {what}.")


class InactiveAccount(StoreError):
    def __init__(self, reference: str):
        self.reference = reference
        super().__init__(f"Account {reference} is inactive.")


class InvalidName(StoreError):
    """An account name the help article's rules reject."""


class InvalidCredits(StoreError):
    """A credit amount that is not a whole number in range."""


class InsufficientCredits(StoreError):
    def __init__(self, reference: str, balance: int, wanted: int):
        self.balance = balance
        super().__init__(
            f"Account {reference} has only {balance:,} credits, so {wanted:,} cannot be taken from it."
        )


class BalanceLimit(StoreError):
    def __init__(self, reference: str, balance: int, limit: int):
        super().__init__(
            f"Account {reference} has {balance:,} credits and can hold at most {limit:,}; "
            "nothing was changed."
        )


class SameAccount(StoreError):
    def __init__(self) -> None:
        super().__init__("Choose a different account: credits cannot move to the same account.")


class DuplicateOperation(StoreError):
    """An idempotency key was reused for a different operation."""

    def __init__(self, key: str):
        super().__init__(f"Request {key} was already used for a different change.")
