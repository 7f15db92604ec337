"""`import odm --mapping`: another EDC's audit export of this CRF (Rave-style: its own OIDs and
codes, an audit record per changed value, one ClinicalData per change) migrates into an empty
store as the same trial: the same effective entries, casebooks and endpoints as the ledger it
was written from, each event keeping the other system's audit record as its provenance. A
mapping that names what the catalogue lacks, and a file with what the mapping does not name,
are refused with their place and nothing written."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from infra.ledger.verify import verify_ledger
from projections.audit_trail import AuditFilters
from projections.queries import audit_page
from services.api.casebook_schemas import StreamEvent
from services.api.routes.participants import read_events
from services.application import Actor, TrialLedger
from services.cli_import import import_app
from services.exports.odm import validate_odm, validate_vendor_odm
from services.exports.odm_import import ImportRefused, import_odm
from services.exports.odm_mapping import MappingError, load_mapping
from tests.exports.foreign_odm import MAPPING, load, rave_export
from tests.exports.import_support import IMPORTER, api_endpoints, view
from tests.exports.odm_support import NS, export, parse


def users_of(ledger: TrialLedger) -> dict[str, dict[str, str]]:
    """The other system's user list, as a migrating sponsor writes it into the mapping: each
    user's role (its ClinicalData does not say)."""
    return {event.actor: {"username": event.actor, "role": event.role}
            for pid, _ in ledger.participant_ids()
            for event, _ in ledger.participant_events(pid)}


def mapping_file(tmp_path: Path, ledger: TrialLedger, **changes: Any) -> Path:
    mapping = load() | {"users": users_of(ledger), "default_role": None} | changes
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(mapping))
    return path


def migrated(seeded: TrialLedger, fresh: TrialLedger, tmp_path: Path) -> tuple[Path, Any]:
    source = tmp_path / "rave-audit.xml"
    source.write_bytes(rave_export(seeded))
    result = import_odm(fresh, source, IMPORTER,
                        mapping=load_mapping(mapping_file(tmp_path, seeded)))
    return source, result


def clinical_entries(ledger: TrialLedger, pid: str) -> list[dict[str, Any]]:
    """The participant's entries as they stand, and each correction's corrected data and
    moved date (its own date is the day it was made: the other system's audit stamp)."""
    entries = ledger.participant(pid).entries.values()
    return [{"type": e.type, "data": e.data} if e.type == "EntryVoided" else
            {"type": e.type, "data": e.data["data"], "moved_to": e.data["occurred_on"]}
            if e.type == "EntryCorrected" else
            {"type": e.type, "occurred_on": e.occurred_on, "data": e.data} for e in entries
            if e.type != "EntryVoided"] + [
            {"voided": ledger.participant(pid).entries[e.data["voids"]].type}
            for e in entries if e.type == "EntryVoided"]


IDS = ("event_id", "corrected_by", "voided_by", "corrects", "voids", "entries", "version")


def without_ids(value: Any) -> Any:
    """A view without the ledger's own ids of the entries (the import's are derived from the
    file, the source ledger's were its own) and the stream's version."""
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items() if k not in IDS}
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


def test_the_file_is_another_systems_shape_and_valid_odm(seeded: TrialLedger) -> None:
    document = rave_export(seeded)
    root = parse(document)
    assert validate_vendor_odm(document) == []
    assert "mdsol" in validate_odm(document)[0]  # its vendor extension, outside the schema
    assert not root.findall(".//o:FormData[@FormOID='F.ParticipantEnrolled']", NS)
    clinical = root.findall("o:ClinicalData", NS)
    items = root.findall(".//o:ItemData", NS)
    assert len(clinical) > len(seeded.participant_ids()) * 10  # one per change
    assert all(item.find("o:AuditRecord", NS) is not None for item in items)
    assert {i.get("TransactionType") for i in items} == {"Insert", "Update"}
    assert root.findall(".//o:FormData[@TransactionType='Remove']", NS)


