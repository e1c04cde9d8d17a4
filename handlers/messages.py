"""Every notice, acknowledgement and error the bot shows users, worded once.

Store refusals (StoreError) carry their own text; everything the Slack side says is here, so a
modal error, an ephemeral reply and the README can agree.
"""

from __future__ import annotations


class Refused(Exception):
    """A request the bot declines, in words the user sees; nothing was changed.

    `block` names the form field the message belongs under, when there is one.
    """

    def __init__(self, message: str, *, block: str | None = None):
        super().__init__(message)
        self.block = block


class Malformed(Exception):
    """A payload Slack would never send (no user, wrong shape): answered 400, logged in one line."""


# Access
NO_ACCESS = (
    "You don't have access to admin-bot yet. Ask an admin to run "
    "`admin-bot roles grant {user_id} viewer` (or billing / admin)."
)
WRONG_ROLE = (
    "You need the {needed} role to {doing}; your role is {role}. "
    "An admin can run `admin-bot roles grant {user_id} {needed}`."
)

# Failures that are not the user's doing: nothing was changed, and the log line is named.
SOMETHING_WENT_WRONG = "Something went wrong, nothing was changed. Please try again (reference {reference})."
UNAVAILABLE = "admin-bot is temporarily unavailable, nothing was changed. Please try again in a moment."
# A request that waited REQUEST_LOCK_TIMEOUT_SECONDS for a lock: imports are what hold one that long.
IMPORT_RUNNING = (
    "An accounts import (or another long change) is holding the accounts, so nothing was changed. "
    "Please try again when it finishes."
)
NOT_OPENED = "Slack could not open the window ({reason}); nothing was changed. Please click the button again."
FAILED_TITLE = "Nothing was changed"

# Stale or crafted payloads
STALE_BUTTON = "That button is out of date; run `/accounts` again."
STALE_FORM = "This form is out of date, please open it again."
UNKNOWN_COMMAND = (
    "admin-bot has no {command} command; use `/accounts` or `/invoices` (`/accounts help` explains both)."
)
STALE_PAGE = "That page link is not valid any more; run `/accounts` again."
ACCOUNT_GONE = "{problem} Run `/accounts` to see current accounts."

# Account boxes and `/accounts`
NO_CREDITS_TO_MOVE_NOTE = "No credits to move"
DEACTIVATE_CONFIRM = (
    "It keeps its {credits:,} credits, its history and its invoices, but is left out of lists, "
    "pickers and reminders until an admin activates it again."
)
ACTIVATE_CONFIRM = (
    "{name} and its {credits:,} credits are listed again, can be chosen, and its reminder works again."
)
SEEING_INACTIVE = "see inactive accounts"
PAGE_NOT_SHOWN = "Sorry, Slack would not show that page of accounts ({reason}). Run `/accounts` again."
NO_CREDITS_TO_MOVE = "No credits to move: {account} has 0 credits."

# Account history
HISTORY_STOPS_IN_SLACK = (
    "The history in Slack stops here, at the latest {count:,} entries. For older ones run `{command}`."
)

# Move credits
CHOOSE_DESTINATION = "Choose the account to move credits to."
CHOOSE_SOURCE = "Choose the account to move credits from."
CHOSEN_ACCOUNT_GONE = "That account does not exist; choose another."
CHOOSE_ACTIVE = "{problem} Choose an active account."
MOVE_FROM_GONE = "Credits cannot be moved from it."
MOVE_TO_GONE = "Credits cannot be moved to it."
BALANCE_CHANGED = (
    "The balance changed since this form was opened: it is now {balance:,} credits, "
    "so {credits:,} cannot be moved."
)
TOO_MANY = "Only {balance:,} credits are available, so {credits:,} cannot be moved."

