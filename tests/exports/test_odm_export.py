"""The ODM export of the seeded trial: valid against the official ODM 1.3.2 XSD, and, read
back, the same events and the same casebooks as the ledger's own reads (whole study, one
participant, some sites, and as of a past moment)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from domain.errors import UnknownParticipant
from infra.ledger.chain import parse_recorded_at
from services.application import TrialLedger
from services.exports.odm import write_odm
from services.exports.scope import ExportScope
from tests.exports.conftest import PARTICIPANTS
from tests.exports.odm_support import (
    NS,
    assert_matches_ledger,
    export,
    one,
    parse,
    subjects,
    transactions,
)


def test_the_study_export_holds_every_event_of_every_participant(seeded: TrialLedger) -> None:
    created = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    root = parse(export(seeded, created_at=created))

    assert root.get("FileType") == "Transactional"
    assert root.get("Archival") == "Yes"
    assert root.get("ODMVersion") == "1.3.2"
    assert root.get("CreationDateTime") == root.get("AsOfDateTime") == \
        "2030-05-06T07:08:09.123456Z"
    assert root.get("Originator") == root.get("SourceSystem") == "trial-ledger"
    assert root.get("Granularity") == "All"
    ids = [pid for pid, _ in seeded.participant_ids()]
    assert len(ids) == PARTICIPANTS
    assert_matches_ledger(seeded, root, None, ids)
    total = sum(len(seeded.participant_events(pid)) for pid in ids)
    assert len(root.findall(".//o:FormData/o:AuditRecord", NS)) == total
    kinds = {tx.transaction for s in subjects(root).values() for tx in transactions(s)}
    assert kinds == {"Insert", "Update", "Remove"}  # the seed corrects and voids

    clinical = one(root, "o:ClinicalData")
    mdv = one(root, "o:Study/o:MetaDataVersion")
    assert clinical.get("MetaDataVersionOID") == mdv.get("OID")
    admin = one(root, "o:AdminData")
    users = {u.get("OID") for u in admin.iterfind("o:User", NS)}
    data = [*root.iterfind("o:ClinicalData", NS), *root.iterfind("o:ReferenceData", NS)]
    referenced = {r.get("UserOID") for d in data for r in d.iterfind(".//o:UserRef", NS)}
    assert users == referenced  # one User per account that appears, no more
    locations = {loc.get("OID") for loc in admin.iterfind("o:Location", NS)}
    assert locations == {r.get(name) for d in data for tag, name in (
        ("LocationRef", "LocationOID"), ("SiteRef", "LocationOID"))
        for r in d.iterfind(f".//o:{tag}", NS)}


def test_two_exports_are_two_files(seeded: TrialLedger) -> None:
    first = parse(export(seeded, participant_id="HCC-01-001"))
    second = parse(export(seeded, participant_id="HCC-01-001"))
    assert first.get("FileOID") != second.get("FileOID")
    mdv = "o:Study/o:MetaDataVersion"
    assert one(first, mdv).get("OID") == one(second, mdv).get("OID")


def test_one_participant_and_one_site(seeded: TrialLedger) -> None:
    root = parse(export(seeded, participant_id="HCC-01-003"))
    assert root.get("Granularity") == "SingleSubject"
    assert_matches_ledger(seeded, root, None, ["HCC-01-003"])

    at = {pid: seeded.participant(pid).site_id for pid, _ in seeded.participant_ids()}
    site = sorted(set(at.values()))[1]
    root = parse(export(seeded, sites=(site,)))
    assert root.get("Granularity") == "SingleSite"
    expected = sorted(pid for pid, s in at.items() if s == site)
    assert 0 < len(expected) < len(at)
    assert_matches_ledger(seeded, root, None, expected)


def test_an_export_as_of_a_past_moment_holds_what_was_recorded_by_then(
        seeded: TrialLedger) -> None:
    chain = [row for pid, _ in seeded.participant_ids()
             for _, row in seeded.participant_events(pid)]
    moment = sorted(row.recorded_at for row in chain)[len(chain) // 2]
    now = parse(export(seeded))
    then = parse(export(seeded, as_of=parse_recorded_at(moment)))

    assert then.get("AsOfDateTime") == moment
    assert then.get("AsOfDateTime", "") < now.get("AsOfDateTime", "")
    ids = [pid for pid, _ in seeded.participant_ids(as_of=moment)]
    assert_matches_ledger(seeded, then, moment, ids)
    recorded_by_then = sum(1 for row in chain if row.recorded_at <= moment)
    assert len(then.findall(".//o:FormData", NS)) == recorded_by_then
    assert recorded_by_then < len(now.findall(".//o:FormData", NS))


def test_an_empty_ledger_and_an_unknown_participant(ledger: TrialLedger) -> None:
    root = parse(export(ledger))
    assert subjects(root) == {}
    assert one(root, "o:ClinicalData").get("MetaDataVersionOID") == one(
        root, "o:Study/o:MetaDataVersion").get("OID")

    out = io.BytesIO()
    with pytest.raises(UnknownParticipant):
        write_odm(ledger, out, scope=ExportScope(datetime.now(UTC), participant_id="HCC-09-999"))
    assert out.getvalue() == b""
