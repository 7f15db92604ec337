"""The trial's endpoints at a chosen cutoff and as-of time: ORR and DCR with exact CIs for both
criteria, Kaplan-Meier curves of PFS and OS, the waterfall and swimmer plots, the safety table;
every figure downloadable as SVG and PNG (services/web/figures.py computes them all)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response

from domain.protocol import CRITERIA
from services.api.deps import LedgerDep
from services.plot_data import REASONS
from services.web.figures import PLOTS, endpoints_at
from services.web.params import WebAsOf, WebCriteria, WebCutoff
from services.web.plots.png import svg_to_png
from services.web.render import page
from services.web.session import WebActorDep

router = APIRouter(prefix="/app", include_in_schema=False)

PNG_SCALE = 1.5
"""A PNG download is 1.5 pixels per SVG pixel (about 1,100 px wide): sharp on screens and in
slides; the SVG (and the PDF report, which embeds it as vectors) is for print."""
PlotName = Annotated[str, Path(max_length=32, pattern=r"^[a-z-]+\.(svg|png)$")]


@router.get("/endpoints", response_class=HTMLResponse)
def endpoints_page(request: Request, ledger: LedgerDep, actor: WebActorDep,
                   criteria: WebCriteria, cutoff: WebCutoff = None, as_of: WebAsOf = None
                   ) -> HTMLResponse:
    found = endpoints_at(request, ledger, actor, criteria, cutoff, as_of)
    query = f"criteria={criteria}&cutoff={found.cutoff.isoformat()}" + (
        f"&as_of={as_of}" if as_of else "")
    return page(request, "endpoints.html", actor=actor, section="endpoints", e=found,
                figures=found.figures(), criteria=CRITERIA, chosen=criteria,
                cutoff=None if cutoff is None else cutoff.isoformat(), as_of=as_of,
                query=query, reasons=REASONS)


@router.get("/endpoints/plots/{name}")
def endpoint_plot(name: PlotName, request: Request, ledger: LedgerDep, actor: WebActorDep,
                  criteria: WebCriteria, cutoff: WebCutoff = None, as_of: WebAsOf = None
                  ) -> Response:
    """One figure of the endpoints page as a file: `km-pfs.svg`, `waterfall.png`, ..."""
    stem, kind = name.rsplit(".", 1)
    if stem not in PLOTS:
        raise HTTPException(404, f"no figure named {stem!r}: one of {', '.join(PLOTS)}")
    svg = endpoints_at(request, ledger, actor, criteria, cutoff, as_of).figure(stem)
    filename = f"trial-ledger-{stem}-{criteria.replace(' ', '')}.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if kind == "png":
        return Response(svg_to_png(svg, scale=PNG_SCALE), media_type="image/png", headers=headers)
    return Response(svg, media_type="image/svg+xml", headers=headers)
