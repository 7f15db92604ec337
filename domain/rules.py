"""Sequencing rules: what a participant's history allows next. Each rule has a name and a message.

A new entry is first checked for what it refers to (corrections, voids: `check_entry`), then
the Participant applies it to a copy of itself and the copy's whole effective history is checked
(`check_applied`: AE follow-ups, dates, tumour reads), so a correction that would move a dose
before enrollment is refused like a new dose would be. The rules read a participant only as a
`ParticipantHistory`: the aggregate calls them, they never call it.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import ValidationError

from domain.entries import Entry, NewEntry, ParticipantHistory
from domain.errors import FieldProblem, InvalidEntry, RuleViolation
from domain.events import (
    ADMINISTRATIVE_TYPES,
    AE_FOLLOW_UP_TYPES,
    CATALOGUE,
    AdverseEventPayload,
    AdverseEventReportedData,
    DoseAdministeredData,
    DoseModifiedData,
    EntryCorrectedData,
    EntryVoidedData,
    ParticipantEnrolledData,
    Payload,
    TumorAssessedData,
)
from domain.participant_outcome import read_problems
from domain.protocol import CORRECTION_DATE_TOLERANCE_DAYS, MIN_AGE_YEARS, SCREENING_WINDOW_DAYS


def problems_from(error: ValidationError, prefix: str) -> list[FieldProblem]:
    """Pydantic's errors as (location, message) pairs under `prefix`."""
    return [
        FieldProblem(
            loc=".".join([prefix, *(str(part) for part in item["loc"])]).strip("."),
            msg=item["msg"],
        )
        for item in error.errors()
    ]


def check_not_in_future(entry: NewEntry, today: date) -> None:
    if entry.occurred_on > today:
        raise InvalidEntry(
            f"occurred_on {entry.occurred_on} is after today ({today}): "
            "clinical dates cannot be in the future",
            [FieldProblem("occurred_on", "date is in the future")],
        )
    check_payload_dates(entry.data, entry.occurred_on, "data")


def check_payload_dates(data: Payload, occurred_on: date, prefix: str) -> None:
    """The payload's own dates against the entry's clinical date (e.g. a dose's end_on)."""
    problems = [FieldProblem(f"{prefix}.{p.loc}", p.msg) for p in data.date_problems(occurred_on)]
    if problems:
        raise InvalidEntry("; ".join(f"{p.loc}: {p.msg}" for p in problems), problems)


def check_reason_given(entry: NewEntry) -> None:
    if entry.type in ADMINISTRATIVE_TYPES and not (entry.reason and entry.reason.strip()):
        raise InvalidEntry(
            f"{entry.type} needs a reason: say why the earlier entry is changed",
            [FieldProblem("reason", "a reason is required")],
        )


def check_enrollment(entry: NewEntry, *, today: date) -> None:
    """ParticipantEnrolled: consent on or before enrollment, an adult at enrollment."""
    if entry.type != "ParticipantEnrolled":
        raise RuleViolation(
            "enrollment_first",
            f"the first event of a participant must be ParticipantEnrolled, not {entry.type}",
        )
    check_not_in_future(entry, today)
    _check_enrollment_data(entry.payload_as(ParticipantEnrolledData), entry.occurred_on)


def _check_enrollment_data(data: ParticipantEnrolledData, enrolled_on: date) -> None:
    consented_on = data.consented_on
    if consented_on > enrolled_on:
        raise RuleViolation(
            "consent_before_enrollment",
            f"consent ({consented_on}) must be on or before enrollment ({enrolled_on})",
            [FieldProblem("data.consented_on", "after the enrollment date")],
        )
    birth_year = data.birth_year
    if enrolled_on.year - birth_year < MIN_AGE_YEARS:
        raise RuleViolation(
            "adult_at_enrollment",
            f"born {birth_year}, the participant is under {MIN_AGE_YEARS} at enrollment "
            f"on {enrolled_on}",
            [FieldProblem("data.birth_year", f"under {MIN_AGE_YEARS} at enrollment")],
        )


def check_entry(participant: ParticipantHistory, entry: NewEntry, *, today: date) -> None:
    """What a later entry must satisfy before it is tried on the history: its own dates and
    reason, and what it corrects or voids; raises InvalidEntry or RuleViolation."""
    if entry.type == "ParticipantEnrolled":
        raise RuleViolation(
            "enrolled_once",
            f"participant {participant.id} is already enrolled "
            f"(on {participant.enrollment.occurred_on})",
        )
    check_not_in_future(entry, today)
    check_reason_given(entry)
    if entry.type == "EntryCorrected":
        _check_correction_target(participant, entry, today)
    elif entry.type == "EntryVoided":
        _check_void_target(participant, entry)


def check_applied(trial: ParticipantHistory, entry: NewEntry) -> None:
    """The history `entry` would make (`trial`: the participant with it applied): its tumour
    reads, then every invariant of the whole effective history."""
    _check_tumor_assessment(trial, entry)
    check_history(trial)


