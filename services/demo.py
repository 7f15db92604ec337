"""`trial-ledger serve --demo`: seed a synthetic trial into an empty store, once."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from infra.db import create_engine
from infra.settings import Settings
from services.application import TrialLedger
from services.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, SeedSummary, seed_trial

DEMO_PARTICIPANTS = 40
DEMO_SEED = 2026


def ensure_demo(settings: Settings, console: Console) -> SeedSummary | None:
    """Seed DEMO_PARTICIPANTS with DEMO_SEED when the store has no participants; else leave
    it alone. Prints what was seeded and the demo accounts."""
    engine = create_engine(settings.database)
    ledger = TrialLedger(settings, engine)
    try:
        existing = ledger.participant_ids()
        if existing:
            console.print(f"demo: the store already has {len(existing)} participants; "
                          "nothing seeded")
            return None
        console.print(f"demo: seeding {DEMO_PARTICIPANTS} synthetic participants "
                      f"(seed {DEMO_SEED})...")
        summary = seed_trial(ledger, participants=DEMO_PARTICIPANTS, seed=DEMO_SEED)
    finally:
        ledger.close()
        engine.dispose()
    for line in summary.lines():
        console.print(f"demo: {escape(line)}")
    print_demo_accounts(console)
    return summary


def print_demo_accounts(console: Console) -> None:
    """The generated accounts and their shared password (synthetic demo data only)."""
    console.print("demo accounts (synthetic data only; never use this password elsewhere):")
    for account in DEMO_ACCOUNTS:
        sites = ", ".join(account.sites) or "all sites"
        console.print(f"  {account.username:<18} {account.role:<17} {sites}")
    console.print(f"  password: {escape(DEMO_PASSWORD)}")
