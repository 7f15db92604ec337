"""The demo accounts: one for every role, with a shared password, that the synthetic trial is
recorded as (entries as the site coordinators, voids as the data manager) and that a demo
store (`trial-ledger serve --demo`) signs in with."""

from __future__ import annotations

from dataclasses import dataclass

from services.application import Actor, TrialLedger
from services.seed.trial_calendar import SITES

DEMO_PASSWORD = "synthetic-demo-2026"
"""Shared password of the generated accounts. Demo stores only: printed by the CLI."""
DATA_MANAGER = "data.manager"
SEED_ACTOR = Actor("system:seed", "system")


def coordinator_username(site_id: str) -> str:
    return f"{site_id.lower()}.coordinator"


def investigator_username(site_id: str) -> str:
    return f"{site_id.lower()}.investigator"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    sites: tuple[str, ...]
    full_name: str

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.role, self.full_name, self.sites)


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    *(account for site in SITES for account in (
        DemoAccount(coordinator_username(site), "site_coordinator", (site,),
                    f"Demo Coordinator {site}"),
        DemoAccount(investigator_username(site), "investigator", (site,),
                    f"Demo Investigator {site}"),
    )),
    DemoAccount("study.monitor", "monitor", SITES, "Demo Monitor"),
    DemoAccount(DATA_MANAGER, "data_manager", (), "Demo Data Manager"),
    DemoAccount("qa.auditor", "auditor", (), "Demo Auditor"),
    DemoAccount("account.admin", "admin", (), "Demo Administrator"),
)
"""One account for every role: a coordinator and an investigator per site, a monitor of every
site, a data manager, an auditor and an administrator (who only manages accounts). The seed
records its entries as the site coordinators, and voids as the data manager."""


def ensure_demo_accounts(ledger: TrialLedger) -> list[str]:
    """Create the demo accounts (DEMO_ACCOUNTS) where missing; returns the new names."""
    from services.accounts import add_user

    created = []
    for account in DEMO_ACCOUNTS:
        if ledger.account(account.username) is None:
            add_user(ledger, username=account.username, role=account.role,
                     sites=list(account.sites), full_name=account.full_name,
                     password=DEMO_PASSWORD, by=SEED_ACTOR)
            created.append(account.username)
    return created
