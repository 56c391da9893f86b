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
from l1ad.config import EtaAcceptance, ModelConfig, TrainingConfig
from l1ad.errors import L1adError, ModelFileError, NotConvertibleError, first_line
from l1ad.models.base import SCORING_CHUNK, DetectorBase, check_particles
from l1ad.models.builders import build_network
from l1ad.models.io import FORMAT, ModelCard, read_card, read_preprocessing, write_model_dir
from l1ad.models.preprocessing import PtScaler
from l1ad.progress import progress_bar

ESTIMATOR = "estimator.skops"
# Types skops does not trust by default but these estimators need (and nothing else).
TRUSTED_TYPES = ("sklearn.tree._tree.Tree",)


class ClassicalDetector(DetectorBase):
    """A scikit-learn outlier model (IsolationForest, Gaussian mixture) behind the detector contract."""

    def __init__(self, model: ModelConfig, training: TrainingConfig | None = None, seed: int = 42,
                 acceptance: EtaAcceptance | None = None):
        super().__init__(model, training, seed, acceptance)
        self.scaler: PtScaler | None = None
        self.estimator = None

    def _check_inputs(self, X: np.ndarray, what: str) -> None:
        check_particles(X, what)

    def fit(self, X: np.ndarray, validation: np.ndarray | None = None, *, verbose: int = 0) -> ClassicalDetector:
        """Fit the estimator on the preprocessed background ``X``; the mean validation score goes to the history."""
        self._check_inputs(X, "training data")
        self.scaler = PtScaler().fit(X)
        self.estimator = build_network(self.model_config, self.seed)
        self.estimator.fit(self.scaler.transform(X))
        if validation is not None:
            self._check_inputs(validation, "validation data")
            self.history = {"val_mean_score": [float(self.score_samples(validation).mean())]}
        return self

    def _scores(self, X: np.ndarray) -> np.ndarray:
        if self.estimator is None or self.scaler is None:
            raise L1adError("the detector is not fitted: call fit() or load() first")
        scores = np.empty(len(X), dtype=np.float64)
        with progress_bar(len(X), f"score {self.label}", "ev", leave=False, show=len(X) > SCORING_CHUNK) as bar:
            for start in range(0, len(X), SCORING_CHUNK):  # bounded memory, as for the networks
                chunk = self.scaler.transform(X[start : start + SCORING_CHUNK])
                scores[start : start + len(chunk)] = -self.estimator.score_samples(chunk)
                bar.update(len(chunk))
        return scores

    def trigger_network(self):
        """Always raises: a scikit-learn estimator is not a network hls4ml converts."""
        raise NotConvertibleError("scikit-learn models have no hls4ml conversion")

    def save(self, directory: str | Path) -> Path:
        import skops.io

        if self.estimator is None:
            raise L1adError("the detector is not fitted: call fit() first")
        card = ModelCard(
            format=FORMAT, family="sklearn", model=self.model_config, training=self.training_config, seed=self.seed,
            score=f"-score_samples of {type(self.estimator).__name__} on the 57 preprocessed inputs",
            history=self.history, provenance={"l1ad_version": __version__, **self.provenance},
        )
        return write_model_dir(directory, card, self.scaler.to_dict(), lambda d: skops.io.dump(self.estimator, d / ESTIMATOR))

    @classmethod
    def load(cls, directory: str | Path) -> ClassicalDetector:
        import skops.io

        directory = Path(directory)
        card = read_card(directory)
        detector = cls(card.model, card.training, seed=card.seed)
        detector.scaler = read_preprocessing(directory, PtScaler)
        path = directory / ESTIMATOR
        if not path.is_file():
            raise ModelFileError(f"{path}: no such estimator file")
        try:
            untrusted = [t for t in skops.io.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
            if untrusted:
                raise ModelFileError(f"{path}: refused, it holds types outside the allow-list ({', '.join(untrusted[:3])})")
            detector.estimator = skops.io.load(path, trusted=list(TRUSTED_TYPES))
        except L1adError:
            raise
        except Exception as exc:  # skops raises zipfile, json and type errors for damaged files
            raise ModelFileError(f"{path}: not a readable skops file ({first_line(exc)})") from None
        detector.history = card.history
        detector.provenance = card.provenance.model_dump(exclude={"l1ad_version"})
        return detector
