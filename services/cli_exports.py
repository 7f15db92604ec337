"""`trial-ledger export ...`: ODM, SDTM and ADaM files, each recorded in the ledger, and
`export verify FILE`, which proves a file handed over came from this ledger."""

from __future__ import annotations

import getpass
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from domain.exports import ExportFormat
from domain.ledger_event import Author
from infra.db import create_engine
from infra.logging import configure_logging
from infra.migrate import require_current_schema
from infra.secrets import ensure_secrets
from infra.settings import get_settings
from services.cli_errors import PLAIN_HELP, CliFailure, ExitCode, using_store
from services.exports.scope import ExportScope

export_app = typer.Typer(help="Files that leave the ledger (each one recorded in it).",
                         **PLAIN_HELP)
err = Console(stderr=True)

Sites = Annotated[list[str] | None, typer.Option("--site", metavar="SITE",
                                                  help="Only this site (repeatable).")]
AsOf = Annotated[str | None, typer.Option("--as-of", metavar="TIME",
                                          help="Recorded time (RFC 3339): the ledger as it "
                                               "stood then. Default: now.")]
Reason = Annotated[str | None, typer.Option(metavar="TEXT",
                                            help="Why the export is made (kept in the ledger).")]
CutoffOption = Annotated[str, typer.Option(metavar="DATE|NAME",
                                           help="Clinical cutoff: YYYY-MM-DD or the name of a "
                                                "declared cutoff.")]


@contextmanager
def opened_store() -> Iterator[Any]:
    """The ledger of an existing store at the current schema, opened for writing (an export
    records an event, an import records many); the store is neither created nor migrated,
    and the secrets its snapshots are keyed with are created if missing. Log lines go to
    stderr as JSON: stdout is the command's receipt."""
    from services.application import TrialLedger

    settings = get_settings()
    configure_logging(settings.log_level)
    using_store("TRIAL_LEDGER_DATABASE_URL", settings.database)
    engine = create_engine(settings.database)
    try:
        require_current_schema(engine)
        ensure_secrets(settings)
        ledger = TrialLedger(settings, engine)
        try:
            yield ledger
        finally:
            ledger.close()
    finally:
        engine.dispose()


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    from domain.errors import InvalidEntry
    from services.api.deps import recorded_moment

    try:
        return recorded_moment("as-of", text)
    except InvalidEntry as error:
        raise CliFailure(ExitCode.CONFIGURATION, f"--as-of: {error.message}") from None