def _check_tumor_assessment(trial: ParticipantHistory, entry: NewEntry) -> None:
    """docs/rules.md "Baseline checks": a baseline breaking the target rules, or a follow-up
    naming a target its baseline lacks, is refused (422) with one problem per read."""
    if entry.type == "TumorAssessed":
        event_id, where = entry.event_id, "data.reads"
    elif entry.type == "EntryCorrected":
        event_id, where = entry.payload_as(EntryCorrectedData).corrects, "data.data.reads"
        if trial.entries[event_id].type != "TumorAssessed":
            return
    else:
        return
    problems = [FieldProblem(f"{where}.{criterion}", msg)
                for criterion, msgs in read_problems(trial, event_id).items() for msg in msgs]
    if problems:
        raise InvalidEntry("the tumour assessment cannot be recorded: "
                           + "; ".join(p.msg for p in problems), problems)


def _target(participant: ParticipantHistory, event_id: str, verb: str, field: str) -> Entry:
    target = participant.entries.get(event_id)
    if target is None:
        raise RuleViolation(
            f"{verb}_target_exists",
            f"cannot {verb} event {event_id}: participant {participant.id} has no such event",
            [FieldProblem(f"data.{field}", "no such event for this participant")],
        )
    if target.type in ADMINISTRATIVE_TYPES:
        raise RuleViolation(
            f"{verb}_target_clinical",
            f"cannot {verb} event {event_id}: it is itself a {target.type}; "
            "correct or void the original entry instead",
            [FieldProblem(f"data.{field}", f"names a {target.type}")],
        )
    if target.voided_by is not None:
        raise RuleViolation(
            f"{verb}_target_not_voided",
            f"cannot {verb} event {event_id}: it was voided by {target.voided_by}",
            [FieldProblem(f"data.{field}", "names a voided event")],
        )
    return target


def _check_correction_target(participant: ParticipantHistory, entry: NewEntry, today: date
                             ) -> None:
    correction = entry.payload_as(EntryCorrectedData)
    target = _target(participant, correction.corrects, "correct", "corrects")
    schema = CATALOGUE[target.type].payload
    try:
        corrected = schema.model_validate(correction.data)
    except ValidationError as error:
        raise InvalidEntry(
            f"the corrected data does not fit a {target.type}: "
            + "; ".join(f"{p.loc}: {p.msg}" for p in problems_from(error, "data.data")),
            problems_from(error, "data.data"),
        ) from None
    new_date = correction.occurred_on
    if new_date is None:
        _check_correction_date_is_clear(entry, target, today)
    elif new_date > today:
        raise InvalidEntry(
            f"data.occurred_on {new_date} is after today ({today}): clinical dates cannot be "
            "in the future", [FieldProblem("data.occurred_on", "date is in the future")])
    check_payload_dates(corrected, new_date or target.occurred_on, "data.data")


def _check_correction_date_is_clear(entry: NewEntry, target: Entry, today: date) -> None:
    """A correction's own date is the day it is made; it never moves the corrected entry. A
    date that is neither about today nor the entry's own could mean either, so it is refused
    with both dates explained rather than silently read one way."""
    made_recently = today - timedelta(days=CORRECTION_DATE_TOLERANCE_DAYS) <= entry.occurred_on
    if entry.occurred_on == target.occurred_on or made_recently:
        return
    raise InvalidEntry(
        f"occurred_on {entry.occurred_on} is ambiguous for a correction. A correction's "
        f"occurred_on is the date the correction is made (normally today, {today}); it does "
        f"not change the clinical date of the {target.type} it corrects, which stays "
        f"{target.occurred_on}. To move that entry to {entry.occurred_on}, send "
        f"data.occurred_on: \"{entry.occurred_on}\"; to keep {target.occurred_on}, date the "
        "correction today",
        [FieldProblem("occurred_on", "the date of the correction itself: today, unless "
                                     "data.occurred_on gives the entry's new clinical date")])


def _check_void_target(participant: ParticipantHistory, entry: NewEntry) -> None:
    voids = entry.payload_as(EntryVoidedData).voids
    target = _target(participant, voids, "void", "voids")
    if target.type == "ParticipantEnrolled":
        raise RuleViolation(
            "enrollment_not_voidable",
            "an enrollment cannot be voided; correct it instead",
            [FieldProblem("data.voids", "names the enrollment")],
        )
    if target.type == "AdverseEventReported":
        ae_id = target.payload_as(AdverseEventPayload).ae_id
        follow_ups = [
            e.event_id for e in participant.entries_of(*AE_FOLLOW_UP_TYPES)
            if e.payload_as(AdverseEventPayload).ae_id == ae_id
        ]
        if follow_ups:
            raise RuleViolation(
                "void_ae_follow_ups_first",
                f"adverse event {ae_id} has later updates ({', '.join(follow_ups)}); "
                "void those first",
                [FieldProblem("data.voids", "AE has updates")],
            )


def check_history(participant: ParticipantHistory) -> None:
    """The invariants of a whole effective history (docs/rules.md, docs/api.md sequencing)."""
    enrollment = participant.enrollment
    _check_enrollment_data(enrollment.payload_as(ParticipantEnrolledData), enrollment.occurred_on)
    entries = participant.effective_entries()
    for entry in entries:
        if entry.occurred_on < enrollment.occurred_on:
            _check_screening(entry, enrollment.occurred_on)
    _check_death(participant, entries)
    _check_withdrawal(entries)
    _check_adverse_events(entries)