def test_a_migration_gives_the_same_entries_casebooks_and_endpoints(
        seeded: TrialLedger, fresh: TrialLedger, tmp_path: Path) -> None:
    _, result = migrated(seeded, fresh, tmp_path)

    ids = [pid for pid, _ in seeded.participant_ids()]
    assert [pid for pid, _ in fresh.participant_ids()] == ids
    assert result.participants == len(ids)
    for pid in ids:
        assert clinical_entries(fresh, pid) == clinical_entries(seeded, pid), pid
        ours, theirs = without_ids(view(fresh, pid)), without_ids(view(seeded, pid))
        assert ours == theirs, pid
    for criterion in ("RECIST 1.1", "mRECIST"):
        assert api_endpoints(fresh, criterion) == api_endpoints(seeded, criterion)
    assert verify_ledger(fresh.store).ok


def test_each_event_keeps_the_other_systems_audit_record(
        seeded: TrialLedger, fresh: TrialLedger, tmp_path: Path) -> None:
    _, result = migrated(seeded, fresh, tmp_path)

    for pid, _ in seeded.participant_ids():
        before = [(e, c) for e, c in seeded.participant_events(pid)
                  if type(e).__name__ not in ("CasebookSigned", "ParticipantLocked",
                                              "ParticipantUnlocked", "ParticipantTransferred")]
        after = fresh.participant_events(pid)
        assert len(after) == len(before), pid
        for (event, chain), (imported, _) in zip(before, after, strict=True):
            assert type(imported) is type(event)
            assert (imported.actor, imported.role) == (IMPORTER.username, IMPORTER.role)
            provenance = imported.provenance
            assert provenance is not None
            assert provenance["user"] == event.actor
            assert provenance["role"] == event.role
            assert provenance["site"] == event.site_id
            assert provenance["recorded_at"] == chain.recorded_at
            assert provenance["reason"] == event.reason
            assert provenance["source_id"].split(",")[0].isdigit()
            assert provenance["file_sha256"] == result.file_sha256
            assert provenance["mapping"]["sha256"] == load_mapping(MAPPING).sha256 or \
                provenance["mapping"]["name"] == load()["name"]
    exported = parse(export(fresh))
    users = {u.get("OID") for u in exported.iterfind("o:AdminData/o:User", NS)}
    assert {f"USR.{name}" for name in users_of(seeded)} <= users


def test_a_second_import_of_the_same_file_gives_the_same_event_ids(
        seeded: TrialLedger, fresh: TrialLedger, tmp_path: Path) -> None:
    source, _ = migrated(seeded, fresh, tmp_path)
    mapping = load_mapping(mapping_file(tmp_path, seeded))
    from services.exports.odm_foreign import foreign_events
    from services.exports.odm_plans import file_sha256

    origin = {"source": "odm", "file_sha256": file_sha256(source), "file_oid": "x"}
    planned = [p.provenance["event_id"] for p in foreign_events(source, origin, mapping)]
    recorded = [e.event_id for pid, _ in fresh.participant_ids()
                for e, _ in fresh.participant_events(pid)]
    assert sorted(planned) == sorted(recorded)


@pytest.mark.parametrize(("changes", "problem"), [
    ({"forms": {"EX": {"event_type": "DoseGiven", "groups": {}}}},
     r"forms\.EX\.event_type: 'DoseGiven' is not a clinical event type"),
    ({"forms": {"EX": {"event_type": "DoseAdministered", "groups": {
        "EX": {"rows": "", "items": {"EX.EXDOSE": {"field": "dose_in_grams"}}}}}}},
     r"items\.EX\.EXDOSE\.field: 'dose_in_grams' is not a field of these rows"),
    ({"forms": {"TU": {"event_type": "TumorAssessed", "groups": {
        "TU_TL": {"rows": "reads.lesions", "items": {}}}}}},
     r"groups\.TU_TL\.rows: 'reads\.lesions' is not a row path of TumorAssessed"),
    ({"default_role": "superuser"}, "role 'superuser' is not one of"),
    ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
])
def test_a_mapping_the_catalogue_cannot_use_is_refused_with_its_place(
        tmp_path: Path, changes: dict[str, Any], problem: str) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(load() | changes))
    with pytest.raises(MappingError, match=problem):
        load_mapping(path)


