"""The `admin-bot` command line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.config import Config, ConfigError, load_config
from store import accounts, db, history, importing, ledger, roles, usage
from store.errors import StoreError
from store.models import Role

CLI_ACTOR = "cli"
LIST_LIMIT = 100_000  # `accounts list --limit`: far above any page an operator reads
log = logging.getLogger("admin_bot")


class CliError(Exception):
    """A one-line message for stderr; the command exits non-zero."""


class StartupError(CliError):
    """`serve` cannot start as configured (a token Slack rejects, say); exits 2 like bad settings."""


class BadArguments(CliError):
    """Arguments that do not go together; exits 2, as argparse does for the ones it refuses."""


def bounded_int(lowest: int, highest: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `lowest` to `highest`; argparse names the option."""

    def parse(raw: str) -> int:
        digits = raw.strip().removeprefix("-")
        # ASCII only: int() also reads "١٢" and "１２"; 18 digits keep int() off huge strings.
        if digits.isascii() and digits.isdigit() and len(digits) <= 18 and lowest <= int(raw) <= highest:
            return int(raw)
        raise argparse.ArgumentTypeError(f"must be a whole number from {lowest} to {highest} (not {raw!r})")

    return parse


def directory(raw: str) -> str:
    """An argparse type: a directory to write to; an empty one ("$DIR" unset) is not "none given"."""
    if not raw.strip():
        raise argparse.ArgumentTypeError(f"must name a directory (not {raw!r})")
    return raw


PORT = bounded_int(0, 65535)  # 0: any free port, printed once listening


def _session_factory(config: Config) -> db.SessionFactory:
    """Sessions on the configured database, once its schema is the one this code needs: a command
    that read nothing the old schema lacks would otherwise answer as if all were well."""
    engine = db.make_engine(config.database_url)
    if problem := db.schema_problem(engine):
        raise CliError(problem)
    return db.make_session_factory(engine)


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from api.app import create_api
    from bot import serving
    from bot.app import create_app
    from bot.health import Health, SlackRejected, check_slack
    from bot.logs import configure_logging
    from bot.scheduler import start_scheduler

    for option, port, served in (
        ("--health-port", args.health_port, "/healthz is"),
        ("--api-port", args.api_port, "the usage API is"),
    ):
        if port is not None and not args.socket:
            raise BadArguments(f"{option} is for --socket; over HTTP, {served} served on --port.")
    configure_logging(config.log_level, config.log_format, _secrets(config))
    engine = db.make_engine(config.database_url, pool_size=config.database_pool_size)
    if config.migrate_on_start:
        try:
            db.upgrade(engine)
        except StoreError as error:  # a schema a newer admin-bot migrated
            raise StartupError(str(error)) from None
    elif problem := db.schema_problem(engine):
        raise StartupError(problem)
    session_factory = db.make_session_factory(engine)
    app = create_app(config, session_factory)
    api = create_api(session_factory, config.usage_api_token)
    try:
        check_slack(app.client, config.slack_app_token if args.socket else None)
    except SlackRejected as problem:
        raise StartupError(str(problem)) from None
    stop = serving.Stop(config.shutdown_grace_seconds)
    stop.on_signals(signal.SIGTERM, signal.SIGINT)
    scheduler = start_scheduler(config, session_factory, app.client, stop.event)
    handler: serving.DrainingSocketModeHandler | None = None
    try:
        if args.socket:
            try:
                handler = serving.serve_socket_mode(app, config.slack_app_token)
            except Exception as error:  # noqa: BLE001 - one line for the operator, not a traceback
                raise StartupError(f"cannot open the Socket Mode connection: {error}") from None
            if args.health_port is not None:
                health = serving.make_health_wsgi(
                    Health(engine, app.client, connected=handler.client.is_connected)
                )
                url = serving.start_side_server(health, args.host, args.health_port, stop)
                print(f"admin-bot health check on {url}{serving.HEALTH_PATH}", flush=True)
            if args.api_port is not None:
                url = serving.start_side_server(api, args.host, args.api_port, stop)
                print(f"admin-bot usage API on {url}/api/", flush=True)
            serving.run_socket_mode(handler, stop)
        else:
            inflight = serving.InFlight()
            server = serving.make_http_server(
                app, engine, args.host, args.port, api, health=Health(engine, app.client), inflight=inflight
            )
            print(
                f"admin-bot listening on http://{args.host}:{server.effective_port}/slack/events",
                flush=True,
            )
            serving.run_waitress(server, stop, inflight)
        serving.drain_executor(app.listener_runner.listener_executor, stop.deadline)
    except serving.CannotListen as problem:
        if handler is not None:
            handler.close_within(config.shutdown_grace_seconds)
        raise StartupError(str(problem)) from None
    finally:
        stop.event.set()  # the reminder pass ends after the DM in flight, which it records
        serving.within(stop.deadline, scheduler.shutdown)
        engine.dispose()
    log.info("admin-bot stopped")
    return 0


