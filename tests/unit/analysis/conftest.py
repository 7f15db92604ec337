"""Reference data sets for the Kaplan-Meier tests (docs/validation.md), as (durations, events)."""

from __future__ import annotations

import pytest
from lifelines.datasets import load_leukemia, load_lung

Sample = tuple[list[float], list[bool]]


@pytest.fixture(scope="session")
def lung() -> Sample:
    """R `lung`: 228 rows in days; lifelines recodes R's status 2=dead/1=censored to 1/0."""
    frame = load_lung()
    return frame["time"].astype(float).tolist(), (frame["status"] == 1).tolist()


def _freireich_arm(rx: int) -> Sample:
    """Freireich leukaemia remission times in weeks; column t, status 1 = relapse, Rx 0 = 6-MP."""
    frame = load_leukemia()
    arm = frame[frame["Rx"] == rx]
    return arm["t"].astype(float).tolist(), (arm["status"] == 1).tolist()


@pytest.fixture(scope="session")
def six_mp() -> Sample:
    """6-MP arm (Rx = 0)."""
    return _freireich_arm(0)


@pytest.fixture(scope="session")
def placebo() -> Sample:
    """Placebo arm (Rx = 1)."""
    return _freireich_arm(1)