# Low credit reminders
CHECKING_RECIPIENTS = "Checking the recipients with Slack… this window shows the result in a moment."
RESULT_NOT_SHOWN = (
    "Slack could not update the low credit reminder window ({reason}), so here is the result:\n{result}"
)
NOT_SLACK_USERS = "Choose people from the list; these are not Slack users: {values}."
NO_RECIPIENTS = "Add at least one email address, person or channel to remind."
NOT_CHANNELS = "Choose channels from the list; these are not Slack channels: {values}."
CHANNELS_HINT = "The alert is posted once in each channel. Invite @admin-bot first: /invite @admin-bot"
INVITE_AT_SAVE = (
    "Invite @admin-bot to <#{channel}> first: `/invite @admin-bot`. Until then alerts cannot be posted there."
)
ARCHIVED_AT_SAVE = "<#{channel}> is archived, so alerts cannot be posted there."
TOP_UP_EXPLAINED = (
    "*Auto top-up* buys credits for the account when its balance falls below the level: an ordinary "
    "purchase with its invoice, made for you, at most once each time it falls and within a monthly limit."
)
WARNING_HINT = (
    "Optional: 1 to 90 days. Alerts even while the balance is above the level, once the last 7 days' "
    "usage would use up the credits sooner. Leave empty for no forecast warning."
)
TOP_UP_CREDITS_HINT = "A whole number of credits, bought each time the balance falls below the level."
TOP_UP_LIMIT_HINT = "The most it may buy in a calendar month, in credits or in purchases."
CHANNEL_NOT_CHECKED = (
    "Slack could not check <#{channel}> ({reason}); alerts are posted there if @admin-bot is in it."
)
READ_ONLY_REMINDER = "Only billing or admin users can change reminders."
NO_SUCH_EMAIL = "No one in this Slack workspace has the email {email}."
EMAIL_NOT_CHECKED = "Slack could not check {email}; try saving again."
DEACTIVATED_EMAIL = "{email} belongs to a deactivated Slack user."

# Invoices
NOTHING_SELECTED = "Select at least one invoice to download."
NOT_AVAILABLE = (
    "Some of the selected invoices are not available to you. Run `/invoices` again and choose from the list."
)
NOTHING_TO_DOWNLOAD = "There was nothing to download. Run `/invoices` again to choose invoices."
FORM_NOT_REDRAWN = "Sorry, Slack would not redraw the open window ({reason}). Close it and open it again."
HOME_NOT_REDRAWN = "Sorry, Slack would not redraw your Home tab ({reason}). Open it again in a moment."
LISTING_NOT_REFRESHED = (
    "Sorry, I couldn't refresh the invoice list ({reason}). Close it and run `/invoices` again."
)
COPIES_NOT_SENT = (
    ":warning: I couldn't send these invoice copies:\n{lines}\n{sent}\nRun `/invoices` to try them again."
)
COPY_OUTCOME_UNKNOWN = (
    "the connection to Slack dropped, so it may have arrived; check this DM before sending it again"
)
NO_DM_FOR_COPIES = "Sorry, I couldn't open a DM to send your invoice copies ({reason}). Please try again."

# Low-credit alerts
ALERT_UNTRACKED = "This alert is no longer tracked; the account's latest alert has the current buttons."
ALERT_RESOLVED = "This alert is already resolved."
ALERT_HANDLED_BY = "<@{user}> is already handling this."
ALERT_ALREADY_YOURS = "You are already handling this alert."
ALERT_NOT_REDRAWN = (
    "Saved, but the alert could not be updated just now ({reason}); the next reminder pass will update it."
)
# Another click's redraw holds the copy, drawn before this change: the next pass redraws it.
ALERT_REDRAW_PENDING = (
    "{saved} Another update of this alert was under way; the next reminder pass shows this on it."
)
YOU_HANDLE_IT = "You are handling this alert."
# Told to whoever added a channel to a reminder, once per episode, when its alert cannot be posted.
INVITE_BEFORE_ALERT = (
    "Invite @admin-bot to <#{channel}> first: `/invite @admin-bot`. "
    "The low credit alert for {account} is posted there as soon as it is in."
)
ARCHIVED_BEFORE_ALERT = (
    "<#{channel}> is archived, so the low credit alert for {account} cannot be posted there. "
    "Unarchive it or choose another channel in the reminder."
)
SAME_PERSON_ONCE = "{email} is <@{user}>, already on the list: one recipient, one DM."
INVITE_AFTER_ALERT = (
    "Invite @admin-bot to <#{channel}> first: `/invite @admin-bot`. "
    "The low credit alert for {account} there is brought up to date as soon as it is in."
)
ARCHIVED_AFTER_ALERT = (
    "<#{channel}> is archived, so the low credit alert for {account} there cannot be kept up to "
    "date. Unarchive it or choose another channel in the reminder."
)
SNOOZE_NOT_AFTER_TODAY = "Pick a day after today to snooze until."
SNOOZE_TOO_FAR = "Pick a day within the next {days} days to snooze until."
SNOOZE_UNKNOWN = "That is not a snooze this alert offers: choose 1 hour, 1 day, 1 week or a day."
SUGGESTED_SOURCE_INACTIVE = (
    "The alert suggested {name} (`{reference}`), which is inactive now: choose another account to "
    "move credits from."
)