@pytest.mark.parametrize(("change", "problem"), [
    (lambda text: text.replace('FormOID="AE"', 'FormOID="AE2"', 1),
     "the mapping names no form 'AE2'"),
    (lambda text: text.replace('ItemOID="EX.EXDOSE"', 'ItemOID="EX.EXDOSX"', 1),
     "the mapping names no item 'EX.EXDOSX' in group EX"),
    (lambda text: re.sub("<ReasonForChange>[^<]*</ReasonForChange>", "", text),
     "has no ReasonForChange"),
    (lambda text: text.replace('ItemOID="AE.AETOXGR" TransactionType="Insert" Value="',
                               'ItemOID="AE.AETOXGR" TransactionType="Insert" Value="grade ',
                               1), "item AE.AETOXGR|not a AdverseEventReported the ledger "),
    (lambda text: text.replace('Value="', 'Value="two', 1),
     "item ENROL.ENRDAT: 'two.*' is not a date in the format '%d %b %Y'"),
])
def test_a_file_with_what_the_mapping_does_not_name_is_refused_with_nothing_written(
        seeded: TrialLedger, fresh: TrialLedger, tmp_path: Path, change: Any,
        problem: str) -> None:
    source = tmp_path / "bad.xml"
    source.write_text(change(rave_export(seeded).decode("utf-8")), encoding="utf-8")
    with pytest.raises(ImportRefused, match=problem):
        import_odm(fresh, source, IMPORTER,
                   mapping=load_mapping(mapping_file(tmp_path, seeded)))
    assert fresh.participant_ids() == []


def test_the_command_takes_the_mapping(seeded: TrialLedger, fresh: TrialLedger, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "rave-audit.xml"
    source.write_bytes(rave_export(seeded))
    monkeypatch.setenv("TRIAL_LEDGER_DATABASE_URL", fresh.test_url)  # type: ignore[attr-defined]
    monkeypatch.setenv("TRIAL_LEDGER_SECRETS_DIR", str(tmp_path / "cli-secrets"))
    cli = typer.Typer()
    cli.add_typer(import_app, name="import")

    bad = tmp_path / "bad-mapping.json"
    bad.write_text("{not json")
    refused = CliRunner().invoke(cli, ["import", "odm", str(source), "--mapping", str(bad)])
    assert refused.exit_code != 0 and "not JSON" in str(refused.exception)
    assert fresh.participant_ids() == []

    done = CliRunner().invoke(cli, ["import", "odm", str(source), "--mapping",
                                    str(mapping_file(tmp_path, seeded))])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["participants"] == len(seeded.participant_ids())


def test_the_event_stream_and_audit_trail_show_the_original_audit_record(
        seeded: TrialLedger, fresh: TrialLedger, tmp_path: Path) -> None:
    migrated(seeded, fresh, tmp_path)
    auditor = Actor("ann.auditor", "auditor")
    pid = next(pid for pid, _ in fresh.participant_ids())

    stream = read_events(pid, fresh, auditor)
    originals = [e for e, _ in seeded.participant_events(pid)]
    assert [e["provenance"]["user"] for e in stream] == [e.actor for e in originals
                                                         ][:len(stream)]
    assert {e["recorded_by"] for e in stream} == {IMPORTER.username}
    answer = StreamEvent.model_validate(stream[0]).model_dump(exclude_unset=True)
    assert answer["provenance"]["source"] == "odm"

    trail = audit_trail(fresh, pid)
    assert [t["provenance"] for t in trail] == [e["provenance"] for e in stream]
    assert all(t["verified"] for t in trail)
    assert not any("provenance" in t for t in audit_trail(seeded, pid))  # recorded here: none


def audit_trail(ledger: TrialLedger, pid: str) -> list[dict[str, Any]]:
    """The participant's audit trail entries as GET /audit-trail reads them."""
    page = audit_page(ledger, ledger.store.engine, after=0, limit=10_000,
                      filters=AuditFilters.of(participant_id=pid))
    entries: list[dict[str, Any]] = page["entries"]
    return entries
