"""The controlled values the SDTM datasets use, as Define-XML codelists, and the ledger's
vocabulary mapped to them.

Each codelist lists every value its variables can take in these files (tests hold every value
written to its codelist). The coded values follow CDISC Controlled Terminology where it has
a term for the ledger's value (NY, SEX, ROUTE, OUT, ACN, DS terms, oncology response and tumour
test codes); where it has none the value is the ledger's own, and docs/exports/sdtm.md says so.
"""

from __future__ import annotations

from domain.protocol import CRITERIA
from services.exports.xpt import CodeList


def _codes(oid: str, name: str, *codes: str) -> CodeList:
    return CodeList(oid, name, tuple((code, None) for code in codes))


def _decoded(oid: str, name: str, *pairs: tuple[str, str]) -> CodeList:
    return CodeList(oid, name, tuple((code, decode) for code, decode in pairs))


NY = _decoded("CL.NY", "No Yes Response", ("N", "No"), ("Y", "Yes"))
SEX = _decoded("CL.SEX", "Sex", ("F", "Female"), ("M", "Male"))
AGEU = _codes("CL.AGEU", "Age Unit", "YEARS")
ARM_CODE = _decoded("CL.ARMCD", "Arm Code", ("TACECA", "TACE + Camrelizumab + Apatinib"),
                    ("NOTTRT", "Not Treated"))
ARM = _codes("CL.ARM", "Arm", "TACE + Camrelizumab + Apatinib", "Not Treated")
ROUTE = _codes("CL.ROUTE", "Route of Administration", "INTRAVENOUS", "ORAL", "INTRA-ARTERIAL")
UNIT_MG = _codes("CL.UNIT.MG", "Dose Unit", "mg")
UNIT_MM = _codes("CL.UNIT.MM", "Measurement Unit", "mm")
FREQUENCY = _decoded("CL.FREQ", "Dosing Frequency", ("Q3W", "Every 3 weeks"),
                     ("QD", "Once daily"))
STUDY_DRUG = _codes("CL.EXTRT", "Study Drug", "CAMRELIZUMAB", "APATINIB")
TOXICITY_GRADE = _decoded("CL.AETOXGR", "CTCAE v5 Grade", ("1", "Mild"), ("2", "Moderate"),
                          ("3", "Severe"), ("4", "Life-threatening"), ("5", "Death"))
RELATED = _codes("CL.REL", "Causality", "RELATED", "NOT RELATED")
ACTION = _codes("CL.ACN", "Action Taken with Study Treatment", "DRUG WITHDRAWN",
                "DRUG INTERRUPTED", "DOSE REDUCED", "MULTIPLE")
OUTCOME = _codes("CL.OUT", "Outcome of Event", "RECOVERED/RESOLVED",
                 "RECOVERED/RESOLVED WITH SEQUELAE", "NOT RECOVERED/NOT RESOLVED", "FATAL")
ONGOING = _codes("CL.STENRF", "Relation to Reference Period", "ONGOING")
CTCAE = CodeList("CL.CTCAE", "CTCAE Terms", dictionary="CTCAE", version="5.0")
DS_CATEGORY = _codes("CL.DSCAT", "Category for Disposition Event", "PROTOCOL MILESTONE",
                     "DISPOSITION EVENT")
DS_SUBCATEGORY = _codes("CL.DSSCAT", "Subcategory for Disposition Event",
                        "CAMRELIZUMAB TREATMENT", "APATINIB TREATMENT")
DS_DECODED = _codes("CL.DSDECOD", "Standardized Disposition Term", "INFORMED CONSENT OBTAINED",
                    "ENROLLED", "DEATH", "WITHDRAWAL BY SUBJECT", "ADVERSE EVENT", "OTHER")
SS_TEST_CODE = _decoded("CL.SSTESTCD", "Subject Status Test Code",
                        ("SURVSTAT", "Survival Status"))
SS_TEST = _codes("CL.SSTEST", "Subject Status Test Name", "Survival Status")
SURVIVAL = _codes("CL.SSRES", "Survival Status Result", "ALIVE", "DEAD")
CRITERION = _codes("CL.CRIT", "Response Criteria", *CRITERIA)
RS_TEST_CODE = _decoded("CL.RSTESTCD", "Response Assessment Test Code",
                        ("OVRLRESP", "Overall Response"), ("TRGRESP", "Target Response"),
                        ("NTRGRESP", "Non-target Response"),
                        ("NEWLPROG", "New Lesion Progression"),
                        ("BESTRESP", "Best Overall Response"))
