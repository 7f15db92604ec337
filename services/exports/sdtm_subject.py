"""DM (demographics), DS (disposition) and SS (subject status): who each participant is and
where they stand in the study at the cutoff.

DM's reference dates are the casebook's: RFSTDTC is the treatment start (the first dose or
TACE, docs/rules.md section 1), RFENDTC the death or else the last date known alive, both on
or before the cutoff. The enrolment's baseline disease characteristics travel in SUPPDM.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.protocol import STUDY_DRUGS
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

TREATED_ARM = ("TACECA", "TACE + Camrelizumab + Apatinib")
NOT_TREATED = ("NOTTRT", "Not Treated")

DM_COLUMNS = (
    *IDENTIFIERS,
    Column("SUBJID", "Subject Identifier for the Study", mandatory=True),
    Column("RFSTDTC", "Subject Reference Start Date/Time", "date", "Derived",
           method="The first effective dose or TACE dated on or before the cutoff."),
    Column("RFENDTC", "Subject Reference End Date/Time", "date", "Derived",
           method="The death date, else the last date known alive, on or before the cutoff."),
    Column("RFXSTDTC", "Date/Time of First Study Treatment", "date", "Derived",
           method="The first effective dose or TACE dated on or before the cutoff."),
    Column("RFXENDTC", "Date/Time of Last Study Treatment", "date", "Derived",
           method="The latest end of a dose (EXENDTC) or TACE dated on or before the cutoff."),
    Column("RFICDTC", "Date/Time of Informed Consent", "date"),
    Column("RFPENDTC", "Date/Time of End of Participation", "date", "Derived",
           method="As RFENDTC."),
    Column("DTHDTC", "Date/Time of Death", "date"),
    Column("DTHFL", "Subject Death Flag", origin="Derived", codelist=terms.NY,
           method="Y when a death is dated on or before the cutoff."),
    Column("SITEID", "Study Site Identifier", mandatory=True),
    Column("BRTHDTC", "Date/Time of Birth", "partialDate"),
    Column("AGE", "Age", "integer", "Derived",
           method="Enrolment year minus birth year (the protocol's eligibility age)."),
    Column("AGEU", "Age Units", origin="Assigned", codelist=terms.AGEU),
    Column("SEX", "Sex", codelist=terms.SEX, mandatory=True),
    Column("RACE", "Race", origin="Not Available"),
    Column("ETHNIC", "Ethnicity", origin="Not Available"),
    Column("ARMCD", "Planned Arm Code", origin="Assigned", codelist=terms.ARM_CODE),
    Column("ARM", "Description of Planned Arm", origin="Assigned", codelist=terms.ARM),
    Column("ACTARMCD", "Actual Arm Code", origin="Derived", codelist=terms.ARM_CODE,
           method="TACECA when treated on or before the cutoff, else NOTTRT."),
    Column("ACTARM", "Description of Actual Arm", origin="Derived", codelist=terms.ARM,
           method="The description of ACTARMCD."),
    Column("COUNTRY", "Country", origin="Not Available"),
    Column("DMDTC", "Date/Time of Collection", "date"),
    Column("DMDY", "Study Day of Collection", "integer", "Derived",
           method="Date minus RFSTDTC in days, plus 1 on or after RFSTDTC (no day 0)."),
)
DM_QUALIFIERS = (
    Qualifier("ECOG", "ECOG Performance Status at Enrolment"),
    Qualifier("CHILDPGH", "Child-Pugh Class at Enrolment"),
    Qualifier("BCLC", "BCLC Stage at Enrolment"),
    Qualifier("PVTT", "Portal Vein Tumour Thrombus"),
    Qualifier("EXTRAHEP", "Extrahepatic Spread"),
    Qualifier("ETIOLOGY", "Etiology of Liver Disease"),
    Qualifier("AFP", "Serum AFP at Enrolment (ng/mL)"),
)


def demographics(subject: Subject) -> list[Record]:
    data = subject.enrollment.data
    enrolled_on = subject.enrollment.occurred_on
    start = subject.treatment_start
    end = subject.shown.died_on or subject.last_known_alive
    arm = TREATED_ARM if start is not None else NOT_TREATED
    values = {
        **base(subject, "DM"),
        "SUBJID": subject.subject_id,
        "RFSTDTC": iso(start),
        "RFENDTC": iso(end),
        "RFXSTDTC": iso(start),
        "RFXENDTC": iso(_last_treatment(subject)),
        "RFICDTC": data.get("consented_on"),
        "RFPENDTC": iso(end),
        "DTHDTC": iso(subject.shown.died_on),
        "DTHFL": "Y" if subject.shown.died_on is not None else None,
        "SITEID": subject.participant.site_id,
        "BRTHDTC": str(data["birth_year"]),
        "AGE": enrolled_on.year - int(data["birth_year"]),
        "AGEU": "YEARS",
        "SEX": data["sex"],
        "ARMCD": TREATED_ARM[0],
        "ARM": TREATED_ARM[1],
        "ACTARMCD": arm[0],
        "ACTARM": arm[1],
        "DMDTC": iso(enrolled_on),
        "DMDY": subject.day(enrolled_on),
    }
    qualifiers = {
        "ECOG": str(data["ecog"]), "CHILDPGH": data["child_pugh"], "BCLC": data["bclc"],
        "PVTT": yes_no(bool(data["pvtt"])), "EXTRAHEP": yes_no(bool(data["extrahepatic_spread"])),
        "ETIOLOGY": data["etiology"], "AFP": number_text(float(data["afp_ng_ml"])),
    }
    return [Record(values, qualifiers)]


def _last_treatment(subject: Subject) -> date | None:
    ends = [e.occurred_on for e in subject.entries("TACEPerformed")]
    ends += [subject.dose_end(dose) for dose in subject.entries("DoseAdministered")]
    return max(ends, default=None)


DS_COLUMNS = (
    *IDENTIFIERS, sequence("DS"),
    Column("DSTERM", "Reported Term for the Disposition Event", mandatory=True),
    Column("DSDECOD", "Standardized Disposition Term", origin="Assigned",
           codelist=terms.DS_DECODED, mandatory=True),
    Column("DSCAT", "Category for Disposition Event", origin="Assigned",
           codelist=terms.DS_CATEGORY),
    Column("DSSCAT", "Subcategory for Disposition Event", origin="Assigned",
           codelist=terms.DS_SUBCATEGORY),
    Column("DSSTDTC", "Start Date/Time of Disposition Event", "date"),
    study_day("DSSTDY", "Start of Disposition Event"),
)
DS_QUALIFIERS = (
    Qualifier("AESPID", "Adverse Event Sponsor-Defined Identifier"),
    Qualifier("FUALLOW", "Follow-up Allowed After Withdrawal"),
)


def disposition(subject: Subject) -> list[Record]:
    """Consent and enrolment (milestones), each study drug's discontinuation, withdrawal and
    death (disposition events), in date order."""
    enrollment = subject.enrollment
    found: list[tuple[date, int, Record]] = []

    def add(on: date, order: int, values: dict[str, Any],
            qualifiers: dict[str, Any] | None = None) -> None:
        record = Record({**base(subject, "DS"), **values, "DSSTDTC": iso(on),
                         "DSSTDY": subject.day(on)}, dict(qualifiers or {}))
        found.append((on, order, record))

    milestone = {"DSCAT": "PROTOCOL MILESTONE"}
    add(date.fromisoformat(enrollment.data["consented_on"]), 0, {**milestone, "DSTERM": "INFORMED CONSENT OBTAINED",
                                             "DSDECOD": "INFORMED CONSENT OBTAINED"})
    add(enrollment.occurred_on, 0, {**milestone, "DSTERM": "ENROLLED", "DSDECOD": "ENROLLED"})
    for entry in subject.entries("DoseModified", "ParticipantWithdrew", "ParticipantDied"):
        event = {"DSCAT": "DISPOSITION EVENT"}
        if entry.type == "DoseModified":
            if entry.data["action"] != "discontinued" or entry.data["drug"] not in STUDY_DRUGS:
                continue
            ae_id = entry.data.get("adverse_event_id")
            add(entry.occurred_on, entry.version, {
                **event, "DSSCAT": f"{entry.data['drug'].upper()} TREATMENT",
                "DSTERM": entry.data["reason"],
                "DSDECOD": "ADVERSE EVENT" if ae_id else "OTHER"}, {"AESPID": ae_id})
        elif entry.type == "ParticipantWithdrew":
            add(entry.occurred_on, entry.version, {
                **event, "DSTERM": entry.data["reason"], "DSDECOD": "WITHDRAWAL BY SUBJECT"},
                {"FUALLOW": yes_no(bool(entry.data["follow_up_allowed"]))})
        else:
            add(entry.occurred_on, entry.version, {
                **event, "DSTERM": entry.data["cause"], "DSDECOD": "DEATH"})
    return [record for _, _, record in sorted(found, key=lambda item: (item[0], item[1]))]


SS_COLUMNS = (
    *IDENTIFIERS, sequence("SS"),
    Column("SSTESTCD", "Status Short Name", origin="Assigned", codelist=terms.SS_TEST_CODE,
           mandatory=True),
    Column("SSTEST", "Status Name", origin="Assigned", codelist=terms.SS_TEST, mandatory=True),
    Column("SSORRES", "Result or Finding in Original Units", codelist=terms.SURVIVAL),
    Column("SSSTRESC", "Character Result/Finding in Std Format", origin="Derived",
           codelist=terms.SURVIVAL, method="As SSORRES."),
    Column("SSDTC", "Date/Time of Assessment", "date"),
    study_day("SSDY", "Assessment"),
)


def subject_status(subject: Subject) -> list[Record]:
    """ALIVE at each follow-up contact, DEAD at the death."""
    records = []
    for entry in subject.entries("FollowUpContact", "ParticipantDied"):
        status = "DEAD" if entry.type == "ParticipantDied" else "ALIVE"
        records.append(Record({
            **base(subject, "SS"), "SSTESTCD": "SURVSTAT", "SSTEST": "Survival Status",
            "SSORRES": status, "SSSTRESC": status, "SSDTC": iso(entry.occurred_on),
            "SSDY": subject.day(entry.occurred_on)}))
    return records


DM = Domain("DM", "Demographics", "SPECIAL PURPOSE", "One record per subject", DM_COLUMNS,
            demographics, DM_QUALIFIERS)
DS = Domain("DS", "Disposition", "EVENTS",
            "One record per disposition status or protocol milestone per subject", DS_COLUMNS,
            disposition, DS_QUALIFIERS)
SS = Domain("SS", "Subject Status", "FINDINGS",
            "One record per status assessment per subject", SS_COLUMNS, subject_status)
