"""Pointwise Kaplan-Meier bands from Greenwood's variance (docs/rules.md "Kaplan-Meier")."""

from __future__ import annotations

import math
import warnings
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

CITransform = Literal["log-log", "log", "plain"]
"""log-log: SAS PROC LIFETEST default; log: R survfit default; plain: Greenwood on S itself."""

CI_TRANSFORMS: tuple[CITransform, ...] = ("log-log", "log", "plain")

_SCIPY_METHOD: dict[CITransform, str] = {"log-log": "log-log", "plain": "linear"}


class _Bound(Protocol):
    probabilities: NDArray[np.float64]


class _Interval(Protocol):
    low: _Bound
    high: _Bound


class SurvivalFunction(Protocol):
    """The part of scipy's `ecdf(...).sf` used here."""

    quantiles: NDArray[np.float64]
    probabilities: NDArray[np.float64]

    def confidence_interval(
        self, confidence_level: float = ..., *, method: str = ...
    ) -> _Interval: ...


def greenwood_sums(at_risk: NDArray[np.int64], deaths: NDArray[np.int64]) -> NDArray[np.float64]:
    """Greenwood: cumulative sum of d / (n (n - d)); infinite once everyone at risk has died."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(deaths > 0, deaths / (at_risk * (at_risk - deaths)), 0.0)
    return np.cumsum(terms)


def pointwise_bands(
    sf: SurvivalFunction,
    greenwood: NDArray[np.float64],
    transform: CITransform,
    confidence_level: float,
) -> list[tuple[float, float] | None]:
    """Per point of `sf`: the interval, (1, 1) while S = 1, None where undefined (S = 0)."""
    if transform not in CI_TRANSFORMS:
        raise ValueError(
            f"unknown confidence interval transform {transform!r}; use {CI_TRANSFORMS}"
        )
    survival = sf.probabilities
    if transform == "log":
        low, high = _log_band(survival, greenwood, confidence_level)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            interval = sf.confidence_interval(confidence_level, method=_SCIPY_METHOD[transform])
        low, high = interval.low.probabilities, interval.high.probabilities
    return [
        _interval(s, lo, hi)
        for s, lo, hi in zip(survival.tolist(), low.tolist(), high.tolist(), strict=True)
    ]


def _log_band(
    survival: NDArray[np.float64], greenwood: NDArray[np.float64], confidence_level: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """R survfit conf.type="log": S*exp(+-z*sqrt(Σ d/(n(n-d)))), upper capped at 1."""
    z = float(norm.ppf(0.5 + confidence_level / 2))
    with np.errstate(invalid="ignore", over="ignore"):
        spread = np.exp(z * np.sqrt(greenwood))
        return survival / spread, np.minimum(survival * spread, 1.0)


def _interval(survival: float, low: float, high: float) -> tuple[float, float] | None:
    """Zero Greenwood variance (S = 1) gives the degenerate (1, 1); S = 0 has no interval."""
    if survival >= 1.0:
        return (1.0, 1.0)
    if survival <= 0.0 or math.isnan(low) or math.isnan(high):
        return None
    return (low, high)
