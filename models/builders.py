"""Builders for every model name of the catalogue (:data:`l1ad.config.MODELS`): how its network or estimator is made.

The catalogue says what a config may write about a model; this module says how it is built. scikit-learn is imported
when an estimator is built, not before (it costs start-up time every command would pay).
"""

from __future__ import annotations

from collections.abc import Callable

from l1ad.config import MODELS, ModelConfig
from l1ad.models.autoencoder import build_dense_autoencoder, build_dense_vae
from l1ad.models.cicada import build_cicada_teacher
from l1ad.models.cnn import build_cnn_autoencoder, build_cnn_vae
from l1ad.models.contrastive_ad import build_contrastive_encoder
from l1ad.models.student import build_student


def _dense_ae(cfg, seed):
    return build_dense_autoencoder(cfg)


def _dense_vae(cfg, seed):
    return build_dense_vae(cfg, beta=float(MODELS["dense_vae"].param(cfg, "beta")))


def _cnn_ae(cfg, seed):
    return build_cnn_autoencoder(cfg)


def _cnn_vae(cfg, seed):
    return build_cnn_vae(cfg, beta=float(MODELS["cnn_vae"].param(cfg, "beta")))


def _cicada_teacher(cfg, seed):
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


# (ModelConfig, seed) -> an untrained Keras model or scikit-learn estimator
BUILDERS: dict[str, Callable] = {
    "dense_ae": _dense_ae,
    "dense_vae": _dense_vae,
    "cnn_ae": _cnn_ae,
    "cnn_vae": _cnn_vae,
    "cicada_teacher": _cicada_teacher,
    "contrastive_ad": lambda cfg, seed: build_contrastive_encoder(cfg),
    "student_dense": lambda cfg, seed: build_student(cfg),
    "student_regions": lambda cfg, seed: build_student(cfg),
    "student_conv": lambda cfg, seed: build_student(cfg),
    "isolation_forest": _isolation_forest,
    "gmm": _gmm,
}


def build_network(cfg: ModelConfig, seed: int):
    """The untrained network (Keras) or estimator (scikit-learn) of a model config."""
    return BUILDERS[cfg.name](cfg, seed)
