"""The casebook's derived outcome fields, and what they are derived from.

`assessments`, `best_overall_response` and PFS / DOR come from `participant_outcome`: every
scan's read parsed, every time-point response evaluated. That is most of a casebook's cost, so
the snapshot writer (services/participant_snapshots.py) stores these views beside the
participant's snapshots, under `outcome_key`: a digest of everything they are derived from.
A read reuses stored views only when the participant it folded has the same key; OS (which
also depends on the last date known alive, moved by almost every entry) is always derived.

`EntryIndex` is the participant as the derivations read it (`ParticipantHistory`), with its
effective entries classified once: the derivations ask for `entries_of(...)` a dozen times per
casebook, and each ask of the aggregate walks every entry again.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.analysis.time_to_event import ParticipantOutcomes, TimeToEvent, overall_survival
from domain.casebook import TREATMENT_TYPES, last_known_alive_on, treatment_start_on
from domain.entries import Entry
from domain.participant import Participant
from domain.participant_outcome import (
    NO_CUTOFF,
    CriterionOutcome,
    ParticipantOutcome,
    offprotocol_therapy_on,
    scans,
    started_by,
)
from domain.protocol import CRITERIA, Criterion
from domain.response.measures import measure_targets


class EntryIndex:
    """A `ParticipantHistory` over a participant's effective entries, classified by type once;
    with `until`, only the entries dated on or before it (what a casebook at a cutoff lists).

    Each list it answers is a new list in stream order, as the aggregate's own."""

    def __init__(self, participant: Participant, until: date | None = None) -> None:
        self.id: str = participant.id
        self.entries: Mapping[str, Entry] = participant.entries
        self._participant = participant
        effective = participant.effective_entries()
        if until is not None:
            effective = [entry for entry in effective if entry.occurred_on <= until]
        self._effective = effective
        by_type: defaultdict[str, list[Entry]] = defaultdict(list)
        for entry in effective:
            by_type[entry.type].append(entry)
        self._by_type = by_type
        self._mixed: dict[tuple[str, ...], list[Entry]] = {}

    def effective_entries(self) -> list[Entry]:
        return list(self._effective)

    def entries_of(self, *types: str) -> list[Entry]:
        if len(types) == 1:
            return list(self._by_type.get(types[0], ()))
        found = self._mixed.get(types)
        if found is None:
            wanted = frozenset(types)
            found = self._mixed[types] = [e for e in self._effective if e.type in wanted]
        return list(found)

    @property
    def enrollment(self) -> Entry:
        """The enrolment, even when dated after `until` (it says who the participant is)."""
        found = self._by_type.get("ParticipantEnrolled")
        return found[0] if found else self._participant.enrollment

    @property
    def died_on(self) -> date | None:
        deaths = self._by_type.get("ParticipantDied")
        return deaths[0].occurred_on if deaths else None


@dataclass(frozen=True)
class CachedOutcome:
    """Outcome views derived at one version of a participant (no cutoff), and their key."""

    key: str
    views: dict[str, Any]
    """`assessments`, `best_overall_response`, `pfs` and `dor`, as `outcome_views` gives them."""


OUTCOME_INPUT_TYPES = frozenset({*TREATMENT_TYPES, "AnticancerTherapyStarted",
                                  "ParticipantDied", "TumorAssessed", "EntryCorrected",
                                  "EntryVoided", "ParticipantEnrolled"})
"""Events that can change `outcome_key`: what it digests, and corrections and voids of it.
Any other event (a contact, an adverse event, a signature) leaves the key as it was."""