def _secrets(config: Config) -> list[str]:
    """Every secret setting's value, for the log formatter to blank out."""
    from bot.config import SETTINGS

    return [getattr(config, s.name.lower()) for s in SETTINGS if s.secret]


def cmd_db_upgrade(args: argparse.Namespace, config: Config) -> int:
    engine = db.make_engine(config.database_url)
    db.upgrade(engine)
    print(f"Database is at revision {db.current_revision(engine)}.")
    return 0


def cmd_accounts_import(args: argparse.Namespace, config: Config) -> int:
    path = Path(args.file)

    def load(session: Session) -> importing.ImportResult:
        with importing.open_csv(path) as lines:  # read again if run again
            return importing.load(session, lines, CLI_ACTOR, update_existing=args.update)

    try:
        # Rerun if a deadlock cancels it: it locks the accounts it updates while others run.
        result = db.atomic(_session_factory(config), load)
    except OSError as error:
        raise CliError(f"Cannot read {path}: {error.strerror}.") from None
    unchanged = f", {result.unchanged} unchanged" if args.update else ""
    print(f"Imported {path}: {result.created} created, {result.updated} updated{unchanged}.")
    return 0


def cmd_accounts_list(args: argparse.Namespace, config: Config) -> int:
    with _session_factory(config).begin() as session:
        page = accounts.search(session, args.query or "", limit=args.limit, include_inactive=args.all)
        print(f"{'REFERENCE':<12} {'CREDITS':>12}  {'KEYWORD':<12} NAME")
        for account in page.accounts:
            flag = "" if account.active else "  (inactive)"
            print(
                f"{account.reference:<12} {account.balance:>12,}  {account.keyword or '-':<12} "
                f"{account.name}{flag}"
            )
        print(f"{page.counted.capitalize()} account(s) matched; {len(page.accounts)} shown.")
    return 0


def cmd_accounts_history(args: argparse.Namespace, config: Config) -> int:
    with _session_factory(config).begin() as session:
        account = accounts.by_reference(session, args.reference)
        page = history.history(session, account.id, offset=args.offset, limit=args.limit)
        print(f"History of {account.name} ({account.reference}), newest first:")
        print(f"{'WHEN (UTC)':<17} {'BY':<12} {'CHANGE':>16} {'BALANCE':>14}  WHAT")
        for event in page.events:
            balance = "" if event.balance_after is None else f"{event.balance_after:,}"
            change = event.change if event.credits is not None else ""
            what = (
                event.what
                if event.credits is not None or not event.change
                else f"{event.what}: {event.change}"
            )
            print(f"{event.at:%Y-%m-%d %H:%M} {event.actor:<12} {change:>16} {balance:>14}  {what}")
        if not page.events:
            print("Nothing has happened to this account yet." if not args.offset else "No more history.")
        elif page.has_next and (further := args.offset + args.limit) <= history.MAX_EVENTS:
            print(f"More: admin-bot accounts history {account.reference} --offset {further}")
        elif page.has_next:
            print(f"Older entries go back further than --offset reaches (at most {history.MAX_EVENTS:,}).")
    return 0


def _set_active(reference: str, active: bool, config: Config) -> int:
    with _session_factory(config).begin() as session:
        account = accounts.by_reference(session, reference)
        changed = accounts.set_active(session, account, active, CLI_ACTOR)
        print(accounts.status_message(account, changed))
    return 0


def cmd_accounts_deactivate(args: argparse.Namespace, config: Config) -> int:
    return _set_active(args.reference, False, config)


def cmd_accounts_activate(args: argparse.Namespace, config: Config) -> int:
    return _set_active(args.reference, True, config)


def cmd_usage_record(args: argparse.Namespace, config: Config) -> int:
    credits = ledger.parse_credits(args.credits)
    with _session_factory(config).begin() as session:
        entry = ledger.record_usage(session, args.reference, credits, CLI_ACTOR)
    print(
        f"Recorded usage of {credits:,} credits on {args.reference.upper()}; "
        f"balance now {entry.balance_after:,}."
    )
    return 0


