"""The regression target a student learns: its teacher's anomaly score, transformed and quantized.

CMS's CICADA trains its student on ``quantize(log(teacher MSE) * 32)`` with a 16-bit fixed-point target of 8 integer
bits (anchors.md, section 3); Pol et al. regress ``log(MSE + 1)``. Both transforms are monotone, so a threshold on the
target accepts the same teacher events as one on the score: what the student must learn is the order of the events,
and the logarithm spreads the far tail, where every trigger threshold sits, over many target values instead of a few.
Quantization merges scores closer than one target LSB; :meth:`TeacherTarget.resolution` says how far apart that is
on the teacher's own scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from l1ad.errors import L1adError

Transform = Literal["log", "log1p", "identity"]


class TargetError(L1adError, ValueError):
    """Teacher scores the target transform cannot take (NaN, infinite, or negative for ``log``)."""


@dataclass(frozen=True)
class TeacherTarget:
    """``quantize(transform(score) * scale)``: signed fixed point of ``bits`` bits, ``integer_bits`` of them above the
    binary point besides the sign (QKeras ``quantized_bits(bits, integer_bits)``), rounded to the nearest LSB and
    saturated at the ends of its range; ``bits=None`` keeps the float target.

    Examples
    --------
    >>> TeacherTarget().transform_scores(np.array([1.0, np.e]))
    array([ 0., 32.])
    """

    transform: Transform = "log"
    scale: float = 32.0
    bits: int | None = 16
    integer_bits: int = 8

    def __post_init__(self):
        if self.transform not in ("log", "log1p", "identity"):
            raise TargetError(f"unknown target transform {self.transform!r} (log, log1p, identity)")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise TargetError(f"the target scale must be a positive number, got {self.scale}")
        if self.bits is not None and not 0 <= self.integer_bits < self.bits:
            raise TargetError(f"a {self.bits}-bit target cannot have {self.integer_bits} integer bits")

    @property
    def lsb(self) -> float:
        """The target's step (0 for a float target)."""
        return 0.0 if self.bits is None else 2.0 ** (self.integer_bits - self.bits + 1)

    @property
    def limits(self) -> tuple[float, float]:
        """The smallest and largest target value (infinite for a float target)."""
        if self.bits is None:
            return -np.inf, np.inf
        return -(2.0**self.integer_bits), 2.0**self.integer_bits - self.lsb

    def transform_scores(self, scores: np.ndarray) -> np.ndarray:
        """The target of each teacher score (float64)."""
        s = np.asarray(scores, dtype=np.float64)
        if not np.all(np.isfinite(s)):
            raise TargetError(f"{int((~np.isfinite(s)).sum())} teacher scores are NaN or infinite")
        if self.transform == "log":
            # A score of exactly 0 (an event with nothing to reconstruct) is log(0) = -inf: a quantized target
            # saturates it at its lowest value, as CICADA's saturating quantizer does; a float target cannot hold it.
            bad = s < 0 if self.bits is not None else s <= 0
            if np.any(bad):
                what = "negative" if self.bits is not None else "zero or negative"
                raise TargetError(f"the log target cannot take {what} teacher scores; {int(bad.sum())} of {s.size} "
                                  f"are (smallest {s.min():.3g}): use transform 'log1p' or 'identity'")
            with np.errstate(divide="ignore"):
                t = np.log(s)
        elif self.transform == "log1p":
            if np.any(s <= -1):
                raise TargetError(f"the log1p target needs teacher scores above -1; {int((s <= -1).sum())} are not")
            t = np.log1p(s)
        else:
            t = s.copy()
        t *= self.scale
        if self.bits is None:
            return t
        lo, hi = self.limits
        return np.clip(np.round(t / self.lsb) * self.lsb, lo, hi)

    def saturated(self, targets: np.ndarray) -> np.ndarray:
        """Which targets sit at an end of the range (their teacher scores lie beyond it: the order there is lost)."""
        lo, hi = self.limits
        t = np.asarray(targets, dtype=np.float64)
        return (t <= lo) | (t >= hi)

    def resolution(self, score: float) -> float:
        """How far apart two teacher scores near ``score`` must be to get different targets (relative for the
        logarithms: one LSB of the target is a factor ``exp(lsb / scale)`` in the score)."""
        if self.bits is None:
            return 0.0
        if self.transform == "log":
            return float(score) * float(np.expm1(self.lsb / self.scale))
        if self.transform == "log1p":
            return (1.0 + float(score)) * float(np.expm1(self.lsb / self.scale))
        return self.lsb / self.scale
