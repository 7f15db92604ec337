"""Audit-trail review (EMA guideline on computerised systems in clinical trials, 2023, §6.2.2):
the rules that pick out entries a reviewer should look at, and the signed record of a review.

The rules are pure: they take audit-trail entries (already verified against the hash chain
and narrowed to the reviewer's sites, services/audit_review.py) and give findings, each naming
the entries it comes from by ledger position and event id. Thresholds are named here with the
reason for each; docs/monitoring/audit-review.md explains them to reviewers.

A review is one event in its own stream `audit-review:<uuid>`, never changed: the window and
sites reviewed, the rules applied, the ledger position the report reached, the SHA-256 of the
report as the reviewer read it, a note on each finding, the conclusion, and the reviewer's
printed name and the meaning of the signature (21 CFR Part 11 §11.50); the password was
checked again when it was recorded (§11.200), and the event's recorded time is the signing time.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import BaseAggregate, CanInitAggregate

from domain.ledger_event import Author, LedgerEvent

AUDIT_REVIEW_PREFIX = "audit-review:"
LATE_ENTRY_DAYS = 30
"""An entry recorded more than 30 days after its clinical date is late: sites are asked to
enter data within days of a visit, and monitoring visits come every four to six weeks, so such
an entry was made after the data could have been monitored, often from memory or notes."""
MANY_CORRECTIONS = 5
MANY_CORRECTIONS_WITHIN = timedelta(hours=24)
"""Five or more corrections or voids by one user within 24 hours: one monitoring query usually
leads to one or two corrections; more in a day is a pattern worth understanding."""
BULK_EDITS = 5
BULK_EDITS_WITHIN = timedelta(minutes=5)
"""Five or more corrections or voids by one user within five minutes: faster than each change
can have been checked against its source document."""
FAILED_SIGN_INS = 3
"""Three or more failed sign-ins for one account (or one typed unknown name) in the window: one
typo is common and two happen; three is someone guessing, or someone else trying. The
automatic lockout comes at five in a row (domain/account.py); the review also sees failures
that never reach five in a row."""
CORRECTIONS = frozenset({"EntryCorrected", "EntryVoided"})
NOT_CLINICAL_FACTS = CORRECTIONS | {"CasebookSigned", "ParticipantLocked",
                                    "ParticipantUnlocked", "ParticipantTransferred"}
"""Participant events whose clinical date says nothing about timeliness: a correction's date is
when it was made, a signature or lock is an act on the record, not a clinical fact."""
NOT_A_PERSON = frozenset({"system", "none"})
"""Roles of entries no person made at a keyboard: the ledger's own (an automatic lockout,
opening a stream) and attempts by no account."""
SECURITY_STREAM = "security:"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = ("outside_working_hours", "late_entry", "many_corrections", "bulk_edits",
         "failed_sign_ins", "access_outside_sites", "unverified_entry")


@dataclass(frozen=True)
class Entry:
    """One audit-trail entry as the rules read it. `detail`: what the entry is about beyond
    its fields (an unknown-username failure's digest, a refused attempt's participant);
    `weight`: how many attempts it stands for (a recorded failure also counts those that went
    unrecorded before it)."""

    position: int
    event_id: str
    type: str
    stream_id: str
    participant_id: str | None
    site_id: str | None
    recorded_at: datetime
    recorded_by: str
    role: str
    occurred_on: date | None
    verified: bool = True
    detail: str | None = None
    weight: int = 1

    def view(self) -> dict[str, Any]:
        return {"position": self.position, "event_id": self.event_id, "type": self.type,
                "stream_id": self.stream_id, "participant_id": self.participant_id,
                "site_id": self.site_id, "recorded_at": _text(self.recorded_at),
                "recorded_by": self.recorded_by, "role": self.role,
                "occurred_on": None if self.occurred_on is None else self.occurred_on.isoformat()}


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class WorkingHours:
    """When people are expected to work: from `start` to `end` (minutes after local midnight,
    `end` excluded, at most 24:00) on `days` (0 = Monday), local time being UTC + `utc_offset`
    (no site has a time zone in the study's record, so the reviewer says which offset applies).
    The default, 07:00 to 19:00 Monday to Friday, is an outpatient oncology unit's day with an
    hour's margin either side."""

    start: int = 7 * 60
    end: int = 19 * 60
    days: frozenset[int] = frozenset(range(5))
    utc_offset: timedelta = timedelta(0)

    def outside(self, moment: datetime) -> bool:
        local = moment + self.utc_offset
        minute = local.hour * 60 + local.minute
        return local.weekday() not in self.days or not self.start <= minute < self.end

    def view(self) -> dict[str, Any]:
        minutes = int(self.utc_offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        return {"work_start": _clock(self.start), "work_end": _clock(self.end),
                "work_days": ",".join(WEEKDAYS[d] for d in sorted(self.days)),
                "utc_offset": f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"}


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Finding:
    """What one rule found: the user (or typed-name digest) concerned, a sentence, and the
    entries it comes from, oldest first."""

    kind: str
    subject: str
    summary: str
    entries: tuple[Entry, ...] = field(default_factory=tuple)

    @property
    def finding_id(self) -> str:
        """Stable for the same entries: the rule and the first entry's ledger position."""
        return f"{self.kind}-{self.entries[0].position}"

    def view(self) -> dict[str, Any]:
        return {"finding_id": self.finding_id, "kind": self.kind, "subject": self.subject,
                "summary": self.summary,
                "sites": sorted({e.site_id for e in self.entries if e.site_id}),
                "positions": [e.position for e in self.entries],
                "event_ids": [e.event_id for e in self.entries],
                "entries": [e.view() for e in self.entries]}


def rules_view(hours: WorkingHours) -> dict[str, Any]:
    """Every threshold a report applied, as recorded with a review."""
    return {**hours.view(), "late_entry_days": LATE_ENTRY_DAYS,
            "many_corrections": MANY_CORRECTIONS,
            "many_corrections_within_minutes": int(MANY_CORRECTIONS_WITHIN.total_seconds() // 60),
            "bulk_edits": BULK_EDITS,
            "bulk_edits_within_minutes": int(BULK_EDITS_WITHIN.total_seconds() // 60),
            "failed_sign_ins": FAILED_SIGN_INS}


def by_person(entry: Entry) -> bool:
    return entry.role not in NOT_A_PERSON and not entry.stream_id.startswith(SECURITY_STREAM)


def outside_working_hours(entries: Iterable[Entry], hours: WorkingHours) -> list[Finding]:
    """Entries people recorded outside working hours, one finding per user and local day."""
    days: dict[tuple[str, date], list[Entry]] = defaultdict(list)
    for e in entries:
        if by_person(e) and hours.outside(e.recorded_at):
            days[(e.recorded_by, (e.recorded_at + hours.utc_offset).date())].append(e)
    return [Finding("outside_working_hours", user, f"{user} recorded {len(found)} entries "
                    f"outside working hours on {day.isoformat()}", tuple(found))
            for (user, day), found in days.items()]


def late_entries(entries: Iterable[Entry]) -> list[Finding]:
    """Clinical entries recorded more than LATE_ENTRY_DAYS after their clinical date."""
    found = []
    for e in entries:
        if e.occurred_on is None or e.type in NOT_CLINICAL_FACTS or e.participant_id is None:
            continue
        days = (e.recorded_at.date() - e.occurred_on).days
        if days > LATE_ENTRY_DAYS:
            found.append(Finding("late_entry", e.recorded_by, (
                f"{e.type} of {e.participant_id} dated {e.occurred_on.isoformat()} was "
                f"recorded {days} days later by {e.recorded_by}"), (e,)))
    return found


def bursts(entries: list[Entry], within: timedelta, at_least: int) -> list[list[Entry]]:
    """Runs of entries (in recorded order) in which every entry lies in some span of `within`
    holding at least `at_least` entries; runs closer than `within` are one run."""
    flagged = [False] * len(entries)
    end = 0
    for start, first in enumerate(entries):
        while end < len(entries) and entries[end].recorded_at - first.recorded_at <= within:
            end += 1
        if end - start >= at_least:
            flagged[start:end] = [True] * (end - start)
    runs: list[list[Entry]] = []
    for e, hit in zip(entries, flagged, strict=True):
        if not hit:
            continue
        if runs and e.recorded_at - runs[-1][-1].recorded_at <= within:
            runs[-1].append(e)
        else:
            runs.append([e])
    return runs


def _per_user(entries: Iterable[Entry], keep: Callable[[Entry], bool]) -> dict[str, list[Entry]]:
    users: dict[str, list[Entry]] = defaultdict(list)
    for e in sorted(entries, key=lambda e: e.position):
        if keep(e):
            users[e.recorded_by].append(e)
    return users


def corrections(entries: Iterable[Entry], kind: str, within: timedelta, at_least: int
                ) -> list[Finding]:
    """Bursts of at least `at_least` corrections or voids by one user within `within`."""
    found = []
    for user, mine in _per_user(entries, lambda e: e.type in CORRECTIONS).items():
        for run in bursts(mine, within, at_least):
            minutes = (run[-1].recorded_at - run[0].recorded_at).total_seconds() / 60
            found.append(Finding(kind, user, f"{user} made {len(run)} corrections or voids "
                                 f"within {minutes:.0f} minutes", tuple(run)))
    return found


def failed_sign_ins(entries: Iterable[Entry]) -> list[Finding]:
    """FAILED_SIGN_INS or more failed sign-ins for one account, or for one typed unknown name
    (by its digest), in the window; an account's automatic lockouts come with them."""
    groups: dict[str, list[Entry]] = defaultdict(list)
    for e in sorted(entries, key=lambda e: e.position):
        if e.type == "LoginFailed" and e.stream_id.startswith(SECURITY_STREAM):
            groups[f"unknown username {e.detail or '(not recorded)'}"].append(e)
        elif e.type == "LoginFailed" or (e.type == "AccountLocked" and e.role == "system"):
            groups[e.stream_id.removeprefix("account:")].append(e)
    found = []
    for subject, group in groups.items():
        failures = sum(e.weight for e in group if e.type == "LoginFailed")
        if failures >= FAILED_SIGN_INS:
            locks = sum(1 for e in group if e.type == "AccountLocked")
            locked = f", {locks} automatic lockout(s)" if locks else ""
            found.append(Finding("failed_sign_ins", subject,
                                 f"{failures} failed sign-ins for {subject}{locked}",
                                 tuple(group)))
    return found


def access_outside_sites(entries: Iterable[Entry]) -> list[Finding]:
    """Every recorded attempt on a participant the user may not see (at another site, or not
    enrolled: the API answers both alike), per user."""
    found = []
    for user, mine in _per_user(entries, lambda e: e.type == "AccessRefused").items():
        asked = ", ".join(sorted({f"{e.detail} ({e.site_id or 'not enrolled'})" for e in mine}))
        attempts = sum(e.weight for e in mine)
        found.append(Finding("access_outside_sites", user, f"{user} asked {attempts} time(s) "
                             f"for participants outside their sites: {asked}", tuple(mine)))
    return found


def unverified(entries: Iterable[Entry]) -> list[Finding]:
    """Entries whose stored bytes or read-model row failed verification against the chain."""
    return [Finding("unverified_entry", e.recorded_by or "?", f"the entry at position "
                    f"{e.position} failed verification against the hash chain", (e,))
            for e in entries if not e.verified]


def findings(entries: list[Entry], hours: WorkingHours) -> list[Finding]:
    """Every rule over `entries`, in KINDS order, each kind's findings by first position."""
    found = [*outside_working_hours(entries, hours), *late_entries(entries),
             *corrections(entries, "many_corrections", MANY_CORRECTIONS_WITHIN,
                          MANY_CORRECTIONS),
             *corrections(entries, "bulk_edits", BULK_EDITS_WITHIN, BULK_EDITS),
             *failed_sign_ins(entries), *access_outside_sites(entries), *unverified(entries)]
    return sorted(found, key=lambda f: (KINDS.index(f.kind), f.entries[0].position))


def report_hash(report: dict[str, Any]) -> str:
    """SHA-256 of the report's canonical JSON (sorted keys, no spaces, ASCII)."""
    text = json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


class AuditReview(BaseAggregate[str]):
    """One recorded review: a single event, never changed."""

    if TYPE_CHECKING:  # the state the event sets (for the type checker only)
        recorded: AuditReview.AuditReviewRecorded

    class Event(LedgerEvent):
        def apply(self, aggregate: AuditReview) -> None:
            pass

    class AuditReviewRecorded(Event, CanInitAggregate[str]):
        """`window`: recorded_from, recorded_to; `sites`: None for every site; `findings`:
        finding_id and note of each finding the reviewer addressed."""

        originator_topic: str
        window: dict[str, Any]
        sites: list[str] | None
        rules: dict[str, Any]
        head_position: int | None
        report_hash: str
        finding_ids: list[str]
        findings: list[dict[str, Any]]
        conclusion: str
        full_name: str
        meaning: str

        def apply(self, aggregate: AuditReview) -> None:
            aggregate.recorded = self

    @classmethod
    def record(cls, *, window: dict[str, Any], sites: list[str] | None, rules: dict[str, Any],
               head_position: int | None, report_hash: str, finding_ids: list[str],
               findings: list[dict[str, Any]], conclusion: str, full_name: str, meaning: str,
               by: Author) -> AuditReview:
        return cls._create(cls.AuditReviewRecorded, id=f"{AUDIT_REVIEW_PREFIX}{uuid.uuid4()}",
                           window=window, sites=sites, rules=rules, head_position=head_position,
                           report_hash=report_hash, finding_ids=finding_ids, findings=findings,
                           conclusion=conclusion, full_name=full_name, meaning=meaning,
                           **by.fields("audit trail review"))

    def view(self) -> dict[str, Any]:
        r = self.recorded
        addressed = {f["finding_id"] for f in r.findings}
        return {"review_id": self.id.removeprefix(AUDIT_REVIEW_PREFIX), "window": dict(r.window),
                "sites": r.sites, "rules": dict(r.rules), "head_position": r.head_position,
                "report_hash": r.report_hash, "finding_ids": list(r.finding_ids),
                "findings": [dict(f) for f in r.findings],
                "not_addressed": [f for f in r.finding_ids if f not in addressed],
                "conclusion": r.conclusion, "reviewer": r.actor, "role": r.role,
                "full_name": r.full_name, "meaning": r.meaning}
