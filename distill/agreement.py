"""How well a student reproduces its teacher: score correlation, trigger decisions at one rate, kept efficiency.

Teacher and student are each set to their own threshold for the same background accept fraction (the same trigger
rate), so what is compared is what a trigger would do with each, not how close the raw numbers are. Per sample: the
events both accept, only one of them accepts, and the fraction on which they decide alike; per signal, both
efficiencies with Clopper-Pearson intervals and the efficiency kept (student / teacher) with a paired bootstrap
interval (the two efficiencies are measured on the same events, so their errors are correlated).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field
from scipy.stats import pearsonr, spearmanr

from l1ad.benchmark.evaluation.metrics import threshold_for_fpr
from l1ad.benchmark.statistics import clopper_pearson
from l1ad.config.base import StrictModel

MaybeNaN = Annotated[float, Field(allow_inf_nan=True)]  # NaN where the teacher accepts no event of a sample


class DecisionAgreement(StrictModel):
    """Teacher and student decisions on one sample at their thresholds for the same background rate."""

    n_events: int
    n_both: int
    n_teacher_only: int
    n_student_only: int

    @property
    def agreement(self) -> float:
        """The fraction of events on which both decide alike."""
        return 1.0 - (self.n_teacher_only + self.n_student_only) / max(self.n_events, 1)


class KeptEfficiency(StrictModel):
    """One signal's efficiency for teacher and student at the same rate, and the fraction the student keeps."""

    teacher: float
    teacher_interval: tuple[float, float]
    student: float
    student_interval: tuple[float, float]
    kept: MaybeNaN  # student / teacher (nan when the teacher accepts nothing)
    kept_interval: tuple[MaybeNaN, MaybeNaN]  # paired bootstrap over the signal events, at the same confidence level
    decisions: DecisionAgreement

    model_config = StrictModel.model_config | {"ser_json_inf_nan": "constants"}


class Agreement(StrictModel):
    """Teacher-student agreement at one background accept fraction ``fpr``."""

    fpr: float
    pearson: float  # of the scores on the background
    spearman: float
    teacher_threshold: float
    student_threshold: float
    background: DecisionAgreement
    signals: dict[str, KeptEfficiency]

    model_config = StrictModel.model_config | {"ser_json_inf_nan": "constants"}


def _decisions(teacher: np.ndarray, student: np.ndarray) -> DecisionAgreement:
    return DecisionAgreement(n_events=len(teacher), n_both=int((teacher & student).sum()),
                             n_teacher_only=int((teacher & ~student).sum()),
                             n_student_only=int((~teacher & student).sum()))


def _kept_interval(teacher: np.ndarray, student: np.ndarray, confidence_level: float, bootstrap_samples: int,
                   seed: int) -> tuple[float, float]:
    if bootstrap_samples <= 0 or not teacher.any():
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.integers(len(teacher), size=(bootstrap_samples, len(teacher)))
    t, s = teacher[draws].sum(axis=1), student[draws].sum(axis=1)
    ratios = s[t > 0] / t[t > 0]
    tail = (1.0 - confidence_level) / 2.0
    return float(np.quantile(ratios, tail)), float(np.quantile(ratios, 1.0 - tail))


def agreement(teacher_background: np.ndarray, student_background: np.ndarray,
              signals: dict[str, tuple[np.ndarray, np.ndarray]], fpr: float, *, confidence_level: float = 0.6827,
              bootstrap_samples: int = 200, seed: int = 0) -> Agreement:
    """Agreement at the background accept fraction ``fpr``; ``signals`` maps a name to (teacher, student) scores of
    the same events. Accept: score > threshold, as everywhere in the suite."""
    tb, sb = (np.asarray(a, dtype=np.float64) for a in (teacher_background, student_background))
    if tb.shape != sb.shape or tb.ndim != 1 or len(tb) < 2:
        raise ValueError(f"teacher and student background scores must be two 1-d arrays of the same events, got "
                         f"shapes {tb.shape} and {sb.shape}")
    t_cut, s_cut = threshold_for_fpr(tb, fpr), threshold_for_fpr(sb, fpr)
    kept = {}
    for name, (ts, ss) in signals.items():
        ts, ss = np.asarray(ts, dtype=np.float64), np.asarray(ss, dtype=np.float64)
        if ts.shape != ss.shape or ts.ndim != 1 or not len(ts):
            raise ValueError(f"signal {name!r}: teacher and student scores must be 1-d arrays of the same events")
        t_acc, s_acc = ts > t_cut, ss > s_cut
        n, k_t, k_s = len(ts), int(t_acc.sum()), int(s_acc.sum())
        kept[name] = KeptEfficiency(
            teacher=k_t / n, teacher_interval=_floats(clopper_pearson(k_t, n, confidence_level)),
            student=k_s / n, student_interval=_floats(clopper_pearson(k_s, n, confidence_level)),
            kept=k_s / k_t if k_t else float("nan"),
            kept_interval=_kept_interval(t_acc, s_acc, confidence_level, bootstrap_samples, seed),
            decisions=_decisions(t_acc, s_acc))
    return Agreement(fpr=float(fpr), pearson=float(pearsonr(tb, sb)[0]), spearman=float(spearmanr(tb, sb)[0]),
                     teacher_threshold=float(t_cut), student_threshold=float(s_cut), background=_decisions(tb > t_cut, sb > s_cut),
                     signals=kept)


def _floats(interval) -> tuple[float, float]:
    return float(interval[0]), float(interval[1])
