"""The model catalogue: every model name a config may use, its family, what it reads, and the ``params`` it accepts.

This is the declarative half of a model (what a config can say about it); the builders that make the networks and
estimators live in :mod:`l1ad.models.registry`, keyed by the same names (a test checks the two agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    family: Literal["keras", "sklearn"]  # which detector class trains and saves it
    params: dict = field(default_factory=dict)  # accepted params and their defaults
    choices: dict = field(default_factory=dict)  # params restricted to a set of values
    inputs: Literal["particles", "regions"] = "particles"  # trigger objects (N, 19, 4) or calorimeter regions (N, 18, 14)
    variational: bool = False  # a VAE: its reconstruction needs the sampling layer, which hls4ml cannot convert
    student: bool = False  # regresses a teacher's score: trained by 'l1ad distill', not 'l1ad train'
    contrastive: bool = False  # trained contrastively on shifted views of the background (no reconstruction)

    def param(self, cfg, key: str):
        """The value of ``key`` in a model config's params, or this model's default."""
        return cfg.params.get(key, self.params[key])

    def score(self, cfg) -> str:
        """The anomaly score this model computes (see :mod:`l1ad.models.autoencoder`)."""
        return str(self.param(cfg, "score")) if "score" in self.params else "mse"

    def angles(self, cfg) -> str | None:
        """How a reconstruction's eta and phi are decoded ("tanh" or "linear"); None for models that reconstruct no
        trigger objects."""
        return str(self.param(cfg, "angles")) if "angles" in self.params else None


# Reconstruction of the trigger objects: eta and phi decoded within the acceptance (tanh, as published) or linear.
_ANGLES = {"angles": "tanh"}
_ANGLE_CHOICES = {"angles": ("tanh", "linear")}
_LATENT_SCORES = {"score": ("mu2", "kl", "rz", "mse")}
# Students regress their teacher's score target (l1ad.distill.target) with this loss; encoder_units are the hidden layers
_STUDENT = {"loss": "mae"}
_STUDENT_CHOICES = {"loss": ("mae", "mse", "huber")}

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("dense_ae", "QKeras dense autoencoder on 57 trigger-object inputs (AXOL1TL-sized encoder), masked-MSE score",
                  "keras", {**_ANGLES}, {**_ANGLE_CHOICES}),
        ModelSpec("dense_vae", "QKeras dense VAE (AXOL1TL-style); score mu2 = sum of latent means squared from the encoder "
                  "alone (as in the AXOL1TL trigger), or kl, rz, or the reconstruction mse", "keras",
                  {"beta": 1.0, "score": "mu2", **_ANGLES}, {**_LATENT_SCORES, **_ANGLE_CHOICES}, variational=True),
        ModelSpec("cnn_ae", "QKeras convolutional autoencoder on the 19 x 3 object image, masked-MSE score", "keras",
                  {**_ANGLES}, {**_ANGLE_CHOICES}),
        ModelSpec("cnn_vae", "QKeras convolutional VAE on the 19 x 3 object image; score mu2 (encoder only), kl, rz or mse",
                  "keras", {"beta": 1.0, "score": "mu2", **_ANGLES}, {**_LATENT_SCORES, **_ANGLE_CHOICES},
                  variational=True),
        ModelSpec("cicada_teacher", "CICADA-style convolutional teacher autoencoder on the 18 x 14 calorimeter regions, "
                  "MSE score (usually float: quantization null, latent_dim 80)", "keras", inputs="regions"),
        ModelSpec("student_dense", "QKeras dense student on the 57 trigger-object inputs (hidden layers encoder_units, "
                  "one linear output) regressing a teacher's score target; trained by 'l1ad distill'", "keras",
                  {**_STUDENT}, {**_STUDENT_CHOICES}, student=True),
        ModelSpec("student_regions", "QKeras dense student on the 252 calorimeter regions (CICADA v1: 252 -> 15/16 -> 1) "
                  "regressing a teacher's score target; trained by 'l1ad distill'", "keras",
                  {**_STUDENT}, {**_STUDENT_CHOICES}, inputs="regions", student=True),
        ModelSpec("student_conv", "QKeras strided-convolution student on the 18 x 14 regions (CICADA v2: Conv(filters, "
                  "3x3, stride 2) -> 144 -> encoder_units -> 1); trained by 'l1ad distill'", "keras",
                  {**_STUDENT, "filters": 3}, {**_STUDENT_CHOICES}, inputs="regions", student=True),
        ModelSpec("contrastive_ad", "QKeras dense encoder on the 57 trigger-object inputs trained with VICReg to map two "
                  "pile-up-shifted views of each crossing together; score = squared standardised latent distance "
                  "from the background bulk", "keras",
                  {"met_scale": 0.15, "jet_scale": 0.05, "soft_jet_gev": 40.0, "soft_jet_drop": 0.2},
                  contrastive=True),
        ModelSpec("isolation_forest", "scikit-learn IsolationForest on the 57 preprocessed inputs", "sklearn",
                  {"n_estimators": 200, "max_samples": 4096}),
        ModelSpec("gmm", "scikit-learn Gaussian mixture (full covariance) on the 57 preprocessed inputs; score = -log L",
                  "sklearn", {"n_components": 8, "reg_covar": 1e-3}),
    )
}