def cmd_usage_import(args: argparse.Namespace, config: Config) -> int:
    path = Path(args.file)
    session_factory = _session_factory(config)
    counts = {"applied": 0, "already recorded": 0, "refused": 0}

    def summary() -> str:
        return ", ".join(f"{count:,} {what}" for what, count in counts.items())

    applied_to = 0  # the last line of the chunks applied, each committed on its own
    try:
        with importing.open_csv(path) as lines:
            for chunk in usage.read_csv(lines):
                outcomes = usage.apply_batch(session_factory, [item for _, item in chunk], CLI_ACTOR)
                for (line, _), outcome in zip(chunk, outcomes, strict=True):
                    if isinstance(outcome, usage.Refused):
                        counts["refused"] += 1
                        print(f"line {line}: {outcome.reason.value}: {outcome.message}")
                    else:
                        counts["already recorded" if outcome.replayed else "applied"] += 1
                applied_to = chunk[-1][0]
    except (OSError, SQLAlchemyError) as error:
        problem = (
            f"Cannot read {path}: {error.strerror}."
            if isinstance(error, OSError)
            else db.describe_error(error, config.database_url)
        )
        if not applied_to:
            raise CliError(problem) from None
        # Said, not undone: each applied row's key is recorded with it, so a rerun skips it.
        print(f"Stopped importing usage from {path} after line {applied_to}: {summary()}.")
        raise CliError(
            f"{problem.rstrip('.')}. Lines up to {applied_to} were applied (counted above), later ones "
            "perhaps not: import the same file again to finish; each key is applied at most once."
        ) from None
    print(f"Imported usage from {path}: {summary()}.")
    return 1 if counts["refused"] else 0


def cmd_statement(args: argparse.Namespace, config: Config) -> int:
    from zoneinfo import ZoneInfo

    from slack_sdk.errors import SlackApiError

    from bot.app import make_client
    from handlers.uploads import NotSent
    from jobs import statements as statement_job
    from store.statements import Period

    now = datetime.now(UTC)
    period = Period.week_before(now, ZoneInfo(config.statement_timezone))
    session_factory = _session_factory(config)
    if args.out is not None:
        try:
            drawn = statement_job.write_files(session_factory, Path(args.out), period, now, config.currency)
        except FileExistsError:
            raise CliError(
                f"Cannot write the statement to {args.out}: it is a file, not a directory."
            ) from None
        except OSError as error:
            raise CliError(f"Cannot write the statement to {args.out}: {error.strerror or error}.") from None
        print(drawn.text)
        print(f"Wrote the chart and CSV for {period.first} to {period.last} to {args.out}.")
        return 0
    if not config.statement_channel or not config.slack_bot_token:
        raise CliError("Set STATEMENT_CHANNEL and SLACK_BOT_TOKEN to post a statement, or use --out DIR.")
    drawn = statement_job.draw(session_factory, period, now, config.currency)
    try:
        statement_job.upload(make_client(config), config.statement_channel, drawn)
    except SlackApiError as error:
        raise CliError(f"Slack refused the statement: {error.response.get('error')}.") from None
    except NotSent as error:
        raise CliError(
            f"The statement did not reach Slack ({error}); nothing was posted, so it is safe to try again."
        ) from None
    except Exception as error:  # noqa: BLE001 - a lost answer: it may have been posted
        raise CliError(
            f"No answer from Slack ({type(error).__name__}): "
            f"check {config.statement_channel} before trying again."
        ) from None
    print(f"Posted the statement for {period.first} to {period.last} to {config.statement_channel}.")
    return 0


def cmd_roles_grant(args: argparse.Namespace, config: Config) -> int:
    user_id, role = roles.validate_user_id(args.user), roles.parse_role(args.role)
    with _session_factory(config).begin() as session:
        roles.grant(session, user_id, role, CLI_ACTOR)
    print(f"{user_id} is now {role.value}.")
    return 0


def cmd_roles_revoke(args: argparse.Namespace, config: Config) -> int:
    user_id, role = roles.validate_user_id(args.user), roles.parse_role(args.role)
    with _session_factory(config).begin() as session:
        roles.revoke(session, user_id, role, CLI_ACTOR)
    print(f"{user_id} is no longer {role.value}.")
    return 0


