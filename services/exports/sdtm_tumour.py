"""TU (lesions identified), TR (what each scan's read measured) and RS (responses), per
criterion: --CAT is "RECIST 1.1" or "mRECIST", the two reads of one scan.

The responses are the casebook's at the cutoff (`Subject.views`, made by the ledger's own
response rules in domain/response/ through `participant_outcome`), never worked out here:
an OVRLRESP is the casebook's time-point `response` for that scan and criterion, BESTRESP its
confirmed and unconfirmed best overall response. A scan is linked across TR and RS by
--LNKGRP ("SCAN n": the participant's n-th effective scan by date), a lesion across TU and TR
by --LNKID (its lesion id) within one criterion.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.entries import Entry
from domain.protocol import CRITERIA, RECIST_11, TOO_SMALL_TO_MEASURE_MM, Criterion
from services.exports import sdtm_terms as terms
from services.exports.sdtm_model import (
    IDENTIFIERS,
    Domain,
    Qualifier,
    Record,
    Subject,
    base,
    iso,
    number_text,
    sequence,
    study_day,
    yes_no,
)
from services.exports.xpt import Column

LISTS = (("targets", "TARGET"), ("non_targets", "NON-TARGET"), ("new_lesions", "NEW"))
TR_TESTS = {code: decode or code for code, decode in terms.TR_TEST_CODE.items}
RS_TESTS = {code: decode or code for code, decode in terms.RS_TEST_CODE.items}


def _criterion(prefix: str) -> Column:
    return Column(f"{prefix}CAT", "Category", origin="Assigned", codelist=terms.CRITERION,
                  mandatory=True)


def _scans(subject: Subject) -> list[tuple[str, Entry]]:
    """Each effective scan dated by the cutoff with its link group, by date."""
    return [(f"SCAN {n}", entry)
            for n, entry in enumerate(subject.entries("TumorAssessed"), start=1)]


TU_COLUMNS = (
    *IDENTIFIERS, sequence("TU"),
    Column("TULNKID", "Link ID", mandatory=True),
    Column("TUTESTCD", "Tumor Identification Short Name", origin="Assigned",
           codelist=terms.TU_TEST_CODE, mandatory=True),
    Column("TUTEST", "Tumor Identification Test Name", origin="Assigned",
           codelist=terms.TU_TEST, mandatory=True),
    Column("TUORRES", "Tumor Identification Result", codelist=terms.LESION_ROLE),
    Column("TUSTRESC", "Tumor Identification Result Std. Format", origin="Derived",
           codelist=terms.LESION_ROLE, method="As TUORRES."),
    Column("TULOC", "Location of the Tumor"),
    _criterion("TU"),
    Column("TUMETHOD", "Method of Identification", codelist=terms.METHOD),
    Column("TUEVAL", "Evaluator"),
    Column("TUDTC", "Date/Time of Tumor Identification", "date"),
    study_day("TUDY", "Tumor Identification"),
)


def tumours(subject: Subject) -> list[Record]:
    """Each lesion (per criterion) where first listed: the baseline the casebook uses first,
    then the other scans by date."""
    found: list[tuple[str, int, Record]] = []
    for index, criterion in enumerate(CRITERIA):
        baseline = subject.outcome.by_criterion[criterion].baseline
        scans = [entry for _, entry in _scans(subject) if criterion in entry.data["reads"]]
        scans.sort(key=lambda e: 0 if baseline is not None and e.event_id == baseline.event_id
                   else 1)
        seen: set[str] = set()
        for entry in scans:
            read = entry.data["reads"][criterion]
            for key, role in LISTS:
                for lesion in read.get(key, []):
                    if lesion["lesion_id"] in seen:
                        continue
                    seen.add(lesion["lesion_id"])
                    found.append((iso(entry.occurred_on) or "", index, Record({
                        **base(subject, "TU"), "TULNKID": lesion["lesion_id"],
                        "TUTESTCD": "TUMIDENT", "TUTEST": "Tumor Identification",
                        "TUORRES": role, "TUSTRESC": role, "TULOC": lesion.get("organ"),
                        "TUCAT": criterion, "TUMETHOD": terms.METHODS[entry.data["modality"]],
                        "TUEVAL": entry.data.get("reader"), "TUDTC": iso(entry.occurred_on),
                        "TUDY": subject.day(entry.occurred_on)})))
    return [record for _, _, record in sorted(found, key=lambda item: (item[0], item[1]))]


TR_COLUMNS = (
    *IDENTIFIERS, sequence("TR"),
    Column("TRGRPID", "Group ID", origin="Assigned", codelist=terms.LESION_ROLE),
    Column("TRLNKID", "Link ID"),
    Column("TRLNKGRP", "Link Group ID", origin="Derived",
           method="SCAN n: the participant's n-th effective scan by date (then recording)."),
    Column("TRTESTCD", "Tumor/Lesion Assessment Short Name", origin="Assigned",
           codelist=terms.TR_TEST_CODE, mandatory=True),
    Column("TRTEST", "Tumor/Lesion Assessment Test Name", origin="Assigned",
           codelist=terms.TR_TEST, mandatory=True),
    Column("TRORRES", "Result or Finding in Original Units"),
    Column("TRORRESU", "Original Units", origin="Assigned", codelist=terms.UNIT_MM),
    Column("TRSTRESC", "Character Result/Finding in Std Format", origin="Derived",
           method="TRORRES; a lesion too small to measure counts 5 mm (RECIST 1.1)."),
    Column("TRSTRESN", "Numeric Result/Finding in Standard Units", "float", "Derived",
           method="TRSTRESC as a number; SUMDIAM is the casebook's target sum."),
    Column("TRSTRESU", "Standard Units", origin="Assigned", codelist=terms.UNIT_MM),
    Column("TRSTAT", "Completion Status", origin="Derived", codelist=terms.NOT_DONE,
           method="NOT DONE for a target without a diameter or a non-target not assessed."),
    _criterion("TR"),
    Column("TRMETHOD", "Method Used to Identify the Tumor/Lesion", codelist=terms.METHOD),
    Column("TREVAL", "Evaluator"),
    Column("TRDTC", "Date/Time of Tumor/Lesion Measurement", "date"),
    study_day("TRDY", "Tumor/Lesion Measurement"),
)


def tumour_results(subject: Subject) -> list[Record]:
    sums = {(row["event_id"], row["criterion"]): row for row in subject.views["assessments"]}
    records = []
    for group, entry in _scans(subject):
        for criterion in CRITERIA:
            read = entry.data["reads"].get(criterion)
            if read is None:
                continue
            common = {**base(subject, "TR"), "TRLNKGRP": group, "TRCAT": criterion,
                      "TRMETHOD": terms.METHODS[entry.data["modality"]],
                      "TREVAL": entry.data.get("reader"), "TRDTC": iso(entry.occurred_on),
                      "TRDY": subject.day(entry.occurred_on)}
            for key, role in LISTS:
                for lesion in read.get(key, []):
                    lesion_common = {**common, "TRGRPID": role, "TRLNKID": lesion["lesion_id"]}
                    records += [Record({**lesion_common, **values})
                                for values in _lesion_results(criterion, key, lesion)]
            row = sums.get((entry.event_id, criterion))
            if row is not None and row["sum_mm"] is not None:
                records.append(Record({**common, **_measure("SUMDIAM", row["sum_mm"])}))
    return records


def _lesion_results(criterion: Criterion, key: str, lesion: dict[str, Any]
                    ) -> list[dict[str, Any]]:
    if key == "targets":
        code = "SAXIS" if criterion == RECIST_11 and lesion.get("nodal") else "LDIAM"
        if lesion.get("too_small"):
            return [{**_test(code), "TRORRES": "TOO SMALL TO MEASURE",
                     "TRSTRESC": number_text(TOO_SMALL_TO_MEASURE_MM),
                     "TRSTRESN": TOO_SMALL_TO_MEASURE_MM, "TRSTRESU": "mm"}]
        if lesion.get("diameter_mm") is None:
            return [{**_test(code), "TRSTAT": "NOT DONE"}]
        return [_measure(code, lesion["diameter_mm"])]
    if key == "non_targets":
        state = terms.TUMOUR_STATES.get(lesion["status"])
        if state is None:
            return [{**_test("TUMSTATE"), "TRSTAT": "NOT DONE"}]
        return [{**_test("TUMSTATE"), "TRORRES": state, "TRSTRESC": state}]
    certainty = "UNEQUIVOCAL" if lesion.get("unequivocal") else "EQUIVOCAL"
    typical = yes_no(bool(lesion.get("typical_hcc")))
    results = [{**_test("TUMSTATE"), "TRORRES": certainty, "TRSTRESC": certainty},
               {**_test("TYPHCC"), "TRORRES": typical, "TRSTRESC": typical}]
    if lesion.get("diameter_mm") is not None:
        results.append(_measure("LDIAM", lesion["diameter_mm"]))
    return results


def _test(code: str) -> dict[str, Any]:
    return {"TRTESTCD": code, "TRTEST": TR_TESTS[code]}


def _measure(code: str, mm: float) -> dict[str, Any]:
    text = number_text(float(mm))
    return {**_test(code), "TRORRES": text, "TRORRESU": "mm", "TRSTRESC": text,
            "TRSTRESN": float(mm), "TRSTRESU": "mm"}


RS_COLUMNS = (
    *IDENTIFIERS, sequence("RS"),
    Column("RSLNKGRP", "Link Group ID", origin="Derived",
           method="SCAN n, as TRLNKGRP: the scan the response was assessed at."),
    Column("RSTESTCD", "Assessment Short Name", origin="Assigned",
           codelist=terms.RS_TEST_CODE, mandatory=True),
    Column("RSTEST", "Assessment Name", origin="Assigned", codelist=terms.RS_TEST,
           mandatory=True),
    _criterion("RS"),
    Column("RSSCAT", "Subcategory", origin="Assigned", codelist=terms.BEST_KIND),
    Column("RSORRES", "Result or Finding in Original Units", origin="Derived",
           codelist=terms.RS_ORIGINAL,
           method="The ledger's response rules (docs/rules.md sections 6-10) as the casebook "
                  "at the cutoff gives them."),
    Column("RSSTRESC", "Character Result/Finding in Std Format", origin="Derived",
           codelist=terms.RS_RESULT, method="RSORRES in CDISC terms (none -> NA)."),
    Column("RSDTC", "Date/Time of Assessment", "date"),
    study_day("RSDY", "Assessment"),
)
RS_QUALIFIERS = (Qualifier("PDBACKDT", "PD Dated Back to First Sighting", "Derived"),)


def responses(subject: Subject) -> list[Record]:
    """Per scan and criterion the time-point responses; per criterion the best overall
    response, confirmed and unconfirmed, once treated by the cutoff."""
    groups = {entry.event_id: group for group, entry in _scans(subject)}
    records = []
    for row in subject.views["assessments"]:
        if row["role"] != "follow_up":
            continue
        on = row["occurred_on"]
        common = {**base(subject, "RS"), "RSLNKGRP": groups.get(row["event_id"]),
                  "RSCAT": row["criterion"], "RSDTC": on,
                  "RSDY": subject.day(date.fromisoformat(on))}
        for code, value in (("OVRLRESP", row["response"]), ("TRGRESP", row["target"]),
                            ("NTRGRESP", row["non_target"]),
                            ("NEWLPROG", yes_no(bool(row["new_lesion"])))):
            qualifiers = {"PDBACKDT": "Y"} if code == "OVRLRESP" and row["backdated"] else {}
            records.append(Record({**common, **_response(code, value)}, qualifiers))
    if subject.outcome.treatment_start_on is not None:
        for criterion in CRITERIA:
            best = subject.views["best_overall_response"][criterion]
            for kind in ("confirmed", "unconfirmed"):
                records.append(Record({**base(subject, "RS"), "RSCAT": criterion,
                                       "RSSCAT": kind.upper(),
                                       **_response("BESTRESP", best[kind])}))
    return records


def _response(code: str, value: str) -> dict[str, Any]:
    return {"RSTESTCD": code, "RSTEST": RS_TESTS[code], "RSORRES": value,
            "RSSTRESC": terms.NON_TARGET_RESULTS.get(value, value)}


TU = Domain("TU", "Tumor/Lesion Identification", "FINDINGS",
            "One record per identified lesion per criterion per subject", TU_COLUMNS, tumours)
TR = Domain("TR", "Tumor/Lesion Results", "FINDINGS",
            "One record per lesion measurement per scan per criterion per subject", TR_COLUMNS,
            tumour_results)
RS = Domain("RS", "Disease Response and Clin Classification", "FINDINGS",
            "One record per response assessment per scan per criterion per subject",
            RS_COLUMNS, responses, RS_QUALIFIERS)
