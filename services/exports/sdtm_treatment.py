"""EX (study drug doses), PR (TACE sessions and later locoregional, surgical or radiation
therapy) and CM (later systemic anticancer therapy).

EX has one record per effective `DoseAdministered`: a camrelizumab infusion, or an apatinib
daily-dosing period (EXSTDTC to EXENDTC). A `DoseModified` of a drug shows in EXADJ of that
drug's next dose (the interruption, reduction or resumption that came before it); a
discontinuation is a DS record, and a modification naming an adverse event is that event's
AEACN (services/exports/sdtm_ae.py).
"""

from __future__ import annotations

from domain.entries import Entry
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
)
from services.exports.xpt import Column

TACE_NAME = "TRANSARTERIAL CHEMOEMBOLIZATION"
SUBSEQUENT = "SUBSEQUENT ANTICANCER THERAPY"

EX_COLUMNS = (
    *IDENTIFIERS, sequence("EX"),
    Column("EXTRT", "Name of Treatment", origin="Assigned", codelist=terms.STUDY_DRUG,
           mandatory=True),
    Column("EXDOSE", "Dose", "float"),
    Column("EXDOSU", "Dose Units", origin="Assigned", codelist=terms.UNIT_MG),
    Column("EXDOSFRQ", "Dosing Frequency per Interval", origin="Protocol",
           codelist=terms.FREQUENCY),
    Column("EXROUTE", "Route of Administration", codelist=terms.ROUTE),
    Column("EXADJ", "Reason for Dose Adjustment", origin="Derived",
           method="Each DoseModified of the drug dated after its previous dose and on or "
                  "before this one, as ACTION: reason, in date order, joined by '; '."),
    Column("EXSTDTC", "Start Date/Time of Treatment", "date"),
    Column("EXENDTC", "End Date/Time of Treatment", "date", "Derived",
           method="The dosing period's end_on (an infusion: the day it starts), or the cutoff "
                  "if the period runs past it."),
    study_day("EXSTDY", "Start of Treatment"),
    study_day("EXENDY", "End of Treatment"),
)
EX_QUALIFIERS = (Qualifier("CYCLE", "Treatment Cycle Number"),)


def exposure(subject: Subject) -> list[Record]:
    records = []
    doses = subject.entries("DoseAdministered")
    changes = subject.entries("DoseModified")
    for dose in doses:
        drug = dose.data["drug"]
        earlier = [d.occurred_on for d in doses
                   if d.data["drug"] == drug and d.occurred_on < dose.occurred_on]
        since = max(earlier, default=None)
        adjustments = [f"{c.data['action'].upper()}: {c.data['reason']}" for c in changes
                       if c.data["drug"] == drug and c.occurred_on <= dose.occurred_on
                       and (since is None or c.occurred_on > since)]
        end = subject.dose_end(dose)
        cycle = dose.data.get("cycle")
        records.append(Record({
            **base(subject, "EX"),
            "EXTRT": drug.upper(),
            "EXDOSE": dose.data["dose_mg"],
            "EXDOSU": "mg",
            "EXDOSFRQ": terms.FREQUENCIES.get(drug),
            "EXROUTE": terms.ROUTES.get(dose.data["route"], dose.data["route"]),
            "EXADJ": "; ".join(adjustments) or None,
            "EXSTDTC": iso(dose.occurred_on),
            "EXENDTC": iso(end),
            "EXSTDY": subject.day(dose.occurred_on),
            "EXENDY": subject.day(end),
        }, {"CYCLE": None if cycle is None else str(cycle)}))
    return records


PR_COLUMNS = (
    *IDENTIFIERS, sequence("PR"),
    Column("PRTRT", "Reported Name of Procedure", mandatory=True),
    Column("PRCAT", "Category of Procedure", origin="Assigned", codelist=terms.PR_CATEGORY),
    Column("PRSCAT", "Subcategory of Procedure", codelist=terms.PR_SUBCATEGORY),
    Column("PRDOSE", "Dose of Chemotherapy Agent", "float"),
    Column("PRDOSU", "Dose Units", origin="Assigned", codelist=terms.UNIT_MG),
    Column("PRROUTE", "Route of Administration", origin="Assigned", codelist=terms.ROUTE),
    Column("PRSTDTC", "Start Date/Time of Procedure", "date"),
    study_day("PRSTDY", "Start of Procedure"),
)
PR_QUALIFIERS = (
    Qualifier("PRAGENT", "Chemotherapy Agent"),
    Qualifier("PRLIPVOL", "Lipiodol Volume (mL)"),
    Qualifier("PREMBAG", "Embolic Agent"),
)


def procedures(subject: Subject) -> list[Record]:
    """Each TACE session; then each later anticancer therapy that is not systemic."""
    records = []
    for entry in subject.entries("TACEPerformed", "AnticancerTherapyStarted"):
        if entry.type == "TACEPerformed":
            records.append(_tace(subject, entry))
        elif entry.data["category"] != "systemic":
            records.append(Record({
                **base(subject, "PR"), "PRTRT": entry.data["therapy"], "PRCAT": SUBSEQUENT,
                "PRSCAT": entry.data["category"].upper(), "PRSTDTC": iso(entry.occurred_on),
                "PRSTDY": subject.day(entry.occurred_on)}))
    return records


def _tace(subject: Subject, entry: Entry) -> Record:
    data = entry.data
    lipiodol = data.get("lipiodol_ml")
    return Record({
        **base(subject, "PR"), "PRTRT": TACE_NAME, "PRCAT": "STUDY TREATMENT",
        "PRSCAT": data["technique"], "PRDOSE": data["agent_dose_mg"], "PRDOSU": "mg",
        "PRROUTE": "INTRA-ARTERIAL", "PRSTDTC": iso(entry.occurred_on),
        "PRSTDY": subject.day(entry.occurred_on),
    }, {"PRAGENT": data["agent"],
        "PRLIPVOL": None if lipiodol is None else number_text(float(lipiodol)),
        "PREMBAG": data.get("embolic_agent")})


CM_COLUMNS = (
    *IDENTIFIERS, sequence("CM"),
    Column("CMTRT", "Reported Name of Drug, Med, or Therapy", mandatory=True),
    Column("CMCAT", "Category for Medication", origin="Assigned", codelist=terms.CM_CATEGORY),
    Column("CMSTDTC", "Start Date/Time of Medication", "date"),
    study_day("CMSTDY", "Start of Medication"),
)


def medications(subject: Subject) -> list[Record]:
    """Each later systemic anticancer therapy (off protocol)."""
    return [Record({**base(subject, "CM"), "CMTRT": entry.data["therapy"],
                    "CMCAT": SUBSEQUENT, "CMSTDTC": iso(entry.occurred_on),
                    "CMSTDY": subject.day(entry.occurred_on)})
            for entry in subject.entries("AnticancerTherapyStarted")
            if entry.data["category"] == "systemic"]


EX = Domain("EX", "Exposure", "INTERVENTIONS",
            "One record per constant-dosing interval or infusion per subject", EX_COLUMNS,
            exposure, EX_QUALIFIERS)
PR = Domain("PR", "Procedures", "INTERVENTIONS",
            "One record per recorded procedure per occurrence per subject", PR_COLUMNS,
            procedures, PR_QUALIFIERS)
CM = Domain("CM", "Concomitant/Prior Medications", "INTERVENTIONS",
            "One record per recorded medication occurrence per subject", CM_COLUMNS,
            medications)