def _check_screening(entry: Entry, enrolled_on: date) -> None:
    """Only a baseline scan may precede enrolment, and only within the screening window."""
    earliest = enrolled_on - timedelta(days=SCREENING_WINDOW_DAYS)
    payload = entry.payload
    if isinstance(payload, TumorAssessedData) and payload.baseline:
        if entry.occurred_on >= earliest:
            return
        raise RuleViolation(
            "baseline_in_screening_window",
            f"the baseline scan dated {entry.occurred_on} is "
            f"{(enrolled_on - entry.occurred_on).days} days before enrollment on {enrolled_on}: "
            f"baseline imaging must fall in the {SCREENING_WINDOW_DAYS} days screening window, "
            f"on or after {earliest}; repeat the scan or correct its date",
            [FieldProblem("occurred_on", f"before the screening window ({earliest})")],
        )
    raise RuleViolation(
        "not_before_enrollment",
        f"{entry.type} dated {entry.occurred_on} is before enrollment on {enrolled_on}: only a "
        f"baseline scan may precede enrollment (within {SCREENING_WINDOW_DAYS} days)",
        [FieldProblem("occurred_on", "before enrollment")],
    )


def _check_death(participant: ParticipantHistory, entries: list[Entry]) -> None:
    deaths = [e for e in entries if e.type == "ParticipantDied"]
    if len(deaths) > 1:
        raise RuleViolation(
            "died_once", f"participant {participant.id} already died on {deaths[0].occurred_on}"
        )
    if not deaths:
        return
    died_on = deaths[0].occurred_on
    for entry in entries:
        payload = entry.payload
        end_on = payload.end_on if isinstance(payload, DoseAdministeredData) else None
        last = max(entry.occurred_on, end_on or entry.occurred_on)
        if last > died_on:
            raise RuleViolation(
                "not_after_death",
                f"{entry.type} dated {last} is after the participant's death on {died_on}",
                [FieldProblem("occurred_on", "after death")],
            )


def _check_withdrawal(entries: list[Entry]) -> None:
    withdrawals = [e for e in entries if e.type == "ParticipantWithdrew"]
    if len(withdrawals) > 1:
        raise RuleViolation(
            "withdrew_once", f"the participant already withdrew on {withdrawals[0].occurred_on}"
        )
    if not withdrawals:
        return
    withdrew_on = withdrawals[0].occurred_on
    for entry in entries:
        if entry.type in ("DoseAdministered", "TACEPerformed") and entry.occurred_on > withdrew_on:
            raise RuleViolation(
                "no_treatment_after_withdrawal",
                f"{entry.type} dated {entry.occurred_on} is after withdrawal on {withdrew_on}",
                [FieldProblem("occurred_on", "after withdrawal")],
            )


def _check_adverse_events(entries: list[Entry]) -> None:
    reported: dict[str, Entry] = {}
    resolved: dict[str, Entry] = {}
    for entry in entries:
        payload = entry.payload
        named_ae = payload.adverse_event_id if isinstance(payload, DoseModifiedData) else None
        if isinstance(payload, AdverseEventReportedData):
            ae_id = payload.ae_id
            if ae_id in reported:
                raise RuleViolation(
                    "unique_ae_id",
                    f"adverse event id {ae_id} is already used "
                    f"(reported on {reported[ae_id].occurred_on})",
                    [FieldProblem("data.ae_id", "already used")],
                )
            reported[ae_id] = entry
        elif entry.type in AE_FOLLOW_UP_TYPES:
            _check_ae_follow_up(entry, reported, resolved)
        elif named_ae and named_ae not in reported:
            raise RuleViolation(
                "dose_change_names_reported_ae",
                f"DoseModified names adverse event {named_ae}, which has not been reported",
                [FieldProblem("data.adverse_event_id", "no such adverse event")],
            )


def _check_ae_follow_up(entry: Entry, reported: dict[str, Entry], resolved: dict[str, Entry]
                        ) -> None:
    ae_id = entry.payload_as(AdverseEventPayload).ae_id
    if ae_id not in reported:
        raise RuleViolation(
            "ae_follow_up_names_reported_ae",
            f"{entry.type} names adverse event {ae_id}, which has not been reported",
            [FieldProblem("data.ae_id", "no such adverse event")],
        )
    onset = reported[ae_id].occurred_on
    if entry.occurred_on < onset:
        raise RuleViolation(
            "ae_follow_up_after_onset",
            f"{entry.type} of {ae_id} dated {entry.occurred_on} is before its onset on {onset}",
            [FieldProblem("occurred_on", "before the AE onset")],
        )
    if ae_id in resolved:
        raise RuleViolation(
            "ae_resolved_once",
            f"adverse event {ae_id} was already resolved on {resolved[ae_id].occurred_on}",
            [FieldProblem("data.ae_id", "already resolved")],
        )
    if entry.type == "AdverseEventResolved":
        resolved[ae_id] = entry
