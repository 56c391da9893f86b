"""A bit-exact emulator of the firmware network, vectorized over events in numpy.

``FixedPointNetwork.from_hls(hls_model)`` reads the layers, integer weights and every precision (with rounding and
overflow modes) of a converted hls4ml model; ``predict(X)`` returns what ``hls_model.predict(X)`` returns, bit for bit,
and ``score(X)`` the trigger score computed in fixed point where the network file defines one. The rules of every layer
are those of :mod:`l1ad.firmware.network`.

Values are exact float64 (see :mod:`l1ad.firmware.fixed`): a dense or convolution layer is one BLAS matmul whenever the
exact sum of products fits in 53 bits (checked per chunk from the actual inputs and weights), otherwise an int64
matmul; a layer whose accumulator rounds each product, or saturates, is accumulated term by term as the firmware does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from l1ad.errors import L1adError
from l1ad.firmware.fixed import MAX_EXACT_BITS, FixedType, cast, contains, product_type
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
)

CHUNK = 16384  # events per pass: the widest intermediate (CNN patches) stays below ~100 MB


class EmulationError(L1adError):
    """The network cannot be emulated exactly (an unsupported layer or type); the message names the layer."""


@dataclass
class _Weights:
    """A dense/conv layer's weights as exact float64 values and as int64 mantissas, and the accumulation plan."""

    w: np.ndarray  # (n_in, n_out) values
    w_int: np.ndarray  # (n_in, n_out) mantissas
    bias: np.ndarray  # (n_out,) values already cast to the accumulator
    column_abs_sum: float  # max over outputs of sum_i |w[i, j]| (values)
    product_frac: int
    accum: FixedType
    exact_sum: bool  # products need no rounding and any overflow is a wrap: the whole sum can be taken at once
    never_overflows: bool  # and no sum can leave the accumulator's range: the accumulator cast changes nothing
    float_exact: bool  # and float64 holds every partial sum for any input of the layer's input type


def accumulation_plan(layer: DenseLayer | Conv2DLayer, w_int: np.ndarray, input_type: FixedType,
             bias_int: np.ndarray | None = None) -> _Weights:
    """The accumulation plan of a layer's weights ``w_int`` (and ``bias_int``, default the layer's biases)."""
    w = np.ldexp(w_int.astype(np.float64), -layer.weight_type.frac)
    bias_int = np.asarray(layer.bias if bias_int is None else bias_int, dtype=np.float64)
    bias = cast(np.ldexp(bias_int, -layer.bias_type.frac), layer.accum_type)
    product = product_type(input_type, layer.weight_type)
    lo, hi = layer.accum_type.mantissa_range
    # Largest partial sum, in accumulator units: if it fits, saturation never acts and the order does not matter.
    worst = (np.abs(w_int).sum(axis=0).max(initial=0) * input_type.max_abs * 2.0**(layer.accum_type.frac
             - layer.weight_type.frac) + np.abs(bias).max(initial=0) * 2.0**layer.accum_type.frac)
    no_overflow = worst <= min(-lo, hi)
    exact_sum = layer.accum_type.frac >= product.frac and (layer.accum_type.overflow == "WRAP" or no_overflow)
    column_abs_sum = float(np.abs(w).sum(axis=0).max(initial=0))
    largest = (input_type.max_abs * column_abs_sum + float(np.abs(bias).max(initial=0))) * 2.0**layer.accum_type.frac
    return _Weights(w, w_int.astype(np.int64), bias, column_abs_sum, product.frac, layer.accum_type, exact_sum,
                    exact_sum and no_overflow, exact_sum and largest < 2.0**MAX_EXACT_BITS)


def float_sums_exact(x: np.ndarray, weights: _Weights) -> bool:
    """Whether float64 sums of products and bias are exact in any order for inputs ``x`` (values of the layer's input
    type): ``exact_sum`` holds and every partial sum, a multiple of the accumulator's LSB, stays below 2**53 of
    those LSBs."""
    if weights.float_exact:  # whatever the inputs
        return True
    return sums_fit_float(float(np.abs(x).max(initial=0)), weights)


def sums_fit_float(largest_input: float, weights: _Weights) -> bool:
    """:func:`float_sums_exact` for any inputs of at most ``largest_input`` in size."""
    if not weights.exact_sum:
        return False
    bound = largest_input * weights.column_abs_sum + float(np.abs(weights.bias).max(initial=0))
    return bound * 2.0**weights.accum.frac < 2.0**MAX_EXACT_BITS


