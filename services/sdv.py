"""Source-data verification on the ledger: a monitor's marks, and what the plan still asks.

`verify` records a monitor's marks (domain/sdv.py) against the participant as it stands, in
the participant's `sdv:` stream. `participant_status` and `site_summaries` read, as of any
recorded time, each entry's place in the risk-based plan (domain/sdv_plan.py) and its mark:

- `verified`: a mark stands and the entry has not changed since;
- `to_verify`: the plan requires it and no mark stands;
- `not_required`: outside the plan and not verified;
- `withdrawn`: its mark was withdrawn (recorded) after a correction or void: to verify again
  when the plan requires it;
- `withdrawn_pending`: corrected or voided after its mark, the withdrawal not yet recorded.
  A read never shows a changed entry as verified, whether or not the withdrawal was recorded.

Reads only read: recording missing withdrawals is services/monitoring/sdv.py's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from domain.errors import RuleViolation
from domain.ledger_event import Author
from domain.participant import Participant
from domain.sdv import SourceVerification, sdv_stream_id, stale_because, verifiable, visit_entries
from domain.sdv_plan import plan
from services.application import TrialLedger

SDV_TOPIC_PREFIX = "domain.sdv:"
Status = Literal["verified", "to_verify", "not_required", "withdrawn", "withdrawn_pending"]
STATUSES: tuple[Status, ...] = ("verified", "to_verify", "not_required", "withdrawn",
                                "withdrawn_pending")
COUNTS = ("entries", "required", "verified", "verified_required", "to_verify", "withdrawn",
          "withdrawn_pending", "not_required")


@dataclass(frozen=True)
class Verified:
    """What `verify` recorded: the entries marked, the marks withdrawn first, and where."""

    participant_id: str
    event_ids: list[str]
    withdrawn: list[str]
    version: int
    position: int
    recorded_at: str

    def as_dict(self) -> dict[str, Any]:
        return {"participant_id": self.participant_id, "verified": self.event_ids,
                "withdrawn": self.withdrawn, "version": self.version,
                "position": self.position, "recorded_at": self.recorded_at}


def verification(ledger: TrialLedger, participant_id: str, *, as_of: str | None = None
                 ) -> SourceVerification | None:
    """The participant's SDV record as of `as_of` (None: no mark recorded by then)."""
    record: SourceVerification | None = ledger.stream_as_of(sdv_stream_id(participant_id), as_of)
    return record


def verify(ledger: TrialLedger, participant_id: str, by: Author, *,
           event_ids: list[str] | None = None, visit_on: date | None = None,
           visit: str | None = None, comment: str | None = None) -> Verified:
    """Mark entries (or every entry of the visit on `visit_on` not already verified) as
    verified against the participant as it stands now."""
    withdrawn: list[str] = []
    marked: list[str] = []

    def decide(current: SourceVerification | None) -> SourceVerification:
        participant = ledger.participant(participant_id)
        record = current or SourceVerification.open(participant_id, by, participant.site_id)
        chosen = event_ids
        if chosen is None:
            assert visit_on is not None
            chosen = visit_entries(participant, visit_on, current)
            if not chosen:
                raise RuleViolation("nothing_to_verify", f"participant {participant_id} has no "
                                    f"entry dated {visit_on} that is not verified already")
        before = len(record.pending_events)
        record.verify(participant, chosen, by, visit=visit, visit_on=visit_on,
                      comment=comment)
        withdrawn[:] = [e.withdraws for e in record.pending_events[before:]
                        if isinstance(e, SourceVerification.VerificationWithdrawn)]
        marked[:] = chosen
        return record

    record = ledger.update_stream(sdv_stream_id(participant_id), decide)
    chain = ledger.store.chain_for_event(record.id, record.version)
    assert chain is not None, f"no chain row for {record.id} v{record.version}"
    return Verified(participant_id, marked, withdrawn, record.version, chain.position,
                    chain.recorded_at)


def entry_status(participant: Participant, record: SourceVerification | None,
                 event_id: str, required: bool) -> Status:
    mark = record.current(event_id) if record is not None else None
    if mark is not None and not mark.standing:
        return "withdrawn"
    if mark is not None:
        return "withdrawn_pending" if stale_because(mark, participant) else "verified"
    return "to_verify" if required else "not_required"


