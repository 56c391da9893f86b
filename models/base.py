"""The detector contract every model honours: baselines, distilled students and submitted models alike.

In the style of scikit-learn's outlier detectors:

* ``fit(X, validation=None)`` on background events;
* ``score_samples(X)``: the anomaly score per event. **Higher = more anomalous**, as a trigger uses it (scikit-learn's
  own outlier detectors return the opposite sign from their ``score_samples``);
* ``set_threshold(X_background, rate_khz=... | fpr=...)``: the threshold accepting that rate (or fraction) of the
  given background, kept as ``threshold_``;
* ``decision_function(X)`` = score - threshold (positive: the trigger fires) and ``predict(X)``, the trigger decision;
* ``save(directory)`` and the class method ``load(directory)``.

Capability queries for the firmware and fault stages: ``trigger_network()`` returns the Keras network that runs in the
trigger (the one hls4ml converts) or raises :class:`~l1ad.errors.NotConvertibleError` saying why there is none;
``network_inputs(X)`` gives exactly the values that network is fed and ``score_from_outputs`` turns its outputs
(Keras or firmware) into scores (``output_score()`` is that function as a picklable object, for fault-campaign
workers; a reconstruction error also exposes its form there, see ``ReconstructionScore``); ``firmware_score()`` names
the score as the firmware computes it exactly from those outputs (``"sum_squares"``, ``"masked_mse"``) or is None
when the score needs functions left to software (tanh, exp).
``inputs_of(sample)`` picks what of a sample the model reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, Self, runtime_checkable

import numpy as np

from l1ad.benchmark.datasets.samples import Sample
from l1ad.benchmark.evaluation.metrics import DEFAULT_COLLISION_RATE_MHZ, threshold_for_fpr
from l1ad.benchmark.trigger.layout import N_OBJECTS
from l1ad.config import MODELS, EmulationConfig, EtaAcceptance, ModelConfig, TrainingConfig
from l1ad.errors import ConfigError, DataFileError, DivergedModelError, L1adError

SCORING_CHUNK = 65536  # events per scoring pass: bounded memory for any sample size


@runtime_checkable
class Detector(Protocol):
    """What the pipeline, firmware, fault-injection and leaderboard stages may ask of a model."""

    model_config: ModelConfig
    training_config: TrainingConfig
    seed: int
    acceptance: EtaAcceptance
    history: dict[str, list[float]]
    provenance: dict

    def fit(self, X: np.ndarray, validation: np.ndarray | None = None) -> Self: ...

    def score_samples(self, X: np.ndarray) -> np.ndarray: ...

    def set_threshold(self, X_background: np.ndarray, *, rate_khz: float | None = None, fpr: float | None = None,
                      collision_rate_mhz: float = DEFAULT_COLLISION_RATE_MHZ) -> Self: ...

    def decision_function(self, X: np.ndarray) -> np.ndarray: ...

    def predict(self, X: np.ndarray) -> np.ndarray: ...

    def inputs_of(self, sample: Sample) -> np.ndarray: ...

    def trigger_network(self): ...

    # Only for detectors whose trigger_network() returns a network:
    def network_inputs(self, X: np.ndarray) -> np.ndarray: ...

    def score_from_outputs(self, inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray: ...

    def output_score(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]: ...

    def firmware_score(self) -> str | None: ...

    def save(self, directory: str | Path) -> Path: ...


class DetectorBase:
    """What every detector shares: the threshold and trigger decision, input selection, and the NaN guard on scores.

    Subclasses implement ``fit``, ``_scores`` (raw scores of checked inputs), ``save``/``load`` and
    ``trigger_network``.
    """

    threshold_: float | None = None

    def __init__(self, model: ModelConfig, training: TrainingConfig | None = None, seed: int = 42,
                 acceptance: EtaAcceptance | None = None):
        self.model_config = model
        self.training_config = training or TrainingConfig()
        self.seed = seed
        # The trigger objects' |eta| acceptances of the training dataset's emulation (reconstructions decode to them)
        self.acceptance = acceptance or EmulationConfig().eta_acceptance
        self.history: dict[str, list[float]] = {}
        self.provenance: dict = {}
        self.threshold_ = None

    @property
    def label(self) -> str:
        return self.model_config.run_label

    # -- scores and decisions ------------------------------------------------------------------------------------
    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Anomaly score per event, float64 (higher = more anomalous).

        Raises
        ------
        DataFileError
            If ``X`` has the wrong shape, no events, or NaN/Inf values.
        DivergedModelError
            If the model returns NaN or Inf scores.
        """
        self._check_inputs(X, "input data")
        scores = self._scores(X)
        bad = int((~np.isfinite(scores)).sum())
        if bad:
            raise DivergedModelError(
                f"model {self.label!r}: {bad} of {len(scores)} anomaly scores are NaN or Inf (the model diverged in "
                "training or its weights are damaged); retrain it with 'l1ad train'")
        return scores

    def set_threshold(self, X_background: np.ndarray, *, rate_khz: float | None = None, fpr: float | None = None,
                      collision_rate_mhz: float = DEFAULT_COLLISION_RATE_MHZ) -> Self:
        """Set ``threshold_`` so that the fraction ``fpr`` of ``X_background`` (or ``rate_khz`` of zero-bias
        background at ``collision_rate_mhz``) scores above it."""
        if (rate_khz is None) == (fpr is None):
            raise ConfigError("set_threshold needs exactly one of rate_khz and fpr")
        if rate_khz is not None:
            fpr = rate_khz / (collision_rate_mhz * 1e3)
        if not 0 < fpr < 1:
            raise ConfigError(f"the accepted background fraction must lie in (0, 1), got {fpr:g}")
        self.threshold_ = threshold_for_fpr(self.score_samples(X_background), fpr)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Score minus threshold: positive where the trigger fires."""
        if self.threshold_ is None:
            raise L1adError(f"model {self.label!r} has no threshold: call set_threshold() first")
        return self.score_samples(X) - self.threshold_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The trigger decision per event: True where the event is accepted (score above ``threshold_``)."""
        return self.decision_function(X) > 0

    # -- inputs ------------------------------------------------------------------------------------------------
    def inputs_of(self, sample: Sample) -> np.ndarray:
        """The array of ``sample`` this model reads: trigger objects or calorimeter regions."""
        if MODELS[self.model_config.name].inputs == "particles":
            return sample.particles
        if sample.regions is None:
            raise DataFileError(f"sample {sample.name!r} has no calorimeter regions, which {self.model_config.name!r} "
                                "reads (public ADC2021 files carry trigger objects only)")
        return sample.regions

    def network_inputs(self, X: np.ndarray) -> np.ndarray:
        """The values the trigger network is fed; raises NotConvertibleError for a detector without one."""
        self.trigger_network()
        raise NotImplementedError(f"{type(self).__name__} has a trigger network but no network_inputs()")

    def score_from_outputs(self, inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
        """Scores from the trigger network's outputs; raises NotConvertibleError for a detector without one."""
        return self.output_score()(inputs, outputs)

    def output_score(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """:meth:`score_from_outputs` as a picklable function of (inputs, outputs); raises NotConvertibleError for a
        detector without a trigger network."""
        self.trigger_network()
        raise NotImplementedError(f"{type(self).__name__} has a trigger network but no output_score()")

    def firmware_score(self) -> str | None:
        """The score as the firmware computes it exactly from the trigger network's outputs, if it can (see the
        firmware stage's network file); None: the score is computed in software from the firmware's outputs."""
        return None

    def trigger_network(self):
        raise NotImplementedError

    def _check_inputs(self, X: np.ndarray, what: str) -> None:
        raise NotImplementedError

    def _scores(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def check_events(data, event_shape: tuple[int, ...], kind: str, what: str, dtype_kinds: str = "f") -> None:
    """Model input must be a finite real (N, *event_shape) array with N > 0, of a dtype kind in ``dtype_kinds``."""
    if not isinstance(data, np.ndarray) or data.shape[1:] != event_shape or data.ndim != 1 + len(event_shape):
        shape = getattr(data, "shape", type(data).__name__)
        expected = ", ".join(("N", *map(str, event_shape)))
        raise DataFileError(f"{what}: expected {kind} of shape ({expected}), got {shape}")
    if data.dtype.kind not in dtype_kinds:
        raise DataFileError(f"{what}: {kind} of type {data.dtype}; expected real numbers ({dtype_kinds!r} dtype kinds)")
    if len(data) == 0:
        raise DataFileError(f"{what}: no events")
    if not np.isfinite(data).all():
        raise DataFileError(f"{what}: contains NaN or Inf")


def check_particles(particles, what: str) -> None:
    check_events(particles, (N_OBJECTS, 4), "trigger objects", what)
