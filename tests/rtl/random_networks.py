"""Random fixed-point networks for the RTL tests (l1ad-fixed-network/1 files built directly, no Keras).

A "forest" is one network whose input feeds several independent random branches; every branch's last layer is an
output. One Verilator build then checks many random layer stacks at once (each build takes tens of seconds).
"""

from __future__ import annotations

import numpy as np

from l1ad.firmware.fixed import FixedType
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

ROUNDING = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV")
# AP_SAT_SYM is left out: ap_fixed maps the most negative value to -max as well (ap_fixed_base.h, "underflow |=
# neg_src && ..."), which the RTL does, while l1ad.firmware.fixed.overflow_mantissa leaves values already in range
# untouched whenever none of the array overflows, so the emulator's result depends on the other values in a chunk.
OVERFLOW = ("WRAP", "SAT", "SAT_ZERO")
INPUT = FixedType(width=16, integer=8, rounding="RND_CONV", overflow="SAT")  # the baselines' input type


def exact(width: int, integer: int, signed: bool = True) -> FixedType:
    return FixedType(width=width, integer=integer, signed=signed)


def random_type(rng, *, width=(4, 14), integer=(1, 7), signed: float = 0.7, modes: bool = True) -> FixedType:
    w = int(rng.integers(*width))
    return FixedType(width=w, integer=int(rng.integers(*integer)), signed=bool(rng.random() < signed),
                     rounding=str(rng.choice(ROUNDING)) if modes else "TRN",
                     overflow=str(rng.choice(OVERFLOW)) if modes else "WRAP")


class _Branch:
    def __init__(self, rng, prefix: str, layers: list):
        self.rng, self.prefix, self.layers = rng, prefix, layers
        self.count = 0

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{self.prefix}_{kind}{self.count}"

    def add(self, layer):
        self.layers.append(layer)
        return layer.name

    def dense(self, source: str, in_type: FixedType, n_in: int, n_out: int, *, weight_bits: int | None = None,
              exact_accum: bool | None = None, result: FixedType | None = None) -> tuple[str, FixedType]:
        rng = self.rng
        bits = weight_bits or int(rng.integers(2, 9))
        wt = FixedType(width=bits, integer=int(rng.integers(-1, 3)))
        lo, hi = wt.mantissa_range
        w = rng.integers(lo, hi + 1, (n_in, n_out))
        w[rng.random(w.shape) < 0.2] = 0  # pruned weights
        bt = FixedType(width=int(rng.integers(4, 12)), integer=int(rng.integers(1, 6)))
        b = rng.integers(*bt.mantissa_range, n_out, endpoint=True)
        if exact_accum is None:
            exact_accum = rng.random() < 0.7
        if exact_accum:  # hls4ml's exact accumulator: every product bit, wrapping
            frac = max(in_type.frac + wt.frac, bt.frac)
            accum = exact(frac + 16, 16)
        else:  # a narrow accumulator that rounds products and may saturate: summed in the firmware's order
            accum = random_type(rng, width=(8, 18), integer=(3, 9), signed=1.0)
        result = result or random_type(rng, width=(6, 16), integer=(2, 8), signed=1.0)
        name = self.add(DenseLayer(name=self.name("dense"), input=source, weight=w.tolist(), weight_type=wt,
                                   bias=b.tolist(), bias_type=bt, accum_type=accum, type=result))
        return name, result

    def activation(self, source: str) -> tuple[str, FixedType]:
        t = random_type(self.rng)
        cls = ReluLayer if self.rng.random() < 0.6 else QuantizeLayer
        return self.add(cls(name=self.name(cls.model_fields["kind"].default), input=source, type=t)), t


def dense_branch(rng, prefix: str, layers: list, source: str, in_type: FixedType, n_in: int) -> tuple[str, int]:
    """Quantize -> (dense -> relu/quantize) x 1..3, random widths and modes throughout."""
    b = _Branch(rng, prefix, layers)
    t = random_type(rng, width=(6, 16), integer=(2, 9))
    x = b.add(QuantizeLayer(name=b.name("quantize"), input=source, type=t))
    n = n_in
    for _ in range(int(rng.integers(1, 4))):
        n_out = int(rng.integers(2, 7))
        x, t = b.dense(x, t, n, n_out)
        x, t = b.activation(x)
        n = n_out
    return x, n