def cmd_roles_list(args: argparse.Namespace, config: Config) -> int:
    with _session_factory(config).begin() as session:
        grants = roles.all_grants(session)
        for grant in grants:
            print(
                f"{grant.slack_user_id:<12} {grant.role:<8} granted by {grant.granted_by} "
                f"{grant.granted_at:%Y-%m-%d}"
            )
    if not grants:
        print("No roles granted yet: admin-bot roles grant SLACK_USER_ID admin")
    return 0


def cmd_ledger_check(args: argparse.Namespace, config: Config) -> int:
    with _session_factory(config).begin() as session:
        problems = ledger.balance_problems(session)
    for problem in problems:
        print(problem)
    if problems:
        print(f"Ledger does NOT reconcile: {len(problems)} discrepancy(ies).", file=sys.stderr)
        return 1
    print(
        "Ledger reconciles: every balance equals its entries and every transfer nets to zero; "
        "the Home totals match the accounts."
    )
    return 0


def cmd_reminders_run(args: argparse.Namespace, config: Config) -> int:
    from bot.app import make_client
    from bot.scheduler import pass_options
    from jobs.low_credit import run_low_credit_pass

    if not config.slack_bot_token:
        raise CliError("SLACK_BOT_TOKEN is not set: reminders are sent as Slack DMs.")
    report = run_low_credit_pass(
        _session_factory(config),
        make_client(config),
        datetime.now(UTC),
        **pass_options(config),
    )
    for sent in report.sent:
        print(f"Sent {sent.reference} low-credit alert to {sent.address} ({sent.slack_user_id}).")
    for failed in report.failed:
        print(
            f"Could not alert {failed.address} about {failed.reference}: {failed.error}; "
            "will retry next pass."
        )
    for outcome in report.topped_up:
        print(outcome)
    updates = report.updates
    print(f"{len(report.sent)} reminder(s) sent, {len(report.failed)} failed.")
    if updates.updated or updates.failed:
        print(f"{len(updates.updated)} alert(s) updated, {len(updates.failed)} update(s) to retry next pass.")
    return 1 if report.failed else 0


RULE_OPTIONS = {"credits": "--credits", "limit": "--limit", "unit": "--per"}  # InvalidRule.part's option


def cmd_reminders_auto_top_up(args: argparse.Namespace, config: Config) -> int:
    from store import top_up

    rule_options = (args.credits, args.limit, args.per)
    if args.off and rule_options != (None, None, None):
        raise BadArguments("--off switches auto top-up off: leave out --credits, --limit and --per.")
    if not args.off and (args.credits is None or args.limit is None):
        raise BadArguments("Give --credits and --limit (or --off).")
    user_id = roles.validate_user_id(args.by)
    rule = None
    if not args.off:
        try:
            rule = top_up.parse_rule(
                args.credits,
                str(args.limit),
                args.per or top_up.LimitUnit.PURCHASES,
                max_credits=config.max_purchase_credits,
            )
        except top_up.InvalidRule as problem:
            raise CliError(f"{RULE_OPTIONS[problem.part]}: {problem}") from None
    with _session_factory(config).begin() as session:
        role = roles.role_of(session, user_id)
        if role is None or not role.allows(Role.BILLING):
            raise CliError(f"{user_id} must hold the billing or admin role to set up auto top-up.")
        account = accounts.by_reference(session, args.reference)
        changed = top_up.configure(session, account, rule, user_id, datetime.now(UTC))
    state = top_up.describe(rule)
    print(
        f"Auto top-up for {account.reference} is {state}."
        if changed
        else f"Unchanged: auto top-up is {state}."
    )
    return 0


def cmd_reminders_forecast_warning(args: argparse.Namespace, config: Config) -> int:
    from store import reminders

    days = None if args.off else reminders.parse_warning_days(args.days)
    if days is None and not args.off:
        raise CliError("Give --days N (or --off).")
    with _session_factory(config).begin() as session:
        account = accounts.by_reference(session, args.reference)
        changed = reminders.set_warning(session, account, days, CLI_ACTOR)
        enabled = account.reminder_enabled
    state = reminders.describe_warning(days)
    print(
        f"Forecast warning for {account.reference} is {state}."
        if changed
        else f"Unchanged: the forecast warning is {state}."
    )
    if days is not None and not enabled:
        print("The low credit reminder is off: the warning alerts once it is switched on.")
    return 0


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    from bot.demo import load_demo

    engine = db.make_engine(config.database_url)
    db.upgrade(engine)
    with db.make_session_factory(engine).begin() as session:
        summary = load_demo(session, config, today=datetime.now(UTC).date())
    print(summary)
    return 0