def outcome_key(history: EntryIndex) -> str:
    """A digest of everything `outcome_views` at no cutoff depends on: treatment start, the
    first off-protocol therapy, death, and each effective scan by identity (event id, version,
    clinical date, and the corrections that gave it its data: an entry's data is its event's,
    or its last correction's, and events never change). Two versions of one participant with
    the same key have the same views; the last date known alive is not in it (only OS reads
    it, and OS is always derived)."""
    therapy = [e.occurred_on for e in history.entries_of("AnticancerTherapyStarted")]
    parts = [_iso(treatment_start_on(history)), _iso(min(therapy, default=None)),
             _iso(history.died_on)]
    parts += [f"{e.event_id}/{e.version}/{e.occurred_on.isoformat()}/{','.join(e.corrected_by)}"
              for e in history.entries_of("TumorAssessed")]
    return hashlib.sha256("\n".join(part or "-" for part in parts).encode()).hexdigest()


def outcome_views(outcome: ParticipantOutcome, shown: EntryIndex) -> dict[str, Any]:
    """docs/api.md casebook fields `assessments`, `best_overall_response` and the PFS / DOR of
    `time_to_event`, from a derived outcome; `shown`: the entries whose scans get rows."""
    by = outcome.by_criterion
    return {
        "assessments": _assessment_rows(shown, by),
        "best_overall_response": {c: _best_view(o) for c, o in by.items()},
        "pfs": {c: time_view(o.pfs) for c, o in by.items()},
        "dor": {c: time_view(o.dor) for c, o in by.items()},
    }


def overall_survival_at(history: EntryIndex, cutoff: date = NO_CUTOFF, *,
                        alive_on: date | None = None) -> TimeToEvent | None:
    """`participant_outcome(history, cutoff).os`, without deriving any response: OS reads
    treatment start, death, the last date known alive (`alive_on`, when the caller has it)
    and off-protocol therapy only."""
    if alive_on is None:
        alive_on = last_known_alive_on(history)
    vital = ParticipantOutcomes(started_by(history, cutoff), (), history.died_on, alive_on,
                                offprotocol_therapy_on(history, cutoff))
    return overall_survival(vital, cutoff)


def _assessment_rows(shown: EntryIndex, by: dict[Criterion, CriterionOutcome]
                     ) -> list[dict[str, Any]]:
    """One row per scan date and criterion; `role` says how the read was used."""
    rows: list[dict[str, Any]] = []
    for criterion, outcome in by.items():
        at = {s.event_id: tp for s, tp in zip(outcome.followups, outcome.timepoints, strict=True)}
        baseline_id = outcome.baseline.event_id if outcome.baseline is not None else None
        for scan in scans(shown, criterion):
            row: dict[str, Any] = {
                "occurred_on": scan.on.isoformat(),
                "criterion": criterion,
                "event_id": scan.event_id,
                "role": "not_used",
                "sum_mm": None,
                "nadir_mm": None,
                "response": None,
                "target": None,
                "non_target": None,
                "new_lesion": None,
                "backdated": None,
            }
            tp = at.get(scan.event_id)
            if scan.event_id == baseline_id:
                total = measure_targets(scan.read, scan.read).total_mm
                row.update(role="baseline", sum_mm=None if total is None else float(total))
            elif tp is not None:
                row.update(
                    role="follow_up",
                    sum_mm=tp.sum_mm,
                    nadir_mm=tp.nadir_mm,
                    response=tp.overall.value,
                    target=tp.target.value,
                    non_target=tp.non_target.value,
                    new_lesion=tp.new_lesion,
                    backdated=tp.backdated,
                )
            rows.append(row)
    rows.sort(key=lambda row: (row["occurred_on"], CRITERIA.index(row["criterion"])))
    return rows


def _best_view(outcome: CriterionOutcome) -> dict[str, Any]:
    best = outcome.best
    return {
        "confirmed": best.confirmed.value if best else "NE",
        "unconfirmed": best.unconfirmed.value if best else "NE",
        "evaluable": outcome.evaluable,
        "response_start_on": _iso(best.response_start_on if best else None),
        "first_pd_on": _iso(best.first_pd_on if best else None),
    }


def time_view(value: TimeToEvent | None) -> dict[str, Any] | None:
    """docs/api.md `T`: days, event, censor_reason; None where the endpoint does not apply."""
    if value is None:
        return None
    return {"days": value.days, "event": value.event, "censor_reason": value.censor_reason}


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