def image_branch(rng, prefix: str, layers: list, source: str, shape: tuple[int, int, int]) -> tuple[str, int]:
    """reshape to an image -> zero padding -> conv2d -> relu -> average pooling -> up-sampling -> batchnorm ->
    flatten, concatenated with a dense view of the same input."""
    b = _Branch(rng, prefix, layers)
    h, w, c = shape
    img = b.add(ReshapeLayer(name=b.name("reshape"), input=source, shape=[h, w, c]))
    pad = b.add(ZeroPad2DLayer(name=b.name("pad"), input=img, padding=(1, 0, 0, 1), type=INPUT))
    filters, (kh, kw) = 2, (2, 2)
    wt = FixedType(width=int(rng.integers(3, 7)), integer=1)
    kernel = rng.integers(*wt.mantissa_range, kh * kw * c * filters, endpoint=True)
    bt = FixedType(width=8, integer=3)
    accum = exact(INPUT.frac + wt.frac + 16, 16)
    conv_t = random_type(rng, width=(8, 14), integer=(4, 8), signed=1.0)
    conv = b.add(Conv2DLayer(name=b.name("conv"), input=pad, kernel_shape=(kh, kw, c, filters),
                             weight=kernel.tolist(), weight_type=wt, bias=rng.integers(-64, 64, filters).tolist(),
                             bias_type=bt, accum_type=accum, stride=(1, 1), padding=(0, 1, 1, 0), type=conv_t))
    relu_t = random_type(rng, width=(6, 11), integer=(3, 6), signed=0.0)
    act = b.add(ReluLayer(name=b.name("relu"), input=conv, type=relu_t))
    oh, ow = h + 1 + 1 - kh + 1, w + 1 + 1 - kw + 1  # padded by 1 each way, then the conv's own padding
    pool_accum = FixedType(width=relu_t.width + 4, integer=relu_t.integer + 3, rounding=str(rng.choice(ROUNDING)))
    pool = b.add(AvgPool2DLayer(name=b.name("pool"), input=act, pool=(3, 1), stride=(3, 1), accum_type=pool_accum,
                                type=random_type(rng, width=(6, 12), integer=(3, 7))))
    ph, pw = (oh - 3) // 3 + 1, ow
    up = b.add(UpSample2DLayer(name=b.name("up"), input=pool, factor=(2, 1),
                               type=random_type(rng, width=(6, 12), integer=(3, 7))))
    st = FixedType(width=6, integer=2)
    bn = b.add(BatchNormLayer(name=b.name("bn"), input=up, scale=rng.integers(-32, 32, filters).tolist(),
                              scale_type=st, bias=rng.integers(-32, 32, filters).tolist(), bias_type=st,
                              type=random_type(rng, width=(8, 14), integer=(4, 8))))
    n_img = 2 * ph * pw * filters
    flat = b.add(ReshapeLayer(name=b.name("flatten"), input=bn, shape=[n_img]))
    dense, n_dense = dense_branch(rng, prefix + "d", layers, source, INPUT, h * w * c)
    cat = b.add(ConcatenateLayer(name=b.name("concat"), inputs=[flat, dense],
                                 type=random_type(rng, width=(8, 16), integer=(4, 9))))
    return cat, n_img + n_dense