Handler = Callable[[argparse.Namespace, Config], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="admin-bot",
        description="Customer Administration for SMS accounts, in Slack. "
        "Settings come from the environment or .env (see .env.example).",
    )
    parser.add_argument("--version", action="version", version=f"admin-bot {version('admin-bot')}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(
        parent: argparse._SubParsersAction,
        name: str,
        handler: Handler | None,
        help: str,
    ) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=help, description=help)
        if handler:
            sub.set_defaults(handler=handler)
        return sub

    serve = verb(
        verbs,
        "serve",
        cmd_serve,
        "Run the bot (migrating the database first, unless MIGRATE_ON_START=false).",
    )
    mode = serve.add_mutually_exclusive_group(required=True)
    mode.add_argument("--http", action="store_true", help="serve POST /slack/events and GET /healthz")
    mode.add_argument("--socket", action="store_true", help="connect over Socket Mode (no public URL)")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=PORT, default=3000, help="HTTP port, 0 to 65535 (default 3000; 0: any free one)"
    )
    serve.add_argument(
        "--health-port",
        type=PORT,
        help="Socket Mode only: serve GET /healthz on this port (WebSocket connected, database up)",
    )
    serve.add_argument(
        "--api-port",
        type=PORT,
        help="Socket Mode only: serve the usage API (/api/…) on this port of --host",
    )

    db_verbs = verb(verbs, "db", None, "Database schema.").add_subparsers(
        dest="db_verb", required=True, metavar="VERB"
    )
    verb(db_verbs, "upgrade", cmd_db_upgrade, "Apply all migrations.")

    account_verbs = verb(verbs, "accounts", None, "Accounts.").add_subparsers(
        dest="accounts_verb", required=True, metavar="VERB"
    )
    imports = verb(
        account_verbs,
        "import",
        cmd_accounts_import,
        "Import accounts from a CSV with header reference,name,keyword,credits; all rows or none.",
    )
    imports.add_argument("file", help="path to the CSV file")
    imports.add_argument(
        "--update",
        action="store_true",
        help="overwrite existing accounts; credits become their balance",
    )
    listing = verb(
        account_verbs,
        "list",
        cmd_accounts_list,
        "List accounts whose name, reference or keyword contains QUERY.",
    )
    listing.add_argument("query", nargs="?", help="text to search for")
    listing.add_argument("--all", action="store_true", help="include inactive accounts")
    listing.add_argument(
        "--limit",
        type=bounded_int(1, LIST_LIMIT),
        default=100,
        help=f"most rows to print, 1 to {LIST_LIMIT} (default 100)",
    )

    past = verb(
        account_verbs,
        "history",
        cmd_accounts_history,
        "Show an account's purchases, moves, usage and settings changes, newest first.",
    )
    past.add_argument("reference", help="account reference, e.g. EX0123456")
    reach = history.MAX_EVENTS  # how far back the store pages
    past.add_argument(
        "--limit",
        type=bounded_int(1, reach),
        default=50,
        help=f"most rows to print, 1 to {reach} (default 50)",
    )
    past.add_argument(
        "--offset", type=bounded_int(0, reach), default=0, help=f"skip this many newer rows, 0 to {reach}"
    )
    for name, handler, help in (
        ("deactivate", cmd_accounts_deactivate, "Make an account inactive; it keeps its credits."),
        ("activate", cmd_accounts_activate, "Make an inactive account active again."),
    ):
        verb(account_verbs, name, handler, help).add_argument("reference", help="account reference")

    usage_verbs = verb(verbs, "usage", None, "Credits used by sending messages.").add_subparsers(
        dest="usage_verb", required=True, metavar="VERB"
    )
    record = verb(
        usage_verbs,
        "record",
        cmd_usage_record,
        "Take CREDITS used from an account; refuses to go below zero.",
    )
    record.add_argument("reference", help="account reference, e.g. EX0123456")
    record.add_argument("credits", help="whole number of credits used")
    usage_import = verb(
        usage_verbs,
        "import",
        cmd_usage_import,
        "Record usage from a CSV with header reference,credits,key,occurred_at; each row at most once "
        "per key, refused rows reported by line number.",
    )
    usage_import.add_argument("file", help="path to the CSV file (any size; read as it goes)")

    role_verbs = verb(verbs, "roles", None, "Who may do what.").add_subparsers(
        dest="roles_verb", required=True, metavar="VERB"
    )
    for name, handler, help in (
        ("grant", cmd_roles_grant, "Give a Slack user a role (replacing any other)."),
        ("revoke", cmd_roles_revoke, "Take a role away from a Slack user."),
    ):
        sub = verb(role_verbs, name, handler, help)
        sub.add_argument("user", help="Slack user id, e.g. U012AB3CD")
        sub.add_argument("role", help="admin, billing or viewer")
    verb(role_verbs, "list", cmd_roles_list, "Show every granted role.")

    ledger_verbs = verb(verbs, "ledger", None, "The credit ledger.").add_subparsers(
        dest="ledger_verb", required=True, metavar="VERB"
    )
    verb(
        ledger_verbs,
        "check",
        cmd_ledger_check,
        "Exit 0 only if every balance equals its entries, every transfer nets to zero and the Home "
        "totals match the accounts.",
    )

    reminder_verbs = verb(verbs, "reminders", None, "Low credit reminders.").add_subparsers(
        dest="reminders_verb", required=True, metavar="VERB"
    )
    verb(
        reminder_verbs,
        "run",
        cmd_reminders_run,
        "Run one low-credit reminder pass now and print what it sent.",
    )
    auto = verb(
        reminder_verbs,
        "auto-top-up",
        cmd_reminders_auto_top_up,
        "Below its reminder level, buy CREDITS for the account (invoiced), up to LIMIT a month.",
    )
    auto.add_argument("reference", help="account reference, e.g. EX0123456")
    auto.add_argument("--credits", help="credits each purchase buys")
    auto.add_argument(
        "--limit",
        type=bounded_int(1, ledger.MAX_CREDITS),
        help=f"most purchases (or credits, with --per credits) a month, 1 to {ledger.MAX_CREDITS}",
    )
    auto.add_argument("--per", help="what --limit counts: purchases (default) or credits")
    auto.add_argument("--off", action="store_true", help="switch auto top-up off")
    auto.add_argument(
        "--by", required=True, help="Slack user id of the billing or admin user the purchases are made for"
    )

    warning = verb(
        reminder_verbs,
        "forecast-warning",
        cmd_reminders_forecast_warning,
        "Alert the reminder's recipients when fewer than DAYS days of credits are left at the last "
        "7 days' usage, even while the balance is above the level.",
    )
    warning.add_argument("reference", help="account reference, e.g. EX0123456")
    days = warning.add_mutually_exclusive_group(required=True)
    days.add_argument("--days", help="whole number of days, 1 to 90")
    days.add_argument("--off", action="store_true", help="switch the forecast warning off")

    statement = verb(
        verbs,
        "statement",
        cmd_statement,
        "The weekly statement for the last 7 whole days: post it now, or write its chart and CSV.",
    )
    where = statement.add_mutually_exclusive_group(required=True)
    where.add_argument("--now", action="store_true", help="post it to STATEMENT_CHANNEL now")
    where.add_argument(
        "--out",
        metavar="DIR",
        type=directory,
        help="write the PNG and CSV to DIR and print the text; no Slack",
    )

    verb(verbs, "demo", cmd_demo, "Load a realistic demo data set (a few dozen accounts).")
    return parser


