"""Signatures, locks, transfers, corrections that drop a lesion, users' roles at the export's
moment, and hostile text (angle brackets, ampersands, quotes, newlines, any script, emoji, a
control character): all in a valid ODM file, every text read back exactly as recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from domain.account import Account
from domain.events import CATALOGUE
from domain.ledger_event import Author
from domain.study import STUDY_STREAM_ID
from infra.ledger.chain import parse_recorded_at
from services.application import Actor, Submission, TrialLedger
from services.exports.odm_admin import LEGAL_REASON, signature_def_oid
from tests import story
from tests.exports.odm_support import (
    NS,
    assert_matches_ledger,
    export,
    one,
    parse,
    replay,
    subjects,
    transactions,
)

PID = "HCC-01-001"
HOSTILE_NAME = "Zoë O'Brien-Łukasiewicz <PI> & \"Dr\" 🩺"
HOSTILE_TERM = "Rash <grade 2> & \"itchy\" 'dry' — 皮疹 😷 ⚕️"
HOSTILE_REASON = "Source says <2> & not \"3\";\n\tline two: 'ok' ✅ — Ελληνικά 👩‍⚕️\r\nend"
HOSTILE_MEANING = "I approve <all> & \"everything\" — ✍️ 承認"
CONTROL_REASON = "bell\x07 and nul-free control \x1b[31m"
CUTOFF_REASON = "interim <look> & \"go\" — 🧮"
COORDINATOR = Actor("site.coord", "site_coordinator", "Sam Coordinator", ("S01",))
COORDINATOR_S02 = Actor("s02.coord", "site_coordinator", "Tess Coordinator", ("S02",))
INVESTIGATOR = Author("inv.one", "investigator")
DATA_MANAGER = Author("dm.one", "data_manager")
ADMIN = Author("admin.one", "admin")


def _account(ledger: TrialLedger, username: str, role: str, sites: list[str], name: str
             ) -> None:
    ledger.create_account(Account.create(
        username=username, full_name=name, role=role, sites=sites,
        password_hash="not-a-real-hash", event_id=str(uuid.uuid4()), actor="setup",
        actor_role="admin"))


def _post(ledger: TrialLedger, body: dict[str, Any], actor: Actor = COORDINATOR) -> str:
    submission = Submission(body["type"], date.fromisoformat(body["occurred_on"]),
                            CATALOGUE[body["type"]].payload.model_validate(body["data"]),
                            body.get("reason"))
    recorded, _ = ledger.record_participant_event(PID, submission, actor)
    return recorded.event_id


def _story(ledger: TrialLedger) -> dict[str, str]:
    """Enrolment, a scan, a dose, an AE with hostile text, corrections and a void with hostile
    reasons, a signature, a lock and an unlock, a transfer, and a later entry at the new site
    that invalidates the signature."""
    today = datetime.now(UTC).date().isoformat()
    for username, role, sites, name in (
            ("site.coord", "site_coordinator", ["S01"], "Sam Coordinator"),
            ("inv.one", "investigator", ["S01"], HOSTILE_NAME),
            ("dm.one", "data_manager", [], "Dana Manager")):
        _account(ledger, username, role, sites, name)
    ids = {"enrolled": _post(ledger, story.enrollment())}
    ids["scan"] = _post(ledger, story.scan("2026-01-08", baseline=True, recist_mm=[40, 30],
                                           mrecist_mm=[35, 25]))
    ids["dose"] = _post(ledger, story.camrelizumab("2026-01-12"))
    ids["ae"] = _post(ledger, story.adverse_event("AE1", "2026-01-20", term=HOSTILE_TERM))
    scan = story.scan("2026-01-08", baseline=True, recist_mm=[40], mrecist_mm=[35])
    ids["scan_fix"] = _post(ledger, story.correction(ids["scan"], today, scan["data"],
                                                     reason=HOSTILE_REASON))
    ae = story.adverse_event("AE1", "2026-01-20", term=HOSTILE_TERM, grade=3,
                             related_to=("camrelizumab", "TACE"))
    ids["ae_fix"] = _post(ledger, story.correction(ids["ae"], today, ae["data"],
                                                   reason=CONTROL_REASON, new_date="2026-01-21"))
    ids["void"] = _post(ledger, story.void(ids["dose"], today, reason=HOSTILE_REASON))
    ids["signed"] = ledger.sign_casebook(PID, full_name=HOSTILE_NAME, meaning=HOSTILE_MEANING,
                                         by=INVESTIGATOR, today=date.today())["signature_id"]
    ids["locked"] = ledger.lock_participant(PID, DATA_MANAGER, "monitoring <visit> & review",
                                            date.today()).event_id
    ids["unlocked"] = ledger.unlock_participant(PID, DATA_MANAGER, "visit done",
                                                date.today()).event_id
    ids["moved"] = ledger.transfer_participant(PID, "S02", DATA_MANAGER, "moved: \"S02\" ✈️",
                                               date.today()).event_id
    ids["later"] = _post(ledger, story.follow_up(today), COORDINATOR_S02)
    ledger.declare_cutoff("primary-analysis", date(2026, 6, 30), DATA_MANAGER, CUTOFF_REASON)
    ledger.lock_database(DATA_MANAGER, "final")
    ledger.unlock_database(DATA_MANAGER, "query")
    return ids


def _items(root: Any, oid: str) -> list[str | None]:
    return [i.get("Value") for i in root.iterfind(f".//o:ItemData[@ItemOID='{oid}']", NS)]


def test_record_keeping_and_hostile_text_round_trip(ledger: TrialLedger) -> None:
    ids = _story(ledger)
    root = parse(export(ledger))
    assert_matches_ledger(ledger, root, None, [PID])
    subject = subjects(root)[PID]
    read = {tx.source.split()[1]: tx for tx in transactions(subject)}

    assert read[ids["scan_fix"]].reason == HOSTILE_REASON  # CR LF, tab, emoji: exact
    assert read[ids["void"]].reason == HOSTILE_REASON
    assert read[ids["ae_fix"]].reason == "bell\ufffd and nul-free control \ufffd[31m"
    assert read[ids["locked"]].form == "F.ParticipantLocked"
    assert read[ids["locked"]].reason == "monitoring <visit> & review"
    assert read[ids["moved"]].location == "LOC.S01"  # recorded at the site it moved from
    assert read[ids["later"]].location == "LOC.S02"
    assert one(subject, "o:SiteRef").get("LocationOID") == "LOC.S02"

    forms = replay(subject)
    assert forms[ids["ae"]]["IG.AdverseEventReported"][None][
        "IT.AdverseEventReported.term"] == HOSTILE_TERM
    assert _items(root, "IT.AdverseEventReported.term") == [HOSTILE_TERM, HOSTILE_TERM]
    targets = forms[ids["scan"]]["IG.TumorAssessed.reads.targets"]
    assert sorted(str(key) for key in targets) == ["RECIST 1.1/T1", "mRECIST/T1"]  # T2 removed by the correction
    corrections = forms[ids["ae"]]["IG.EntryCorrected"]
    assert corrections[ids["ae_fix"]]["IT.EntryCorrected.occurred_on"] == "2026-01-21"
    assert ids["dose"] not in forms
    transfer = forms[ids["moved"]]["IG.ParticipantTransferred"][None]
    assert (transfer["IT.ParticipantTransferred.from_site"],
            transfer["IT.ParticipantTransferred.to_site"]) == ("S01", "S02")

    signed = one(subject, f"o:StudyEventData/o:FormData[@FormRepeatKey='{ids['signed']}']")
    signature = one(signed, "o:Signature")
    assert one(signature, "o:UserRef").get("UserOID") == "USR.inv.one"
    assert one(signature, "o:SignatureRef").get("SignatureOID") == \
        signature_def_oid(HOSTILE_MEANING)
    view = ledger.signatures_of(PID)[0]
    assert one(signature, "o:DateTimeStamp").text == view["signed_at"]
    assert one(signature, "o:CryptoBindingManifest").text == view["covers_hash"]
    assert view["status"] == "invalidated"  # by the later entry, which follows it in the file
    definition = one(root, "o:AdminData/o:SignatureDef")
    assert definition.get("Methodology") == "Electronic"
    assert one(definition, "o:Meaning").text == HOSTILE_MEANING
    assert one(definition, "o:LegalReason").text == LEGAL_REASON

    investigator = one(root, "o:AdminData/o:User[@OID='USR.inv.one']")
    assert one(investigator, "o:FullName").text == HOSTILE_NAME
    assert one(investigator, "o:DisplayName").text == f"{HOSTILE_NAME} (investigator)"
    assert investigator.get("UserType") == "Investigator"
    assert one(investigator, "o:LocationRef").get("LocationOID") == "LOC.S01"
    stranger = one(root, "o:AdminData/o:User[@OID='USR.s02.coord']")
    assert one(stranger, "o:DisplayName").text == "s02.coord (no account)"


def test_the_study_record_is_reference_data(ledger: TrialLedger) -> None:
    _story(ledger)
    root = parse(export(ledger))
    groups = root.findall("o:ReferenceData/o:ItemGroupData", NS)
    chain = ledger.store.chain_for_stream(STUDY_STREAM_ID)
    assert [g.get("ItemGroupOID") for g in groups] == [
        "IG.StudyRecordOpened", "IG.DataCutoffDeclared", "IG.DatabaseLocked",
        "IG.DatabaseUnlocked"]
    for group, row in zip(groups, chain, strict=True):
        source = one(group, "o:AuditRecord/o:SourceID").text or ""
        assert source.endswith(f" position {row.position}")
        assert one(group, "o:AuditRecord/o:DateTimeStamp").text == row.recorded_at
        assert one(group, "o:AuditRecord/o:UserRef").get("UserOID") == "USR.dm.one"
        assert one(group, "o:AuditRecord/o:LocationRef").get("LocationOID") == "LOC.study"
    cutoff = {i.get("ItemOID"): i.get("Value") for i in groups[1].iterfind("o:ItemData", NS)}
    assert cutoff == {"IT.DataCutoffDeclared.name": "primary-analysis",
                      "IT.DataCutoffDeclared.cutoff_on": "2026-06-30"}
    assert one(groups[1], "o:AuditRecord/o:ReasonForChange").text == CUTOFF_REASON
    assert one(root, "o:AdminData/o:Location[@OID='LOC.study']").get("LocationType") == \
        "Sponsor"

    before = ledger.signatures_of(PID)[0]["signed_at"]
    assert parse(export(ledger, as_of=parse_recorded_at(before))).find(
        "o:ReferenceData", NS) is None


def test_users_carry_the_role_they_had_at_the_exports_moment(ledger: TrialLedger) -> None:
    _story(ledger)
    moment = ledger.signatures_of(PID)[0]["signed_at"]
    ledger.grant_role("inv.one", "monitor", ADMIN, "moved to monitoring")

    def display(document: bytes) -> str:
        user = "o:AdminData/o:User[@OID='USR.inv.one']/o:DisplayName"
        return str(one(parse(document), user).text)

    assert display(export(ledger)) == f"{HOSTILE_NAME} (monitor)"
    then = export(ledger, as_of=parse_recorded_at(moment))
    assert display(then) == f"{HOSTILE_NAME} (investigator)"
    root = parse(then)
    assert_matches_ledger(ledger, root, moment, [PID])
    assert root.find(".//o:FormData[@FormOID='F.ParticipantLocked']", NS) is None
