"""`trial-ledger serve --demo`: seed a synthetic trial into an empty store, once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

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
        with seeding_progress(console) as progress:
            summary = seed_trial(ledger, participants=DEMO_PARTICIPANTS, seed=DEMO_SEED,
                                 progress=progress)
    finally:
        ledger.close()
        engine.dispose()
    for line in summary.lines():
        console.print(f"demo: {escape(line)}")
    print_demo_accounts(console)
    return summary


@contextmanager
def seeding_progress(console: Console) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar for `seed_trial(progress=...)`, as `trial-ledger rebuild` shows."""
    with Progress(console=console) as bar:
        task = bar.add_task("recording events", total=None)

        def update(recorded: int, total: int) -> None:
            bar.update(task, completed=recorded, total=total)

        yield update


def print_demo_accounts(console: Console) -> None:
    """The generated accounts and their shared password (synthetic demo data only)."""
    table = Table(title="demo accounts (synthetic data only; never use this password elsewhere)",
                  title_justify="left")
    for column in ("username", "role", "sites"):
        table.add_column(column, no_wrap=True)
    for account in DEMO_ACCOUNTS:
        sites = ", ".join(account.sites) or (
            "none (manages accounts only)" if account.role == "admin" else "all sites")
        table.add_row(account.username, account.role, sites)
    console.print(table)
    console.print(f"password for every demo account: {escape(DEMO_PASSWORD)}")