def forest(seed: int, *, branches: int = 3, n_in: int = 12, images: int = 1, casts: bool = True,
           score: str | None = "sum_squares") -> FixedNetwork:
    """One input (ap_fixed<16,8>), ``branches`` random dense branches, ``images`` image branches (the input seen as
    an (n_in / 3) x 1 x 3 image) and, with ``casts``, every rounding x overflow mode from two source types (one
    quantize or relu layer each); outputs = every branch's last layer. Score: ``sum_squares`` over the first branch,
    or ``masked_mse`` of an extra autoencoder branch."""
    rng = np.random.default_rng(seed)
    layers: list = [InputLayer(name="inputs", shape=[n_in], type=INPUT)]
    outputs = []
    for k in range(branches):
        out, _ = dense_branch(rng, f"b{k}", layers, "inputs", INPUT, n_in)
        outputs.append(out)
    for k in range(images):
        out, _ = image_branch(rng, f"i{k}", layers, "inputs", (n_in // 3, 1, 3))
        outputs.append(out)
    if casts:
        outputs.extend(cast_layers(rng, layers, "inputs"))
    score_name = None
    if score == "sum_squares":
        layers.append(SumSquaresScore(name="score", input=outputs[0], type=exact(53, 26)))
        score_name = "score"
    elif score == "masked_mse":
        recon = autoencoder_layers(rng, layers, "inputs", n_in)
        outputs.append(recon)
        layers.append(MaskedMSEScore(name="score", input="inputs", reconstruction=recon, features=3,
                                     sum_type=exact(52, 28)))
        score_name = "score"
    return FixedNetwork(model=f"forest{seed}", layers=layers, outputs=outputs, score=score_name,
                        source=f"random test network (seed {seed})")


def cast_layers(rng, layers: list, source: str, targets: int = 2) -> list[str]:
    """Every rounding x overflow mode (and relu) from two random source types (signed, unsigned) into random
    narrower targets; returns the names of the new layers."""
    names = []
    b = _Branch(rng, "cast", layers)
    wide, _ = b.dense(source, INPUT, 12, 4, exact_accum=True, result=exact(30, 14))  # 4 mixed values per event
    for s in range(2):
        t = FixedType(width=int(rng.integers(10, 17)), integer=int(rng.integers(4, 9)), signed=s == 0,
                      rounding="RND_CONV", overflow="WRAP")
        src = f"src{s}"
        layers.append(QuantizeLayer(name=src, input=wide, type=t))
        for r in ROUNDING:
            for o in OVERFLOW:
                for k in range(targets):
                    target = FixedType(width=int(rng.integers(3, t.width)), integer=int(rng.integers(-1, t.integer)),
                                       signed=bool(rng.random() < 0.7), rounding=r, overflow=o)
                    cls = QuantizeLayer if k % 2 == 0 else ReluLayer
                    name = f"{src}_{r}_{o}_{k}"
                    layers.append(cls(name=name, input=src, type=target))
                    names.append(name)
    return names


def autoencoder_layers(rng, layers: list, source: str, n_in: int, latent: int = 3, weight_bits: int = 8) -> str:
    """A small dense autoencoder n_in -> 6 -> latent -> 6 -> n_in (relu ap_ufixed<10,5,RND_CONV,SAT>, exact
    accumulators, a linear reconstruction); returns the reconstruction layer's name."""
    b = _Branch(rng, "ae", layers)
    x, t, n = source, INPUT, n_in
    relu = FixedType(width=10, integer=5, signed=False, rounding="RND_CONV", overflow="SAT")
    for n_out in (6, latent, 6):
        x, t = b.dense(x, t, n, n_out, weight_bits=weight_bits, exact_accum=True,
                       result=exact(t.frac + weight_bits + 20, 20))
        x = b.add(ReluLayer(name=b.name("relu"), input=x, type=relu))
        t, n = relu, n_out
    frac = t.frac + weight_bits - 1
    x, _ = b.dense(x, t, n, n_in, weight_bits=weight_bits, exact_accum=True, result=exact(frac + 10, 10))
    return x


def events(seed: int, n: int, n_in: int, *, zero_objects: float = 0.3) -> np.ndarray:
    """Float inputs spanning the input type's range (and beyond, to exercise saturation), with whole objects of three
    values set to zero (absent) at random."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 30, (n, n_in)) * rng.choice([0.05, 1, 5], (n, 1))
    absent = rng.random((n, n_in // 3)) < zero_objects
    x[np.repeat(absent, 3, axis=1)] = 0
    return x

