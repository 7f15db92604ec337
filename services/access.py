"""Who may do what, on which sites: one table, read by the API and shown in the docs.

Scope "own" means the sites assigned to the account; "all" means every site.
Part 11 §11.10(d) and (g): access limited to authorised people, checked on the server.
`ENDPOINTS` names the action of every route; `current_actor` refuses a route's caller whose
role has no scope for that action (and any route missing from the table), and the routes that
touch one participant check its site. `docs/access-matrix.md` is `render_markdown()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from domain.account import ROLES

Scope = Literal["own", "all"]
Action = Literal[
    "write_clinical", "read_clinical", "sign_casebook", "lock_data", "read_study",
    "read_audit", "verify_ledger", "manage_accounts", "own_account", "transfer_participant",
    "export_data", "verify_source", "review_audit",
    "raise_query", "answer_query",
]

ACCESS: dict[Action, dict[str, Scope]] = {
    "write_clinical": {"site_coordinator": "own", "investigator": "own", "data_manager": "all"},
    "read_clinical": {
        "site_coordinator": "own", "investigator": "own", "monitor": "own",
        "data_manager": "all", "auditor": "all",
    },
    "sign_casebook": {"investigator": "own"},
    "lock_data": {"data_manager": "all"},
    "transfer_participant": {"data_manager": "all"},
    "read_study": {
        "site_coordinator": "all", "investigator": "all", "monitor": "all",
        "data_manager": "all", "auditor": "all",
    },
    "read_audit": {"monitor": "own", "data_manager": "all", "auditor": "all"},
    "verify_ledger": {"auditor": "all", "data_manager": "all"},
    "export_data": {"monitor": "own", "data_manager": "all", "auditor": "all"},
    "manage_accounts": {"admin": "all"},
    "verify_source": {"monitor": "own"},
    "review_audit": {"monitor": "own", "data_manager": "all", "auditor": "all"},
    "raise_query": {"monitor": "own", "data_manager": "all"},
    "answer_query": {"site_coordinator": "own", "investigator": "own", "data_manager": "all"},
    "own_account": {role: "all" for role in ROLES},
}
PUBLIC: Final = "public"
"""No token needed: the service's health, signing in, and changing an expired password."""


@dataclass(frozen=True)
class Endpoint:
    """One route: what it does, under which action, and whether one site is at stake."""

    method: str
    path: str
    action: Action | Literal["public"]
    site_bound: bool = False


