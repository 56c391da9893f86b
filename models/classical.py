"""Classical (non-neural) baselines with scikit-learn, so users see what the networks buy.

Inputs are the same 57 preprocessed values the networks see (pT standardised per slot, padding zero). Scores follow the
suite's convention, higher = more anomalous: the negated ``score_samples`` of the estimator (IsolationForest's
normality, the Gaussian mixture's log-likelihood). Estimators are saved with skops, whose loader refuses any type not
on a fixed allow-list, so a tampered file cannot run code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from l1ad import __version__
from l1ad.benchmark.preprocessing import PtScaler
from l1ad.config import ModelConfig, TrainingConfig
from l1ad.errors import L1adError, first_line
from l1ad.models.detector import SCORING_CHUNK
from l1ad.models.io import PREPROCESSING, check_particles, configs_from_meta, read_json, read_meta, write_model_dir
from l1ad.models.registry import MODELS

ESTIMATOR = "estimator.skops"
# Types skops does not trust by default but these estimators need (and nothing else).
TRUSTED_TYPES = ("sklearn.tree._tree.Tree",)


class ClassicalDetector:
    def __init__(self, model: ModelConfig, training: TrainingConfig | None = None, seed: int = 42):
        self.model_config = model
        self.training_config = training or TrainingConfig()
        self.seed = seed
        self.scaler: PtScaler | None = None
        self.estimator = None
        self.history: dict[str, list[float]] = {}
        self.provenance: dict = {}

    def fit(self, particles: np.ndarray, validation: np.ndarray | None = None, *, verbose: int = 0) -> ClassicalDetector:
        check_particles(particles, "training data")
        self.scaler = PtScaler().fit(particles)
        self.estimator = MODELS[self.model_config.name].build(self.model_config, self.seed)
        self.estimator.fit(self.scaler.transform(particles))
        if validation is not None:
            check_particles(validation, "validation data")
            self.history = {"val_mean_score": [float(self.anomaly_score(validation).mean())]}
        return self

    def anomaly_score(self, particles: np.ndarray) -> np.ndarray:
        check_particles(particles, "input data")
        if self.estimator is None or self.scaler is None:
            raise L1adError("the detector is not fitted: call fit() or load() first")
        scores = np.empty(len(particles), dtype=np.float64)
        for start in range(0, len(particles), SCORING_CHUNK):  # bounded memory, as for the networks
            chunk = self.scaler.transform(particles[start : start + SCORING_CHUNK])
            scores[start : start + len(chunk)] = -self.estimator.score_samples(chunk)
        return scores

    def predict(self, particles: np.ndarray, threshold: float) -> np.ndarray:
        return self.anomaly_score(particles) > threshold

    def save(self, directory: str | Path) -> Path:
        import skops.io

        if self.estimator is None:
            raise L1adError("the detector is not fitted: call fit() first")
        meta = {
            "family": "sklearn",
            "model": self.model_config.model_dump(),
            "training": self.training_config.model_dump(),
            "seed": self.seed,
            "score": f"-score_samples of {type(self.estimator).__name__} on the 57 preprocessed inputs",
            "history": self.history,
            "provenance": {"l1ad_version": __version__, **self.provenance},
        }
        return write_model_dir(directory, meta, self.scaler.to_dict(),
                               lambda d: skops.io.dump(self.estimator, d / ESTIMATOR))

    @classmethod
    def load(cls, directory: str | Path) -> ClassicalDetector:
        import skops.io

        directory = Path(directory)
        meta = read_meta(directory)
        model_cfg, training_cfg = configs_from_meta(meta, directory)
        detector = cls(model_cfg, training_cfg, seed=int(meta.get("seed", 0)))
        detector.scaler = PtScaler.from_dict(read_json(directory / PREPROCESSING, "preprocessing"))
        path = directory / ESTIMATOR
        if not path.is_file():
            raise L1adError(f"{path}: no such estimator file")
        try:
            untrusted = [t for t in skops.io.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
            if untrusted:
                raise L1adError(f"{path}: refused, it holds types outside the allow-list ({', '.join(untrusted[:3])})")
            detector.estimator = skops.io.load(path, trusted=list(TRUSTED_TYPES))
        except L1adError:
            raise
        except Exception as exc:  # skops raises zipfile, json and type errors for damaged files
            raise L1adError(f"{path}: not a readable skops file ({first_line(exc)})") from None
        detector.history = meta.get("history", {})
        detector.provenance = meta.get("provenance", {})
        return detector
