"""The trigger score in firmware terms: score layers appended to the network, in exact fixed-point types.

The score sums need no rounding: their types are as wide as the largest possible sum (up to 62 bits: the emulator
sums them in int64 and hands the score on as float64, rounded to 53 significant bits when wider). A score the firmware cannot compute exactly (tanh angle decoding, exp
for kl and rz) is left to software and the report says so.
"""

from __future__ import annotations

import math

from l1ad.firmware.emulator import EmulationError, FixedPointNetwork
from l1ad.firmware.fixed import MAX_SCORE_BITS, FixedType, exact_type
from l1ad.firmware.network import FixedNetwork, MaskedMSEScore, SumSquaresScore

SCORE_LAYER = "trigger_score"
OUTPUT = "output"  # the score is the network's single output value (a student's): no score layer to add

DESCRIPTIONS = {
    "sum_squares": "sum of squares of the network outputs, exact fixed point ({type})",
    "masked_mse": "masked MSE of the linear reconstruction: exact fixed-point sum of squared differences ({type}) over "
                  "present objects; the decision compares it with threshold x count (no divider)",
}


def _square_sum_type(t: FixedType, n_terms: int, where: str) -> FixedType:
    """Exact type of a sum of ``n_terms`` squares of values of type ``t``."""
    grow = math.ceil(math.log2(max(n_terms, 1))) if n_terms > 1 else 0
    width, integer = 2 * t.width + grow, 2 * t.integer + grow
    if width > MAX_SCORE_BITS:
        raise EmulationError(f"{where}: an exact sum of squares needs {width} bits, more than the emulator's "
                             f"{MAX_SCORE_BITS}")
    return exact_type(width, integer, signed=False)


def _difference_type(a: FixedType, b: FixedType) -> FixedType:
    """Exact type of ``a - b``."""
    frac = max(a.frac, b.frac)
    integer = max(a.integer + (not a.signed), b.integer + (not b.signed)) + 1
    return exact_type(integer + frac, integer)


def with_score(network: FixedNetwork, kind: str) -> FixedNetwork:
    """``network`` with a score layer ``kind`` ('sum_squares' over its single output, 'masked_mse' of its single
    output against its input) appended and named as its score; ``network`` itself for 'output'."""
    if len(network.outputs) != 1:
        raise EmulationError(f"{network.model}: a firmware score needs one network output, got {network.outputs}")
    out = network.outputs[0]
    net = FixedPointNetwork(network)
    n_out, out_type = math.prod(net.shape(out)), net.output_type(out)
    if kind == OUTPUT:
        if n_out != 1:
            raise EmulationError(f"{network.model}: the score is the network output, but {out!r} has {n_out} values")
        return network
    if out_type is None:
        raise EmulationError(f"{network.model}: the output {out!r} is already a score")
    if kind == "sum_squares":
        layer = SumSquaresScore(name=SCORE_LAYER, input=out,
                                type=_square_sum_type(out_type, n_out, f"{network.model} score"))
    elif kind == "masked_mse":
        diff = _difference_type(network.input.type, out_type)
        layer = MaskedMSEScore(name=SCORE_LAYER, input=network.input.name, reconstruction=out,
                               sum_type=_square_sum_type(diff, n_out, f"{network.model} score"))
    else:
        raise EmulationError(f"{network.model}: no firmware score {kind!r} (known: {', '.join(DESCRIPTIONS)}, "
                             f"{OUTPUT})")
    return network.model_copy(update={"layers": [*network.layers, layer], "score": SCORE_LAYER})


def describe(network: FixedNetwork, kind: str | None = None) -> str:
    """Where the trigger score is computed, for the report (``kind``: the detector's ``firmware_score()``)."""
    if kind == OUTPUT:
        out = network.outputs[0]
        return f"firmware: the network's single output ({FixedPointNetwork(network).output_type(out)}), the score as is"
    if network.score is None:
        return ("software: float64 from the firmware's outputs (the score is not built into the firmware network, e.g. "
                "it needs tanh or exp, or a standardisation the firmware does not hold)")
    layer = network.layer(network.score)
    return "firmware: " + DESCRIPTIONS[layer.kind].format(type=getattr(layer, "type", None) or layer.sum_type)
