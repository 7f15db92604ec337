"""`import odm`: the seeded trial exported, imported into a fresh store and exported again gives
the same clinical data, the same casebooks and the same endpoints; each imported event keeps
its original audit record as provenance while recording who imported it; a store with
participants, or a file that is not the ledger's valid ODM 1.3.2, is refused with nothing
written."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from lxml import etree
from typer.testing import CliRunner

from domain.ledger_event import Author
from infra.ledger.chain import parse_recorded_at
from infra.ledger.verify import verify_ledger
from services.application import TrialLedger
from services.cli_import import import_app
from services.exports.odm_import import ImportRefused, StoreNotEmpty, import_odm
from tests.exports.import_support import IMPORTER, api_endpoints, view
from tests.exports.odm_support import NS, export, parse, subjects


def record_keeping(ledger: TrialLedger) -> dict[str, str]:
    """A transfer, a lock and unlock, and a signature on the seeded trial, so the file holds
    every record-keeping form."""
    ids = [pid for pid, _ in ledger.participant_ids()]
    sites = sorted({ledger.participant(pid).site_id for pid in ids})
    manager = Author("dm.import", "data_manager")
    today = datetime.now(UTC).date()
    moved = ledger.participant(ids[0])
    to_site = next(site for site in sites if site != moved.site_id)
    ledger.transfer_participant(ids[0], to_site, manager, "moved for the import test", today)
    ledger.lock_participant(ids[1], manager, "query open", today)
    ledger.unlock_participant(ids[1], manager, "query answered", today)
    ledger.sign_casebook(ids[2], full_name="Ivy Investigator", meaning="I approve",
                         by=Author("ivy.pi", "investigator"), today=today)
    return {"moved": ids[0], "to_site": to_site, "signed": ids[2]}


def written(path: Path, document: bytes) -> Path:
    path.write_bytes(document)
    return path


def clinical_data(document: bytes) -> bytes:
    """ClinicalData canonicalised, without signature forms and without the import's own
    Annotation (what the round trip does not carry over by design)."""
    clinical = parse(document).find("o:ClinicalData", NS)
    assert clinical is not None
    for form in clinical.findall(".//o:FormData[@FormOID='F.CasebookSigned']", NS):
        form.getparent().remove(form)
    for note in clinical.findall(".//o:FormData/o:Annotation", NS):
        if "imported_by" in (note.findtext("o:Comment", namespaces=NS) or ""):
            note.getparent().remove(note)
    canonical: bytes = etree.tostring(clinical, method="c14n")
    return canonical


def stored_events(ledger: TrialLedger) -> int:
    return sum(version for _, version in ledger.participant_ids())


def test_round_trip_gives_the_same_clinical_data_casebooks_and_endpoints(
        seeded: TrialLedger, fresh: TrialLedger, tmp_path: Path) -> None:
    marks = record_keeping(seeded)
    first = export(seeded)
    source = written(tmp_path / "trial.odm.xml", first)
    forms = parse(first).findall("o:ClinicalData//o:FormData", NS)
    signed = [f for f in forms if f.get("FormOID") == "F.CasebookSigned"]

    result = import_odm(fresh, source, IMPORTER)

    ids = [pid for pid, _ in seeded.participant_ids()]
    assert [pid for pid, _ in fresh.participant_ids()] == ids
    assert result.participants == len(ids)
    assert result.signatures_not_recreated == len(signed) == 1
    assert result.events_imported == len(forms) - 1 == stored_events(fresh)
    assert fresh.participant(marks["moved"]).site_id == marks["to_site"]
    assert fresh.participant(marks["signed"]).signatures == []

    second = export(fresh)
    assert clinical_data(second) == clinical_data(first)
    for pid in ids:
        is_signed = pid == marks["signed"]
        assert view(fresh, pid, signed=is_signed) == view(seeded, pid, signed=is_signed), pid
    assert fresh.participant(marks["signed"]).version == \
        seeded.participant(marks["signed"]).version - 1
    for criterion in ("RECIST 1.1", "mRECIST"):
        assert api_endpoints(fresh, criterion) == api_endpoints(seeded, criterion)
    again = parse(second)
    users = {u.get("OID") for u in again.iterfind("o:AdminData/o:User", NS)}
    original = {f"USR.{e.actor}" for pid in ids for e, _ in seeded.participant_events(pid)
                if type(e).__name__ != "CasebookSigned"}
    assert original | {f"USR.{IMPORTER.username}"} <= users


def test_each_imported_event_keeps_its_original_audit_record(
        seeded: TrialLedger, fresh: TrialLedger, tmp_path: Path) -> None:
    record_keeping(seeded)
    source = written(tmp_path / "trial.odm.xml", export(seeded))
    started = datetime.now(UTC)
    result = import_odm(fresh, source, IMPORTER)

    for pid, _ in seeded.participant_ids():
        before = [(e, c) for e, c in seeded.participant_events(pid)
                  if type(e).__name__ != "CasebookSigned"]
        after = fresh.participant_events(pid)
        assert len(after) == len(before)
        for (event, chain), (imported, recorded) in zip(before, after, strict=True):
            assert type(imported) is type(event)
            assert imported.event_id == event.event_id
            assert imported.occurred_on == event.occurred_on
            assert imported.data == event.data
            assert imported.reason == event.reason or event.reason is None
            assert (imported.actor, imported.role) == (IMPORTER.username, IMPORTER.role)
            assert parse_recorded_at(recorded.recorded_at) >= started
            assert imported.provenance == {
                "source": "odm", "file_sha256": result.file_sha256,
                "file_oid": result.file_oid, "user": event.actor, "role": event.role,
                "site": event.site_id, "recorded_at": chain.recorded_at,
                "reason": event.reason, "event_id": event.event_id,
                "source_id": f"event {event.event_id} position {chain.position}"}
            assert getattr(event, "provenance", None) is None
            stored = json.loads(fresh.mapper.to_stored_event(imported).state)
            assert stored["provenance"] == imported.provenance  # inside the hashed bytes
    assert verify_ledger(fresh.store).ok


def test_a_store_with_participants_is_refused(seeded: TrialLedger, tmp_path: Path) -> None:
    source = written(tmp_path / "trial.odm.xml", export(seeded))
    before = seeded.participant_ids()

    with pytest.raises(StoreNotEmpty, match="already has 12 participants"):
        import_odm(seeded, source, IMPORTER)

    assert seeded.participant_ids() == before


@pytest.mark.parametrize(("change", "problem"), [
    (lambda text: text.replace(' FileOID="', ' NotAnODMAttribute="', 1), "NotAnODMAttribute"),
    (lambda text: text.replace('FileType="Transactional"', 'FileType="Snapshot"', 1),
     "FileType='Snapshot'"),
    (lambda text: text[: len(text) // 2], "not a valid ODM 1.3.2 document"),
    (lambda text: text.replace('<FormData FormOID="F.DoseAdministered"',
                              '<FormData FormOID="F.Unknown"', 1),
     "form F.Unknown .*: no such form in the ledger.s catalogue"),
])
def test_an_invalid_file_is_refused_with_nothing_written(
        seeded: TrialLedger, fresh: TrialLedger, tmp_path: Path, change: Any,
        problem: str) -> None:
    document = export(seeded).decode("utf-8")
    source = written(tmp_path / "bad.odm.xml", change(document).encode("utf-8"))

    with pytest.raises(ImportRefused, match=problem):
        import_odm(fresh, source, IMPORTER)

    assert fresh.participant_ids() == []


def test_the_imported_file_names_each_participant_once(seeded: TrialLedger, fresh: TrialLedger,
                                                       tmp_path: Path) -> None:
    source = written(tmp_path / "trial.odm.xml", export(seeded))
    import_odm(fresh, source, IMPORTER)
    root = parse(export(fresh))
    notes = root.findall("o:ClinicalData//o:FormData/o:Annotation", NS)
    imported = [n for n in notes if "imported_by" in (n.findtext("o:Comment", namespaces=NS)
                                                      or "")]
    assert len(imported) == len(root.findall("o:ClinicalData//o:FormData", NS))
    assert list(subjects(root)) == [pid for pid, _ in seeded.participant_ids()]


def test_the_command_prints_the_summary_and_refuses_a_second_import(
        seeded: TrialLedger, fresh: TrialLedger, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    source = written(tmp_path / "trial.odm.xml", export(seeded))
    monkeypatch.setenv("TRIAL_LEDGER_DATABASE_URL", fresh.test_url)  # type: ignore[attr-defined]
    monkeypatch.setenv("TRIAL_LEDGER_SECRETS_DIR", str(tmp_path / "cli-secrets"))
    cli = typer.Typer()
    cli.add_typer(import_app, name="import")

    done = CliRunner().invoke(cli, ["import", "odm", str(source)])

    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["participants"] == len(seeded.participant_ids())
    assert summary["events_imported"] == stored_events(fresh) == stored_events(seeded)
    assert summary["signatures_not_recreated"] == 0
    assert summary["file_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    again = CliRunner().invoke(cli, ["import", "odm", str(source)])
    assert again.exit_code != 0
    assert stored_events(fresh) == summary["events_imported"]