P = "/api/v1/participants/{participant_id}"
A = "/api/v1/accounts/{username}"
Q = "/api/v1/queries/{query_id}"
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/health", PUBLIC),
    Endpoint("GET", "/openapi.json", PUBLIC),
    Endpoint("GET", "/docs", PUBLIC),
    Endpoint("GET", "/docs/oauth2-redirect", PUBLIC),
    Endpoint("GET", "/redoc", PUBLIC),
    Endpoint("POST", "/api/v1/auth/token", PUBLIC),
    Endpoint("POST", "/api/v1/auth/password", PUBLIC),
    Endpoint("POST", "/api/v1/accounts/me/password", "own_account"),
    Endpoint("GET", "/api/v1/accounts", "manage_accounts"),
    Endpoint("POST", "/api/v1/accounts", "manage_accounts"),
    Endpoint("GET", A, "manage_accounts"),
    *(Endpoint("POST", f"{A}/{verb}", "manage_accounts")
      for verb in ("role", "sites", "lock", "unlock", "deactivate", "password")),
    Endpoint("GET", "/api/v1/participants", "read_clinical"),
    Endpoint("POST", f"{P}/events", "write_clinical", site_bound=True),
    Endpoint("POST", "/api/v1/events/batch", "write_clinical"),
    Endpoint("GET", P, "read_clinical", site_bound=True),
    Endpoint("GET", f"{P}/events", "read_clinical", site_bound=True),
    Endpoint("GET", f"{P}/audit-report", "read_clinical", site_bound=True),
    Endpoint("GET", f"{P}/signatures", "read_clinical", site_bound=True),
    Endpoint("POST", f"{P}/signatures", "sign_casebook", site_bound=True),
    Endpoint("POST", f"{P}/lock", "lock_data", site_bound=True),
    Endpoint("POST", f"{P}/unlock", "lock_data", site_bound=True),
    Endpoint("POST", f"{P}/transfer", "transfer_participant", site_bound=True),
    Endpoint("GET", "/api/v1/study", "read_study"),
    Endpoint("POST", "/api/v1/study/cutoffs", "lock_data"),
    Endpoint("POST", "/api/v1/study/lock", "lock_data"),
    Endpoint("POST", "/api/v1/study/unlock", "lock_data"),
    Endpoint("GET", "/api/v1/endpoints", "read_clinical"),
    Endpoint("GET", "/api/v1/endpoints/curves", "read_clinical"),
    Endpoint("GET", "/api/v1/safety", "read_clinical"),
    Endpoint("GET", "/api/v1/audit-trail", "read_audit"),
    Endpoint("GET", "/api/v1/projections", "verify_ledger"),
    Endpoint("GET", "/api/v1/ledger/verify", "verify_ledger"),
    Endpoint("GET", "/api/v1/ledger/checkpoints/latest", "verify_ledger"),
    Endpoint("POST", "/api/v1/ledger/checkpoints", "verify_ledger"),
    Endpoint("GET", "/api/v1/ledger/public-key", "verify_ledger"),
    Endpoint("GET", "/api/v1/ledger/proofs/inclusion", "verify_ledger"),
    Endpoint("GET", "/api/v1/ledger/proofs/consistency", "verify_ledger"),
    Endpoint("POST", "/api/v1/exports/odm", "export_data"),
    Endpoint("POST", "/api/v1/exports/sdtm", "export_data"),
    Endpoint("POST", "/api/v1/exports/adam", "export_data"),
    Endpoint("GET", "/api/v1/exports", "export_data"),
    Endpoint("GET", "/api/v1/exports/{export_id}", "export_data"),
    Endpoint("POST", f"{P}/sdv", "verify_source", site_bound=True),
    Endpoint("GET", f"{P}/sdv", "read_clinical", site_bound=True),
    Endpoint("GET", "/api/v1/sdv", "read_clinical"),
    Endpoint("GET", "/api/v1/audit-review", "read_audit"),
    Endpoint("POST", "/api/v1/audit-reviews", "review_audit"),
    Endpoint("GET", "/api/v1/audit-reviews", "read_audit"),
    Endpoint("GET", f"{P}/schedule", "read_clinical", site_bound=True),
    Endpoint("GET", "/api/v1/schedule/missing-data", "read_clinical"),
    Endpoint("POST", "/api/v1/queries", "raise_query", site_bound=True),
    Endpoint("GET", "/api/v1/queries", "read_clinical"),
    Endpoint("GET", "/api/v1/queries/summary", "read_clinical"),
    Endpoint("GET", Q, "read_clinical", site_bound=True),
    *(Endpoint("POST", f"{Q}/{verb}", "raise_query", site_bound=True)
      for verb in ("issue", "close", "reopen", "cancel")),
    Endpoint("POST", f"{Q}/answer", "answer_query", site_bound=True),
)
W = "/app/participants/{participant_id}"
WEB_PAGES: tuple[Endpoint, ...] = (
    Endpoint("GET", "/app", PUBLIC),
    Endpoint("GET", "/app/", PUBLIC),
    Endpoint("GET", "/app/sign-in", PUBLIC),
    Endpoint("POST", "/app/sign-in", PUBLIC),
    Endpoint("POST", "/app/sign-out", PUBLIC),
    Endpoint("GET", "/app/participants", "read_clinical"),
    Endpoint("GET", W, "read_clinical", site_bound=True),
    Endpoint("GET", "/app/audit", "read_audit"),
    Endpoint("GET", "/app/monitoring", "read_clinical"),
    Endpoint("GET", "/app/endpoints", "read_clinical"),
    Endpoint("GET", "/app/endpoints/plots/{name}", "read_clinical"),
    Endpoint("GET", "/app/ledger", "verify_ledger"),
    Endpoint("GET", "/app/ledger/downloads/{name}", "verify_ledger"),
    Endpoint("GET", "/app/report", "read_clinical"),
    Endpoint("POST", "/app/report", "export_data"),
)
"""The web app's pages: each under the action of the API route it reads (sign-in and
sign-out are public, like `POST /api/v1/auth/token`)."""
ROUTE_ACTIONS = {(e.method, e.path): e.action for e in (*ENDPOINTS, *WEB_PAGES)}


