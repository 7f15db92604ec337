"""Who may do what, on which sites: one table, read by the API and shown in the docs.

Scope "own" means the sites assigned to the account; "all" means every site.
Part 11 §11.10(d) and (g): access limited to authorised people, checked on the server.
"""

from __future__ import annotations

from typing import Literal

Scope = Literal["own", "all"]
Action = Literal[
    "write_clinical", "read_clinical", "read_audit", "verify_ledger", "manage_accounts",
]

ACCESS: dict[Action, dict[str, Scope]] = {
    "write_clinical": {"site_coordinator": "own", "investigator": "own", "data_manager": "all"},
    "read_clinical": {
        "site_coordinator": "own", "investigator": "own", "monitor": "own",
        "data_manager": "all", "auditor": "all",
    },
    "read_audit": {"data_manager": "all", "auditor": "all"},
    "verify_ledger": {"auditor": "all", "data_manager": "all"},
    "manage_accounts": {"admin": "all"},
}


class AccessDenied(Exception):
    """The account's role or sites do not allow this action (HTTP 403)."""


def scope_of(role: str, action: Action) -> Scope | None:
    return ACCESS[action].get(role)


def authorize(role: str, sites: tuple[str, ...], action: Action, site_id: str | None = None
              ) -> None:
    """Raise AccessDenied unless `role` may do `action` on `site_id` (None = no site asked)."""
    scope = scope_of(role, action)
    if scope is None:
        raise AccessDenied(f"the {role} role may not {action.replace('_', ' ')}")
    if scope == "own" and site_id is not None and site_id not in sites:
        raise AccessDenied(
            f"site {site_id} is not among your sites ({', '.join(sites) or 'none'})"
        )


def visible_sites(role: str, sites: tuple[str, ...], action: Action) -> tuple[str, ...] | None:
    """The sites a role sees for `action`; None means every site."""
    scope = scope_of(role, action)
    if scope is None:
        raise AccessDenied(f"the {role} role may not {action.replace('_', ' ')}")
    return None if scope == "all" else sites
