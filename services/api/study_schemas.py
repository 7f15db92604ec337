"""Response models of the study-wide reads (participants, endpoints, safety, audit trail, study)
and of the service's own reads (projections, verify, health). Each study-wide answer says
what it covers (`scope`) and whether it is empty (`empty`, `note`)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field

from services.api.casebook_schemas import Answer, RecordedAt
from services.api.schemas import ParticipantSummary

Fraction = float
"""A rate as a fraction to 4 decimals (0.5789 = 57.89%)."""
Bounds = list[float | None]
"""A 95% confidence interval [lower, upper]; null where a limit is not estimable."""


class Scope(Answer):
    """What a study-wide answer covers. `sites` are the sites the caller may read (never
    another site's name or count); `participants` are those this answer counts, of the
    `enrolled` at those sites as of `as_of`."""

    sites: list[str] | Literal["all"] = Field(
        description="The sites you may read, or \"all\" for every site.")
    participants: int = Field(description="Participants this answer covers.")
    enrolled: int = Field(description="Participants enrolled at those sites as of as_of.")
    as_of: RecordedAt = Field(description="The recorded time the answer reflects.")
    cutoff: date | None = Field(description="The clinical cutoff applied; null: none.")
    summary: str = Field(description="The same in a sentence.")


class ScopedAnswer(Answer):
    scope: Scope
    empty: bool = Field(description="True when the answer covers nothing; `note` says why "
                                    "(e.g. nothing was recorded as of as_of).")
    note: str | None


class ParticipantList(ScopedAnswer):
    participants: list[ParticipantSummary]


class Population(Answer):
    enrolled: int
    treated: int
    evaluable: int


class BestResponseCounts(Answer):
    CR: int
    PR: int
    SD: int
    PD: int
    NE: int


class Proportion(Answer):
    n: int
    rate: Fraction | None = Field(description="Null when n is 0.")
    ci95: Bounds | None = Field(description="Clopper-Pearson; null when n is 0.")


class Responders(Proportion):
    responders: int


class DiseaseControl(Proportion):
    count: int


class Survival(Answer):
    """Kaplan-Meier median in months (days / 30.4375) with its 95% limits."""

    n: int
    median_months: float | None = Field(description="Null when not reached.")
    ci95: Bounds
    events: int
    censored: int


class Landmark(Answer):
    estimate: Fraction | None = Field(description="Null past the follow-up.")
    ci95: Bounds


class SurvivalWithRates(Survival):
    rate_6m: Landmark
    rate_12m: Landmark


class EndpointsOut(ScopedAnswer):
    criteria: str
    cutoff: date
    as_of: RecordedAt
    population: Population
    best_overall_response: BestResponseCounts
    orr: Responders
    dcr: DiseaseControl
    dor: Survival
    pfs: SurvivalWithRates
    os: SurvivalWithRates


class TermRow(Answer):
    term: str
    participants: int
    percent: float | None
    by_worst_grade: dict[str, int] = Field(description="Participants by worst grade, \"1\"-\"5\".")


class SafetyTable(Answer):
    name: str
    title: str
    participants: int
    percent: float | None = Field(description="Of the treated, to 1 decimal.")
    terms: list[TermRow]


class SafetyOut(ScopedAnswer):
    cutoff: date
    as_of: RecordedAt | None
    treated: int
    tables: dict[str, SafetyTable]


class Change(Answer):
    field: str
    old: Any
    new: Any


class AuditEntry(Answer):
    """One event of the audit trail, read from its verified stored bytes."""

    position: int
    event_id: str | None
    participant_id: str | None
    stream_id: str | None
    type: str | None
    occurred_on: date | None
    recorded_at: RecordedAt | None
    recorded_by: str | None
    role: str | None
    site_id: str | None
    reason: str | None
    changes: list[Change]
    provenance: dict[str, Any] | None = Field(default=None, description=(
        "Present on an event imported from another system's ODM file: that file's audit "
        "record of it; `recorded_by` and `recorded_at` are the import's."))
    verified: bool
    problems: list[str] = Field(default_factory=list,
                                description="Present when verified is false: what disagreed.")


class AuditPage(ScopedAnswer):
    entries: list[AuditEntry]
    next_after: int = Field(description="Pass back as `after` for the next page.")


class CutoffOut(Answer):
    name: str
    cutoff_on: date
    reason: str
    declared_by: str
    version: int


class StudyLock(Answer):
    locked_by: str
    reason: str
    version: int
    locked_at: RecordedAt


class StudyOut(Answer):
    cutoffs: list[CutoffOut]
    locked: bool
    lock: StudyLock | None
    version: int
    as_of: RecordedAt | None
    empty: bool = Field(default=False, description="True when nothing was recorded as of "
                                                   "as_of.")
    note: str | None = None


class ProjectionState(Answer):
    name: str
    generation: int
    position: int
    rows: int
    state_hash: str
    log_position: int
    behind: int = Field(description="Events of the log this read model has not applied yet.")


class StoredCheckpointsCheck(Answer):
    ok: bool
    checked: int
    newest_size: int | None
    log_size: int
    checkpoint_id: int | None
    first_bad_leaf_index: int | None
    first_bad_event: dict[str, Any] | None
    problem: str | None


class ReadModelsCheck(Answer):
    ok: bool
    position: int
    differing: list[str]
    details: dict[str, dict[str, Any]]


class VerifyOut(Answer):
    """`head` when the chain is whole; the first bad position, leaf and problem when not."""

    ok: bool
    events: int
    head: str | None = None
    first_bad_position: int | None = None
    first_bad_leaf_index: int | None = None
    problem: str | None = None
    stored_checkpoints: StoredCheckpointsCheck
    read_models: ReadModelsCheck | None = None
    checks: list[str] = Field(description="What each check proved, and what it did not.")


class HealthOut(Answer):
    status: Literal["ok"]
    store: Literal["sqlite", "postgresql"]
