"""bench.ingest's workload: the participants and the API bodies it posts, in posting order
(an enrolment each, then follow-up contacts and camrelizumab doses on consecutive days), shared
by the run, its same-run peer (bench/peers.py) and its report (bench/ingest_report.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.harness import SITES


@dataclass(frozen=True)
class Workload:
    """The same events for ours and the peer."""

    participants: list[str]
    enrolled_on: date
    events: list[tuple[str, dict[str, Any]]]  # (participant_id, API body), in posting order

    @classmethod
    def build(cls, n_participants: int, n_events: int, run_id: str) -> Workload:
        per_participant = math.ceil(n_events / n_participants)
        span = min(per_participant, 3000)  # dates cycle after ~8 years of daily entries
        enrolled_on = datetime.now(UTC).date() - timedelta(days=span + 30)
        ids = [f"BENCH-{run_id.upper()}-{i:05d}" for i in range(n_participants)]
        events = []
        for i in range(n_events):
            k = i // n_participants  # this participant's k-th event after enrollment
            on = (enrolled_on + timedelta(days=1 + k % span)).isoformat()
            if k % 2 == 0:
                body = {"type": "FollowUpContact", "occurred_on": on, "data": {"alive": True}}
            else:
                body = {"type": "DoseAdministered", "occurred_on": on,
                        "data": {"drug": "camrelizumab", "dose_mg": 200, "route": "IV",
                                 "cycle": k // 2 + 1}}
            events.append((ids[i % n_participants], body))
        return cls(ids, enrolled_on, events)

    def enrollment(self, index: int) -> dict[str, Any]:
        return {
            "type": "ParticipantEnrolled",
            "occurred_on": self.enrolled_on.isoformat(),
            "data": {
                "site_id": SITES[index % len(SITES)],
                "consented_on": (self.enrolled_on - timedelta(days=5)).isoformat(),
                "sex": "MF"[index % 2], "birth_year": 1950 + index % 20, "ecog": index % 3,
                "child_pugh": ("A5", "A6", "B7")[index % 3], "bclc": ("B", "C")[index % 2],
                "pvtt": index % 3 == 0, "extrahepatic_spread": index % 4 == 0,
                "etiology": ("HBV", "HCV", "alcohol", "NAFLD", "other")[index % 5],
                "afp_ng_ml": float(10 + index % 900),
            },
        }
