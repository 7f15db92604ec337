"""Exports a sponsor or a regulator takes away: ODM 1.3.2 with the audit trail, SDTM and ADaM.

`POST /api/v1/exports/{format}` writes the files, records the export in the ledger (who,
what, as of when, the cutoff, each file's SHA-256) and answers 201 with the file itself (ODM:
XML; SDTM and ADaM: a zip of the .xpt files and define.xml); the recorded hash is in
`X-Export-SHA256` and the record at `Location`. A POST because it records: a GET never writes.
`GET /api/v1/exports` lists the recorded exports the caller may see, and `?sha256=` finds the
export a file came from. A monitor exports and sees exports of their own sites only.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict
from starlette.background import BackgroundTask

from domain.errors import FieldProblem, InvalidEntry
from domain.exports import ExportFormat
from services.api.deps import ActorDep, AsOfDep, LedgerDep, author_of
from services.api.export_schemas import ExportListOut, ExportOut
from services.api.responses import EXPORT_404, PARTICIPANT_404, merged
from services.api.routes.analysis import Cutoff
from services.api.routes.audit import SITE_ID
from services.api.routes.participants import visible_participant
from services.api.schemas import ReasonText
from services.api.scope import readable_sites
from services.application import Actor
from services.exports.record import pinned, produce, recorded_exports
from services.exports.scope import ExportScope

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])

MEDIA = {"odm": "application/xml", "sdtm": "application/zip", "adam": "application/zip"}


class ExportRequest(BaseModel):
    """Why the export is made (kept in the ledger with it), e.g. "interim analysis"."""

    model_config = ConfigDict(extra="forbid")
    reason: ReasonText | None = None


SiteIds = Annotated[list[str] | None, Query(
    description="Only these sites (repeatable). Default: every site the caller may export.",
    max_length=64)]
ParticipantQuery = Annotated[str | None, Query(
    pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$", description="Only this participant's casebook.")]
Sha256Query = Annotated[str | None, Query(
    pattern=r"^[0-9a-fA-F]{64}$", description="Only the exports that handed over a file "
                                              "with this SHA-256 (hex).")]


def _sites(actor: Actor, asked: list[str] | None) -> tuple[str, ...] | None:
    """The sites the export covers: those asked for, within what the actor may export."""
    allowed = readable_sites(actor, "export_data")
    if not asked:
        return allowed
    for index, site in enumerate(asked):
        if not re.fullmatch(SITE_ID, site):
            raise InvalidEntry(f"site_id {site!r} is not a site id (e.g. S01)",
                               [FieldProblem(f"query.site_id.{index}", "not a site id")])
    chosen = tuple(sorted(set(asked)))
    if allowed is not None and not set(chosen) <= set(allowed):
        raise HTTPException(403, "you may export only the sites assigned to you: "
                                 + ", ".join(allowed))
    return chosen


def _scope(request: Request, ledger: Any, actor: Actor, as_of: str | None,
           sites: list[str] | None, participant_id: str | None,
           cutoff: date | None) -> ExportScope:
    chosen = _sites(actor, sites)
    if participant_id is not None:
        participant = visible_participant(ledger, actor, participant_id, as_of, "export_data")
        if participant is None or (chosen is not None and participant.site_id not in chosen):
            raise HTTPException(404, f"participant {participant_id} is not visible to you")
    moment = None if as_of is None else datetime.fromisoformat(as_of)
    return ExportScope(created_at=datetime.now(UTC), as_of=moment, sites=chosen,
                       participant_id=participant_id, cutoff=cutoff)


def _answer(request: Request, ledger: Any, actor: Actor, export_format: ExportFormat,
            scope: ExportScope, reason: str | None) -> FileResponse:
    scope = pinned(ledger, scope)
    workdir = Path(tempfile.mkdtemp(prefix="trial-ledger-export-"))
    try:
        files = workdir / "files"
        files.mkdir()
        by = author_of(actor, request)
        if export_format == "odm":
            receipt = produce(ledger, request.app.state.engine, export_format, scope, files, by,
                              reason)
            handed = receipt.paths[0]
        else:
            from services.exports.record import record_export, write_files

            paths = write_files(ledger, request.app.state.engine, export_format, scope, files)
            handed = workdir / f"{export_format}-{scope.moment.strftime('%Y%m%dT%H%M%SZ')}.zip"
            with zipfile.ZipFile(handed, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in paths:
                    archive.write(path, path.name)
            receipt = record_export(ledger, export_format, scope, [*paths, handed], by, reason)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    sha256 = next(f.sha256 for f in receipt.files if f.name == handed.name)
    return FileResponse(
        handed, status_code=201, media_type=MEDIA[export_format], filename=handed.name,
        headers={"Location": f"/api/v1/exports/{receipt.export_id}",
                 "X-Export-Id": receipt.export_id, "X-Export-SHA256": sha256,
                 "X-Ledger-Position": str(receipt.position)},
        background=BackgroundTask(shutil.rmtree, workdir, ignore_errors=True))


FILE_201: dict[int | str, dict[str, Any]] = {201: {"description": "The file, recorded in the ledger.",
                  "content": {"application/xml": {}, "application/zip": {}}}}


@router.post("/odm", status_code=201, response_class=FileResponse,
             responses=merged(FILE_201, PARTICIPANT_404))
def export_odm(request: Request, ledger: LedgerDep, actor: ActorDep, as_of: AsOfDep = None,
               site_id: SiteIds = None, participant_id: ParticipantQuery = None,
               body: Annotated[ExportRequest | None, Body()] = None) -> FileResponse:
    """ODM 1.3.2 (Transactional, Archival) of one participant, some sites or the study, as
    the ledger stood at as_of: metadata from the event catalogue, users, sites and signature
    meanings, and every recorded event with its audit record."""
    scope = _scope(request, ledger, actor, as_of, site_id, participant_id, None)
    return _answer(request, ledger, actor, "odm", scope, body.reason if body else None)


def _tabulation(export_format: ExportFormat):  # type: ignore[no-untyped-def]
    def export(request: Request, ledger: LedgerDep, actor: ActorDep, cutoff: Cutoff = None,
               as_of: AsOfDep = None, site_id: SiteIds = None,
               body: Annotated[ExportRequest | None, Body()] = None) -> FileResponse:
        if cutoff is None:
            raise InvalidEntry("cutoff is required: a date (YYYY-MM-DD) or a declared cutoff",
                               [FieldProblem("query.cutoff", "required")])
        scope = _scope(request, ledger, actor, as_of, site_id, None, cutoff)
        return _answer(request, ledger, actor, export_format, scope,
                       body.reason if body else None)
    return export


router.add_api_route(
    "/sdtm", _tabulation("sdtm"), methods=["POST"], status_code=201,
    response_class=FileResponse, responses=FILE_201, name="export_sdtm",
    description="SDTM (SDTMIG 3.4) as SAS transport v5 files and define.xml, in a zip, at a "
                "clinical cutoff, as the ledger stood at as_of.")
router.add_api_route(
    "/adam", _tabulation("adam"), methods=["POST"], status_code=201,
    response_class=FileResponse, responses=FILE_201, name="export_adam",
    description="ADaM (ADSL, ADRS, ADTTE and the trace to ledger events) as SAS transport v5 "
                "files, in a zip, at a clinical cutoff, as the ledger stood at as_of.")


def _visible(actor: Actor, view: dict[str, Any]) -> bool:
    allowed = readable_sites(actor, "export_data")
    sites = view["scope"]["sites"]
    return allowed is None or (sites is not None and set(sites) <= set(allowed))


@router.get("", response_model=ExportListOut, response_model_exclude_unset=True)
def list_exports(ledger: LedgerDep, actor: ActorDep, as_of: AsOfDep = None,
                 sha256: Sha256Query = None) -> dict[str, Any]:
    """Recorded exports the caller may see, oldest first: who, what, as of when, cutoff and
    each file's SHA-256; with sha256, only those that handed over that file."""
    views = [view for view in recorded_exports(ledger, as_of=as_of) if _visible(actor, view)]
    if sha256 is not None:
        views = [view for view in views
                 if any(f["sha256"] == sha256.lower() for f in view["files"])]
    return {"exports": views, "as_of": as_of}


@router.get("/{export_id}", response_model=ExportOut, responses=EXPORT_404,
            response_model_exclude_unset=True)
def read_export(ledger: LedgerDep, actor: ActorDep,
                export_id: Annotated[str, PathParam(pattern=r"^[0-9a-f-]{36}$")]) -> dict[str, Any]:
    """One recorded export; 404 if unknown or not the caller's to see."""
    for view in recorded_exports(ledger):
        if view["export_id"] == export_id and _visible(actor, view):
            return view
    raise HTTPException(404, f"no export {export_id} visible to you")
