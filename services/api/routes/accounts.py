"""Accounts (Part 11 §11.10(d), §11.100, §11.300): an administrator creates, changes, locks and
deactivates them; every account holder changes their own password. Each change is an event."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request

from domain.account import Account
from domain.errors import UnknownAccount
from infra.logging import get_logger
from services import accounts
from services.api.deps import ActorDep, LedgerDep, author_of, request_id
from services.api.responses import (
    ACCOUNT_404,
    CONFLICT_409,
    RECORDING_409,
    WRONG_PASSWORD_401,
    merged,
)
from services.api.schemas import (
    AccountOut,
    NewAccount,
    PasswordChange,
    PasswordResetByAdmin,
    ReasonOnly,
    RoleChange,
    SitesChange,
)
from services.api.sign_in_guard import clock, sign_in_policy
from services.application import Actor

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])
log = get_logger("trial_ledger.accounts")
Username = Annotated[str, Path(pattern=r"^[a-z][a-z0-9._-]{1,31}$")]


def _changed(account: Account, actor: Actor, change: str, request: Request
             ) -> dict[str, Any]:
    log.info("account_changed", user=actor.username, account=account.username, change=change)
    return account.public_view(clock(request))


@router.post("/me/password", response_model=AccountOut,
             responses=merged(WRONG_PASSWORD_401, RECORDING_409))
def change_my_password(body: Annotated[PasswordChange, Body()], ledger: LedgerDep,
                       actor: ActorDep, request: Request) -> dict[str, Any]:
    """Change your own password with the current one; every token issued before stops working,
    this one included."""
    account = accounts.change_own_password(
        ledger, actor.username, body.current_password.get_secret_value(),
        body.new_password.get_secret_value(), request_id=request_id(request),
        policy=sign_in_policy(request), now=clock(request))
    return _changed(account, actor, "password", request)


@router.get("", response_model=list[AccountOut])
def list_accounts(ledger: LedgerDep, actor: ActorDep, request: Request
                  ) -> list[dict[str, Any]]:
    """Every account ever created, deactivated ones included (usernames are never reused)."""
    found = (ledger.account(username) for username in ledger.usernames())
    now = clock(request)
    return [account.public_view(now) for account in found if account is not None]


@router.post("", status_code=201, response_model=AccountOut, responses=CONFLICT_409)
def create_account(body: Annotated[NewAccount, Body()], ledger: LedgerDep, actor: ActorDep,
                   request: Request) -> dict[str, Any]:
    """Create an account with a first password that only serves to choose a new one: the
    holder sets their own at POST /api/v1/auth/password before they can get a token."""
    account = accounts.add_user(ledger, username=body.username, role=body.role,
                                sites=body.sites, full_name=body.full_name,
                                password=body.password.get_secret_value(), by=actor,
                                must_change_password=True)
    return _changed(account, actor, "created", request)


@router.get("/{username}", response_model=AccountOut, responses=ACCOUNT_404)
def read_account(username: Username, ledger: LedgerDep, actor: ActorDep, request: Request
                 ) -> dict[str, Any]:
    account = ledger.account(username)
    if account is None:
        raise UnknownAccount(f"there is no account {username!r}")
    return account.public_view(clock(request))


@router.post("/{username}/role", response_model=AccountOut,
             responses=merged(ACCOUNT_404, CONFLICT_409))
def change_role(username: Username, body: Annotated[RoleChange, Body()], ledger: LedgerDep,
                actor: ActorDep, request: Request) -> dict[str, Any]:
    """Grant a role (replacing the current one), or revoke it with `role: null`."""
    by = author_of(actor, request)
    account = (ledger.revoke_role(username, by, body.reason) if body.role is None
               else ledger.grant_role(username, body.role, by, body.reason))
    return _changed(account, actor, "role", request)


@router.post("/{username}/sites", response_model=AccountOut,
             responses=merged(ACCOUNT_404, CONFLICT_409))
def assign_sites(username: Username, body: Annotated[SitesChange, Body()], ledger: LedgerDep,
                 actor: ActorDep, request: Request) -> dict[str, Any]:
    """Replace the sites the account works for."""
    by = author_of(actor, request)
    account = ledger.assign_sites(username, body.sites, by, body.reason)
    return _changed(account, actor, "sites", request)


@router.post("/{username}/lock", response_model=AccountOut,
             responses=merged(ACCOUNT_404, CONFLICT_409))
def lock_account(username: Username, body: Annotated[ReasonOnly, Body()], ledger: LedgerDep,
                 actor: ActorDep, request: Request) -> dict[str, Any]:
    """Lock the account until an unlock: it cannot sign in and its tokens stop working."""
    by = author_of(actor, request)
    account = ledger.lock_account(username, by, body.reason)
    return _changed(account, actor, "locked", request)


@router.post("/{username}/unlock", response_model=AccountOut,
             responses=merged(ACCOUNT_404, CONFLICT_409))
def unlock_account(username: Username, body: Annotated[ReasonOnly, Body()], ledger: LedgerDep,
                   actor: ActorDep, request: Request) -> dict[str, Any]:
    """End a lock or an automatic lockout early, and reset the failure count and the
    doubling of the next lockout."""
    by = author_of(actor, request)
    account = ledger.unlock_account(username, by, body.reason)
    return _changed(account, actor, "unlocked", request)


@router.post("/{username}/deactivate", response_model=AccountOut,
             responses=merged(ACCOUNT_404, CONFLICT_409))
def deactivate_account(username: Username, body: Annotated[ReasonOnly, Body()],
                       ledger: LedgerDep, actor: ActorDep, request: Request) -> dict[str, Any]:
    """Close the account for good; its username is never given to anyone else."""
    by = author_of(actor, request)
    account = ledger.deactivate_account(username, by, body.reason)
    return _changed(account, actor, "deactivated", request)


@router.post("/{username}/password", response_model=AccountOut,
             responses=merged(ACCOUNT_404, CONFLICT_409))
def reset_password(username: Username, body: Annotated[PasswordResetByAdmin, Body()],
                   ledger: LedgerDep, actor: ActorDep, request: Request) -> dict[str, Any]:
    """Set a temporary password: the holder must choose a new one before signing in."""
    account = accounts.reset_password(ledger, username, body.new_password.get_secret_value(),
                                      author_of(actor, request), body.reason)
    return _changed(account, actor, "password reset", request)
