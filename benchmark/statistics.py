"""Binomial intervals, the one statistical building block shared by dataset cards (selection efficiencies) and
trigger metrics (efficiencies and rates)."""

from __future__ import annotations


def clopper_pearson(k: int, n: int, confidence_level: float = 0.6827) -> tuple[float, float]:
    """Exact binomial interval for k successes out of n trials."""
    from scipy.stats import beta  # scipy.stats costs a second of start-up for every command, used or not

    if n <= 0:
        return (0.0, 1.0)
    alpha = 1 - confidence_level
    lo = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return (lo, hi)
