"""What a study report shows, already computed from the API's read models.

The report renders these values and nothing else: it derives no estimate of its own, so the
PDF a statistician signs says exactly what `GET /api/v1/endpoints` and `GET /api/v1/safety`
answered for the same cutoff and recorded time, and a reviewer can compare the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

FLOW_STEPS = ("enrolled", "treated", "evaluable", "discontinued", "withdrawn", "died")
"""The participant flow in the order a CONSORT-style diagram reads it."""


@dataclass(frozen=True)
class StudyReportContent:
    """Everything the PDF shows.

    `endpoints` maps a criterion ("RECIST 1.1", "mRECIST") to the exact body of
    `GET /api/v1/endpoints?criteria=...` (services/api/study_schemas.py `EndpointsOut`);
    `safety` is the body of `GET /api/v1/safety` (`SafetyOut`); `plots` maps a figure's title
    to an SVG document that uses presentation attributes only (no CSS, no external
    references); `flow` gives the participant counts in reading order (FLOW_STEPS);
    `checkpoint` is `GET /api/v1/ledger/checkpoints/latest` (None: none issued yet); `scope`
    names the sites covered as the API's `scope` does: {"sites": "all" | [site ids], ...}.
    `as_of` is the recorded time (RFC 3339) the reads were made at, None for the latest.
    """

    cutoff: date
    as_of: str | None
    generated_at: str
    endpoints: dict[str, dict[str, Any]]
    safety: dict[str, Any]
    plots: dict[str, str]
    flow: dict[str, int]
    checkpoint: dict[str, Any] | None
    scope: dict[str, Any]

    def __post_init__(self) -> None:
        """A report whose tables were read at another cutoff than its header says, or under
        another criterion than their heading, would be signed as something it is not."""
        if not self.endpoints:
            raise ValueError("a study report needs the endpoints of at least one criterion")
        for criterion, body in self.endpoints.items():
            if body.get("criteria") != criterion:
                raise ValueError(f"the endpoints given for {criterion!r} are those of "
                                 f"{body.get('criteria')!r}")
            if str(body.get("cutoff")) != self.cutoff.isoformat():
                raise ValueError(f"the {criterion} endpoints are at cutoff {body.get('cutoff')}, "
                                 f"not {self.cutoff.isoformat()}")
        if str(self.safety.get("cutoff")) != self.cutoff.isoformat():
            raise ValueError(f"the safety tables are at cutoff {self.safety.get('cutoff')}, "
                             f"not {self.cutoff.isoformat()}")
        sites = self.scope.get("sites")
        if sites != "all" and not (isinstance(sites, list)
                                   and all(isinstance(site, str) for site in sites)):
            raise ValueError("scope['sites'] must be \"all\" or a list of site ids")

    @property
    def sites(self) -> tuple[str, ...] | None:
        """The sites covered, sorted; None for every site."""
        sites = self.scope["sites"]
        return None if sites == "all" else tuple(sorted(set(sites)))
