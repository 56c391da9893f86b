"""The quantized network as the firmware holds it: one portable file (``l1ad-fixed-network/1``, JSON).

Every layer names its input(s), its output type and, for layers with weights, the integer mantissas of the weights and
biases with their types and the accumulator type. Nothing in it needs Keras or hls4ml: the emulator
(:mod:`l1ad.firmware.emulator`) runs it over event arrays, and the open-source RTL environment rebuilds it with da4ml.

Semantics (hls4ml's ``io_parallel`` templates, which Vivado/Vitis HLS synthesize; ``cast`` is ap_fixed assignment,
:func:`l1ad.firmware.fixed.cast`):

* ``input``: ``cast(x, type)`` of the float inputs.
* ``quantize`` (hls4ml's linear activation): ``cast(x, type)``.  ``relu``: ``cast(max(x, 0), type)``.
* ``dense``: ``mult[i, j] = cast(x[i] * w[i, j], accum)``; ``acc[j] = cast(b[j], accum)``, then for i = 0, 1, ...
  ``acc[j] = cast(acc[j] + mult[i, j], accum)``; ``out[j] = cast(acc[j], type)``.
* ``conv2d`` (channels last, stride ``stride``, zero padding ``padding`` = top, bottom, left, right): the dense rule on
  each output pixel's patch, flattened in (row, column, channel) order against the kernel (kh, kw, C, F).
* ``avgpool2d`` (no padding): ``acc = 0``, ``acc = cast(acc + x, accum)`` over the window in row-major order, then
  ``acc = acc / n`` truncated towards zero at ``accum``'s fractional bits, ``out = cast(acc, type)``.
* ``upsample2d`` (nearest), ``zeropad2d``, ``reshape``: move values; ``concatenate``: ``cast`` of each input to ``type``.
* ``batchnorm``: ``out = cast(x * scale + bias, type)``.
* ``sum_squares`` (a score): ``sum x**2`` in an exact type (no rounding, no overflow).
* ``masked_mse`` (a score, linear outputs): over objects present in the network input (any of its 3 values non-zero),
  ``sum (x - y)**2`` exactly, divided by 3 x the number of present objects (the decision compares the exact sum with
  threshold x count, so no divider is needed in the chip).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from l1ad.config.base import StrictModel
from l1ad.firmware.fixed import FixedType

NETWORK_FILE = "network.json"
NETWORK_SCHEMA = "l1ad-fixed-network/1"


class _Layer(StrictModel):
    name: str = Field(min_length=1, max_length=200)


class InputLayer(_Layer):
    kind: Literal["input"] = "input"
    shape: list[int] = Field(min_length=1)
    type: FixedType


class QuantizeLayer(_Layer):
    kind: Literal["quantize"] = "quantize"
    input: str
    type: FixedType


class ReluLayer(_Layer):
    kind: Literal["relu"] = "relu"
    input: str
    type: FixedType


class DenseLayer(_Layer):
    kind: Literal["dense"] = "dense"
    input: str
    weight: list[list[int]] = Field(description="(n_in, n_out) mantissas of weight_type")
    weight_type: FixedType
    bias: list[int]
    bias_type: FixedType
    accum_type: FixedType
    type: FixedType


class Conv2DLayer(_Layer):
    kind: Literal["conv2d"] = "conv2d"
    input: str
    kernel_shape: tuple[int, int, int, int] = Field(description="kh, kw, channels, filters")
    weight: list[int] = Field(description="kernel mantissas, flattened in (kh, kw, channels, filters) order")
    weight_type: FixedType
    bias: list[int]
    bias_type: FixedType
    accum_type: FixedType
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = Field((0, 0, 0, 0), description="top, bottom, left, right")
    type: FixedType


class AvgPool2DLayer(_Layer):
    kind: Literal["avgpool2d"] = "avgpool2d"
    input: str
    pool: tuple[int, int]
    stride: tuple[int, int]
    accum_type: FixedType
    type: FixedType


class UpSample2DLayer(_Layer):
    kind: Literal["upsample2d"] = "upsample2d"
    input: str
    factor: tuple[int, int]
    type: FixedType


class ZeroPad2DLayer(_Layer):
    kind: Literal["zeropad2d"] = "zeropad2d"
    input: str
    padding: tuple[int, int, int, int] = Field(description="top, bottom, left, right")
    type: FixedType


class ReshapeLayer(_Layer):
    kind: Literal["reshape"] = "reshape"
    input: str
    shape: list[int] = Field(min_length=1)


class ConcatenateLayer(_Layer):
    kind: Literal["concatenate"] = "concatenate"
    inputs: list[str] = Field(min_length=2)
    type: FixedType


class BatchNormLayer(_Layer):
    kind: Literal["batchnorm"] = "batchnorm"
    input: str
    scale: list[int]
    scale_type: FixedType
    bias: list[int]
    bias_type: FixedType
    type: FixedType


class SumSquaresScore(_Layer):
    kind: Literal["sum_squares"] = "sum_squares"
    input: str
    type: FixedType = Field(description="exact: wide enough for every sum")


class MaskedMSEScore(_Layer):
    kind: Literal["masked_mse"] = "masked_mse"
    input: str = Field(description="the network input layer (what is reconstructed)")
    reconstruction: str
    features: int = Field(3, ge=1, description="values per object (pT, eta, phi)")
    sum_type: FixedType = Field(description="exact type of the sum of squared differences")


Layer = Annotated[
    InputLayer | QuantizeLayer | ReluLayer | DenseLayer | Conv2DLayer | AvgPool2DLayer | UpSample2DLayer | ZeroPad2DLayer
    | ReshapeLayer | ConcatenateLayer | BatchNormLayer | SumSquaresScore | MaskedMSEScore,
    Field(discriminator="kind"),
]
SCORE_KINDS = ("sum_squares", "masked_mse")


class FixedNetwork(StrictModel):
    """The contents of ``network.json``: layers in evaluation order (each reads earlier layers only)."""

    schema_: Literal["l1ad-fixed-network/1"] = Field(NETWORK_SCHEMA, alias="schema")
    model: str = Field(description="the model's run label")
    layers: list[Layer] = Field(min_length=2)
    outputs: list[str] = Field(min_length=1, description="the network's outputs, as hls4ml returns them")
    score: str | None = Field(None, description="the layer computing the trigger score in firmware, if any")
    source: str = Field(description="where the layers, weights and types were read from")

    model_config = StrictModel.model_config | {"populate_by_name": True}

    def layer(self, name: str):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def input(self) -> InputLayer:
        return self.layers[0]

    def write(self, path: Path) -> Path:
        from l1ad.files import write_json_model

        write_json_model(path, self)
        return Path(path)


def read_network(path: Path) -> FixedNetwork:
    """The validated network file (one-line error naming the file if it is missing or malformed)."""
    from l1ad.files import read_json_model

    return read_json_model(Path(path), FixedNetwork, "fixed-point network", missing="l1ad firmware")
