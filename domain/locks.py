"""Locked data: a locked participant, or a locked database, refuses clinical writes (409).

"Lock" means only this in domain/: a data lock (`Participant.data_lock`,
`Study.database_lock`). An account that may not sign in is `Account.locked` (until an
unlock) or `Account.lockout` (automatic, for a while); a writer waiting for the store is the
store's write lock (TRIAL_LEDGER_LOCK_TIMEOUT_SECONDS); one stream's writers in one process
wait on its `_stream_mutex` (services/records.py)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import RuleViolation


@dataclass(frozen=True)
class DataLock:
    """Who locked a record (the database or one participant), at which version, and why."""

    by: str
    role: str
    reason: str
    version: int


def locked_refusal(subject: str, lock: DataLock, locked_at: str) -> RuleViolation:
    """The 409 for a write to locked data: who locked it, when and why, and the way out."""
    return RuleViolation(
        "locked",
        f"{subject} is locked: locked by {lock.by} ({lock.role}) at {locked_at}, reason: "
        f"{lock.reason}. Nothing can be written until a data manager unlocks it with a reason",
    )