def present_values(x: np.ndarray, features: int) -> np.ndarray:
    """Per event (rows of ``x``, objects of ``features`` values each): True for every value of an object with any
    nonzero value, False for the values of absent (all-zero) objects."""
    return np.repeat(np.any(x.reshape(len(x), -1, features) != 0, axis=2), features, axis=1)


def _conv_method(patches: int, by_offset: int, all_offsets: int) -> str:
    """The convolution product that moves the fewest values per event (all three are exact, in any order)."""
    costs = {"patches": patches, "by offset": by_offset, "all offsets": all_offsets}
    return min(costs, key=costs.get)


def _accumulate(x: np.ndarray, weights: _Weights, x_type: FixedType) -> np.ndarray:
    """``acc`` of the dense rule for inputs ``x`` (n, n_in), before the cast to the result type."""
    acc_t = weights.accum
    if weights.exact_sum:
        if float_sums_exact(x, weights):
            total = x @ weights.w
        else:
            x_int = np.ldexp(x, x_type.frac).astype(np.int64)
            # exact in int64; wrap it into the accumulator before leaving integers (the result may exceed 2**53)
            total_int = x_int @ weights.w_int
            return cast(np.ldexp(_wrap_int(total_int, weights.product_frac, acc_t), -acc_t.frac) + weights.bias, acc_t)
        total += weights.bias
        return total if weights.never_overflows else cast(total, acc_t)
    # The firmware order: every product cast to the accumulator, then added one input at a time.
    acc = np.broadcast_to(weights.bias, (len(x), weights.w.shape[1])).copy()
    for i in range(weights.w.shape[0]):
        acc = cast(acc + cast(x[:, i : i + 1] * weights.w[i], acc_t), acc_t)
    return acc


def _wrap_int(total: np.ndarray, frac: int, t: FixedType) -> np.ndarray:
    """int64 sums at ``frac`` fractional bits -> float mantissas of ``t`` (requires t.frac >= frac, WRAP overflow)."""
    shifted = total << (t.frac - frac)
    lo = -(1 << (t.width - 1)) if t.signed else 0
    return (((shifted - lo) & ((1 << t.width) - 1)) + lo).astype(np.float64)