def _cutoff(ledger: Any, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        declared: date | None = ledger.declared_cutoff(text)
    if declared is None:
        raise CliFailure(ExitCode.CONFIGURATION, f"--cutoff {text!r} is neither a date (YYYY-MM-DD) "
                                         "nor a declared cutoff (trial-ledger study cutoffs)")
    return declared


def _operator() -> Author:
    return Author(f"cli:{getpass.getuser()}", "system")


def _run(export_format: ExportFormat, scope_of: Any, out: Path | None, reason: str | None
         ) -> None:
    from services.exports.record import (
        odm_file_name,
        pinned,
        produce,
        record_export,
        write_files,
    )

    with opened_store() as ledger, _refusals_as_failures():
        scope: ExportScope = pinned(ledger, scope_of(ledger))
        if export_format == "odm":
            target = out or Path(odm_file_name(scope))
            if target.exists():
                raise CliFailure(ExitCode.CONFIGURATION, f"{target} exists; choose another --out")
            with tempfile.TemporaryDirectory(dir=target.parent or Path()) as scratch, \
                    _progress() as progress:
                receipt = produce(ledger, ledger.store.engine, "odm", scope, Path(scratch),
                                  _operator(), reason, progress)
                receipt.paths[0].replace(target)
            paths = [target]
        else:
            directory = out or Path(f"{export_format}-{scope.moment:%Y%m%dT%H%M%SZ}")
            if directory.exists() and any(directory.iterdir()):
                raise CliFailure(ExitCode.CONFIGURATION, f"{directory} is not empty; choose another "
                                                 "--out")
            directory.mkdir(parents=True, exist_ok=True)
            paths = write_files(ledger, ledger.store.engine, export_format, scope, directory)
            receipt = record_export(ledger, export_format, scope, paths, _operator(), reason)
    for path, file in zip(paths, receipt.files, strict=True):
        err.print(f"{path}  sha256 {file.sha256}  {file.size} bytes", highlight=False, soft_wrap=True)
    err.print(f"recorded as export {receipt.export_id} at ledger position {receipt.position} "
              f"({receipt.recorded_at})", highlight=False, soft_wrap=True)
    typer.echo(json.dumps(receipt.as_dict(), indent=2))


@contextmanager
def _refusals_as_failures() -> Iterator[None]:
    """A refusal of the ledger (an unknown participant, an export that cannot be written) is
    one line on stderr and exit 2, never a traceback."""
    from domain.errors import DomainError

    try:
        yield
    except DomainError as error:
        raise CliFailure(ExitCode.CONFIGURATION, f"not exported: {error}") from None


@contextmanager
def _progress() -> Iterator[Any]:
    with Progress("participants", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("export", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
        yield advance


@export_app.command("odm")
def export_odm(
    site: Sites = None,
    participant: Annotated[str | None, typer.Option(metavar="ID",
                                                    help="Only this participant.")] = None,
    as_of: AsOf = None,
    out: Annotated[Path | None, typer.Option(metavar="FILE", help="Where to write the XML "
                                             "(default: odm-<what>-<time>.xml here).")] = None,
    reason: Reason = None,
) -> None:
    """CDISC ODM 1.3.2 (Transactional, Archival) with every recorded event and its audit
    record, for the study, some sites or one participant; recorded in the ledger with the
    file's SHA-256 (printed, and as JSON on stdout)."""
    when = _moment(as_of)
    _run("odm", lambda _: ExportScope(
        created_at=datetime.now(UTC), as_of=when,
        sites=tuple(sorted(set(site))) if site else None, participant_id=participant),
        out, reason)


def _tabulation(export_format: ExportFormat, cutoff: str, as_of: str | None,
                site: list[str] | None, out: Path | None, reason: str | None) -> None:
    when = _moment(as_of)
    _run(export_format, lambda ledger: ExportScope(
        created_at=datetime.now(UTC), as_of=when,
        sites=tuple(sorted(set(site))) if site else None, cutoff=_cutoff(ledger, cutoff)),
        out, reason)


OutDir = Annotated[Path | None, typer.Option(metavar="DIR", help="An empty or new directory "
                                             "(default: <format>-<time> here).")]


@export_app.command("sdtm")
def export_sdtm(cutoff: CutoffOption, as_of: AsOf = None, site: Sites = None,
                out: OutDir = None, reason: Reason = None) -> None:
    """SDTM datasets (SAS transport v5) and define.xml at a clinical cutoff."""
    _tabulation("sdtm", cutoff, as_of, site, out, reason)


@export_app.command("adam")
def export_adam(cutoff: CutoffOption, as_of: AsOf = None, site: Sites = None,
                out: OutDir = None, reason: Reason = None) -> None:
    """ADaM datasets (ADSL, ADRS, ADTTE, and the trace of every derived row to its events)."""
    _tabulation("adam", cutoff, as_of, site, out, reason)


@export_app.command("verify")
def export_verify(file: Annotated[Path, typer.Argument(metavar="FILE", exists=True,
                                                       dir_okay=False)]) -> None:
    """Prove FILE came from this ledger: find the recorded export with its SHA-256 and check
    the hash chain that holds that record. Exit 1 if no export recorded this file or the
    chain does not verify. Read only."""
    from infra.ledger.store import LedgerStore
    from infra.ledger.verification import verify_store
    from services.application import TrialLedger
    from services.exports.record import file_digest, find_by_sha256

    settings = get_settings().for_reading()
    configure_logging(settings.log_level)
    using_store("TRIAL_LEDGER_DATABASE_URL", settings.database)
    engine = create_engine(settings.database)
    try:
        require_current_schema(engine)
        ledger = TrialLedger(settings, engine)
        digest = file_digest(file)
        found = find_by_sha256(ledger, digest.sha256)
        result = verify_store(LedgerStore(engine), settings) if found else None
        ledger.close()
    finally:
        engine.dispose()
    typer.echo(json.dumps({"file": str(file), "sha256": digest.sha256, "exports": found,
                           "chain_ok": None if result is None else result.ok}, indent=2))
    if not found:
        err.print(f"no export recorded in this ledger handed over a file with SHA-256 "
                  f"{digest.sha256}", highlight=False, soft_wrap=True)
        raise typer.Exit(ExitCode.VERIFICATION_FAILED)
    for view in found:
        err.print(f"export {view['export_id']} ({view['format']}) by {view['exported_by']} at "
                  f"{view['recorded_at']}, ledger position {view['position']}, scope "
                  f"{json.dumps(view['scope'])}", highlight=False, soft_wrap=True)
    assert result is not None
    if not result.ok:
        err.print("the hash chain does NOT verify: see `trial-ledger verify`", style="red")
        raise typer.Exit(ExitCode.VERIFICATION_FAILED)
    err.print("the hash chain verifies: the record of this export was not altered",
              highlight=False, soft_wrap=True)
