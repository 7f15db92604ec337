"""The audit-review rules on entries at exact moments: 23:30 is outside 07:00-19:00, a Saturday
is outside Monday to Friday, a site's offset from UTC moves the day; thresholds fire at their
named values and not one below."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.audit_review import (
    BULK_EDITS,
    FAILED_SIGN_INS,
    LATE_ENTRY_DAYS,
    Entry,
    WorkingHours,
    bursts,
    findings,
    late_entries,
    outside_working_hours,
    report_hash,
)

TUESDAY = datetime(2026, 3, 3, tzinfo=UTC)


def entry(position: int, at: datetime, *, type_: str = "TumorAssessed", user: str = "coord1",
          role: str = "site_coordinator", stream: str = "HCC-01-001",
          occurred_on: date | None = None, detail: str | None = None) -> Entry:
    participant = stream if stream.startswith("HCC") else None
    return Entry(position, f"e{position}", type_, stream, participant,
                 "S01" if participant else None, at, user, role,
                 occurred_on or at.date(), detail=detail)


def test_an_entry_at_23_30_is_outside_working_hours_and_one_at_09_00_is_not() -> None:
    night = entry(1, TUESDAY + timedelta(hours=23, minutes=30))
    day = entry(2, TUESDAY + timedelta(hours=9))
    (found,) = outside_working_hours([night, day], WorkingHours())
    assert [e.position for e in found.entries] == [1] and found.subject == "coord1"
    saturday = entry(3, TUESDAY + timedelta(days=4, hours=10))
    assert outside_working_hours([saturday], WorkingHours())
    system = entry(4, TUESDAY + timedelta(hours=2), user="system", role="system")
    assert outside_working_hours([system], WorkingHours()) == []


def test_a_sites_offset_from_utc_decides_what_its_working_day_is() -> None:
    at = TUESDAY + timedelta(hours=23, minutes=30)  # Wednesday 07:30 at UTC+08:00
    assert outside_working_hours([entry(1, at)], WorkingHours(utc_offset=timedelta(hours=8))) \
        == []
    end_of_day = WorkingHours(start=0, end=24 * 60, days=frozenset(range(7)))
    assert outside_working_hours([entry(1, at)], end_of_day) == []


def test_late_means_more_than_the_named_days_and_corrections_are_never_late() -> None:
    at = TUESDAY + timedelta(hours=10)
    on_time = entry(1, at, occurred_on=at.date() - timedelta(days=LATE_ENTRY_DAYS))
    late = entry(2, at, occurred_on=at.date() - timedelta(days=LATE_ENTRY_DAYS + 1))
    fix = entry(3, at, type_="EntryCorrected", occurred_on=at.date() - timedelta(days=90))
    assert [f.entries[0].position for f in late_entries([on_time, late, fix])] == [2]


def test_a_burst_needs_the_named_count_within_the_span() -> None:
    def fixes(count: int, gap: timedelta) -> list[Entry]:
        return [entry(i, TUESDAY + i * gap, type_="EntryCorrected", user="dm")
                for i in range(1, count + 1)]
    assert bursts(fixes(BULK_EDITS, timedelta(minutes=1)), timedelta(minutes=5),
                  BULK_EDITS) != []
    assert bursts(fixes(BULK_EDITS - 1, timedelta(seconds=1)), timedelta(minutes=5),
                  BULK_EDITS) == []
    assert bursts(fixes(BULK_EDITS, timedelta(minutes=2)), timedelta(minutes=5),
                  BULK_EDITS) == []
    kinds = {f.kind for f in findings(fixes(6, timedelta(seconds=50)), WorkingHours(
        start=0, end=24 * 60, days=frozenset(range(7))))}
    assert kinds == {"many_corrections", "bulk_edits"}


def test_failed_sign_ins_count_per_account_and_per_typed_name_digest() -> None:
    def failure(i: int, stream: str, detail: str | None = None) -> Entry:
        role = "none" if stream.startswith("security:") else "site_coordinator"
        return entry(i, TUESDAY + timedelta(hours=10, seconds=i), type_="LoginFailed",
                     role=role, stream=stream, detail=detail)
    entries = [failure(i, "account:coord2") for i in range(FAILED_SIGN_INS)]
    entries += [failure(10 + i, "security:login", "abc") for i in range(FAILED_SIGN_INS - 1)]
    entries += [failure(20, "security:login", "def")]
    found = [f for f in findings(entries, WorkingHours()) if f.kind == "failed_sign_ins"]
    assert [f.subject for f in found] == ["coord2"]


def test_the_report_hash_is_of_canonical_json() -> None:
    assert report_hash({"b": 1, "a": [1, 2]}) == report_hash({"a": [1, 2], "b": 1})
    assert report_hash({"a": 1}) != report_hash({"a": 2})
