"""User accounts as events in the same ledger (Part 11 §11.100: unique, never reused)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from eventsourcing.domain import BaseAggregate, CanInitAggregate

from domain.errors import FieldProblem, InvalidEntry, RuleViolation
from domain.ledger_event import SYSTEM, Author, LedgerEvent

Role = Literal["site_coordinator", "investigator", "monitor", "data_manager", "auditor", "admin"]
ROLES: tuple[Role, ...] = (
    "site_coordinator", "investigator", "monitor", "data_manager", "auditor", "admin",
)
SITE_BOUND_ROLES = frozenset({"site_coordinator", "investigator", "monitor"})
ACCOUNT_STREAM_PREFIX = "account:"
USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MAX_CONSECUTIVE_FAILURES = 5
"""Part 11 §11.300(d): the fifth failed sign-in in a row locks the account for a while."""
PASSWORD_HISTORY = 5
"""A new password may not be any of the last five (the current one included)."""


def account_stream_id(username: str) -> str:
    """Accounts live in streams named `account:<username>`, apart from participants."""
    return ACCOUNT_STREAM_PREFIX + username


@dataclass(frozen=True)
class LockoutPolicy:
    """How long an automatic lockout lasts: `minutes`, doubled for each automatic lockout
    since the holder last signed in or an administrator unlocked, never above `max_minutes`."""

    minutes: int = 15
    max_minutes: int = 24 * 60

    def duration(self, earlier_lockouts: int) -> timedelta:
        doubled = self.minutes * 2 ** min(earlier_lockouts, 32)
        return timedelta(minutes=min(doubled, max(self.max_minutes, self.minutes)))


class Account(BaseAggregate[str]):
    """A named person's access: role, sites, password hash (argon2, never the password).

    Each change is an event of this stream; the token check, the lockout counter and the
    password history are folds of it.

    Two kinds of lock: `locked` is one that stands until an unlock (an administrator's, or an
    automatic lock recorded before lockouts expired) and revokes every token; `lockout` is the
    latest automatic lockout after failed sign-ins, which blocks new sign-ins only until its
    `until` and leaves the holder's tokens working (failures by others never sign them out).
    """

    if TYPE_CHECKING:  # the state the events set (declared for the type checker only: the
        # library builds aggregates from their events, not from class-level fields)
        username: str
        full_name: str
        account_role: str | None
        sites: list[str]
        active: bool
        locked: AccountLock | None
        lockout: AccountLock | None
        automatic_lockouts: int
        failed_logins: int
        credentials_version: int
        password_version: int
        password_hash: str
        recent_password_hashes: list[str]
        password_set_at: datetime
        password_set_by_holder: bool

    class Event(LedgerEvent):
        def apply(self, aggregate: Account) -> None:
            pass

    class AccountCreated(Event, CanInitAggregate[str]):
        """v2 adds `must_change_password` (v1 events: False, the first password stands)."""

        class_version = 2
        originator_topic: str
        username: str
        full_name: str
        account_role: str
        sites: list[str]
        password_hash: str
        must_change_password: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["must_change_password"] = False

        def apply(self, aggregate: Account) -> None:
            aggregate.username = self.username
            aggregate.full_name = self.full_name
            aggregate.account_role = self.account_role
            aggregate.sites = list(self.sites)
            aggregate.active = True
            aggregate.locked = None
            aggregate.lockout = None
            aggregate.automatic_lockouts = 0
            aggregate.failed_logins = 0
            aggregate.credentials_version = 1
            aggregate.password_version = 0
            aggregate.recent_password_hashes = []
            aggregate.set_password(self.password_hash, self.timestamp,
                                   by_holder=not self.must_change_password)

    class RoleGranted(Event):
        account_role: str

        def apply(self, aggregate: Account) -> None:
            aggregate.account_role = self.account_role

    class RoleRevoked(Event):
        account_role: str

        def apply(self, aggregate: Account) -> None:
            aggregate.account_role = None

    class SitesAssigned(Event):
        sites: list[str]

        def apply(self, aggregate: Account) -> None:
            aggregate.sites = list(self.sites)

    class PasswordChanged(Event):
        password_hash: str

        def apply(self, aggregate: Account) -> None:
            aggregate.set_password(self.password_hash, self.timestamp,
                                   by_holder=self.actor == aggregate.username)
            aggregate.credentials_version += 1
            aggregate.failed_logins = 0

    class LoginSucceeded(Event):
        def apply(self, aggregate: Account) -> None:
            aggregate.failed_logins = 0
            aggregate.lockout = None
            aggregate.automatic_lockouts = 0

    class LoginFailed(Event):
        consecutive_failures: int

        def apply(self, aggregate: Account) -> None:
            aggregate.failed_logins = self.consecutive_failures

    class AccountLocked(Event):
        """v2 adds `until`: set for an automatic lockout, which then ends by itself and
        revokes no token; None for a lock that stands until an unlock (every v1 event)."""

        class_version = 2
        until: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["until"] = None

        def apply(self, aggregate: Account) -> None:
            lock = AccountLock(self.actor, self.reason or "", self.originator_version, self.until)
            if self.until is None:
                aggregate.locked = lock
                aggregate.credentials_version += 1
            else:
                aggregate.lockout = lock
                aggregate.automatic_lockouts += 1

    class AccountUnlocked(Event):
        def apply(self, aggregate: Account) -> None:
            aggregate.locked = None
            aggregate.lockout = None
            aggregate.automatic_lockouts = 0
            aggregate.failed_logins = 0

    class AccountDeactivated(Event):
        def apply(self, aggregate: Account) -> None:
            aggregate.active = False
            aggregate.credentials_version += 1

    @classmethod
    def create(cls, *, username: str, full_name: str, role: str, sites: list[str],
               password_hash: str, event_id: str, actor: str, actor_role: str,
               must_change_password: bool = False) -> Account:
        """`must_change_password`: the holder can only replace the first password before
        signing in (an account an administrator creates through the API); False for accounts
        made at the console or by setup code, whose first password is the holder's own."""
        return cls._create(
            cls.AccountCreated,
            id=account_stream_id(username),
            username=username,
            full_name=full_name,
            account_role=role,
            sites=sorted(set(sites)),
            password_hash=password_hash,
            must_change_password=must_change_password,
            event_id=event_id,
            actor=actor,
            role=actor_role,
            site_id=None,
            reason="account created",
            client_request_id=None,
        )

    # -- commands (an administrator's, unless said otherwise) ----------------------------

    def grant_role(self, role: str, by: Author, reason: str) -> None:
        self.check_open()
        self.check_not_own(by, "change your own role")
        if role not in ROLES:
            raise InvalidEntry(f"role {role!r} is not known: use one of {', '.join(ROLES)}",
                               [FieldProblem("role", f"one of {', '.join(ROLES)}")])
        if role == self.account_role:
            raise RuleViolation("role_unchanged", f"{self.username} already has the {role} role")
        if role in SITE_BOUND_ROLES and not self.sites:
            raise RuleViolation("sites_first", f"a {role} works for named sites: assign "
                                               f"{self.username} a site first")
        self.trigger_event(self.RoleGranted, account_role=role, **by.fields(reason))

    def revoke_role(self, by: Author, reason: str) -> None:
        self.check_open()
        self.check_not_own(by, "revoke your own role")
        if self.account_role is None:
            raise RuleViolation("role_unchanged", f"{self.username} has no role to revoke")
        self.trigger_event(self.RoleRevoked, account_role=self.account_role,
                           **by.fields(reason))

    def assign_sites(self, sites: list[str], by: Author, reason: str) -> None:
        self.check_open()
        chosen = sorted(set(sites))
        if self.account_role in SITE_BOUND_ROLES and not chosen:
            raise InvalidEntry(f"a {self.account_role} needs at least one site",
                               [FieldProblem("sites", "at least one site")])
        if chosen == self.sites:
            raise RuleViolation("sites_unchanged",
                                f"{self.username} already has exactly these sites")
        self.trigger_event(self.SitesAssigned, sites=chosen, **by.fields(reason))

    def change_password(self, password_hash: str, by: Author, reason: str) -> None:
        """By the holder (with the old password) or an administrator (a reset: the holder
        must choose a new one at the next sign-in)."""
        self.check_open()
        self.trigger_event(self.PasswordChanged, password_hash=password_hash,
                           **by.fields(reason))

    def lock(self, by: Author, reason: str) -> None:
        self.check_open()
        self.check_not_own(by, "lock yourself")
        if self.locked is not None:
            raise RuleViolation("already_locked", f"{self.username} is already locked "
                                                  f"(by {self.locked.by}: {self.locked.reason})")
        self.trigger_event(self.AccountLocked, until=None, **by.fields(reason))

    def unlock(self, by: Author, reason: str) -> None:
        """End a lock or an automatic lockout (also an expired one: this resets the failure
        count and the doubling of the next lockout)."""
        self.check_open()
        if self.locked is None and self.lockout is None:
            raise RuleViolation("not_locked", f"{self.username} is not locked")
        self.trigger_event(self.AccountUnlocked, **by.fields(reason))

    def deactivate(self, by: Author, reason: str) -> None:
        self.check_open()
        self.check_not_own(by, "deactivate yourself")
        self.trigger_event(self.AccountDeactivated, **by.fields(reason))

    # -- sign-ins (recorded by the holder's attempt) -------------------------------------

    def login_succeeded(self, client_request_id: str | None, reason: str = "signed in") -> None:
        self.trigger_event(self.LoginSucceeded, **self.as_author(client_request_id).fields(reason))

    def login_failed(self, reason: str, *, counts: bool, client_request_id: str | None,
                     now: datetime | None = None, policy: LockoutPolicy | None = None
                     ) -> AccountLock | None:
        """Record a refused sign-in; a wrong password counts toward the lockout. Returns the
        automatic lockout this failure started, if it did.

        After an automatic lockout has run out, counting starts again from one, so it takes
        another `MAX_CONSECUTIVE_FAILURES` failures to lock again (for twice as long)."""
        now = now or datetime.now(UTC)
        policy = policy or LockoutPolicy()
        earlier = self.failed_logins
        if self.lockout is not None and not self.lockout.in_force(now) \
                and earlier >= MAX_CONSECUTIVE_FAILURES:
            earlier = 0
        failures = earlier + 1 if counts else earlier
        self.trigger_event(self.LoginFailed, consecutive_failures=failures,
                           **self.as_author(client_request_id).fields(reason))
        if counts and failures >= MAX_CONSECUTIVE_FAILURES and self.active \
                and self.lock_in_force(now) is None:
            until = now + policy.duration(self.automatic_lockouts)
            self.trigger_event(self.AccountLocked, until=until, **SYSTEM.fields(
                f"{failures} consecutive failed sign-ins"))
            return self.lockout
        return None

    # -- guards and reads ----------------------------------------------------------------

    def check_open(self) -> None:
        if not self.active:
            raise RuleViolation("account_deactivated",
                                f"{self.username} is deactivated for good; usernames are never "
                                "reused, so create a new account with a new username")

    def check_not_own(self, by: Author, what: str) -> None:
        if by.username == self.username:
            raise RuleViolation("not_own_account",
                                f"you cannot {what}: ask another administrator")

    def as_author(self, client_request_id: str | None = None) -> Author:
        return Author(self.username, self.account_role or "none", client_request_id)

    def set_password(self, password_hash: str, at: datetime, *, by_holder: bool) -> None:
        self.password_hash = password_hash
        self.recent_password_hashes = [*self.recent_password_hashes,
                                       password_hash][-PASSWORD_HISTORY:]
        self.password_version += 1
        self.password_set_at = at
        self.password_set_by_holder = by_holder

    @property
    def must_change_password(self) -> bool:
        """The password was set by an administrator (a new account's, or a reset): it only
        serves to choose a new one."""
        return not self.password_set_by_holder

    def password_expired(self, now: datetime, max_age_days: int | None) -> bool:
        """A password set by an administrator expires at once; otherwise after
        `max_age_days`."""
        if self.must_change_password:
            return True
        return max_age_days is not None and now - self.password_set_at > timedelta(
            days=max_age_days)

    def lock_in_force(self, now: datetime) -> AccountLock | None:
        """The lock that keeps the account from signing in at `now`, if any."""
        if self.locked is not None:
            return self.locked
        if self.lockout is not None and self.lockout.in_force(now):
            return self.lockout
        return None

    def public_view(self, now: datetime | None = None) -> dict[str, Any]:
        lock = self.lock_in_force(now or datetime.now(UTC))
        return {
            "username": self.username,
            "full_name": self.full_name,
            "role": self.account_role,
            "sites": self.sites,
            "active": self.active,
            "locked": lock is not None,
            "locked_by": lock.by if lock else None,
            "lock_reason": lock.reason if lock else None,
            "locked_until": lock.until.isoformat() if lock and lock.until else None,
            "must_change_password": self.must_change_password,
            "consecutive_failed_logins": self.failed_logins,
            "password_version": self.password_version,
            "version": self.version,
        }


@dataclass(frozen=True)
class AccountLock:
    """Who locked the account (an administrator, or `system` after failed sign-ins), why, and
    until when (None: until an unlock)."""

    by: str
    reason: str
    version: int
    until: datetime | None = None

    def in_force(self, now: datetime) -> bool:
        return self.until is None or now < self.until
