"""Reactions: what the ledger does by itself after an event is recorded.

The interface, for any module that adds one:

    Reaction = Callable[[TrialLedger, SeenEvent], None]

    SeenEvent.stream_id   the event's stream ("HCC-01-001", "query:<id>", "sdv:HCC-01-001", ...)
    SeenEvent.version     its version in that stream
    SeenEvent.position    its position in the log
    SeenEvent.event       the domain event (e.g. a Participant.EntryCorrected)
    SeenEvent.aggregate() the stream's aggregate just after this event (folded on demand,
                          valid during the call only: do not keep it)

The runner (services/monitoring/runner.py) calls every reaction of `REACTIONS`, in order, for
every event of the log, in position order, after the event is committed. A reaction:

- records what it does as events, through the ledger (`ledger.update_stream`, by SYSTEM),
  never by writing rows, so it is in the audit trail and the hash chain;
- must be idempotent: after a crash, or with two runners, an event may be seen again; derive
  ids from the event (domain/queries.py `system_query_id`) or look at what was recorded;
- returns quietly for events it does not care about; an exception stops the batch at that
  event, is logged, and the batch is retried later.

To add one, append it to `REACTIONS` below.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import sqlalchemy as sa

from domain.edit_checks import CHECKS_BY_ID, EDIT_CHECKS, failing
from domain.entries import Entry
from domain.ledger_event import SYSTEM
from domain.participant import RECORD_KEEPING_TYPES, Participant
from domain.queries import Query, query_stream_id, system_query_id
from infra.tables import ledger_chain
from services.application import TrialLedger
from services.monitoring.sdv import withdraw_on_correction
from services.monitoring.seen import Reaction, SeenEvent

# -- the edit checks: open a system query on a failing entry, close it when it passes -------

def _targets(participant: Participant, event: Participant.Event) -> list[Entry]:
    """The entries whose checks this event may make fail: the entry it records, or the entry
    it corrects (a void makes nothing fail)."""
    name = type(event).__name__
    if name in RECORD_KEEPING_TYPES or name == "EntryVoided":
        return []
    target_id = event.data["corrects"] if name == "EntryCorrected" else event.event_id
    target = participant.entries.get(target_id)
    return [] if target is None else [target]


def _existing(ledger: TrialLedger, stream_ids: list[str]) -> set[str]:
    """Which of these streams have events."""
    found: set[str] = set()
    with ledger.store.engine.connect() as conn:
        for start in range(0, len(stream_ids), 500):
            chunk = stream_ids[start:start + 500]
            found.update(conn.execute(sa.select(ledger_chain.c.stream_id).where(
                ledger_chain.c.stream_id.in_(chunk), ledger_chain.c.version == 1)).scalars())
    return found


def system_queries(ledger: TrialLedger, participant: Participant
                   ) -> dict[tuple[str, str], list[Query]]:
    """Every system query on the participant's entries, by (check id, entry id), oldest
    first. Their ids derive from the check, the entry and the event that made it fail (the
    entry or one of its corrections), so they are found without an index."""
    keys: dict[str, tuple[str, str]] = {}
    for entry in participant.entries.values():
        for check in EDIT_CHECKS:
            if entry.type in check.applies_to:
                for trigger in (entry.event_id, *entry.corrected_by):
                    stream = query_stream_id(system_query_id(check.id, entry.event_id,
                                                             trigger))
                    keys[stream] = (check.id, entry.event_id)
    found: dict[tuple[str, str], list[Query]] = {}
    for stream in sorted(_existing(ledger, list(keys))):
        query: Query = ledger.repository.get(stream)
        found.setdefault(keys[stream], []).append(query)
    for queries in found.values():
        queries.sort(key=lambda q: q.created_on)
    return found


def _may_open(queries: list[Query]) -> bool:
    """A new system query opens unless one is still active, or a person ended one (a person's
    decision on the value stands); after a system closure, a new failure opens a new one."""
    return all(not q.active and q.steps[-1].role == SYSTEM.role for q in queries)


def _first(opened: Query, current: Query | None) -> Query:
    return current or opened


def _open(ledger: TrialLedger, participant: Participant, entry: Entry, trigger: str,
          existing: dict[tuple[str, str], list[Query]]) -> None:
    for check, finding in failing(participant, entry):
        if not _may_open(existing.get((check.id, entry.event_id), [])):
            continue
        query_id = system_query_id(check.id, entry.event_id, trigger)
        opened = Query.open(query_id, participant_id=participant.id,
                            site_id=participant.site_id, target_event_id=entry.event_id,
                            target_type=entry.type, field=finding.field,
                            text=check.text(finding), origin=check.id, by=SYSTEM)
        # An earlier run over the same event opened it already: nothing is recorded again.
        ledger.update_stream(query_stream_id(query_id), partial(_first, opened))


def _close_resolved(ledger: TrialLedger, participant: Participant, event: Any,
                    existing: dict[tuple[str, str], list[Query]]) -> None:
    for (check_id, entry_id), queries in existing.items():
        entry = participant.entries.get(entry_id)
        if entry is None or CHECKS_BY_ID[check_id].evaluate(participant, entry) is not None:
            continue
        for query in queries:
            if query.active and not query.resolved_by(event.event_id):
                text = (f"resolved by {type(event).__name__} {event.event_id}: "
                        f"{check_id} passes")

                def decide(current: Query, text: str = text) -> Query:
                    if current.active and not current.resolved_by(event.event_id):
                        current.close(text, SYSTEM, participant.site_id,
                                      resolved_by=event.event_id)
                    return current
                ledger.update_stream(query.id, decide)


def run_edit_checks(ledger: TrialLedger, seen: SeenEvent) -> None:
    """For a participant's event: open a system query for each check the recorded (or
    corrected) entry newly fails, and close each active system query of the participant whose
    check now passes, citing this event."""
    event = seen.event
    if not isinstance(event, Participant.Event):
        return
    participant: Participant = seen.aggregate()
    existing = system_queries(ledger, participant)
    _close_resolved(ledger, participant, event, existing)
    for entry in _targets(participant, event):
        _open(ledger, participant, entry, event.event_id, existing)


REACTIONS: tuple[Reaction, ...] = (run_edit_checks, withdraw_on_correction)
