"""The stored form of outcome facts: the `participant_outcomes` columns, as compact JSON.

Four documents per row, so that the projector re-encodes only the part an event changed and a
read decodes only the part it needs: `vital` (treatment start, death, last known alive,
off-protocol therapy), `criteria` (each criterion's follow-up responses), `adverse_events`
(the AE entries the safety fold reads) and `settled` (each criterion's summary for cutoffs past
the last dated entry). JSON is key-sorted ASCII: text a store cannot hold is escaped, never
replaced, so the facts read back exactly as derived.

Rows are never rewritten (a row holds from one event to the next), so documents written before
`vital` carried the withdrawal and discontinuation dates and `criteria` the target sums are
still read: they decode to facts marked `legacy`, without those, and every endpoint read from
them is unchanged. The shapes tell the two apart: `vital` had six items (now eight), each
criterion two (now three, the baseline sum last) and each follow-up two (now three).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from domain.analysis.endpoints import ParticipantSummary
from domain.analysis.time_to_event import TimeToEvent
from domain.outcome_facts import AdverseEventFact, CriterionFacts, FollowUp, OutcomeFacts
from domain.protocol import Criterion
from domain.response import Response

RESPONSES = {response.value: response for response in Response}
"""A stored response by its value: a dictionary look-up costs a thirtieth of `Response(value)`,
and 1,000 participants' criteria hold some 17,000 responses."""


def encode(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def vital_document(facts: OutcomeFacts) -> str:
    return encode([_iso(facts.treatment_start_on), _iso(facts.died_on),
                   _iso(facts.last_known_alive_on), [d.isoformat() for d in facts.therapy_dates],
                   facts.withdrawn, sorted(facts.discontinued), _iso(facts.withdrew_on),
                   [[drug, on.isoformat()] for drug, on in facts.discontinued_on]])


def criteria_document(criteria: dict[Criterion, CriterionFacts]) -> str:
    return encode({c: [f.evaluable, [[u.on.isoformat(), [[k.isoformat(), r.value]
                                                          for k, r in u.known], u.sum_mm]
                                     for u in f.followups], f.baseline_mm]
                   for c, f in criteria.items()})


def adverse_events_document(events: tuple[AdverseEventFact, ...]) -> str:
    return encode([[a.type, a.on.isoformat(), a.version, a.data] for a in events])


def settled_document(settled: dict[Criterion, ParticipantSummary]) -> str:
    return encode({c: [s.treated, s.evaluable, s.best_overall_response, _time(s.os),
                       _time(s.pfs), _time(s.dor)] for c, s in settled.items()})


def facts_from_documents(participant_id: str, site_id: str, enrolled_on: date,
                         settled_from: date, vital: str, criteria: str,
                         adverse_events: str) -> OutcomeFacts:
    start, died, alive, therapy, withdrawn, discontinued, *ended = json.loads(vital)
    withdrew, stopped = ended if ended else (None, [])
    by_criterion = json.loads(criteria)
    legacy = not ended or any(len(found) < 3 for found in by_criterion.values())
    return OutcomeFacts(
        participant_id=participant_id,
        site_id=site_id,
        enrolled_on=enrolled_on,
        treatment_start_on=_day(start),
        died_on=_day(died),
        last_known_alive_on=_day(alive),
        therapy_dates=tuple(date.fromisoformat(d) for d in therapy),
        criteria={c: _criterion(found) for c, found in by_criterion.items()},
        adverse_events=tuple(AdverseEventFact(t, date.fromisoformat(on), int(v), dict(data))
                             for t, on, v, data in json.loads(adverse_events)),
        settled_from=settled_from,
        withdrawn=bool(withdrawn),
        discontinued=frozenset(discontinued),
        withdrew_on=_day(withdrew),
        discontinued_on=tuple((str(drug), date.fromisoformat(on)) for drug, on in stopped),
        legacy=legacy,
    )


def _criterion(found: list[Any]) -> CriterionFacts:
    """One criterion's facts from `[evaluable, follow-ups, baseline sum]` (a legacy document:
    without the sums)."""
    evaluable, followups, *baseline_mm = found
    return CriterionFacts(
        evaluable=bool(evaluable),
        followups=tuple(FollowUp(date.fromisoformat(on), tuple(
            (date.fromisoformat(k), RESPONSES[r]) for k, r in known), _mm(*sum_mm))
            for on, known, *sum_mm in followups),
        baseline_mm=_mm(*baseline_mm),
    )


def _mm(value: float | None = None) -> float | None:
    return None if value is None else float(value)


def settled_from_document(settled: str) -> dict[str, ParticipantSummary]:
    return {c: ParticipantSummary(treated=treated, evaluable=evaluable,
                                  best_overall_response=best, os=_tte(os), pfs=_tte(pfs),
                                  dor=_tte(dor))
            for c, (treated, evaluable, best, os, pfs, dor) in json.loads(settled).items()}


def _time(value: TimeToEvent | None) -> list[Any] | None:
    return None if value is None else [value.days, value.event, value.censor_reason]


def _tte(value: list[Any] | None) -> TimeToEvent | None:
    return None if value is None else TimeToEvent(int(value[0]), bool(value[1]), value[2])


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)
