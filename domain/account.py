"""User accounts as events in the same ledger (Part 11 §11.100: unique, never reused)."""

from __future__ import annotations

from typing import Any, Literal

from eventsourcing.domain import BaseAggregate, CanInitAggregate

from domain.ledger_event import LedgerEvent

Role = Literal["site_coordinator", "investigator", "monitor", "data_manager", "auditor", "admin"]
ROLES: tuple[Role, ...] = (
    "site_coordinator", "investigator", "monitor", "data_manager", "auditor", "admin",
)
SITE_BOUND_ROLES = frozenset({"site_coordinator", "investigator", "monitor"})
ACCOUNT_STREAM_PREFIX = "account:"


def account_stream_id(username: str) -> str:
    """Accounts live in streams named `account:<username>`, apart from participants."""
    return ACCOUNT_STREAM_PREFIX + username


class Account(BaseAggregate[str]):
    """A named person's access: role, sites, password hash (argon2, never the password)."""

    class Event(LedgerEvent):
        def apply(self, aggregate: Account) -> None:
            pass

    class AccountCreated(Event, CanInitAggregate[str]):
        originator_topic: str
        username: str
        full_name: str
        account_role: str
        sites: list[str]
        password_hash: str

        def apply(self, aggregate: Account) -> None:
            aggregate.username = self.username
            aggregate.full_name = self.full_name
            aggregate.account_role = self.account_role
            aggregate.sites = list(self.sites)
            aggregate.password_hash = self.password_hash
            aggregate.active = True

    @classmethod
    def create(cls, *, username: str, full_name: str, role: str, sites: list[str],
               password_hash: str, event_id: str, actor: str, actor_role: str) -> Account:
        return cls._create(
            cls.AccountCreated,
            id=account_stream_id(username),
            username=username,
            full_name=full_name,
            account_role=role,
            sites=sorted(set(sites)),
            password_hash=password_hash,
            event_id=event_id,
            actor=actor,
            role=actor_role,
            site_id=None,
            reason="account created",
            client_request_id=None,
        )

    def public_view(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "full_name": self.full_name,
            "role": self.account_role,
            "sites": self.sites,
            "active": self.active,
            "version": self.version,
        }
