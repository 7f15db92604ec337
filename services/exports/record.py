"""Produce an export and record it in the ledger; find a recorded export by a file's hash.

`produce` writes the files of one export into a directory (the writers of
services/exports/odm.py, sdtm.py and adam.py; a study report is rendered and signed by
services/reports/issue.py, which records it with `record_export`), hashes each file as
written, and records an `ExportProduced` event (domain/exports.py) before anything is handed
over: a file that leaves the ledger is always in it. `find_by_sha256` answers the inspector's
question "did this file come from this ledger, and as of when?".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from domain.errors import RuleViolation
from domain.exports import ExportedFile, ExportFormat, ExportRecord
from domain.ledger_event import Author
from infra.ledger.chain import parse_recorded_at
from services.application import TrialLedger
from services.exports.scope import ExportScope

EXPORT_TOPIC_PREFIX = "domain.exports:"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportReceipt:
    """What was recorded: the export's id, its files and its place in the ledger."""

    export_id: str
    export_format: ExportFormat
    paths: list[Path]
    files: list[ExportedFile]
    position: int
    recorded_at: str

    def as_dict(self) -> dict[str, Any]:
        return {"export_id": self.export_id, "format": self.export_format,
                "files": [f.as_dict() for f in self.files], "position": self.position,
                "recorded_at": self.recorded_at}


def file_digest(path: Path) -> ExportedFile:
    """The SHA-256 and size of a file as it is on disk, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return ExportedFile(path.name, digest.hexdigest(), size)


def scope_record(scope: ExportScope) -> dict[str, Any]:
    """The scope as recorded in the event (JSON values only)."""
    return {
        "sites": None if scope.sites is None else list(scope.sites),
        "participant_id": scope.participant_id,
        "as_of": scope.as_of_text,
        "cutoff": None if scope.cutoff is None else scope.cutoff.isoformat(),
    }


def write_files(ledger: TrialLedger, engine: Engine, export_format: ExportFormat,
                scope: ExportScope, directory: Path, progress: Progress | None = None
                ) -> list[Path]:
    """Write one export's files into `directory` (which must exist); their paths.

    RuleViolation `export_not_possible` (409) when what is stored cannot be written in the
    format (a value no SAS transport variable can hold, a derived value without its source
    events): the export is refused whole, never written with a value changed or missing."""
    from services.exports.adam_sources import ExportInconsistency
    from services.exports.xpt import XptError

    try:
        return _write_files(ledger, engine, export_format, scope, directory, progress)
    except (XptError, ExportInconsistency) as error:
        raise RuleViolation("export_not_possible",
                            f"the {export_format} export cannot be written: {error}") from error


def _write_files(ledger: TrialLedger, engine: Engine, export_format: ExportFormat,
                 scope: ExportScope, directory: Path, progress: Progress | None
                 ) -> list[Path]:
    if export_format == "odm":
        from services.exports.odm import write_odm

        path = directory / odm_file_name(scope)
        with path.open("wb") as out:
            write_odm(ledger, out, scope=scope, progress=progress)
        return [path]
    if export_format == "sdtm":
        from services.exports.sdtm import write_sdtm

        return write_sdtm(ledger, directory, scope=scope)
    if export_format == "adam":
        from services.exports.adam import write_adam

        paths: list[Path] = write_adam(ledger, engine, directory, scope=scope)
        return paths
    raise ValueError(f"{export_format} is not written from the ledger here: a study report is "
                     "rendered and signed by services/reports/issue.py")


def odm_file_name(scope: ExportScope) -> str:
    """e.g. odm-study-20260630T120000Z.xml, odm-HCC-01-001-....xml, odm-sites-S01-S02-....xml"""
    what = (scope.participant_id if scope.participant_id is not None
            else "study" if scope.sites is None else "sites-" + "-".join(scope.sites))
    return f"odm-{what}-{scope.moment.strftime('%Y%m%dT%H%M%SZ')}.xml"


def record_export(ledger: TrialLedger, export_format: ExportFormat, scope: ExportScope,
                  paths: list[Path], by: Author, reason: str | None, *,
                  signature: dict[str, str] | None = None) -> ExportReceipt:
    """Hash the files as they are now and record the export; the receipt. `signature` (a
    signed study report's signer, time and meaning) is recorded in the scope, with what the
    signed file covers."""
    files = [file_digest(path) for path in paths]
    recorded = scope_record(scope)
    if signature is not None:
        recorded["signature"] = dict(signature)
    record = ExportRecord.produced(export_format, recorded, files, by, reason)
    ledger.save(record)
    chain = ledger.store.chain_for_event(record.id, record.version)
    assert chain is not None, f"no chain row for {record.id}"
    return ExportReceipt(record.export_id, export_format, paths, files, chain.position,
                         chain.recorded_at)


def pinned(ledger: TrialLedger, scope: ExportScope) -> ExportScope:
    """The scope with `as_of` made explicit: when none was asked for, the recorded time of
    the newest event now, so every file of the export reads the same ledger (a write that
    lands while it is being written is in none of them) and the record names the moment an
    identical export can be made again."""
    if scope.as_of is not None:
        return scope
    head = ledger.store.head()
    if head is None:
        return scope
    return replace(scope, as_of=parse_recorded_at(head.recorded_at))


def produce(ledger: TrialLedger, engine: Engine, export_format: ExportFormat,
            scope: ExportScope, directory: Path, by: Author, reason: str | None = None,
            progress: Progress | None = None) -> ExportReceipt:
    """Write the export into `directory` and record it; nothing is recorded if writing fails.
    `scope` should be `pinned`."""
    paths = write_files(ledger, engine, export_format, scope, directory, progress)
    return record_export(ledger, export_format, scope, paths, by, reason)


def recorded_exports(ledger: TrialLedger, *, as_of: str | None = None) -> list[dict[str, Any]]:
    """Every export recorded (as of `as_of`), oldest first, with its place in the ledger."""
    views = []
    for stream_id, _ in ledger.store.streams(EXPORT_TOPIC_PREFIX, as_of=as_of):
        record: ExportRecord = ledger.repository.get(stream_id)
        chain = ledger.store.chain_for_event(stream_id, 1)
        assert chain is not None, f"no chain row for {stream_id}"
        views.append({**record.view(), "position": chain.position,
                      "recorded_at": chain.recorded_at})
    return sorted(views, key=lambda view: view["position"])


def find_by_sha256(ledger: TrialLedger, sha256: str) -> list[dict[str, Any]]:
    """The recorded exports that handed over a file with this SHA-256 (hex, any case)."""
    wanted = sha256.lower()
    return [view for view in recorded_exports(ledger)
            if any(f["sha256"] == wanted for f in view["files"])]

