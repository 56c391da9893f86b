"""Model names that configs may use: the family (which detector class trains and saves it), its builder and the
``params`` it accepts with their defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    family: str  # "keras" or "sklearn"
    build: Callable  # (ModelConfig, seed) -> Keras model or unfitted estimator
    params: dict = field(default_factory=dict)  # accepted params and defaults
    choices: dict = field(default_factory=dict)  # params restricted to a set of values
    inputs: str = "particles"  # what of a sample the model reads: "particles" (N, 19, 4) or "regions" (N, 18, 14)

    def param(self, cfg, key: str):
        return cfg.params.get(key, self.params[key])

    def score(self, cfg) -> str:
        """The anomaly score this model computes (see l1ad.models.autoencoder)."""
        return str(self.param(cfg, "score")) if "score" in self.params else "mse"

    def angles(self, cfg) -> str | None:
        """How a reconstruction's eta and phi are decoded ("tanh" or "linear"); None for models that reconstruct no
        trigger objects."""
        return str(self.param(cfg, "angles")) if "angles" in self.params else None


def _dense_ae(cfg, seed):
    from l1ad.models.autoencoder import build_dense_autoencoder

    return build_dense_autoencoder(cfg)


def _dense_vae(cfg, seed):
    from l1ad.models.autoencoder import build_dense_vae

    return build_dense_vae(cfg, beta=float(MODELS["dense_vae"].param(cfg, "beta")))


def _cnn_ae(cfg, seed):
    from l1ad.models.cnn import build_cnn_autoencoder

    return build_cnn_autoencoder(cfg)


def _cnn_vae(cfg, seed):
    from l1ad.models.cnn import build_cnn_vae

    return build_cnn_vae(cfg, beta=float(MODELS["cnn_vae"].param(cfg, "beta")))


def _cicada_teacher(cfg, seed):
    from l1ad.models.cicada import build_cicada_teacher

    return build_cicada_teacher(cfg)


def _isolation_forest(cfg, seed):
    from sklearn.ensemble import IsolationForest

    spec = MODELS["isolation_forest"]
    return IsolationForest(n_estimators=int(spec.param(cfg, "n_estimators")), max_samples=int(spec.param(cfg, "max_samples")),
                           random_state=seed)


def _gmm(cfg, seed):
    from sklearn.mixture import GaussianMixture

    spec = MODELS["gmm"]
    return GaussianMixture(n_components=int(spec.param(cfg, "n_components")), covariance_type="full",
                           reg_covar=float(spec.param(cfg, "reg_covar")), random_state=seed)


# Reconstruction of the trigger objects: eta and phi decoded within the acceptance (tanh, as published) or linear.
_ANGLES = {"angles": "tanh"}
_ANGLE_CHOICES = {"angles": ("tanh", "linear")}

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("dense_ae", "QKeras dense autoencoder on 57 trigger-object inputs (AXOL1TL-sized encoder), masked-MSE score",
                  "keras", _dense_ae, {**_ANGLES}, {**_ANGLE_CHOICES}),
        ModelSpec("dense_vae", "QKeras dense VAE (AXOL1TL-style); score mu2 = sum of latent means squared from the encoder "
                  "alone (as in the AXOL1TL trigger), or kl, rz, or the reconstruction mse", "keras", _dense_vae,
                  {"beta": 0.5, "score": "mu2", **_ANGLES}, {"score": ("mu2", "kl", "rz", "mse"), **_ANGLE_CHOICES}),
        ModelSpec("cnn_ae", "QKeras convolutional autoencoder on the 19 x 3 object image, masked-MSE score", "keras", _cnn_ae,
                  {**_ANGLES}, {**_ANGLE_CHOICES}),
        ModelSpec("cnn_vae", "QKeras convolutional VAE on the 19 x 3 object image; score mu2 (encoder only), kl, rz or mse",
                  "keras", _cnn_vae, {"beta": 0.5, "score": "mu2", **_ANGLES},
                  {"score": ("mu2", "kl", "rz", "mse"), **_ANGLE_CHOICES}),
        ModelSpec("cicada_teacher", "CICADA-style convolutional teacher autoencoder on the 18 x 14 calorimeter regions, "
                  "MSE score (usually float: quantization null, latent_dim 80)", "keras", _cicada_teacher,
                  inputs="regions"),
        ModelSpec("isolation_forest", "scikit-learn IsolationForest on the 57 preprocessed inputs", "sklearn",
                  _isolation_forest, {"n_estimators": 200, "max_samples": 4096}),
        ModelSpec("gmm", "scikit-learn Gaussian mixture (full covariance) on the 57 preprocessed inputs; score = -log L",
                  "sklearn", _gmm, {"n_components": 8, "reg_covar": 1e-3}),
    )
}


def detector_class(name: str):
    from l1ad.models.cicada import RegionAutoencoderDetector
    from l1ad.models.classical import ClassicalDetector
    from l1ad.models.detector import AutoencoderDetector

    spec = MODELS[name]
    if spec.family == "sklearn":
        return ClassicalDetector
    return RegionAutoencoderDetector if spec.inputs == "regions" else AutoencoderDetector


def model_inputs_of(model_config, sample):
    """The array of ``sample`` the model reads: trigger objects or calorimeter regions."""
    from l1ad.errors import L1adError

    if MODELS[model_config.name].inputs == "particles":
        return sample.particles
    if sample.regions is None:
        raise L1adError(f"sample {sample.name!r} has no calorimeter regions, which {model_config.name!r} reads "
                        "(public ADC2021 files carry trigger objects only)")
    return sample.regions
