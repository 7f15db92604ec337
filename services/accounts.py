"""Account commands shared by the CLI and the API."""

from __future__ import annotations

import re
import uuid

from domain.account import ROLES, SITE_BOUND_ROLES, Account
from domain.errors import FieldProblem, InvalidEntry
from infra.security.passwords import hash_password, password_problems
from services.application import Actor, TrialLedger

USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")


def add_user(ledger: TrialLedger, *, username: str, role: str, sites: list[str],
             full_name: str, password: str, by: Actor) -> Account:
    """Create an account; every check fails with a message saying what to change."""
    problems = []
    if not USERNAME_PATTERN.match(username):
        problems.append(FieldProblem("username", "2-32 lower-case letters, digits, . _ -, "
                                                 "starting with a letter"))
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
        actor=by.username, actor_role=by.role,
    )
    ledger.create_account(account)
    return account
