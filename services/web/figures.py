"""The trial's endpoints at a cutoff and as-of time, as tables and figures, from the API's reads.

One place computes what the endpoints page, the plot downloads and the study report show: the
bodies of `GET /api/v1/endpoints` (both criteria) and `GET /api/v1/safety`, the curves of
`GET /api/v1/endpoints/curves`, and the waterfall and swimmer data (services/plot_data.py),
all over the same participants (enrolled by the cutoff at the sites the caller may read).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Request

from domain.analysis.curves import RISK_TABLE_EVERY_DEFAULT
from domain.protocol import CRITERIA, Criterion
from services import plot_data
from services.api.routes.analysis import _moment, read_endpoints, read_safety, visible_outcomes
from services.api.routes.curves import _summaries, curves_body
from services.api.scope import readable_sites
from services.application import Actor, TrialLedger
from services.web.plots.data import SwimmerLane, SwimmerMark, WaterfallBar
from services.web.plots.km import km_svg
from services.web.plots.swimmer import swimmer_svg
from services.web.plots.waterfall import waterfall_svg

PLOTS = ("km-pfs", "km-os", "waterfall", "swimmer")
"""The figures of the endpoints page, by the name their downloads use."""


@dataclass(frozen=True)
class Endpoints:
    """Everything the endpoints page shows at one (criterion, cutoff, as_of)."""

    criterion: Criterion
    cutoff: date
    as_of: str | None
    reports: dict[Criterion, dict[str, Any]]
    safety: dict[str, Any]
    curves: dict[str, Any]
    bars: list[plot_data.WaterfallBar]
    left_out: dict[str, int]
    lanes: list[plot_data.SwimmerLane]

    def figure(self, name: str) -> str:
        """One figure as SVG (a KeyError for a name not in PLOTS)."""
        return _FIGURES[name](self)

    def figures(self) -> dict[str, str]:
        return {name: self.figure(name) for name in PLOTS}


def endpoints_at(request: Request, ledger: TrialLedger, actor: Actor, criterion: Criterion,
                 cutoff: date | None, as_of: str | None) -> Endpoints:
    """The reads of the endpoints page; the same as the API's for the same query."""
    day = cutoff or _moment(as_of).date()
    reports = {c: read_endpoints(request, ledger, actor, c, day, as_of) for c in CRITERIA}
    participants = plot_data.with_plot_facts(
        ledger, visible_outcomes(request, ledger, readable_sites(actor), as_of), as_of)
    counted = [p for p in participants if p.enrolled_on <= day]
    summaries = _summaries(request, ledger, readable_sites(actor), as_of, criterion,
                           day).by_cutoff
    bars, left_out = plot_data.waterfall(counted, criterion, day)
    return Endpoints(
        criterion=criterion, cutoff=day, as_of=as_of, reports=reports,
        safety=read_safety(request, ledger, actor, day, as_of),
        curves=curves_body(summaries, RISK_TABLE_EVERY_DEFAULT),
        bars=bars, left_out=left_out, lanes=plot_data.swimmer(counted, criterion, day))


def _when(e: Endpoints) -> str:
    return f"cutoff {e.cutoff.isoformat()}" + (f", as of {e.as_of}" if e.as_of else "")


def _km_pfs(e: Endpoints) -> str:
    return km_svg(e.curves["pfs"], title=f"Progression-free survival ({e.criterion}), "
                                         f"{_when(e)}", label=e.criterion)


def _km_os(e: Endpoints) -> str:
    return km_svg(e.curves["os"], title=f"Overall survival, {_when(e)}", label="OS")


def _waterfall(e: Endpoints) -> str:
    bars = [WaterfallBar(b.participant_id, b.best_change_pct, b.bor) for b in e.bars]
    return waterfall_svg(bars, title=f"Best change in target-lesion sum ({e.criterion}), "
                                     f"{_when(e)}")


def _swimmer(e: Endpoints) -> str:
    lanes = [SwimmerLane(lane.participant_id, lane.end_day, lane.ongoing,
                         tuple(SwimmerMark(m.day, m.kind) for m in lane.marks))
             for lane in e.lanes]
    return swimmer_svg(lanes, title=f"Time on study and responses ({e.criterion}), {_when(e)}")


_FIGURES: dict[str, Callable[[Endpoints], str]] = {
    "km-pfs": _km_pfs, "km-os": _km_os, "waterfall": _waterfall, "swimmer": _swimmer}