class FixedPointNetwork:
    """The firmware network of one model, executable over event arrays.

    Examples
    --------
    >>> net = FixedPointNetwork.from_hls(hls_model)          # doctest: +SKIP
    >>> np.array_equal(net.predict(X), hls_model.predict(X))  # doctest: +SKIP
    True
    """

    def __init__(self, network: FixedNetwork):
        self.network = network
        self._types: dict[str, FixedType | None] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._steps: list[tuple[str, Callable]] = []
        # every dense layer's accumulation plan and the type its sums are cast to (None: they already are of it)
        self._dense: dict[str, tuple[_Weights, FixedType | None]] = {}
        for layer in network.layers:
            self._steps.append((layer.name, self._compile(layer)))
        self._last_reader = {name: index for index, layer in enumerate(network.layers) for name in layer_inputs(layer)}

    # -- construction ---------------------------------------------------------------------------------------------
    @classmethod
    def from_hls(cls, hls_model, *, model: str = "model") -> FixedPointNetwork:
        """Read a converted (and compiled) hls4ml model; see :func:`l1ad.firmware.from_hls.network_from_hls`."""
        from l1ad.firmware.from_hls import network_from_hls

        return cls(network_from_hls(hls_model, model=model))

    def _compile(self, layer) -> Callable:
        try:
            return self._compile_layer(layer)
        except KeyError as exc:
            raise EmulationError(f"layer {layer.name!r} reads {exc.args[0]!r}, which is not an earlier layer") from None

    def _out(self, layer, shape: tuple[int, ...], t: FixedType | None) -> None:
        if layer.name in self._shapes:
            raise EmulationError(f"layer name {layer.name!r} appears twice")
        if t is not None and t.width > MAX_EXACT_BITS:
            raise EmulationError(f"layer {layer.name!r}: type {t} is wider than the emulator's {MAX_EXACT_BITS} bits")
        self._shapes[layer.name], self._types[layer.name] = shape, t

    def _typed_input(self, layer, name: str) -> tuple[tuple[int, ...], FixedType]:
        t = self._types[name]
        if t is None:
            raise EmulationError(f"layer {layer.name!r} reads the score {name!r}")
        return self._shapes[name], t

    def _compile_layer(self, layer) -> Callable:  # noqa: C901 - one branch per layer kind
        if isinstance(layer, InputLayer):
            self._out(layer, tuple(layer.shape), layer.type)
            return lambda values, x: cast(x, layer.type)
        if isinstance(layer, (QuantizeLayer, ReluLayer)):
            shape, in_t = self._typed_input(layer, layer.input)
            self._out(layer, shape, layer.type)
            if isinstance(layer, ReluLayer):
                return lambda values: cast(np.maximum(values[layer.input], 0.0), layer.type)
            convert = self._converter(layer.type, in_t)  # e.g. the input quantizer on inputs already of its type
            return lambda values: convert(values[layer.input])
        if isinstance(layer, DenseLayer):
            shape, in_t = self._typed_input(layer, layer.input)
            w_int = np.asarray(layer.weight, dtype=np.int64).reshape(-1, len(layer.bias)) if layer.weight else None
            n_in = int(np.prod(shape))
            if w_int is None or w_int.shape[0] != n_in:
                raise EmulationError(f"dense layer {layer.name!r}: weights do not match its {n_in} inputs")
            weights = accumulation_plan(layer, w_int, in_t)
            self._out(layer, (len(layer.bias),), layer.type)
            # hls4ml's exact 'auto' types: the accumulator's values are already of the result type
            out_t = None if weights.never_overflows and contains(layer.type, layer.accum_type) else layer.type
            self._dense[layer.name] = (weights, out_t)
            if out_t is None:
                return lambda values: _accumulate(values[layer.input].reshape(-1, n_in), weights, in_t)
            return lambda values: cast(_accumulate(values[layer.input].reshape(-1, n_in), weights, in_t), out_t)
        if isinstance(layer, Conv2DLayer):
            return self._compile_conv(layer)
        if isinstance(layer, AvgPool2DLayer):
            return self._compile_pool(layer)
        if isinstance(layer, UpSample2DLayer):
            (h, w, c), in_t = self._typed_input(layer, layer.input)
            fh, fw = layer.factor
            self._out(layer, (h * fh, w * fw, c), layer.type)
            convert = self._converter(layer.type, in_t)

            def upsample(values):
                x = self._image(values, layer.input)[:, :, None, :, None, :]
                return convert(np.broadcast_to(x, (len(x), h, fh, w, fw, c)).reshape(len(x), h * fh, w * fw, c))

            return upsample
        if isinstance(layer, ZeroPad2DLayer):
            (h, w, c), in_t = self._typed_input(layer, layer.input)
            top, bottom, left, right = layer.padding
            self._out(layer, (h + top + bottom, w + left + right, c), layer.type)
            convert = self._converter(layer.type, in_t)

            def zero_pad(values):
                x = self._image(values, layer.input)
                out = np.zeros((len(x), h + top + bottom, w + left + right, c))
                out[:, top : top + h, left : left + w] = convert(x)  # zero is a value of every type
                return out

            return zero_pad
        if isinstance(layer, ReshapeLayer):
            shape, t = self._typed_input(layer, layer.input)
            if int(np.prod(shape)) != int(np.prod(layer.shape)):
                raise EmulationError(f"reshape {layer.name!r}: {shape} has not the size of {tuple(layer.shape)}")
            self._out(layer, tuple(layer.shape), t)
            return lambda values: values[layer.input]
        if isinstance(layer, ConcatenateLayer):
            shapes = [self._typed_input(layer, name)[0] for name in layer.inputs]
            if any(len(s) != 1 for s in shapes):
                raise EmulationError(f"concatenate {layer.name!r}: only flat inputs are supported, got {shapes}")
            self._out(layer, (sum(s[0] for s in shapes),), layer.type)
            return lambda values: cast(np.concatenate([self._flat(values, n) for n in layer.inputs], axis=1), layer.type)
        if isinstance(layer, BatchNormLayer):
            shape, _ = self._typed_input(layer, layer.input)
            scale = np.ldexp(np.asarray(layer.scale, dtype=np.float64), -layer.scale_type.frac)
            bias = np.ldexp(np.asarray(layer.bias, dtype=np.float64), -layer.bias_type.frac)
            if scale.shape != bias.shape or shape[-1] != len(scale):
                raise EmulationError(f"batchnorm {layer.name!r}: {len(scale)} scales for {shape[-1]} channels")
            self._out(layer, shape, layer.type)
            return lambda values: cast(values[layer.input] * scale + bias, layer.type)
        if isinstance(layer, SumSquaresScore):
            shape, _ = self._typed_input(layer, layer.input)
            self._out(layer, (), None)
            in_t = self._types[layer.input]
            return lambda values: _exact(np.square(_ints(self._flat(values, layer.input), in_t)).sum(axis=1),
                                         2 * in_t.frac, layer.type, layer.name)
        if isinstance(layer, MaskedMSEScore):
            return self._compile_mse(layer)
        raise EmulationError(f"layer {layer.name!r}: kind {layer.kind!r} is not supported by the emulator")

    def _compile_conv(self, layer: Conv2DLayer) -> Callable:
        (h, w, c), in_t = self._typed_input(layer, layer.input)
        kh, kw, kc, filters = layer.kernel_shape
        if kc != c or len(layer.weight) != kh * kw * kc * filters or len(layer.bias) != filters:
            raise EmulationError(f"conv2d {layer.name!r}: kernel {layer.kernel_shape} does not fit input ({h}, {w}, {c})")
        top, bottom, left, right = layer.padding
        sh, sw = layer.stride
        out_h, out_w = (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1
        weights = accumulation_plan(layer, np.asarray(layer.weight, dtype=np.int64).reshape(kh * kw * kc, filters), in_t)
        self._out(layer, (out_h, out_w, filters), layer.type)
        exact = weights.never_overflows and contains(layer.type, layer.accum_type)
        kernel = weights.w.reshape(kh, kw, c, filters)
        padded_h, padded_w = h + top + bottom, w + left + right
        # Exact sums may be taken in any order, so the cheapest of three equivalent products is used (values moved
        # per event): "patches" copies every output's kh x kw x c window into one matrix and multiplies it once;
        # "by offset" multiplies each kernel offset's window of the image by that offset's weights; "all offsets"
        # multiplies every pixel by every offset's weights in one product and adds shifted views of it. Blocks of
        # events keep the largest intermediate at ~4 MB, in cache. Sums that are not exact in float64 go through the
        # firmware-order accumulation of the patches.
        method = _conv_method(out_h * out_w * (kh * kw * c + filters), kh * kw * out_h * out_w * (c + filters),
                              padded_h * padded_w * (c + kh * kw * filters) + kh * kw * out_h * out_w * filters)
        widest = max(out_h * out_w * kh * kw * c, padded_h * padded_w * kh * kw * filters if method == "all offsets"
                     else out_h * out_w * (c + filters))
        step = max(1, (1 << 19) // widest)
        flat_kernel = kernel.transpose(2, 0, 1, 3).reshape(c, kh * kw * filters)

        def window(x, r, q):
            return x[:, r : r + sh * out_h : sh, q : q + sw * out_w : sw]

        def patches(x):
            return np.stack([window(x, r, q) for r in range(kh) for q in range(kw)], axis=3).reshape(-1, kh * kw * c)

        def exact_sums(x):
            n = len(x)
            if method == "patches":
                return (patches(x) @ weights.w + weights.bias).reshape(n, out_h, out_w, filters)
            acc = np.broadcast_to(weights.bias, (n, out_h, out_w, filters)).copy()
            if method == "all offsets":
                products = (x.reshape(-1, c) @ flat_kernel).reshape(n, padded_h, padded_w, kh, kw, filters)
                for r in range(kh):
                    for q in range(kw):
                        acc += window(products, r, q)[..., r, q, :]
                return acc
            flat = acc.reshape(-1, filters)
            for r in range(kh):
                for q in range(kw):
                    pixels = window(x, r, q).reshape(-1, c)  # one 2-D product (a 4-D matmul is many tiny ones)
                    flat += pixels * kernel[r, q, 0] if c == 1 else pixels @ kernel[r, q]
            return acc

        def block(x):
            if float_sums_exact(x, weights):
                acc = exact_sums(x)
                if not weights.never_overflows:
                    acc = cast(acc, layer.accum_type)
            else:
                acc = _accumulate(patches(x), weights, in_t).reshape(len(x), out_h, out_w, filters)
            return acc if exact else cast(acc, layer.type)

        def run(values):
            image = self._image(values, layer.input)
            out = np.empty((len(image), out_h, out_w, filters))
            x = np.zeros((min(step, len(image)), padded_h, padded_w, c))
            for first in range(0, len(image), step):
                part = image[first : first + step]
                x[: len(part), top : top + h, left : left + w] = part  # the padding stays zero
                out[first : first + len(part)] = block(x[: len(part)])
            return out

        return run

    def _compile_pool(self, layer: AvgPool2DLayer) -> Callable:
        (h, w, c), in_t = self._typed_input(layer, layer.input)
        ph, pw = layer.pool
        sh, sw = layer.stride
        out_h, out_w = (h - ph) // sh + 1, (w - pw) // sw + 1
        self._out(layer, (out_h, out_w, c), layer.type)
        acc_t, n = layer.accum_type, ph * pw
        # When the accumulator holds the sum of n inputs exactly, no partial sum or mean needs a cast to it.
        lo, hi = in_t.mantissa_range
        acc_lo, acc_hi = acc_t.mantissa_range
        shift = acc_t.frac - in_t.frac
        sums_fit = shift >= 0 and acc_lo <= n * lo * 2**shift and n * hi * 2**shift <= acc_hi
        to_accumulator = (lambda x: x) if sums_fit else (lambda x: cast(x, acc_t))
        to_output = self._converter(layer.type, acc_t)

        def run(values):
            x = self._image(values, layer.input)
            acc = np.zeros((len(x), out_h, out_w, c))
            for r in range(ph):
                for q in range(pw):
                    acc = to_accumulator(acc + x[:, r : r + sh * out_h : sh, q : q + sw * out_w : sw, :])
            mean = np.ldexp(np.trunc(np.ldexp(acc, acc_t.frac) / n), -acc_t.frac)  # ap_fixed / int: towards zero
            return to_output(to_accumulator(mean))

        return run

    def _compile_mse(self, layer: MaskedMSEScore) -> Callable:
        (n_in,), x_t = self._typed_input(layer, layer.input)
        (n_out,), y_t = self._typed_input(layer, layer.reconstruction)
        frac = max(x_t.frac, y_t.frac)
        if n_in != n_out or n_in % layer.features:
            raise EmulationError(f"masked_mse {layer.name!r}: {n_in} inputs against {n_out} reconstructed values")
        self._out(layer, (), None)

        def run(values):
            x, y = self._flat(values, layer.input), self._flat(values, layer.reconstruction)
            present = present_values(x, layer.features)
            diff = _ints(x, x_t, frac) - _ints(y, y_t, frac)
            total = _exact((present * np.square(diff)).sum(axis=1), 2 * frac, layer.sum_type, layer.name)
            return total / np.maximum(present.sum(axis=1), 1)

        return run

    @staticmethod
    def _converter(t: FixedType | None, source: FixedType | None) -> Callable[[np.ndarray], np.ndarray]:
        """The cast to ``t`` of values of type ``source``, or nothing where every such value is already of ``t``."""
        if t is None or (source is not None and contains(t, source)):
            return lambda x: x
        return lambda x: cast(x, t)

    def _image(self, values, name: str) -> np.ndarray:
        return values[name].reshape(-1, *self._shapes[name])

    def _flat(self, values, name: str) -> np.ndarray:
        v = values[name]
        return v.reshape(len(v), -1)

    def shape(self, name: str) -> tuple[int, ...]:
        """The per-event shape of a layer's output."""
        return self._shapes[name]

    def output_type(self, name: str) -> FixedType | None:
        """A layer's output type (None for a score layer)."""
        return self._types[name]

    # -- running ----------------------------------------------------------------------------------------------------
    def run(self, X: np.ndarray, keep: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        """Every output (and the score, and the layers named in ``keep``) for events ``X``, in chunks."""
        X = np.asarray(X, dtype=np.float64)
        n_in = int(np.prod(self.network.input.shape))
        if X.ndim < 2 or int(np.prod(X.shape[1:])) != n_in:
            raise EmulationError(f"{self.network.model}: inputs of shape {X.shape[1:]} for a network reading "
                                 f"{tuple(self.network.input.shape)}")
        wanted = [*self.network.outputs, *([self.network.score] if self.network.score else []), *keep]
        parts: dict[str, list[np.ndarray]] = {name: [] for name in wanted}
        for start in range(0, len(X), CHUNK):
            chunk = X[start : start + CHUNK]
            values = self._forward(chunk.reshape(-1, *self.network.input.shape), set(wanted))
            for name in wanted:
                parts[name].append(values[name].reshape(len(chunk), -1))
        return {name: (np.concatenate(p) if p else np.empty((0, 1))) for name, p in parts.items()}

    def _forward(self, x: np.ndarray, wanted: set[str]) -> dict[str, np.ndarray]:
        """Every layer in order; a layer's values are dropped after its last reader unless wanted (the memory of a
        chunk is then a few layers', not the whole network's)."""
        values: dict[str, np.ndarray] = {}
        (first, step), *rest = self._steps
        values[first] = step(values, x)
        for index, (name, step) in enumerate(rest, start=1):
            values[name] = step(values)
            for read in layer_inputs(self.network.layers[index]):
                if self._last_reader[read] == index and read not in wanted:
                    del values[read]
        return values

    def layer_values(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every layer's values for one chunk of events ``x`` (at most a few ``CHUNK``; rows are events)."""
        return self._forward(np.asarray(x, dtype=np.float64).reshape(-1, *self.network.input.shape), set(self._shapes))

    def resume(self, values: dict[str, np.ndarray], start: int) -> dict[str, np.ndarray]:
        """Run the layers from index ``start`` on. ``values`` holds every earlier layer they read; a layer already in
        ``values`` is taken as given, not recomputed (fault injection hands in the faulted layers this way)."""
        for name, step in self._steps[start:]:
            if name not in values:
                values[name] = step(values)
        return values

    def dense_plan(self, name: str) -> _Weights:
        """The accumulation plan of dense layer ``name`` (its weights as exact values, whether sums are exact)."""
        return self._dense[name][0]

    def dense_from_sums(self, name: str, total: np.ndarray) -> np.ndarray:
        """Dense layer ``name``'s output from the exact sums of its products and bias: the same as its rule where
        those sums are exact in float64 (``float_sums_exact`` of its inputs and a plan with ``exact_sum``)."""
        weights, out_t = self._dense[name]
        acc = total if weights.never_overflows else cast(total, weights.accum)
        return acc if out_t is None else cast(acc, out_t)

    def step(self, index: int) -> Callable:
        """The compiled rule of layer ``index``: a function of the values of the layers it reads."""
        return self._steps[index][1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The network outputs (float64, exact), concatenated as hls4ml's ``predict`` returns them."""
        out = self.run(X)
        return np.concatenate([out[name] for name in self.network.outputs], axis=1)

    def score(self, X: np.ndarray) -> np.ndarray:
        """The trigger score computed in fixed point by the network's score layer."""
        if self.network.score is None:
            raise EmulationError(f"{self.network.model}: the network file defines no firmware score")
        return self.run(X)[self.network.score][:, 0]


def layer_inputs(layer) -> list[str]:
    """The layers a layer reads."""
    return [name for field in ("input", "reconstruction") if isinstance(name := getattr(layer, field, None), str)] + \
        list(getattr(layer, "inputs", []))


def _ints(values: np.ndarray, t: FixedType, frac: int | None = None) -> np.ndarray:
    """Exact values of type ``t`` as int64 mantissas at ``frac`` (default ``t.frac``) fractional bits."""
    return np.ldexp(values, t.frac).astype(np.int64) << ((frac if frac is not None else t.frac) - t.frac)


def _exact(total: np.ndarray, frac: int, t: FixedType, name: str) -> np.ndarray:
    """An int64 score sum at ``frac`` fractional bits, checked to need no rounding or overflow in its stated type
    (checked, not assumed), as float64 values (rounded to 53 significant bits when wider)."""
    lo, hi = t.mantissa_range
    if frac > t.frac or (total.size and (total.min() < lo >> (t.frac - frac) or total.max() > hi >> (t.frac - frac))):
        raise EmulationError(f"score {name!r}: a sum does not fit its exact type {t}")
    return np.ldexp(total.astype(np.float64), -frac)
