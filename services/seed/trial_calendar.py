"""The synthetic trial's calendar and sites: when participants enroll, where, and the clinical
cutoff after which nothing is dated."""

from __future__ import annotations

from datetime import date, timedelta

TRIAL_START = date(2024, 1, 8)
"""First possible enrollment (a Monday)."""
ENROLLMENT_DAYS = 365
"""Enrollment is spread over twelve months from TRIAL_START."""
DATA_CUTOFF = date(2026, 6, 30)
"""Nothing is dated after this clinical cutoff: 18-30 months of follow-up, all in the past."""
SITES = ("S01", "S02", "S03")
SITE_WEIGHTS = (0.40, 0.35, 0.25)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def weekday(day: date) -> date:
    """Clinics enroll on working days: a weekend date moves to the Monday."""
    return day + days((7 - day.weekday()) % 7) if day.weekday() >= 5 else day
