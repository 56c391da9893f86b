"""Model names that configs may use, and how each is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    build: Callable  # ModelConfig -> Keras model


def _dense_ae(cfg):
    from l1ad.models.autoencoder import build_dense_autoencoder

    return build_dense_autoencoder(cfg)


MODELS: dict[str, ModelSpec] = {
    "dense_ae": ModelSpec(
        "dense_ae",
        "QKeras dense autoencoder on 57 trigger-object inputs (AXOL1TL-sized encoder), masked-MSE score",
        _dense_ae,
    ),
}