RS_TEST = _codes("CL.RSTEST", "Response Assessment Test Name", *(
    decode or code for code, decode in RS_TEST_CODE.items))
RS_RESULT = _decoded("CL.RSRES", "Response Result", ("CR", "Complete Response"),
                     ("PR", "Partial Response"), ("SD", "Stable Disease"),
                     ("NON-CR/NON-PD", "Non-CR/Non-PD"), ("PD", "Progressive Disease"),
                     ("NE", "Not Evaluable"), ("NA", "Not applicable: no non-target lesions"),
                     ("Y", "Yes"), ("N", "No"))
RS_ORIGINAL = _codes("CL.RSORRES", "Response as the Ledger Derives It", "CR", "PR", "SD",
                     "non-CR/non-PD", "PD", "NE", "none", "Y", "N")
BEST_KIND = _decoded("CL.RSSCAT", "Best Response Confirmation",
                     ("CONFIRMED", "Confirmed (the primary analysis)"),
                     ("UNCONFIRMED", "Unconfirmed"))
TU_TEST_CODE = _decoded("CL.TUTESTCD", "Tumor Identification Test Code",
                        ("TUMIDENT", "Tumor Identification"))
TU_TEST = _codes("CL.TUTEST", "Tumor Identification Test Name", "Tumor Identification")
LESION_ROLE = _codes("CL.TUROLE", "Tumor Identification Result", "TARGET", "NON-TARGET", "NEW")
TR_TEST_CODE = _decoded("CL.TRTESTCD", "Tumor Results Test Code",
                        ("LDIAM", "Longest Diameter"), ("SAXIS", "Short Axis"),
                        ("SUMDIAM", "Sum of Diameter"), ("TUMSTATE", "Tumor State"),
                        ("TYPHCC", "Typical of HCC"))
TR_TEST = _codes("CL.TRTEST", "Tumor Results Test Name", *(
    decode or code for code, decode in TR_TEST_CODE.items))
METHOD = _codes("CL.METHOD", "Imaging Method", "CT SCAN", "MRI")
NOT_DONE = _codes("CL.ND", "Not Done", "NOT DONE")
PR_CATEGORY = _codes("CL.PRCAT", "Category of Procedure", "STUDY TREATMENT",
                     "SUBSEQUENT ANTICANCER THERAPY")
PR_SUBCATEGORY = _codes("CL.PRSCAT", "Subcategory of Procedure", "cTACE", "DEB-TACE",
                        "LOCOREGIONAL", "SURGERY", "RADIOTHERAPY")
CM_CATEGORY = _codes("CL.CMCAT", "Category for Medication", "SUBSEQUENT ANTICANCER THERAPY")
QUALIFIER_ORIGIN = _codes("CL.QORIG", "Qualifier Origin", "Collected", "Derived")

ROUTES = {"IV": "INTRAVENOUS", "oral": "ORAL"}
FREQUENCIES = {"camrelizumab": "Q3W", "apatinib": "QD"}
METHODS = {"CT": "CT SCAN", "MRI": "MRI"}
OUTCOMES = {"recovered": "RECOVERED/RESOLVED",
            "recovered_with_sequelae": "RECOVERED/RESOLVED WITH SEQUELAE",
            "not_recovered": "NOT RECOVERED/NOT RESOLVED", "fatal": "FATAL"}
ACTIONS = {"discontinued": "DRUG WITHDRAWN", "interrupted": "DRUG INTERRUPTED",
           "resumed": "DRUG INTERRUPTED", "reduced": "DOSE REDUCED"}
"""DoseModified.action -> AEACN; a resumption names the AE that interrupted the drug."""
ACTION_RANK = ("DRUG WITHDRAWN", "DRUG INTERRUPTED", "DOSE REDUCED")
"""When one drug saw several actions for one AE, the first of these is its action."""
TUMOUR_STATES = {"absent": "ABSENT", "present": "PRESENT",
                 "progression": "UNEQUIVOCAL PROGRESSION"}
NON_TARGET_RESULTS = {"non-CR/non-PD": "NON-CR/NON-PD", "none": "NA"}
