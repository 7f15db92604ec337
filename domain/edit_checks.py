"""Edit checks: the soft rules. Each names a value a person must look at, never refuses it.

The hard rules (domain/rules.py) refuse an entry that cannot be true (4xx). An edit check
flags one that is possible but unlikely, or that the protocol says should not happen: the
entry is recorded, and services/monitoring opens a system query on it (domain/queries.py),
closed by the system when a later event (a correction, a void, the missing death) makes the
check pass. Pure domain: each check reads one effective entry and the participant's history
as it stood when the check ran; no I/O.

docs/monitoring/queries.md lists every check with its id, message and protocol reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from domain.entries import Entry, ParticipantHistory
from domain.events import (
    AdverseEventReportedData,
    AdverseEventResolvedData,
    AdverseEventUpdatedData,
    DoseAdministeredData,
    DoseModifiedData,
    ParticipantEnrolledData,
    TumorAssessedData,
)
from domain.protocol import (
    AFP_PLAUSIBLE_MAX_NG_ML,
    APATINIB,
    APATINIB_START_DOSE_MG,
    CAMRELIZUMAB,
    CAMRELIZUMAB_DOSE_MG,
    CRITERIA,
    MAX_PLAUSIBLE_TARGET_DIAMETER_MM,
    PARTICIPANT_ID_PATTERN,
    SEVERE_AE_SERIOUS_GRADE,
    TARGET_JUMP_MIN_MM,
    TARGET_JUMP_RATIO,
)
from domain.response.reads import TargetLesion


@dataclass(frozen=True)
class Finding:
    """Why a check fails on an entry: the field at fault (a path into the entry's data, keys
    and list indices joined by "/", e.g. `reads/RECIST 1.1/targets/0/diameter_mm`) and the
    value, in words."""

    field: str | None
    detail: str


Finder = Callable[[ParticipantHistory, Entry], "Finding | None"]


@dataclass(frozen=True)
class EditCheck:
    """One declarative check: `find` gives the first finding on an entry of a type in
    `applies_to`, or None when the entry passes."""

    id: str
    message: str
    reason: str
    applies_to: frozenset[str]
    find: Finder

    def evaluate(self, participant: ParticipantHistory, entry: Entry) -> Finding | None:
        """The finding on the entry as it is now effective; a voided entry always passes."""
        if entry.type not in self.applies_to or entry.voided_by is not None:
            return None
        return self.find(participant, entry)

    def text(self, finding: Finding) -> str:
        return f"{self.message}: {finding.detail} [{self.id}]"


def _targets(entry: Entry) -> Iterator[tuple[str, int, TargetLesion]]:
    """(criterion, index, target lesion) of every measured target of a scan."""
    for criterion, read in sorted(entry.payload_as(TumorAssessedData).reads.items()):
        for index, lesion in enumerate(read.targets):
            if lesion.diameter_mm is not None and not lesion.too_small:
                yield criterion, index, lesion


def _diameter_path(criterion: str, index: int) -> str:
    return f"reads/{criterion}/targets/{index}/diameter_mm"


def _implausible_diameter(_: ParticipantHistory, entry: Entry) -> Finding | None:
    for criterion, index, lesion in _targets(entry):
        if lesion.diameter_mm is not None and lesion.diameter_mm > MAX_PLAUSIBLE_TARGET_DIAMETER_MM:
            return Finding(_diameter_path(criterion, index),
                           f"{lesion.lesion_id} ({criterion}) {lesion.diameter_mm:g} mm "
                           f"is above {MAX_PLAUSIBLE_TARGET_DIAMETER_MM} mm")
    return None


def _previous_scan(participant: ParticipantHistory, entry: Entry) -> Entry | None:
    earlier = [e for e in participant.entries_of("TumorAssessed")
               if e.occurred_on < entry.occurred_on]
    return max(earlier, key=lambda e: (e.occurred_on, e.version), default=None)


def _diameter_jump(participant: ParticipantHistory, entry: Entry) -> Finding | None:
    previous = _previous_scan(participant, entry)
    if previous is None:
        return None
    before = {(criterion, lesion.lesion_id): lesion.diameter_mm
              for criterion, _, lesion in _targets(previous)}
    for criterion, index, lesion in _targets(entry):
        old, new = before.get((criterion, lesion.lesion_id)), lesion.diameter_mm
        if old is None or new is None or abs(new - old) < TARGET_JUMP_MIN_MM:
            continue
        if new >= old * TARGET_JUMP_RATIO or new * TARGET_JUMP_RATIO <= old:
            return Finding(_diameter_path(criterion, index),
                           f"{lesion.lesion_id} ({criterion}) {new:g} mm against {old:g} mm "
                           f"on {previous.occurred_on}")
    return None


def _one_criterion(_: ParticipantHistory, entry: Entry) -> Finding | None:
    reads = entry.payload_as(TumorAssessedData).reads
    missing = [c for c in CRITERIA if c not in reads]
    if not missing:
        return None
    return Finding("reads", f"no {' and no '.join(missing)} read")


def _implausible_afp(_: ParticipantHistory, entry: Entry) -> Finding | None:
    afp = entry.payload_as(ParticipantEnrolledData).afp_ng_ml
    if afp > AFP_PLAUSIBLE_MAX_NG_ML:
        return Finding("afp_ng_ml", f"{afp:g} ng/mL is above {AFP_PLAUSIBLE_MAX_NG_ML:,} ng/mL")
    return None


def _id_not_of_site(participant: ParticipantHistory, entry: Entry) -> Finding | None:
    site = entry.payload_as(ParticipantEnrolledData).site_id
    id_site = re.match(PARTICIPANT_ID_PATTERN, participant.id)
    site_number = re.fullmatch(r"S(\d+)", site)
    if id_site is None or site_number is None:
        return None
    if int(id_site.group(1)) == int(site_number.group(1)):
        return None
    return Finding("site_id", f"participant {participant.id} is numbered for site "
                              f"S{id_site.group(1)} but enrolled at {site}")


def _fatal(entry: Entry) -> Finding | None:
    payload = entry.payload
    if isinstance(payload, AdverseEventResolvedData) and payload.outcome == "fatal":
        return Finding("outcome", f"adverse event {payload.ae_id} resolved as fatal")
    if isinstance(payload, AdverseEventReportedData | AdverseEventUpdatedData) \
            and payload.grade == 5:
        return Finding("grade", f"adverse event {payload.ae_id} is grade 5")
    return None


def _grade5_without_death(participant: ParticipantHistory, entry: Entry) -> Finding | None:
    finding = _fatal(entry)
    if finding is None or participant.died_on is not None:
        return None
    return Finding(finding.field, finding.detail + ", and no death is recorded")


def _severe_not_serious(participant: ParticipantHistory, entry: Entry) -> Finding | None:
    payload = entry.payload
    if not isinstance(payload, AdverseEventReportedData | AdverseEventUpdatedData):
        return None
    grade, serious = payload.grade, payload.serious
    if isinstance(payload, AdverseEventUpdatedData) and serious is None:
        reported = [reported for e in participant.entries_of("AdverseEventReported")
                    if (reported := e.payload_as(AdverseEventReportedData)).ae_id
                    == payload.ae_id]
        serious = reported[0].serious if reported else None
    if grade is not None and grade >= SEVERE_AE_SERIOUS_GRADE and serious is False:
        return Finding("serious", f"adverse event {payload.ae_id} is grade {grade} "
                                  "but recorded as not serious")
    return None


def _dose_while_stopped(participant: ParticipantHistory, entry: Entry) -> Finding | None:
    drug = entry.payload_as(DoseAdministeredData).drug
    changes = sorted(((e.occurred_on, e.version, change)
                      for e in participant.entries_of("DoseModified")
                      if (change := e.payload_as(DoseModifiedData)).drug == drug
                      and e.occurred_on < entry.occurred_on),
                     key=lambda found: found[:2])
    if not changes or changes[-1][2].action not in ("interrupted", "discontinued"):
        return None
    since, _, last = changes[-1]
    return Finding("drug", f"{drug} dosed on {entry.occurred_on} while "
                           f"{last.action} since {since}")


def _off_protocol_dose(_: ParticipantHistory, entry: Entry) -> Finding | None:
    dose = entry.payload_as(DoseAdministeredData)
    if dose.drug == CAMRELIZUMAB and dose.dose_mg != CAMRELIZUMAB_DOSE_MG:
        return Finding("dose_mg", f"camrelizumab {dose.dose_mg:g} mg, not the "
                                  f"{CAMRELIZUMAB_DOSE_MG} mg flat dose")
    if dose.drug == APATINIB and dose.dose_mg > APATINIB_START_DOSE_MG:
        return Finding("dose_mg", f"apatinib {dose.dose_mg:g} mg a day, above the "
                                  f"{APATINIB_START_DOSE_MG} mg starting dose")
    return None


SCAN, ENROLMENT, DOSE = (frozenset({"TumorAssessed"}), frozenset({"ParticipantEnrolled"}),
                         frozenset({"DoseAdministered"}))
AE_TYPES = frozenset({"AdverseEventReported", "AdverseEventUpdated"})

EDIT_CHECKS: tuple[EditCheck, ...] = (
    EditCheck("EC-TU-01", "Target lesion diameter beyond the protocol's plausible limit",
              f"A single target lesion above {MAX_PLAUSIBLE_TARGET_DIAMETER_MM} mm is rare "
              "enough to confirm against the scan report (a slipped digit, cm read as mm).",
              SCAN, _implausible_diameter),
    EditCheck("EC-TU-02", "Target lesion diameter jumps against the previous scan",
              f"A lesion that grows or shrinks by a factor of {TARGET_JUMP_RATIO} (and at "
              f"least {TARGET_JUMP_MIN_MM} mm) between reads is often a mislabelled lesion or "
              "a typo; RECIST 1.1 and mRECIST follow the same lesion across scans.",
              SCAN, _diameter_jump),
    EditCheck("EC-TU-03", "Scan not read by both criteria",
              "The primary endpoint is ORR by RECIST 1.1 and by mRECIST: every scan is read "
              "under both.", SCAN, _one_criterion),
    EditCheck("EC-LB-01", "AFP out of the plausible range",
              f"Serum AFP above {AFP_PLAUSIBLE_MAX_NG_ML:,} ng/mL is checked against the "
              "laboratory report (units, digits).", ENROLMENT, _implausible_afp),
    EditCheck("EC-EN-01", "Participant id does not match the enrolling site",
              "Participant ids are allocated per site (HCC-<site>-<sequence>); an id of "
              "another site's range points to a wrong site or a wrong id.",
              ENROLMENT, _id_not_of_site),
    EditCheck("EC-AE-01", "Grade 5 adverse event without a recorded death",
              "CTCAE grade 5 is death related to the event: the death must be recorded "
              "(ParticipantDied), or the grade is wrong.",
              AE_TYPES | {"AdverseEventResolved"}, _grade5_without_death),
    EditCheck("EC-AE-02", "Grade 4-5 adverse event recorded as not serious",
              "A life-threatening or fatal event meets the ICH E2A seriousness criteria and "
              "is reported as an SAE within 24 hours.", AE_TYPES, _severe_not_serious),
    EditCheck("EC-DS-01", "Dose recorded while the drug is interrupted or discontinued",
              "The protocol's dose modifications stop a drug until it is resumed; a dose "
              "after an interruption or a discontinuation, without a resumption, is a "
              "deviation or a missing DoseModified.", DOSE, _dose_while_stopped),
    EditCheck("EC-DS-02", "Dose not as the protocol gives it",
              f"Camrelizumab is a {CAMRELIZUMAB_DOSE_MG} mg flat dose (interrupted, never "
              f"reduced); apatinib starts at {APATINIB_START_DOSE_MG} mg a day and is only "
              "reduced.", DOSE, _off_protocol_dose),
)
CHECKS_BY_ID: dict[str, EditCheck] = {check.id: check for check in EDIT_CHECKS}


def failing(participant: ParticipantHistory, entry: Entry
            ) -> list[tuple[EditCheck, Finding]]:
    """Every check the entry fails, with its finding, in EDIT_CHECKS order."""
    found = ((check, check.evaluate(participant, entry)) for check in EDIT_CHECKS)
    return [(check, finding) for check, finding in found if finding is not None]
