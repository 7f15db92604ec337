"""Account and security-log events stored in their version 1 shape (the v1 golden files) still
load from both stores, upcast to today's meaning: a first password that stands, a lock that
holds until an unlock, an unknown-username failure without a digest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent

from domain.account import Account, account_stream_id
from domain.security_log import SECURITY_LOG_ID, SecurityLog
from services.application import TrialLedger

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "events"


def _v1(name: str, originator_id: str, version: int) -> StoredEvent:
    golden: dict[str, Any] = json.loads((GOLDEN / f"{name}.v1.json").read_text())
    assert golden["class_version"] == 1 and "class_version" not in golden["state"]
    state = json.dumps(golden["state"], separators=(",", ":"), sort_keys=True).encode()
    return StoredEvent(originator_id=originator_id, originator_version=version,
                       topic=golden["topic"], state=state)


def test_version_1_account_events_load_with_a_standing_first_password_and_lock(
        ledger: TrialLedger) -> None:
    stream = account_stream_id("jdoe")
    ledger.recorder.insert_events([_v1("AccountCreated", stream, 1),
                                   _v1("Account.AccountLocked", stream, 2)])
    account = ledger.account("jdoe")
    assert isinstance(account, Account)
    assert account.must_change_password is False  # v1 first passwords stand
    assert account.locked is not None and account.locked.until is None  # until an unlock
    assert account.lockout is None and account.credentials_version == 2  # tokens revoked
    assert account.public_view()["locked"] is True


def test_version_1_unknown_username_failures_load_without_a_digest(ledger: TrialLedger
                                                                   ) -> None:
    ledger.recorder.insert_events([_v1("SecurityLog.SecurityLogOpened", SECURITY_LOG_ID, 1),
                                   _v1("SecurityLog.LoginFailed", SECURITY_LOG_ID, 2)])
    (_, failed) = ledger.repository.event_store.get(SECURITY_LOG_ID)
    assert isinstance(failed, SecurityLog.LoginFailed)
    assert (failed.actor, failed.username_digest, failed.unrecorded_before) == ("ghost", None, 0)
    assert ledger.store.count() == 2  # chained like any other event
