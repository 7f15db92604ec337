"""Account commands that check more than the account itself (a new account's fields, a new
password against the rules and the history), shared by the CLI and the API. The commands
that only change the account are named methods of the application (services/records.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from domain.account import (
    PASSWORD_HISTORY,
    ROLES,
    SITE_BOUND_ROLES,
    USERNAME_PATTERN,
    Account,
)
from domain.errors import FieldProblem, InvalidEntry, UnknownAccount
from domain.ledger_event import Author
from infra.security.passwords import hash_password, password_problems, verify_password
from services.application import Actor, TrialLedger
from services.authentication import SignInPolicy, authenticate

RESERVED_USERNAMES = frozenset({"me", "system", "unknown"})
"""`me` is the API's name for the caller; `system` and `unknown` appear as actors in the log."""


def add_user(ledger: TrialLedger, *, username: str, role: str, sites: list[str],
             full_name: str, password: str, by: Actor, must_change_password: bool = False
             ) -> Account:
    """Create an account; every check fails with a message saying what to change.

    `must_change_password` is True for an account an administrator creates through the API:
    whoever set it knows the first password, so it only serves to choose a new one. Accounts
    made at the console (`trial-ledger users add`, the first admin) or by the seed keep their
    first password."""
    problems = []
    if not USERNAME_PATTERN.match(username):
        problems.append(FieldProblem("username", "2-32 lower-case letters, digits, . _ -, "
                                                 "starting with a letter"))
    elif username in RESERVED_USERNAMES:
        problems.append(FieldProblem("username", f"{username!r} is reserved; choose another"))
    if role not in ROLES:
        problems.append(FieldProblem("role", f"one of {', '.join(ROLES)}"))
    if role in SITE_BOUND_ROLES and not sites:
        problems.append(FieldProblem("sites", f"a {role} needs at least one site"))
    if not full_name.strip():
        problems.append(FieldProblem("full_name", "the printed name is required (Part 11 §11.50)"))
    problems += [FieldProblem("password", p) for p in password_problems(username, password)]
    if problems:
        raise InvalidEntry("; ".join(f"{p.loc}: {p.msg}" for p in problems), problems)
    account = Account.create(
        username=username, full_name=full_name.strip(), role=role, sites=sites,
        password_hash=hash_password(password), event_id=str(uuid.uuid4()),
        actor=by.username, actor_role=by.role, must_change_password=must_change_password,
    )
    ledger.create_account(account)
    return account


def new_password_hash(account: Account, password: str) -> str:
    """Part 11 §11.300 rules, history included: 422 naming every rule the password breaks."""
    problems = password_problems(account.username, password)
    if any(verify_password(old, password) for old in account.recent_password_hashes):
        problems.append(f"the password must not be one of the last {PASSWORD_HISTORY}")
    if problems:
        raise InvalidEntry("the new password is not accepted: " + "; ".join(problems),
                           [FieldProblem("new_password", p) for p in problems])
    return hash_password(password)


def change_own_password(ledger: TrialLedger, username: str, current_password: str,
                        new_password: str, *, request_id: str | None,
                        policy: SignInPolicy | None = None, now: datetime | None = None
                        ) -> Account:
    """The holder changes their password: the current one is checked first (a wrong one counts
    toward the lockout); every token issued before stops working."""
    account = authenticate(ledger, username, current_password, purpose="password change",
                           request_id=request_id, policy=policy, now=now)
    password_hash = new_password_hash(account, new_password)
    return ledger.change_password(username, password_hash, account.as_author(request_id),
                                  "password changed by its holder")


def reset_password(ledger: TrialLedger, username: str, new_password: str, by: Author,
                   reason: str) -> Account:
    """An administrator sets a temporary password; the holder must replace it at sign-in."""
    account = ledger.account(username)
    if account is None:
        raise UnknownAccount(f"there is no account {username!r}")
    account.check_not_own(by, "reset your own password (change it with your current one "
                              "at POST /api/v1/accounts/me/password)")
    password_hash = new_password_hash(account, new_password)
    return ledger.change_password(username, password_hash, by, reason)