def participant_rows(ledger: TrialLedger, participant: Participant,
                     record: SourceVerification | None) -> list[dict[str, Any]]:
    """Every effective clinical entry, and every other entry that was ever marked, in stream
    order, with its place in the plan, its status and its newest mark."""
    items = plan(participant)
    marked = record.marks if record is not None else {}
    recorded = {} if record is None else {
        row.version: (row.position, row.recorded_at)
        for row in ledger.store.chain_for_stream(record.id, up_to_version=record.version)}
    rows = []
    for entry in participant.entries.values():
        if entry.event_id not in items and (entry.event_id not in marked or verifiable(entry)):
            continue
        item = items.get(entry.event_id)
        required = item is not None and item.required
        status = entry_status(participant, record, entry.event_id, required)
        mark = record.current(entry.event_id) if record is not None else None
        rows.append({
            "event_id": entry.event_id, "type": entry.type,
            "occurred_on": entry.occurred_on.isoformat(), "effective": item is not None,
            "required": required, "plan": item.reason if item else "voided: not in the plan",
            "status": status,
            "mark": None if mark is None else {
                "verified_by": mark.by, "visit": mark.visit, "comment": mark.comment,
                "entry_sha256": mark.entry_sha256,
                "participant_version": mark.participant_version,
                "position": recorded[mark.version][0],
                "recorded_at": recorded[mark.version][1],
                "withdrawn_because": (mark.withdrawn_because if mark.withdrawn_because
                                      else stale_because(mark, participant)),
                "withdrawal_recorded_at": (None if mark.withdrawn_version is None
                                           else recorded[mark.withdrawn_version][1]),
                "times_verified": len(marked[entry.event_id])},
        })
    return rows


def counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The plan's figures over a participant's (or a site's) entry rows."""
    effective = [row for row in rows if row["effective"]]
    by_status = Counter(row["status"] for row in effective)
    required = [row for row in effective if row["required"]]
    done = sum(1 for row in required if row["status"] == "verified")
    return summary_of({
        "entries": len(effective), "required": len(required), "verified": by_status["verified"],
        "verified_required": done, "to_verify": len(required) - done,
        "withdrawn": sum(1 for row in rows if row["status"] == "withdrawn"),
        "withdrawn_pending": sum(1 for row in rows if row["status"] == "withdrawn_pending"),
        "not_required": by_status["not_required"]})


def summary_of(figures: dict[str, int]) -> dict[str, Any]:
    """The figures with the share of the plan done, in percent to one decimal."""
    required = figures["required"]
    share = 100.0 if required == 0 else round(100 * figures["verified_required"] / required, 1)
    return {**figures, "percent_of_plan": share}


def participant_status(ledger: TrialLedger, participant: Participant, as_of: str | None
                       ) -> dict[str, Any]:
    """One participant's SDV status as of `as_of` (`participant` read as of then)."""
    rows = participant_rows(ledger, participant,
                            verification(ledger, participant.id, as_of=as_of))
    return {"participant_id": participant.id, "site_id": participant.site_id,
            "summary": counts(rows), "entries": rows, "as_of": as_of}


def site_summaries(ledger: TrialLedger, participants: list[Participant], as_of: str | None
                   ) -> dict[str, Any]:
    """Each participant's figures, and each site's (the sum of its participants')."""
    per_participant = []
    by_site: dict[str, Counter[str]] = {}
    for participant in participants:
        figures = counts(participant_rows(
            ledger, participant, verification(ledger, participant.id, as_of=as_of)))
        per_participant.append({"participant_id": participant.id,
                                "site_id": participant.site_id, **figures})
        total = by_site.setdefault(participant.site_id, Counter())
        total["participants"] += 1
        total.update({name: figures[name] for name in COUNTS})
    sites = [{"site_id": site, "participants": total["participants"],
              **summary_of({name: total[name] for name in COUNTS})}
             for site, total in sorted(by_site.items())]
    return {"sites": sites, "participants": per_participant}
