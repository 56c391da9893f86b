"""Working points: where a trigger threshold is set, each with a stable id that files and later stages join on.

On zero-bias background a working point is a trigger rate (``rate_10khz``: the threshold accepting 10 kHz of
background at the collision rate); on a pre-selected background only a false-positive rate is meaningful
(``fpr_1e-02``). ADC2021's FPR 1e-5 is always included. Ids never change for the same number; labels are for people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ad.config import EvaluationConfig

ADC2021_FPR = 1e-5  # the ADC2021 challenge's working point


@dataclass(frozen=True)
class WorkingPointSpec:
    id: str  # stable key: "rate_10khz", "fpr_1e-05"
    label: str  # for tables and plots: "10 kHz", "FPR 1e-5 (ADC2021)"
    fpr: float  # the accepted fraction of background the threshold is set to
    rate_khz: float | None  # None on a pre-selected background, where only the FPR is meaningful


def rate_id(rate_khz: float) -> str:
    """``rate_10khz`` for 10 kHz, ``rate_2.5khz`` for 2.5 kHz."""
    return f"rate_{rate_khz:g}khz"


def fpr_id(fpr: float) -> str:
    """``fpr_1e-05`` for 1e-5."""
    return f"fpr_{fpr:.0e}"


def fpr_label(fpr: float) -> str:
    label = "FPR " + f"{fpr:.0e}".replace("e-0", "e-")
    return label + " (ADC2021)" if np.isclose(fpr, ADC2021_FPR) else label


def working_points(cfg: EvaluationConfig, zero_bias: bool = True) -> list[WorkingPointSpec]:
    """The working points evaluated, ordered from tight to loose.

    Zero-bias background: the configured rates, the leaderboard rate and ADC2021's FPR 1e-5 (also as a rate).
    Pre-selected background: ADC2021's FPR 1e-5 and the configured FPRs, including the leaderboard FPR.
    """
    if zero_bias:
        to_khz = cfg.collision_rate_mhz * 1e3
        specs = {rate_id(r): WorkingPointSpec(rate_id(r), f"{r:g} kHz", r / to_khz, r)
                 for r in (*cfg.rates_khz, cfg.leaderboard_rate_khz)}
        specs[fpr_id(ADC2021_FPR)] = WorkingPointSpec(fpr_id(ADC2021_FPR), fpr_label(ADC2021_FPR), ADC2021_FPR,
                                                      ADC2021_FPR * to_khz)
    else:
        specs = {fpr_id(f): WorkingPointSpec(fpr_id(f), fpr_label(f), f, None)
                 for f in (ADC2021_FPR, *cfg.fprs, cfg.leaderboard_fpr)}
    return sorted(specs.values(), key=lambda s: s.fpr)


def headline(cfg: EvaluationConfig, zero_bias: bool = True) -> WorkingPointSpec:
    """The working point printed after evaluation, checked in firmware and ranked on the leaderboard."""
    wanted = rate_id(cfg.leaderboard_rate_khz) if zero_bias else fpr_id(cfg.leaderboard_fpr)
    return next(spec for spec in working_points(cfg, zero_bias) if spec.id == wanted)
