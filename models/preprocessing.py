"""Input preprocessing fitted on training background only and saved beside the model.

As in the published L1 anomaly-detection work: standardise pT per object slot, leave eta and phi as they are, and set
padded (empty) slots back to exactly zero so the network sees "no object" the same way the trigger does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from l1ad.benchmark.trigger.layout import N_OBJECTS
from l1ad.errors import L1adError


@dataclass(frozen=True)
class PtScaler:
    """Per-slot pT standardisation, scikit-learn style: ``fit`` on training particles, then ``transform``."""

    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()

    def fit(self, particles: np.ndarray) -> PtScaler:
        pt = particles[:, :, 0].astype(np.float64)
        scale = pt.std(axis=0)
        return PtScaler(mean=tuple(pt.mean(axis=0)), scale=tuple(np.where(scale > 0, scale, 1.0)))

    def transform(self, particles: np.ndarray) -> np.ndarray:
        """(N, 19, 4) trigger objects -> (N, 57) model inputs."""
        if not self.mean:
            raise L1adError("the pT scaler is not fitted")
        out = particles[:, :, :3].astype(np.float32, copy=True)
        padded = particles[:, :, 0] <= 0
        out[:, :, 0] = (out[:, :, 0] - np.float32(self.mean)) / np.float32(self.scale)
        out[padded] = 0.0
        return out.reshape(len(out), -1)

    def to_dict(self) -> dict:
        return {"type": "PtScaler", "mean": list(self.mean), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, data: dict) -> PtScaler:
        """Raises ValueError unless ``data`` is a PtScaler with N_OBJECTS finite means and positive finite scales."""
        mean, scale = data.get("mean"), data.get("scale")
        if data.get("type") != "PtScaler" or not _numbers(mean, N_OBJECTS) or not _numbers(scale, N_OBJECTS):
            raise ValueError(f"expected a PtScaler with {N_OBJECTS} finite means and scales")
        if min(scale) <= 0:
            raise ValueError(f"a PtScaler scale must be positive, got {min(scale)}")
        return cls(mean=tuple(float(x) for x in mean), scale=tuple(float(x) for x in scale))


@dataclass(frozen=True)
class RegionScaler:
    """Calorimeter regions (N, 18, 14) in GeV -> (N, 252) inputs divided by one scale fitted on training background
    (the standard deviation of all region ETs), so the network sees O(1) values and zero stays zero."""

    scale: float = 0.0

    def fit(self, regions: np.ndarray) -> RegionScaler:
        std = float(np.asarray(regions, dtype=np.float64).std())
        return RegionScaler(scale=std if std > 0 else 1.0)

    def transform(self, regions: np.ndarray) -> np.ndarray:
        if not self.scale:
            raise L1adError("the region scaler is not fitted")
        return (np.asarray(regions, dtype=np.float32) / np.float32(self.scale)).reshape(len(regions), -1)

    def to_dict(self) -> dict:
        return {"type": "RegionScaler", "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict) -> RegionScaler:
        """Raises ValueError unless ``data`` is a RegionScaler with a positive finite scale."""
        if data.get("type") != "RegionScaler" or not _numbers([data.get("scale")], 1) or data["scale"] <= 0:
            raise ValueError("expected a RegionScaler with a positive finite scale")
        return cls(scale=float(data["scale"]))


def _numbers(values, n: int) -> bool:
    """``values`` is a list of ``n`` finite numbers (not booleans, not strings)."""
    return (isinstance(values, list) and len(values) == n
            and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values))
