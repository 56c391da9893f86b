"""Fixed-point types and the casts between them, exactly as Vivado/Vitis HLS ``ap_fixed`` performs them.

A value of type ``ap_fixed<W, I, Q, O>`` (``ap_ufixed`` if unsigned) is an integer mantissa ``m`` times ``2**-(W - I)``;
``I`` counts the sign bit. Assigning a value of another type first quantizes it to ``W - I`` fractional bits (rounding
mode ``Q``) and then maps the mantissa into range (overflow mode ``O``). hls4ml's layers are nothing but such casts
between exact products and sums, so a network emulated with these casts computes what the firmware computes.

Values are carried as float64 arrays holding the exact value (``m * 2**-f``). That is exact as long as every
intermediate spans fewer than 53 significant bits, which :mod:`l1ad.firmware.emulator` checks for every layer before
it takes the float path (it falls back to int64 otherwise). Keeping float64 lets dense layers use BLAS matmuls. Score
sums, which can be wider, are accumulated in int64.

Only numpy and pydantic are imported here: the open-source RTL environment (numpy >= 2, no TensorFlow) imports this
module to read the exported network.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from l1ad.config.base import StrictModel

Rounding = Literal["TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV"]
Overflow = Literal["WRAP", "SAT", "SAT_ZERO", "SAT_SYM"]

MAX_EXACT_BITS = 53  # float64 holds every integer below 2**53 exactly: the widest layer type the emulator runs
MAX_SCORE_BITS = 62  # score sums are accumulated in int64


class FixedType(StrictModel):
    """``ap_fixed<width, integer, rounding, overflow>`` (signed) or ``ap_ufixed`` (unsigned); ``integer`` counts the sign
    bit, as in ap_fixed (QKeras' ``quantized_bits(bits, integer)`` is ``ap_fixed<bits, integer + 1>``)."""

    width: int = Field(ge=1, le=MAX_SCORE_BITS)
    integer: int = Field(ge=-64, le=64)
    signed: bool = True
    rounding: Rounding = "TRN"
    overflow: Overflow = "WRAP"

    @property
    def frac(self) -> int:
        return self.width - self.integer

    @property
    def mantissa_range(self) -> tuple[int, int]:
        """Smallest and largest mantissa."""
        if self.signed:
            return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        return 0, (1 << self.width) - 1

    @property
    def max_abs(self) -> float:
        """The largest magnitude a value of this type can have."""
        lo, hi = self.mantissa_range
        return max(-lo, hi) * 2.0**-self.frac

    def __str__(self) -> str:
        base = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{base}<{self.width},{self.integer},AP_{self.rounding},AP_{self.overflow}>"


def exact_type(width: int, integer: int, signed: bool = True) -> FixedType:
    """A type for a result that never needs rounding or overflow (the widths are chosen to hold it)."""
    return FixedType(width=width, integer=integer, signed=signed, rounding="TRN", overflow="WRAP")


def round_scaled(v: np.ndarray, rounding: Rounding) -> np.ndarray:
    """Round values already multiplied by ``2**frac`` to integers, in place (float64 in, integer-valued float64 out)."""
    if rounding == "TRN":
        return np.floor(v, out=v)
    if rounding == "TRN_ZERO":
        return np.trunc(v, out=v)
    if rounding == "RND":  # half towards +infinity
        v += 0.5
        return np.floor(v, out=v)
    if rounding == "RND_CONV":  # half to even
        return np.rint(v, out=v)
    if rounding == "RND_MIN_INF":  # half towards -infinity
        v -= 0.5
        return np.ceil(v, out=v)
    if rounding == "RND_INF":  # half away from zero
        return np.copysign(np.floor(np.abs(v) + 0.5), v, out=v)
    if rounding == "RND_ZERO":  # half towards zero
        return np.copysign(np.ceil(np.abs(v) - 0.5), v, out=v)
    raise ValueError(f"unknown rounding mode {rounding!r}")


def overflow_mantissa(m: np.ndarray, t: FixedType) -> np.ndarray:
    """Map integer-valued mantissas into ``t``'s range by its overflow mode (in place where it can)."""
    lo, hi = t.mantissa_range
    if t.overflow == "SAT":
        return np.clip(m, lo, hi, out=m)
    if t.overflow == "SAT_SYM":
        return np.clip(m, -hi if t.signed else lo, hi, out=m)
    if m.size == 0 or (m.min() >= lo and m.max() <= hi):
        return m
    if t.overflow == "WRAP":
        return np.mod(m - lo, float(1 << t.width)) + lo
    if t.overflow == "SAT_ZERO":
        return np.where((m < lo) | (m > hi), 0.0, m)
    raise ValueError(f"unknown overflow mode {t.overflow!r}")


def cast(x: np.ndarray, t: FixedType) -> np.ndarray:
    """``(t) x`` for exact values ``x`` (float64): quantize to ``t.frac`` fractional bits, then overflow. Multiplying
    by a power of two is exact, so the scaling adds no rounding of its own."""
    scaled = np.asarray(x, dtype=np.float64) * 2.0**t.frac
    m = overflow_mantissa(round_scaled(scaled, t.rounding), t)
    m *= 2.0**-t.frac
    return m


def contains(outer: FixedType, inner: FixedType) -> bool:
    """Whether every value of type ``inner`` is a value of type ``outer`` (then a cast to ``outer`` changes nothing)."""
    if outer.frac < inner.frac:
        return False
    lo, hi = inner.mantissa_range
    outer_lo, outer_hi = outer.mantissa_range
    shift = outer.frac - inner.frac
    return outer_lo <= lo * 2**shift and hi * 2**shift <= outer_hi
def mantissas(x: np.ndarray, t: FixedType) -> np.ndarray:
    """The integer mantissas (int64) of values already of type ``t``."""
    return np.ldexp(np.asarray(x, dtype=np.float64), t.frac).astype(np.int64)


def product_type(a: FixedType, b: FixedType) -> FixedType:
    """The exact type of ``a * b`` (ap_fixed's multiplication result)."""
    return exact_type(a.width + b.width, a.integer + b.integer, a.signed or b.signed)
