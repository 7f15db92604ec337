"""Exact binomial proportions: ORR and DCR with Clopper-Pearson 95% intervals (docs/rules.md)."""

from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import binomtest

from domain.protocol import CONFIDENCE_LEVEL


@dataclass(frozen=True, slots=True)
class Proportion:
    """count / n with its exact interval; rate and ci95 are None when n = 0."""

    count: int
    n: int
    rate: float | None
    ci95: tuple[float, float] | None


def clopper_pearson(count: int, n: int, confidence_level: float = CONFIDENCE_LEVEL) -> Proportion:
    """docs/rules.md "ORR"/"DCR": exact Clopper-Pearson interval via scipy's binomtest."""
    if n < 0 or not 0 <= count <= max(n, 0):
        raise ValueError(f"a proportion needs 0 <= count <= n, got {count}/{n}")
    if n == 0:
        return Proportion(count=0, n=0, rate=None, ci95=None)
    interval = binomtest(count, n).proportion_ci(confidence_level=confidence_level, method="exact")
    return Proportion(
        count=count,
        n=n,
        rate=count / n,
        ci95=(float(interval.low), float(interval.high)),
    )
