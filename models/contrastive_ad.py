"""A contrastive anomaly detector on trigger objects: an encoder trained without labels to map two pile-up-shifted
views of each zero-bias crossing together (VICReg, :mod:`l1ad.models.contrastive`), scored by how far an event's
representation lies from the zero-bias bulk (the detector is :class:`l1ad.models.neural.ContrastiveDetector`).

* Network (``contrastive_ad``): the 57 trigger-object inputs -> ``encoder_units`` (ReLU) -> ``latent_dim`` (linear),
  QKeras like the autoencoders; the whole network runs in the trigger.
* Views: each training crossing rotated in phi and shifted as pile-up would shift it
  (:func:`l1ad.benchmark.trigger.shifts.pileup_shift`: MET and jet energy scale, soft jets dropped).
* Score: the latent density score sum_k ((z_k - mean_k) / std_k)^2, the mean and spread of each latent dimension on
  the (unshifted) training background; computed in software from the firmware's latent outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ad.config import ModelConfig
from l1ad.models.autoencoder import N_INPUTS, _Layers


def build_contrastive_encoder(cfg: ModelConfig):
    layers = _Layers(cfg)
    inputs = layers.tf.keras.Input(shape=(N_INPUTS,), name="inputs")
    x = layers.stack(layers.input_quantizer(inputs), cfg.encoder_units, "encoder")
    return layers.tf.keras.Model(inputs, layers.dense(x, cfg.latent_dim, "latent"), name=cfg.run_label)


@dataclass(frozen=True)
class LatentDensityScore:
    """sum_k ((z_k - mean_k) / std_k)^2 of the latent outputs (picklable, for fault-campaign workers)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __call__(self, inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
        z = (np.asarray(outputs, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.std)
        return (z**2).sum(axis=1)
