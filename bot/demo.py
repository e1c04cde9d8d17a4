"""A realistic demo data set: a few dozen accounts with purchases, invoices, usage and moves."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import Config
from store import accounts, invoices, ledger
from store.models import Account, EntryKind

DEMO_ACTOR = "demo"
COMPANIES = (
    "Acme Dental",
    "Brightside Vets",
    "Cedar Lettings",
    "Dales Plumbing",
    "Elm Street Surgery",
    "Foxglove Florists",
    "Greenway Taxis",
    "Harbour Gym",
    "Ivy Lane School",
    "Juniper Salon",
    "Kestrel Couriers",
    "Lakeside Hotel",
    "Maple Opticians",
    "Northgate Motors",
    "Oakwood Care",
    "Pinecrest Pharmacy",
    "Quayside Bistro",
    "Riverside Clinic",
    "Summit Estates",
    "Thistle Bakery",
    "Union Fitness",
    "Valley Physio",
    "Willow Nursery",
    "Yew Tree Pub",
)
TEAMS = ("Marketing", "Alerts", "Reminders")


def load_demo(session: Session, config: Config, today: date, seed: int = 7) -> str:
    """Create the demo accounts unless they exist already; returns a one-line summary."""
    if session.scalar(select(func.count()).select_from(Account).where(Account.reference.like("EX%"))):
        return "Demo data is already loaded; nothing changed."
    rng = random.Random(seed)
    pricing = invoices.Pricing(config.credit_price, config.vat_rate, config.currency)
    created: list[Account] = []
    for number, company in enumerate(COMPANIES):
        for team in rng.sample(TEAMS, rng.randint(1, 2)):
            reference = f"EX{1000000 + number * 10 + TEAMS.index(team):07d}"
            keyword = company.split()[0].upper() if team == "Marketing" else None
            account = accounts.create(session, reference, f"{company} {team}", keyword)
            ledger.post(session, account, EntryKind.OPENING, rng.choice((0, 500, 2000)), DEMO_ACTOR)
            created.append(account)
    issued = 0
    for account in created:
        for months_ago in sorted(rng.sample(range(1, 24), rng.randint(1, 4)), reverse=True):
            credits = rng.choice((1000, 2500, 5000, 10000))
            entry = ledger.post(session, account, EntryKind.PURCHASE, credits, DEMO_ACTOR)
            when = today - timedelta(days=30 * months_ago + rng.randint(0, 20))
            invoices.issue(session, account, entry, invoices.quote(pricing, credits), when, DEMO_ACTOR)
            issued += 1
            used = rng.randint(0, account.balance)
            if used:
                ledger.post(session, account, EntryKind.USAGE, -used, DEMO_ACTOR)
    source, destination = created[0], created[1]
    moved = min(250, source.balance)
    if moved:
        ledger.transfer(session, source.id, destination.id, moved, DEMO_ACTOR, key="demo-move-1")
    return f"Loaded {len(created)} demo accounts with {issued} invoices."
