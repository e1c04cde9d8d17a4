"""The weekly statement on a fixed clock: its text, CSV and chart, and one post per slot across replicas."""

from __future__ import annotations

import io
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from PIL import Image
from sqlalchemy import select

from bot.app import make_client
from bot.config import Config
from jobs import statements as job
from reports.charts import CHART_SIZE, credit_label
from store import accounts, db, invoices, ledger, reminders, statements
from store.models import EntryKind, StatementRun
from store.statements import Period, RunState
from tests.conftest import make_account
from tests.fake_slack import FakeSlack

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # Monday 09:00, the default slot
CHANNEL = "C0STATEMNT"
PRICING = invoices.Pricing(Decimal("0.045"), Decimal("0.20"), "GBP")


def at(day: int, month: int = 10, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def post_at(
    session_factory: db.SessionFactory, reference: str, kind: EntryKind, credits: int, when: datetime
) -> None:
    with session_factory.begin() as session:
        account = accounts.by_reference(session, reference)
        entry = ledger.post(session, ledger.lock(session, account.id)[account.id], kind, credits, "test")
        entry.created_at = when


@pytest.fixture
def week(session_factory: db.SessionFactory) -> None:
    """Three accounts with a week of usage, a purchase and a move before NOW; and usage before it."""
    for reference, name, opening in (
        ("EX0000001", "Acme Marketing", 10_000),
        ("EX0000002", "Beta <Alerts>", 500),
        ("EX0000003", "Gamma", 3_000),
    ):
        make_account(session_factory, reference, name)
        post_at(session_factory, reference, EntryKind.OPENING, opening, at(1, 9))
    with session_factory.begin() as session:
        reminders.configure(session, accounts.by_reference(session, "EX0000002"), True, 1000, [], "test")
    post_at(session_factory, "EX0000001", EntryKind.USAGE, -100, at(20))  # the week before
    post_at(session_factory, "EX0000001", EntryKind.USAGE, -700, at(27))
    post_at(session_factory, "EX0000003", EntryKind.USAGE, -2_100, at(28, hour=23))
    with session_factory.begin() as session:
        invoices.purchase(session, 1, 5_000, PRICING, "U012AB3CD", "buy-1", date(2026, 10, 28))
        entry = ledger.entry_for_key(session, "buy-1")
        assert entry is not None
        entry.created_at = at(28)
    with session_factory.begin() as session:
        ledger.transfer(session, 1, 3, 1_000, "U012AB3CD", "move-1")
        for entry in session.scalars(
            select(ledger.LedgerEntry).where(ledger.LedgerEntry.transfer_id.is_not(None))
        ):
            entry.created_at = at(29)
    post_at(session_factory, "EX0000001", EntryKind.USAGE, -700, at(30))
    post_at(session_factory, "EX0000001", EntryKind.USAGE, -50, at(2, 11, hour=8))  # this week: not in it


EXPECTED_TEXT = """\
:bar_chart: *Weekly statement, 26 Oct – 1 Nov 2026*
*Total credits:* 14,850
*This week:* 3,500 credits used · 1 purchase of 5,000 credits (invoiced GBP 270.00) · 1 move of 1,000 credits

*Shortest runway*
• *Gamma* (`EX0000003`): 1,900 credits, about 6 days left at this week's usage
• *Acme Marketing* (`EX0000001`): 12,450 credits, about 62 days left at this week's usage
• *Beta &lt;Alerts&gt;* (`EX0000002`): 500 credits, 500 below its reminder level

*Below their reminder level:* 1
• *Beta &lt;Alerts&gt;* (`EX0000002`): 500 of 1,000

The chart shows daily usage and the total balance over the last 8 weeks; \
the CSV has every account's balance, week's usage and purchases."""

EXPECTED_CSV = """\
reference,name,active,balance,reminder_level,week_used,week_purchased
EX0000001,Acme Marketing,yes,12450,,1400,5000
EX0000002,Beta <Alerts>,yes,500,1000,0,0
EX0000003,Gamma,yes,1900,,2100,0
"""


def assert_png(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.size == CHART_SIZE
    assert len(image.convert("L").getcolors(maxcolors=256) or []) > 20  # drawn, not blank


def test_the_statement_reports_the_week(week, session_factory: db.SessionFactory, tmp_path):
    drawn = job.write_files(session_factory, tmp_path, Period.week_before(NOW, UTC_ZONE), NOW, "GBP")
    assert drawn.text == EXPECTED_TEXT
    assert (tmp_path / "statement-2026-11-01.csv").read_text() == EXPECTED_CSV
    assert_png((tmp_path / "statement-2026-11-01.png").read_bytes())
    series = drawn.statement.series
    assert len(series.days) == 56 and series.days[-1] == date(2026, 11, 1)
    assert series.usage[-7:] == [0, 700, 2_100, 0, 700, 0, 0]
    assert series.usage[-14:-7] == [0, 100, 0, 0, 0, 0, 0]
    # The 50 used on 2 November is after the chart's last day, so the line ends at 14,900.
    assert series.balance[-7:] == [13_400, 12_700, 15_600, 15_600, 14_900, 14_900, 14_900]
    assert series.balance[0] == 13_500
    assert series.level == 1_000


def test_days_follow_the_statement_time_zone(session_factory: db.SessionFactory):
    make_account(session_factory, "EX0000001", "Acme", credits=1_000)
    post_at(session_factory, "EX0000001", EntryKind.USAGE, -10, datetime(2026, 11, 1, 23, 30, tzinfo=UTC))
    tokyo = ZoneInfo("Asia/Tokyo")  # 23:30 UTC on Sunday 1 November is Monday morning in Tokyo
    with session_factory.begin() as session:
        in_utc = statements.gather(session, Period.week_before(NOW, UTC_ZONE), NOW)
        in_tokyo = statements.gather(session, Period.week_before(NOW, tokyo), NOW)
    assert (in_utc.period.last, in_utc.used, in_utc.series.usage[-1]) == (date(2026, 11, 1), 10, 10)
    assert (in_tokyo.period.last, in_tokyo.used, in_tokyo.series.usage[-1]) == (date(2026, 11, 1), 0, 0)


def test_purchases_are_counted_on_the_statement_days_as_usage_and_the_csv_are(
    session_factory: db.SessionFactory, tmp_path
):
    tokyo = ZoneInfo("Asia/Tokyo")  # the week 26 Oct – 1 Nov runs 25 Oct 15:00 to 1 Nov 15:00 UTC
    make_account(session_factory, "EX0000001", "Acme", credits=1_000)
    # Buy dates the invoice in UTC: 1 Nov 20:00 UTC is already 2 Nov in Tokyo, 25 Oct 20:00 is 26 Oct.
    for credits, when, key in ((5_000, at(1, 11, hour=20), "after"), (2_000, at(25, hour=20), "inside")):
        with session_factory.begin() as session:
            invoices.purchase(session, 1, credits, PRICING, "U012AB3CD", key, when.date())
            entry = ledger.entry_for_key(session, key)
            assert entry is not None
            entry.created_at = when
    drawn = job.write_files(session_factory, tmp_path, Period.week_before(NOW, tokyo), NOW, "GBP")
    assert "· 1 purchase of 2,000 credits (invoiced GBP 108.00) ·" in drawn.text
    csv_row = (tmp_path / "statement-2026-11-01.csv").read_text().splitlines()[1]
    assert csv_row == "EX0000001,Acme,yes,8000,,0,2000"


# Each name as the message shows it: formatting characters drawn as look-alikes, so nothing styles.
NAMES_SHOWN = {
    "*Bold* _it_ ~st~": "∗Bold∗ ˍitˍ ∼st∼",
    "`code` Co": "ˋcodeˋ Co",
    "a_b_c": "aˍbˍc",
}


def test_account_names_show_literally_in_the_statement(session_factory: db.SessionFactory, tmp_path):
    for number, name in enumerate(NAMES_SHOWN, start=1):
        reference = f"EX000000{number}"
        make_account(session_factory, reference, name, credits=500)
        with session_factory.begin() as session:
            reminders.configure(session, accounts.by_reference(session, reference), True, 1000, [], "test")
        post_at(session_factory, reference, EntryKind.USAGE, -10 * number, at(27))
    drawn = job.write_files(session_factory, tmp_path, Period.week_before(NOW, UTC_ZONE), NOW, "GBP")
    for number, shown in enumerate(NAMES_SHOWN.values(), start=1):
        # once under the shortest runway, once below the reminder level
        assert drawn.text.count(f"• *{shown}* (`EX000000{number}`): ") == 2


@pytest.mark.parametrize(
    "value, label",
    [
        (0, "0"),
        (950, "950"),
        (2_500, "2.5k"),
        (500_000, "500k"),
        (3_000_000, "3M"),
        (500_000_000_000, "500B"),
        (3_000_000_000_000, "3T"),
        (2_500_000_000_000_000, "2,500T"),
        (9_000_000_000_000_000_000, "9,000,000T"),
    ],
)
def test_chart_axis_labels_stay_short_at_any_size(value, label):
    assert credit_label(value) == label


# posting on the schedule


@pytest.fixture
def settings() -> job.StatementSettings:
    """The default schedule (Monday 09:00 UTC) posting to CHANNEL."""
    return job.StatementSettings.from_config(Config(statement_channel=CHANNEL))


@pytest.fixture
def client(config: Config):
    """The bot's Web API client, talking to the fake Slack."""
    return make_client(config)


def uploads(fake_slack: FakeSlack) -> list[dict]:
    return fake_slack.uploaded_files()


def run_state(session_factory: db.SessionFactory, slot: datetime) -> str | None:
    with session_factory.begin() as session:
        return statements.run_state(session, slot)


def test_a_due_statement_is_posted_once_with_its_chart_and_csv(
    week, session_factory, client, settings, fake_slack: FakeSlack
):
    said = job.post_due_statement(session_factory, client, settings, NOW)
    assert said == f"Posted the statement for 2026-11-02 09:00 UTC to {CHANNEL}."
    files = sorted(uploads(fake_slack), key=lambda f: f["filename"])
    assert [f["filename"] for f in files] == ["statement-2026-11-01.csv", "statement-2026-11-01.png"]
    assert {f["channel_id"] for f in files} == {CHANNEL}
    assert files[0]["initial_comment"] == EXPECTED_TEXT
    assert files[0]["content"].decode() == EXPECTED_CSV
    assert_png(files[1]["content"])
    assert run_state(session_factory, NOW) == RunState.POSTED
    later = job.post_due_statement(session_factory, client, settings, NOW + timedelta(hours=3))
    assert "already posted" in later
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1


def test_replicas_racing_for_one_slot_post_it_once(week, session_factory, client, settings, fake_slack):
    start = threading.Barrier(4)
    said: list[str] = []

    def replica() -> None:
        start.wait()
        said.append(job.post_due_statement(session_factory, client, settings, NOW))

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(line.startswith("Posted") for line in said) == 1
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1


def test_a_run_missed_while_down_is_posted_late_once(week, session_factory, client, settings, fake_slack):
    tuesday = NOW + timedelta(days=1, hours=5)
    assert "Posted the statement for 2026-11-02 09:00 UTC" in job.post_due_statement(
        session_factory, client, settings, tuesday
    )
    job.post_due_statement(session_factory, client, settings, tuesday + timedelta(minutes=15))
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1
    with session_factory.begin() as session:
        assert session.scalars(select(StatementRun.slot)).all() != []


def test_a_lost_answer_is_never_uploaded_again(week, session_factory, client, settings, fake_slack):
    fake_slack.drop("files.completeUploadExternal", after_acting=True)
    said = job.post_due_statement(session_factory, client, settings, NOW)
    assert "it may have been posted, so it is not sent again" in said
    assert run_state(session_factory, NOW) == RunState.UNKNOWN
    assert "already posted" in job.post_due_statement(
        session_factory, client, settings, NOW + timedelta(minutes=15)
    )
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1
    assert len(uploads(fake_slack)) == 2  # the one message Slack did post


@pytest.mark.parametrize(
    "fault",
    [
        lambda fake: fake.fail("upload", status=500),
        lambda fake: fake.drop("upload"),
        lambda fake: fake.drop("files.getUploadURLExternal"),
    ],
    ids=["upload answers 500", "upload connection drops", "upload URL connection drops"],
)
def test_a_failure_before_posting_is_retried_by_the_next_pass(
    week, session_factory, client, settings, fake_slack, fault
):
    fault(fake_slack)
    said = job.post_due_statement(session_factory, client, settings, NOW)
    assert said.startswith("The statement for 2026-11-02 09:00 UTC did not reach Slack (")
    assert said.endswith("); nothing was posted, so it will be retried.")
    assert run_state(session_factory, NOW) == RunState.FAILED
    assert fake_slack.calls_to("files.completeUploadExternal") == []
    assert job.post_due_statement(session_factory, client, settings, NOW + timedelta(minutes=15)).startswith(
        "Posted"
    )
    assert len(uploads(fake_slack)) == 2


def test_a_refused_upload_is_retried_by_the_next_pass(week, session_factory, client, settings, fake_slack):
    fake_slack.fail("files.completeUploadExternal", error="not_in_channel")
    said = job.post_due_statement(session_factory, client, settings, NOW)
    assert (
        said == "Slack refused the statement for 2026-11-02 09:00 UTC (not_in_channel); it will be retried."
    )
    assert run_state(session_factory, NOW) == RunState.FAILED
    assert uploads(fake_slack) == []
    assert job.post_due_statement(session_factory, client, settings, NOW + timedelta(minutes=15)).startswith(
        "Posted"
    )
    assert len(uploads(fake_slack)) == 2


def test_a_dead_replicas_claim_is_taken_over_after_the_lease(
    week, session_factory, client, settings, fake_slack
):
    assert statements.claim(session_factory, NOW, NOW)  # a replica claimed it, then died
    assert "already posted or being posted" in job.post_due_statement(session_factory, client, settings, NOW)
    later = NOW + statements.CLAIM_LEASE + timedelta(seconds=1)
    assert job.post_due_statement(session_factory, client, settings, later).startswith("Posted")


def test_a_replica_whose_claim_was_taken_over_sends_nothing(week, session_factory):
    assert statements.claim(session_factory, NOW, NOW)  # replica A, slow to draw
    later = NOW + statements.CLAIM_LEASE + timedelta(seconds=1)
    assert statements.claim(session_factory, NOW, later)  # replica B takes the slot over
    assert not statements.start_sending(session_factory, NOW, claimed_at=NOW)  # A finds out before sending
    assert statements.start_sending(session_factory, NOW, claimed_at=later)
    assert run_state(session_factory, NOW) == RunState.SENDING


@pytest.mark.parametrize(
    "schedule, zone, now, slot",
    [
        (
            "0 9 * * mon",
            "UTC",
            datetime(2026, 11, 2, 8, 59, tzinfo=UTC),
            datetime(2026, 10, 26, 9, tzinfo=UTC),
        ),
        ("0 9 * * mon", "UTC", datetime(2026, 11, 2, 9, 0, tzinfo=UTC), datetime(2026, 11, 2, 9, tzinfo=UTC)),
        (
            "0 9 * * mon",
            "Europe/London",
            datetime(2026, 7, 6, 8, 30, tzinfo=UTC),
            datetime(2026, 7, 6, 8, tzinfo=UTC),
        ),
        ("30 6 1 * *", "UTC", datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
    ],
)
def test_the_latest_slot_follows_the_schedule_in_its_time_zone(schedule, zone, now, slot):
    trigger = CronTrigger.from_crontab(schedule, timezone=ZoneInfo(zone))
    assert job.latest_slot(trigger, now) == slot


def test_a_quiet_week_says_so(session_factory: db.SessionFactory, tmp_path):
    make_account(session_factory, "EX0000001", "Acme", credits=100)
    with session_factory.begin() as session:
        account = accounts.by_reference(session, "EX0000001")
        session.execute(
            ledger.LedgerEntry.__table__.update().values(created_at=at(1, 9))  # long before the week
        )
        assert account.balance == 100
    drawn = job.write_files(session_factory, tmp_path, Period.week_before(NOW, UTC_ZONE), NOW, "GBP")
    assert "*This week:* 0 credits used · no purchases · no moves" in drawn.text
    assert "• No account used credits this week." in drawn.text
    assert "*Below their reminder level:* 0" in drawn.text


# the command line


def test_statement_out_writes_the_chart_and_csv_without_slack(week, cli, tmp_path, fake_slack: FakeSlack):
    code, out, err = cli("statement", "--out", str(tmp_path / "out"))
    assert (code, err) == (0, "")
    assert out.startswith(":bar_chart: *Weekly statement, ")
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert [name.rsplit(".", 1)[1] for name in written] == ["csv", "png"]
    csv_lines = (tmp_path / "out" / written[0]).read_text().splitlines()
    assert csv_lines[0] == "reference,name,active,balance,reminder_level,week_used,week_purchased"
    assert csv_lines[1].startswith("EX0000001,Acme Marketing,yes,12450,")
    assert_png((tmp_path / "out" / written[1]).read_bytes())
    assert fake_slack.calls == []


def test_statement_now_posts_to_the_channel(week, cli, monkeypatch, fake_slack: FakeSlack):
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    assert cli("statement", "--now")[2] == (
        "admin-bot: Set STATEMENT_CHANNEL and SLACK_BOT_TOKEN to post a statement, or use --out DIR.\n"
    )
    monkeypatch.setenv("STATEMENT_CHANNEL", CHANNEL)
    code, out, _ = cli("statement", "--now")
    assert code == 0 and out.startswith("Posted the statement for ") and out.endswith(f" to {CHANNEL}.\n")
    assert sorted(f["filename"].rsplit(".", 1)[1] for f in uploads(fake_slack)) == ["csv", "png"]
    fake_slack.fail("files.completeUploadExternal", error="channel_not_found")
    assert cli("statement", "--now")[1:] == (
        "",
        "admin-bot: Slack refused the statement: channel_not_found.\n",
    )


def test_statement_now_says_a_failed_upload_posted_nothing(week, cli, monkeypatch, fake_slack: FakeSlack):
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("STATEMENT_CHANNEL", CHANNEL)
    fake_slack.fail("upload", status=500)
    code, out, err = cli("statement", "--now")
    assert (code, out) == (1, "")
    assert err.startswith("admin-bot: The statement did not reach Slack (")
    assert err.endswith("); nothing was posted, so it is safe to try again.\n")
    assert fake_slack.calls_to("files.completeUploadExternal") == []


def test_statements_are_scheduled_only_with_a_channel(session_factory):
    scheduler = BackgroundScheduler(timezone=UTC)
    job.schedule(scheduler, Config(), session_factory, None)
    assert scheduler.get_jobs() == []
    config = Config(
        statement_channel=CHANNEL, statement_schedule="30 8 * * fri", statement_timezone="Europe/London"
    )
    job.schedule(scheduler, config, session_factory, None)
    jobs = {scheduled.id: scheduled for scheduled in scheduler.get_jobs()}
    assert set(jobs) == {job.STATEMENT_JOB, job.CATCH_UP_JOB}
    trigger = jobs[job.STATEMENT_JOB].trigger
    friday = trigger.get_next_fire_time(None, datetime(2026, 7, 1, tzinfo=UTC))
    assert friday == datetime(2026, 7, 3, 8, 30, tzinfo=ZoneInfo("Europe/London"))
