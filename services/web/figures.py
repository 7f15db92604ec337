"""The trial's endpoints at a cutoff and as-of time, as tables and figures, from the API's reads.

One place computes what the endpoints page, the plot downloads and the study report show: the
bodies of `GET /api/v1/endpoints` (both criteria) and `GET /api/v1/safety`, the curves of
`GET /api/v1/endpoints/curves`, and the waterfall and swimmer data (services/plot_data.py),
all over the same participants (enrolled by the cutoff at the sites the caller may read).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cached_property
from typing import Any

from fastapi import Request

from domain.analysis.curves import RISK_TABLE_EVERY_DEFAULT
from domain.protocol import CRITERIA, Criterion
from services import plot_data
from services.api.routes.analysis import _moment, endpoints_answer, safety_answer, visible_outcomes
from services.api.routes.curves import curves_body, summaries_of
from services.api.scope import readable_sites
from services.application import Actor, TrialLedger
from services.study_outcomes import ParticipantOutcomes
from services.web.plots.data import SwimmerLane, SwimmerMark, WaterfallBar
from services.web.plots.km import km_svg
from services.web.plots.swimmer import swimmer_svg
from services.web.plots.waterfall import waterfall_svg

PLOTS = ("km-pfs", "km-os", "waterfall", "swimmer")
"""The figures of the endpoints page, by the name their downloads use."""


class Endpoints:
    """Everything the endpoints page shows at one (criterion, cutoff, as_of), each part read
    when first asked for: a download of one figure reads only what that figure draws."""

    def __init__(self, request: Request, ledger: TrialLedger, actor: Actor,
                 criterion: Criterion, cutoff: date, as_of: str | None) -> None:
        self._request, self._ledger, self._actor = request, ledger, actor
        self.criterion, self.cutoff, self.as_of = criterion, cutoff, as_of

    @cached_property
    def _sites(self) -> tuple[str, ...] | None:
        return readable_sites(self._actor)

    @cached_property
    def participants(self) -> list[ParticipantOutcomes]:
        """What `visible_outcomes` gives the caller as of `as_of`: read once for every part."""
        return visible_outcomes(self._request, self._ledger, self._sites, self.as_of)

    @cached_property
    def reports(self) -> dict[Criterion, dict[str, Any]]:
        """`GET /api/v1/endpoints` of each criterion."""
        return {c: endpoints_answer(self._request, self._sites, self.participants, c,
                                    self.cutoff, self.as_of) for c in CRITERIA}

    @cached_property
    def safety(self) -> dict[str, Any]:
        """`GET /api/v1/safety`."""
        return safety_answer(self._request, self._sites, self.participants, self.cutoff,
                             self.as_of)

    @cached_property
    def curves(self) -> dict[str, Any]:
        """The `curves` of `GET /api/v1/endpoints/curves` under the criterion."""
        found = summaries_of(self.participants, self.criterion, self.cutoff)
        return curves_body(found.by_cutoff, RISK_TABLE_EVERY_DEFAULT)

    @cached_property
    def _counted(self) -> list[ParticipantOutcomes]:
        """The participants enrolled by the cutoff, with the facts the plots draw from."""
        participants = plot_data.with_plot_facts(self._ledger, self.participants, self.as_of)
        return [p for p in participants if p.enrolled_on <= self.cutoff]

    @cached_property
    def _waterfall(self) -> tuple[list[plot_data.WaterfallBar], dict[str, int]]:
        return plot_data.waterfall(self._counted, self.criterion, self.cutoff)

    @property
    def bars(self) -> list[plot_data.WaterfallBar]:
        return self._waterfall[0]

    @property
    def left_out(self) -> dict[str, int]:
        return self._waterfall[1]

    @cached_property
    def lanes(self) -> list[plot_data.SwimmerLane]:
        return plot_data.swimmer(self._counted, self.criterion, self.cutoff)

    def figure(self, name: str) -> str:
        """One figure as SVG (a KeyError for a name not in PLOTS)."""
        return _FIGURES[name](self)

    def figures(self) -> dict[str, str]:
        return {name: self.figure(name) for name in PLOTS}


def endpoints_at(request: Request, ledger: TrialLedger, actor: Actor, criterion: Criterion,
                 cutoff: date | None, as_of: str | None) -> Endpoints:
    """The reads of the endpoints page; the same as the API's for the same query."""
    return Endpoints(request, ledger, actor, criterion, cutoff or _moment(as_of).date(), as_of)


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
