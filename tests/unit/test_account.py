"""The Account aggregate as a pure fold: roles, sites, passwords, lockout, deactivation."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from domain.account import MAX_CONSECUTIVE_FAILURES, Account, LockoutPolicy
from domain.errors import InvalidEntry, RuleViolation
from domain.ledger_event import Author

ADMIN = Author("root", "admin")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def created(role: str = "site_coordinator", sites: tuple[str, ...] = ("S01",)) -> Account:
    return Account.create(username="jdoe", full_name="Jane Doe", role=role, sites=list(sites),
                          password_hash="hash-1", event_id=str(uuid.uuid4()), actor="root",
                          actor_role="admin")


def types(account: Account) -> list[str]:
    """The types of the events triggered since the last call (collecting drains them)."""
    return [type(e).__name__ for e in account.collect_events()]


def test_a_new_account_has_its_role_sites_and_first_password() -> None:
    account = created()
    assert (account.account_role, account.sites, account.active) == (
        "site_coordinator", ["S01"], True)
    assert (account.password_version, account.credentials_version) == (1, 1)
    assert account.failed_logins == 0 and account.locked is None
    assert "hash" not in str(account.public_view())


def fail(account: Account, times: int, now: datetime = T0,
         policy: LockoutPolicy | None = None) -> list[bool]:
    """`times` wrong passwords at `now`; whether each one started a lockout."""
    return [account.login_failed("wrong password", counts=True, client_request_id=None,
                                 now=now, policy=policy) is not None for _ in range(times)]


def test_the_fifth_wrong_password_in_a_row_locks_for_a_while_and_revokes_no_token() -> None:
    account = created()
    assert fail(account, MAX_CONSECUTIVE_FAILURES) == [False] * 4 + [True]
    assert account.failed_logins == MAX_CONSECUTIVE_FAILURES
    assert account.lockout is not None and account.lockout.by == "system"
    assert account.lockout.reason == "5 consecutive failed sign-ins"
    assert account.lockout.until == T0 + timedelta(minutes=15)
    assert account.locked is None and account.credentials_version == 1  # tokens keep working
    assert account.lock_in_force(T0 + timedelta(minutes=14)) is account.lockout
    assert account.lock_in_force(T0 + timedelta(minutes=15)) is None  # ends by itself
    assert types(account)[-2:] == ["LoginFailed", "AccountLocked"]
    assert fail(account, 3, T0 + timedelta(minutes=1)) == [False] * 3  # no second lock
    assert types(account) == ["LoginFailed"] * 3 and account.failed_logins == 8
    assert fail(account, 1, T0 + timedelta(minutes=15)) == [False]
    assert account.failed_logins == 1  # after it ran out, counting starts again


def test_repeat_lockouts_double_up_to_the_cap_and_a_sign_in_starts_again() -> None:
    account = created()
    policy = LockoutPolicy(minutes=15, max_minutes=50)
    now, lengths = T0, []
    for _ in range(4):  # each time counting starts again from one once the lockout ran out
        assert fail(account, MAX_CONSECUTIVE_FAILURES, now, policy) == [False] * 4 + [True]
        assert account.lockout is not None and account.lockout.until is not None
        lengths.append(account.lockout.until - now)
        now = account.lockout.until
    assert lengths == [timedelta(minutes=m) for m in (15, 30, 50, 50)]
    account.login_succeeded(None)
    assert account.lockout is None and account.automatic_lockouts == 0
    fail(account, MAX_CONSECUTIVE_FAILURES, now, policy)
    assert account.lockout is not None and account.lockout.until == now + timedelta(minutes=15)


def test_an_unlock_ends_an_automatic_lockout_early_and_resets_the_doubling() -> None:
    account = created()
    fail(account, MAX_CONSECUTIVE_FAILURES)
    account.unlock(ADMIN, "identity confirmed by phone")
    assert account.lock_in_force(T0) is None and account.failed_logins == 0
    assert account.automatic_lockouts == 0 and account.credentials_version == 1
    fail(account, MAX_CONSECUTIVE_FAILURES)
    assert account.lockout is not None and account.lockout.until == T0 + timedelta(minutes=15)


def test_an_administrators_lock_stands_until_an_unlock_and_revokes_tokens() -> None:
    account = created()
    fail(account, MAX_CONSECUTIVE_FAILURES)
    account.lock(ADMIN, "suspected shared password")  # over a lockout in force
    assert account.locked is not None and account.locked.until is None
    assert account.credentials_version == 2
    assert account.lock_in_force(T0 + timedelta(days=365)) is account.locked
    assert account.public_view(T0 + timedelta(days=1))["lock_reason"] == (
        "suspected shared password")


def test_an_account_an_administrator_creates_must_change_its_first_password() -> None:
    account = Account.create(username="jdoe", full_name="Jane Doe", role="auditor", sites=[],
                             password_hash="hash-1", event_id=str(uuid.uuid4()), actor="root",
                             actor_role="admin", must_change_password=True)
    assert account.must_change_password and account.password_expired(T0, None)
    account.change_password("hash-2", account.as_author(), "password changed by its holder")
    assert not account.must_change_password and not account.password_expired(T0, None)
    assert not created().must_change_password  # setup and console accounts: the default


def test_a_success_resets_the_count_so_only_consecutive_failures_lock() -> None:
    account = created()
    fail(account, MAX_CONSECUTIVE_FAILURES - 1)
    account.login_succeeded(None)
    assert account.failed_logins == 0
    fail(account, MAX_CONSECUTIVE_FAILURES - 1)
    assert account.lock_in_force(T0) is None


def test_an_unlock_resets_the_count_and_needs_a_lock_first() -> None:
    account = created()
    with pytest.raises(RuleViolation, match="not locked"):
        account.unlock(ADMIN, "why not")
    account.lock(ADMIN, "left the study team")
    with pytest.raises(RuleViolation, match="already locked"):
        account.lock(ADMIN, "again")
    account.unlock(ADMIN, "back from leave")
    assert account.locked is None and account.failed_logins == 0
    assert account.credentials_version == 2  # the lock revoked tokens; the unlock does not undo it


def test_administrators_cannot_act_on_their_own_account() -> None:
    admin = Account.create(username="root", full_name="Root", role="admin", sites=[],
                           password_hash="h", event_id=str(uuid.uuid4()), actor="cli:ops",
                           actor_role="system")
    acts: list[Callable[[], None]] = [
        lambda: admin.lock(ADMIN, "x"), lambda: admin.deactivate(ADMIN, "x"),
        lambda: admin.grant_role("auditor", ADMIN, "x"), lambda: admin.revoke_role(ADMIN, "x")]
    for act in acts:
        with pytest.raises(RuleViolation, match="ask another administrator"):
            act()


def test_roles_are_granted_and_revoked_with_checks() -> None:
    account = created()
    with pytest.raises(InvalidEntry, match="not known"):
        account.grant_role("superuser", ADMIN, "x")
    with pytest.raises(RuleViolation, match="already has the site_coordinator role"):
        account.grant_role("site_coordinator", ADMIN, "x")
    account.grant_role("investigator", ADMIN, "promoted to sub-investigator")
    assert account.account_role == "investigator"
    account.revoke_role(ADMIN, "left the study")
    assert account.account_role is None and account.as_author().role == "none"
    with pytest.raises(RuleViolation, match="no role to revoke"):
        account.revoke_role(ADMIN, "x")


def test_a_site_bound_role_needs_sites() -> None:
    account = created(role="data_manager", sites=())
    with pytest.raises(RuleViolation, match="assign jdoe a site first"):
        account.grant_role("monitor", ADMIN, "x")
    coordinator = created()
    with pytest.raises(InvalidEntry, match="at least one site"):
        coordinator.assign_sites([], ADMIN, "x")
    with pytest.raises(RuleViolation, match="exactly these sites"):
        coordinator.assign_sites(["S01"], ADMIN, "x")
    coordinator.assign_sites(["S02", "S01", "S02"], ADMIN, "covers S02 too")
    assert coordinator.sites == ["S01", "S02"]


def test_password_history_keeps_the_last_five() -> None:
    account = created()
    for n in range(2, 8):
        account.change_password(f"hash-{n}", account.as_author(), "changed")
    assert account.recent_password_hashes == [f"hash-{n}" for n in range(3, 8)]
    assert account.password_version == 7 and account.credentials_version == 7


def test_a_reset_by_an_administrator_expires_at_once_and_aging_is_optional() -> None:
    account = created()
    now = datetime.now(UTC)
    assert not account.password_expired(now, None)
    assert not account.password_expired(now + timedelta(days=89), 90)
    assert account.password_expired(now + timedelta(days=91), 90)
    account.change_password("temporary", ADMIN, "forgot password")
    assert account.password_expired(now, None)
    account.change_password("chosen", account.as_author(), "changed by its holder")
    assert not account.password_expired(now, None)


def test_a_deactivated_account_is_closed_for_good() -> None:
    account = created()
    account.deactivate(ADMIN, "left the site")
    assert account.active is False and account.credentials_version == 2
    acts: list[Callable[[], None]] = [
        lambda: account.unlock(ADMIN, "x"), lambda: account.lock(ADMIN, "x"),
        lambda: account.grant_role("monitor", ADMIN, "x"),
        lambda: account.change_password("h", ADMIN, "x"), lambda: account.deactivate(ADMIN, "x")]
    for act in acts:
        with pytest.raises(RuleViolation, match="never reused"):
            act()
    account.login_failed("account deactivated", counts=False, client_request_id=None)


def test_every_change_is_an_event_and_the_fold_is_the_state() -> None:
    account = created()
    account.grant_role("investigator", ADMIN, "promoted")
    account.assign_sites(["S01", "S03"], ADMIN, "second site")
    account.change_password("hash-2", account.as_author(), "changed")
    for _ in range(MAX_CONSECUTIVE_FAILURES):
        account.login_failed("wrong password", counts=True, client_request_id="req-1", now=T0)
    account.unlock(ADMIN, "called the helpdesk")
    # The library types pending events by its base class; an account's are Account.Events.
    events = cast(Sequence[Account.Event], account.collect_events())
    assert [type(e).__name__ for e in events] == [
        "AccountCreated", "RoleGranted", "SitesAssigned", "PasswordChanged",
        *["LoginFailed"] * MAX_CONSECUTIVE_FAILURES, "AccountLocked", "AccountUnlocked"]
    assert all(e.actor and e.role and e.event_id for e in events)
    assert [e.reason for e in events][-2:] == ["5 consecutive failed sign-ins",
                                               "called the helpdesk"]
    folded = None
    for event in events:
        folded = event.mutate(folded)
    assert folded is not None and folded.public_view(T0) == account.public_view(T0)
