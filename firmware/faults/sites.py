"""Where a single bit can flip: every bit of every weight and bias of the firmware network, as the firmware holds it.

A fault site is one bit of one parameter mantissa in its fixed-point type (``weight_type``, ``bias_type``, the batch
normalization's ``scale_type``), sign bit included. Sites are numbered globally, parameter array by parameter array
in layer order (weights before biases), element by element (row-major: a dense weight ``(i, j)`` is element
``i * n_out + j``) and bit by bit, and carry their (layer, parameter, element, bit) coordinates. Bit positions count
from the most significant bit, as FKeras numbers them: position 0 is the sign bit of a signed type, position
``width - 1`` the least significant bit.

Every parameter counts, zeros included: a weight hls4ml folds into logic as the constant 0 has no bits in the chip,
so for a pruned model the campaign also covers bits a real upset could not reach (the report says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from l1ad.firmware.fixed import FixedType
from l1ad.firmware.network import BatchNormLayer, Conv2DLayer, DenseLayer, FixedNetwork

PARAMETERS = {DenseLayer: ("weight", "bias"), Conv2DLayer: ("weight", "bias"), BatchNormLayer: ("scale", "bias")}


@dataclass(frozen=True)
class ParameterArray:
    """One parameter array of one layer: its mantissas (flat, row-major) and their type."""

    layer_index: int
    layer: str
    parameter: str  # "weight", "bias" or "scale"
    type: FixedType
    mantissas: np.ndarray  # int64, flat
    first_site: int

    @property
    def n_sites(self) -> int:
        return self.mantissas.size * self.type.width


def flip_bit(mantissa: np.ndarray | int, t: FixedType, position: np.ndarray | int) -> np.ndarray:
    """The mantissa after flipping bit ``position`` (0 = MSB) of its ``t.width``-bit two's-complement word."""
    m = np.asarray(mantissa, dtype=np.int64)
    word = (m & ((1 << t.width) - 1)) ^ (np.int64(1) << (t.width - 1 - np.asarray(position, dtype=np.int64)))
    if t.signed:
        word = np.where(word >= 1 << (t.width - 1), word - (1 << t.width), word)
    return word


class FaultSites:
    """Every single-bit fault site of a network.

    Examples
    --------
    >>> sites = FaultSites(network)                  # doctest: +SKIP
    >>> sites.n_sites == sum(a.n_sites for a in sites.arrays)  # doctest: +SKIP
    True
    >>> faulty = sites.with_fault(network, 1234)    # the network with bit 1234 flipped  # doctest: +SKIP
    """

    def __init__(self, network: FixedNetwork):
        self.arrays: list[ParameterArray] = []
        first = 0
        for index, layer in enumerate(network.layers):
            for parameter in PARAMETERS.get(type(layer), ()):
                values = np.asarray(getattr(layer, parameter), dtype=np.int64).ravel()
                t = getattr(layer, f"{parameter}_type")
                self.arrays.append(ParameterArray(index, layer.name, parameter, t, values, first))
                first += values.size * t.width
        self.n_sites = first
        self._starts = np.array([a.first_site for a in self.arrays], dtype=np.int64)

    def locate(self, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(array index, element, bit position) of each global site number."""
        sites = np.asarray(sites, dtype=np.int64)
        if sites.size and (sites.min() < 0 or sites.max() >= self.n_sites):
            raise IndexError(f"fault sites must lie in [0, {self.n_sites}), got {sites.min()}..{sites.max()}")
        array = np.searchsorted(self._starts, sites, side="right") - 1
        widths = np.array([a.type.width for a in self.arrays], dtype=np.int64)[array]
        offset = sites - self._starts[array]
        return array, offset // widths, offset % widths

    def flipped(self, site: int) -> tuple[ParameterArray, int, int, int]:
        """(array, element, mantissa before, mantissa after) of one fault."""
        a, element, position = (int(v[0]) for v in self.locate(np.array([site])))
        array = self.arrays[a]
        before = int(array.mantissas[element])
        return array, element, before, int(flip_bit(before, array.type, position))

    def with_fault(self, network: FixedNetwork, site: int) -> FixedNetwork:
        """A copy of ``network`` with the one bit ``site`` flipped (what the naive flip-then-predict loop runs)."""
        array, element, _, after = self.flipped(site)
        layer = network.layers[array.layer_index]
        values = np.asarray(getattr(layer, array.parameter), dtype=np.int64)
        shape = values.shape
        values = values.ravel().copy()
        values[element] = after
        faulty = layer.model_copy(update={array.parameter: values.reshape(shape).tolist()})
        layers = list(network.layers)
        layers[array.layer_index] = faulty
        return network.model_copy(update={"layers": layers})

    def table(self, sites: np.ndarray | None = None) -> pd.DataFrame:
        """One row per site: its number, layer, parameter, element (and row/column of a dense weight), bit position,
        the bit's value in the parameter's units (negative for the sign bit) and the mantissa before and after."""
        sites = np.arange(self.n_sites) if sites is None else np.asarray(sites, dtype=np.int64)
        array, element, position = self.locate(sites)
        columns = {"site": sites, "layer": [], "parameter": [], "element": element, "bit_position": position}
        before, after, bit_value, width = (np.empty(len(sites), dtype=np.int64), np.empty(len(sites), dtype=np.int64),
                                           np.empty(len(sites)), np.empty(len(sites), dtype=np.int64))
        layers, parameters = np.empty(len(sites), dtype=object), np.empty(len(sites), dtype=object)
        for a, arr in enumerate(self.arrays):
            rows = array == a
            if not rows.any():
                continue
            layers[rows], parameters[rows], width[rows] = arr.layer, arr.parameter, arr.type.width
            before[rows] = arr.mantissas[element[rows]]
            after[rows] = flip_bit(before[rows], arr.type, position[rows])
            exponent = arr.type.width - 1 - position[rows]
            sign = np.where((position[rows] == 0) & arr.type.signed, -1.0, 1.0)
            bit_value[rows] = sign * np.ldexp(1.0, exponent - arr.type.frac)
        columns.update(layer=layers, parameter=parameters, width=width, bit_value=bit_value, mantissa=before,
                       flipped_mantissa=after)
        return pd.DataFrame(columns)
