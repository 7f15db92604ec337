"""Group commit (ADR 0011), on both stores: many requests' events in one transaction, each
request decided on what it saw and appended only if that still holds.

The story: a site's coordinators post for several participants at once; a data manager locks
the database while a write is being decided; a client retries with its Idempotency-Key; a
write decided on an old version of the participant. Nothing is lost, nothing lands twice,
nothing lands after the lock, and the chain stays one gap-free line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import date

import pytest

from domain.errors import RuleViolation
from domain.ledger_event import Author
from infra.event_store import IdempotencyClaim
from infra.ledger.group_commit import GroupCommitter
from infra.ledger.group_write import PendingWrite, insert_group
from infra.ledger.verify import verify_ledger
from services.application import TrialLedger
from tests import story
from tests.integration.conftest import COORDINATOR, post, submission

DM = Author("dm", "data_manager")
TODAY = date(2026, 11, 30)


def _enroll(ledger: TrialLedger, *pids: str) -> None:
    for pid in pids:
        post(ledger, pid, story.enrollment())


def _chain_is_one_line(ledger: TrialLedger) -> None:
    leaves = [row.leaf_index for row in ledger.store.iter_chain()]
    assert leaves == list(range(len(leaves)))
    assert verify_ledger(ledger.store).ok


def test_concurrent_posts_share_transactions_and_one_refusal_fails_no_other(
        ledger: TrialLedger) -> None:
    pids = [f"HCC-01-{i:03d}" for i in range(1, 7)]
    _enroll(ledger, *pids)
    before = ledger.store.count()
    results: dict[tuple[str, int], object] = {}

    def coordinator(pid: str) -> None:
        for k in range(4):
            body = story.follow_up(f"2026-02-{k + 1:02d}")
            if pid == pids[0] and k == 2:
                body = story.follow_up("2025-01-01")  # before enrolment: refused by the rules
            try:
                results[(pid, k)] = post(ledger, pid, body)
            except RuleViolation as refusal:
                results[(pid, k)] = refusal

    threads = [threading.Thread(target=coordinator, args=(pid,)) for pid in pids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    refused = [key for key, value in results.items() if isinstance(value, RuleViolation)]
    assert refused == [(pids[0], 2)]
    assert ledger.store.count() == before + len(pids) * 4 - 1
    for pid in pids:  # versions gap-free, in the order each coordinator posted
        versions = [row.version for row in ledger.store.chain_for_stream(pid)]
        assert versions == list(range(1, len(versions) + 1))
    _chain_is_one_line(ledger)


def test_a_write_decided_before_the_database_lock_never_lands_after_it(
        ledger: TrialLedger) -> None:
    _enroll(ledger, "HCC-01-001")
    seen = ledger.decision_state("HCC-01-001")  # decided while the database was open
    ledger.lock_database(DM, "database lock for analysis")
    count = ledger.store.count()

    with pytest.raises(RuleViolation) as refusal:
        ledger.record_participant_event("HCC-01-001", submission(story.follow_up("2026-02-01")),
                                        COORDINATOR, state=seen)

    assert "locked" in str(refusal.value)
    assert ledger.store.count() == count
    _chain_is_one_line(ledger)


def test_a_write_decided_on_an_old_version_is_decided_again(ledger: TrialLedger) -> None:
    _enroll(ledger, "HCC-01-001")
    seen = ledger.decision_state("HCC-01-001")
    post(ledger, "HCC-01-001", story.follow_up("2026-02-01"))  # another write comes first

    recorded, appended = ledger.record_participant_event(
        "HCC-01-001", submission(story.follow_up("2026-02-02")), COORDINATOR, state=seen)

    assert appended and recorded.version == 3
    assert [row.version for row in ledger.store.chain_for_stream("HCC-01-001")] == [1, 2, 3]


def test_one_group_checks_each_request_on_its_own(ledger: TrialLedger) -> None:
    """Inside one transaction: a stale request and a second use of a key are set aside, and
    the others are appended with consecutive leaves."""
    _enroll(ledger, "HCC-01-001", "HCC-01-002")
    a = ledger.decision_state("HCC-01-001").participant
    b = ledger.decision_state("HCC-01-002").participant
    claim = IdempotencyClaim("jdoe", "key-1", "f" * 64)

    def pending(participant: object, date: str, claim: IdempotencyClaim | None = None,
                stale: bool = False) -> PendingWrite:
        entry = submission(story.follow_up(date))
        decided = ledger._decide(ledger.decision_state(participant.id),  # type: ignore[attr-defined]
                                 entry, COORDINATOR, None, TODAY)
        stored = [ledger.mapper.to_stored_event(e) for e in decided.collect_events()]
        if stale:
            stored = [type(s)(s.originator_id, s.originator_version - 1, s.topic, s.state)
                      for s in stored]
        return PendingWrite(stored, claim, 0)

    group = [pending(a, "2026-02-01", claim), pending(b, "2026-02-01", claim),
             pending(b, "2026-02-03", stale=True), pending(b, "2026-02-04")]
    group[3].stored = [type(s)(s.originator_id, 3, s.topic, s.state) for s in group[3].stored]
    before = ledger.store.count()

    insert_group(ledger.recorder, group)

    assert [bool(p.chain) for p in group] == [True, False, False, False]
    assert group[1].conflict == "claimed" and group[1].claimed is None  # taken in this group
    assert group[2].conflict == "stream"
    assert group[3].conflict == "stream"  # it followed a version that was never appended
    assert ledger.store.count() == before + 1
    assert ledger.store.idempotency("jdoe", "key-1") is not None
    _chain_is_one_line(ledger)


def test_requests_arriving_during_a_transaction_share_the_next_one() -> None:
    """The committer's leader/follower hand-over, with a write that blocks until released:
    whoever arrives while it runs is written together in the next transaction."""
    release = threading.Event()
    groups: list[int] = []

    def write(group: Sequence[PendingWrite]) -> None:
        groups.append(len(group))
        if len(groups) == 1:
            release.wait(5)
        for p in group:
            p.chain = ["appended"]  # type: ignore[list-item]

    committer = GroupCommitter(write)
    requests = [PendingWrite([]) for _ in range(6)]
    first = threading.Thread(target=committer.submit, args=(requests[0],))
    first.start()
    while not groups:
        time.sleep(0.001)
    others = [threading.Thread(target=committer.submit, args=(p,)) for p in requests[1:]]
    for thread in others:
        thread.start()
    while len(committer._queue) < 5:
        time.sleep(0.001)
    release.set()
    for thread in [first, *others]:
        thread.join(5)

    assert groups == [1, 5]
    assert all(p.done and p.chain for p in requests)


def test_a_failed_transaction_fails_every_request_in_it_and_only_those() -> None:
    calls: list[int] = []

    def write(group: Sequence[PendingWrite]) -> None:
        calls.append(len(group))
        if len(calls) == 1:
            raise OSError("disk full")

    committer = GroupCommitter(write)
    failed = PendingWrite([])
    with pytest.raises(OSError, match="disk full"):
        committer.submit(failed)
    ok = PendingWrite([])
    committer.submit(ok)
    assert failed.error is not None and ok.error is None and calls == [1, 1]