class AccessDenied(Exception):
    """The account's role or sites do not allow this action (HTTP 403)."""


def scope_of(role: str, action: Action) -> Scope | None:
    return ACCESS[action].get(role)


def _refusal(role: str, action: Action) -> AccessDenied:
    if role not in ROLES:
        return AccessDenied("your account has no role: ask an administrator to grant one")
    return AccessDenied(f"the {role} role may not {action.replace('_', ' ')}")


def authorize_route(role: str, sites: tuple[str, ...], method: str, path: str) -> None:
    """The server-side check of every authenticated route: is it in the table, and may this
    role do its action at all? (The site, where one is at stake, is checked by the route.)"""
    action = ROUTE_ACTIONS.get((method, path))
    if action is None:
        raise AccessDenied(f"{method} {path} is not in the access table, so nobody may use it")
    if action != "public":
        authorize(role, sites, action)


def authorize(role: str, sites: tuple[str, ...], action: Action, site_id: str | None = None
              ) -> None:
    """Raise AccessDenied unless `role` may do `action` on `site_id` (None = no site asked)."""
    scope = scope_of(role, action)
    if scope is None:
        raise _refusal(role, action)
    if scope == "own" and site_id is not None and site_id not in sites:
        raise AccessDenied(
            f"site {site_id} is not among your sites ({', '.join(sites) or 'none'})"
        )


def visible_sites(role: str, sites: tuple[str, ...], action: Action) -> tuple[str, ...] | None:
    """The sites a role sees for `action`; None means every site."""
    scope = scope_of(role, action)
    if scope is None:
        raise _refusal(role, action)
    return None if scope == "all" else sites


ROLE_TITLES = {"site_coordinator": "coordinator", "investigator": "investigator",
               "monitor": "monitor", "data_manager": "data manager", "auditor": "auditor",
               "admin": "admin"}


def render_markdown() -> str:
    """docs/access-matrix.md: the table above as people read it (a test keeps them equal)."""
    def cell(endpoint: Endpoint, role: str) -> str:
        if endpoint.action == "public":
            return "public"
        scope = scope_of(role, endpoint.action)
        if scope is None:
            return "403"
        if scope == "own":
            return "own sites" if endpoint.site_bound else "own sites (filtered)"
        return "all sites" if endpoint.site_bound else "yes"

    lines = [
        "# Access matrix (21 CFR Part 11 §11.10(d), (g))",
        "",
        ("Generated from `services/access.py` by `python -m services.access`; do not edit by "
         "hand (tests/api/test_access_matrix.py checks this file and walks every cell against "
         "the real API)."),
        "",
        ("Every route needs a bearer token (401 without one, or when the token expired or was "
         "revoked) except the public ones. `own sites`: only participants of the account's "
         "sites; another site's participant gets the same 404 as one that does not exist; "
         "`own sites (filtered)`: the answer leaves out other sites; "
         "`403`: refused for that role. The role and sites come from the account as it "
         "stands, never from the token."),
        "",
        "| method | path | action | " + " | ".join(ROLE_TITLES[r] for r in ROLES) + " |",
        "|---|---|---|" + "---|" * len(ROLES),
    ]
    lines += [f"| {e.method} | `{e.path}` | {e.action} | "
              + " | ".join(cell(e, role) for role in ROLES) + " |" for e in ENDPOINTS]
    lines += [
        "",
        "## Web app pages",
        "",
        ("The pages under `/app` (docs/web.md) sign in with the same accounts (a session "
         "cookie instead of a bearer token: without one, a page sends the browser to the "
         "sign-in form) and follow the same table: each page is under the action of the API "
         "route it reads."),
        "",
        "| method | path | action | " + " | ".join(ROLE_TITLES[r] for r in ROLES) + " |",
        "|---|---|---|" + "---|" * len(ROLES),
    ]
    lines += [f"| {e.method} | `{e.path}` | {e.action} | "
              + " | ".join(cell(e, role) for role in ROLES) + " |" for e in WEB_PAGES]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