def _chosen(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the verb given, whose arguments `args` holds."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return _chosen(action.choices[getattr(args, action.dest)], args)
    return parser


def _not_utf8(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """The name of an argument given that is not UTF-8 text, or None if every one is.

    Python reads argv bytes that are not UTF-8 as lone surrogates, which no output can print.
    """
    for action in _chosen(parser, args)._actions:
        value = getattr(args, action.dest, None)
        if isinstance(value, str) and not _is_utf8(value):
            return "/".join(action.option_strings) or action.dest
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if name := _not_utf8(parser, args):
        print(
            f"admin-bot: argument {name} is not UTF-8 text; check the terminal's or script's encoding.",
            file=sys.stderr,
        )
        return 2
    mode = ("socket" if args.socket else "http") if args.verb == "serve" else ""
    try:
        config = load_config(mode)
    except ConfigError as error:
        print(
            "admin-bot cannot start; fix these settings in .env (copy .env.example) or the environment:",
            file=sys.stderr,
        )
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    try:
        return args.handler(args, config)
    except (StartupError, BadArguments) as error:
        print(f"admin-bot: {error}", file=sys.stderr)
        return 2
    except (CliError, StoreError) as error:
        print(f"admin-bot: {error}", file=sys.stderr)
        return 1
    except SQLAlchemyError as error:  # one line, no traceback, for operators
        print(f"admin-bot: {db.describe_error(error, config.database_url)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
