"""Neural detectors (autoencoders and VAEs in QKeras or float) implementing the :mod:`l1ad.models.base` contract.

Saved model directory (``l1ad-model/2``), read by evaluation, firmware and later stages without our training code:

* ``model.json``         format tag, the validated model config (the architecture), score definition, input quantizer,
  training history, provenance
* ``weights.h5``         the Keras weights only (HDF5, one group per layer; readable with h5py without Keras)
* ``preprocessing.json`` the fitted :class:`~l1ad.models.preprocessing.PtScaler`

Loading rebuilds the architecture with the registered builder named in ``model.json`` and then reads the weights, so no
code or serialized Python object from the files is ever executed: a tampered file can only fail validation.
(Keras 2.15's whole-model ``.keras`` format was also tried: loading a QKeras model from it never returns.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from l1ad import __version__
from l1ad.benchmark.trigger.layout import N_REGION_ETA, N_REGION_PHI
from l1ad.config import MODELS, EtaAcceptance, ModelConfig, TrainingConfig
from l1ad.errors import (
    ConfigError,
    DataFileError,
    DivergedModelError,
    L1adError,
    ModelFileError,
    NotConvertibleError,
    first_line,
)
from l1ad.models.autoencoder import LatentScore, ReconstructionScore, angle_scales, masked_mse_loss, vae_trigger_model
from l1ad.models.base import SCORING_CHUNK, DetectorBase, check_events, check_particles
from l1ad.models.builders import build_network
from l1ad.models.contrastive_ad import LatentDensityScore
from l1ad.models.io import FORMAT, ModelCard, read_card, read_json, read_preprocessing, write_model_dir
from l1ad.models.preprocessing import PtScaler, RegionScaler
from l1ad.models.student import OutputScore
from l1ad.progress import progress_bar

WEIGHTS = "weights.h5"
OBJECT_INPUTS = "ADC2021 (19 objects x pT, eta, phi) flattened to 57; pT standardised per slot, padding 0"
REGION_INPUTS = "calorimeter regions 18 (phi) x 14 (eta), GeV, flattened to 252 and divided by a fitted scale"


SCORE_DESCRIPTIONS = {
    "mse": "masked reconstruction MSE over present objects",
    "mu2": "sum of squared latent means from the encoder (AXOL1TL)",
    "kl": "KL divergence of the encoder's Gaussian from the unit Gaussian",
    "rz": "sum over latent dimensions of mu^2 / sigma^2",
}


class KerasDetector(DetectorBase):
    """What every Keras detector shares: the fitted scaler (trigger objects or calorimeter regions, as the catalogue
    says the model reads), the input quantizer, chunked scoring, the training loop, and the saved directory.

    Subclasses implement ``fit`` (calling :meth:`_start` then :meth:`_train`), ``trigger_network``,
    ``output_score``, ``training_loss``, ``score_name`` and ``score_description``.
    """

    def __init__(self, model: ModelConfig, training: TrainingConfig | None = None, seed: int = 42,
                 acceptance: EtaAcceptance | None = None):
        super().__init__(model, training, seed, acceptance)
        self.scaler: PtScaler | RegionScaler | None = None
        self.keras_model = None

    @property
    def reads_regions(self) -> bool:
        return MODELS[self.model_config.name].inputs == "regions"

    @property
    def scaler_type(self) -> type:
        return RegionScaler if self.reads_regions else PtScaler

    @property
    def input_description(self) -> str:
        return REGION_INPUTS if self.reads_regions else OBJECT_INPUTS

    def _check_inputs(self, X: np.ndarray, what: str) -> None:
        if self.reads_regions:
            check_events(X, (N_REGION_PHI, N_REGION_ETA), "calorimeter regions", what, dtype_kinds="uif")
        else:
            check_particles(X, what)

    def _start(self, X: np.ndarray):
        """Seed, fit the scaler on ``X`` and build the untrained network; returns ``X``'s network inputs."""
        import tensorflow as tf

        self._check_inputs(X, "training data")
        tf.keras.utils.set_random_seed(self.seed)
        tf.config.experimental.enable_op_determinism()
        self.scaler = self.scaler_type().fit(X)
        self.keras_model = build_network(self.model_config, self.seed)
        return self.network_inputs(X)

    def _train(self, x: np.ndarray, y: np.ndarray, validation: tuple[np.ndarray, np.ndarray] | None,
               verbose: int = 0) -> None:
        """Fit ``keras_model`` on (x, y) with the training config: Adam, early stopping on the validation loss (else
        the training loss), optional pruning; the per-epoch history goes to ``history``."""
        import tensorflow as tf

        t = self.training_config
        model, callbacks, pruned_epochs = self.keras_model, [], 0
        if t.pruning is not None:
            model, callbacks, pruned_epochs = _with_pruning(model, t, steps_per_epoch=-(-len(x) // t.batch_size))
        model.compile(optimizer=tf.keras.optimizers.Adam(t.learning_rate), loss=self.training_loss())
        callbacks.append(tf.keras.callbacks.EarlyStopping(
            monitor="val_loss" if validation is not None else "loss", patience=t.early_stopping_patience,
            restore_best_weights=True, start_from_epoch=pruned_epochs))
        with progress_bar(t.epochs, f"train {self.label}", "epoch") as bar:
            callbacks.append(epoch_progress(bar))
            fit = model.fit(x, y, validation_data=validation, epochs=t.epochs, batch_size=t.batch_size, shuffle=True,
                            callbacks=callbacks, verbose=verbose)
        self.history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
        if t.pruning is not None:
            import tensorflow_model_optimization as tfmot

            # Back to the registered architecture (no pruning wrappers), so saving, loading and hls4ml see plain layers.
            self.keras_model.set_weights(tfmot.sparsity.keras.strip_pruning(model).get_weights())
            self.history["weight_sparsity"] = [self.weight_sparsity()]

    def weight_sparsity(self) -> float:
        """Fraction of kernel weights that are exactly zero."""
        kernels = [w for layer in self.keras_model.layers for w in layer.get_weights()[:1] if w.ndim >= 2]
        return float(sum((k == 0).sum() for k in kernels) / max(sum(k.size for k in kernels), 1))

    def network_inputs(self, X: np.ndarray) -> np.ndarray:
        """Preprocessed, input-quantized values: exactly what the trigger network (and the firmware) is fed."""
        self._check_fitted()
        x = self.scaler.transform(X)
        return np.asarray(self.keras_model.get_layer("input_quantizer")(x), dtype=np.float32)

    def _scoring_network(self):
        """The network whose outputs give the score (default: the trigger network)."""
        return self.trigger_network()

    def _scores(self, X: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """Scores in chunks, so scoring N events holds the inputs and the scores but only one chunk's intermediates."""
        network = self._scoring_network()
        scores = np.empty(len(X), dtype=np.float64)
        with progress_bar(len(X), f"score {self.label}", "ev", leave=False, show=len(X) > SCORING_CHUNK) as bar:
            for start in range(0, len(X), SCORING_CHUNK):
                x = self.network_inputs(X[start : start + SCORING_CHUNK])
                outputs = network.predict(x, batch_size=batch_size, verbose=0)
                scores[start : start + len(x)] = self.score_from_outputs(x, outputs)
                bar.update(len(x))
        return scores

    # -- persistence --------------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        self._check_fitted()
        q = self.model_config.quantization
        quantizer = ({"bits": q.input_bits, "integer_bits": q.input_integer_bits, "signed": True} if q is not None
                     else "none (float model)")
        card = ModelCard(
            format=FORMAT, family="keras", model=self.model_config, training=self.training_config, seed=self.seed,
            score=f"{self.score_name}: {self.score_description} (higher = more anomalous)",
            input={"layout": self.input_description, "quantizer": quantizer}, acceptance=self.acceptance,
            history=self.history,
            provenance={"l1ad_version": __version__, **self.provenance},
        )
        return write_model_dir(directory, card, self.scaler.to_dict(), self._write_params)

    def _write_params(self, directory: Path) -> None:
        """The fitted parameters besides the scaler: the Keras weights (subclasses add their own files)."""
        self.keras_model.save_weights(directory / WEIGHTS)

    def _read_params(self, directory: Path) -> None:
        """Read what :meth:`_write_params` added beyond the weights (nothing here)."""

    @classmethod
    def load(cls, directory: str | Path) -> KerasDetector:
        directory = Path(directory)
        card = read_card(directory)
        detector = cls(card.model, card.training, seed=card.seed, acceptance=card.acceptance)
        detector.scaler = read_preprocessing(directory, detector.scaler_type)
        detector.keras_model = load_weights(build_network(card.model, detector.seed), directory / WEIGHTS)
        detector._read_params(directory)
        detector.history = card.history
        detector.provenance = card.provenance.model_dump(exclude={"l1ad_version"})
        return detector

    def _check_fitted(self) -> None:
        if self.keras_model is None or self.scaler is None:
            raise L1adError("the detector is not fitted: call fit() or load() first")


class AutoencoderDetector(KerasDetector):
    """A (quantized or float) autoencoder or VAE; its score comes from the reconstruction or, for a VAE, the encoder."""

    def __init__(self, model: ModelConfig, training: TrainingConfig | None = None, seed: int = 42,
                 acceptance: EtaAcceptance | None = None):
        super().__init__(model, training, seed, acceptance)
        self._encoder = None  # the VAE encoder sub-model of keras_model, see trigger_network

    def fit(self, X: np.ndarray, validation: np.ndarray | None = None, *, verbose: int = 0) -> AutoencoderDetector:
        """Train on background events ``X`` (early stopping on ``validation`` if given, else on the training loss)."""
        x = self._start(X)
        self._encoder = None
        val = None
        if validation is not None:
            self._check_inputs(validation, "validation data")
            xv = self.network_inputs(validation)
            val = (xv, xv)
        self._train(x, x, val, verbose)
        return self

    @property
    def score_name(self) -> str:
        return MODELS[self.model_config.name].score(self.model_config)

    def trigger_network(self):
        """The Keras model that runs in the trigger and goes through hls4ml: the whole autoencoder for ``mse``, the
        encoder alone for the latent scores.

        Raises
        ------
        NotConvertibleError
            For a VAE scored by its reconstruction, which needs the sampling layer.
        """
        self._check_fitted()
        if self.score_name == "mse":
            if MODELS[self.model_config.name].variational:
                raise NotConvertibleError(
                    "a VAE's reconstruction score needs its sampling layer, which hls4ml cannot convert; "
                    "use score mu2, kl or rz (encoder only)")
            return self.keras_model
        if self._encoder is None:  # built once per network, so predict() traces once
            self._encoder = vae_trigger_model(self.keras_model, self.score_name)
        return self._encoder

    def latent_variances(self, X: np.ndarray) -> np.ndarray:
        """A VAE's Var[mu_i] over events ``X``, one per latent dimension: a unit with Var < 0.01 is inactive (Burda
        et al., arXiv:1509.00519); no active unit means a collapsed posterior, and mu2 then hardly depends on the
        event."""
        self._check_fitted()
        if not MODELS[self.model_config.name].variational:
            raise ConfigError(f"{self.model_config.run_label} is not a VAE: it has no latent means")
        self._check_inputs(X, "events")
        encoder, x = vae_trigger_model(self.keras_model, "mu2"), self.network_inputs(X)
        means = np.concatenate([encoder.predict(x[i : i + SCORING_CHUNK], verbose=0)
                                for i in range(0, len(x), SCORING_CHUNK)])
        return means.astype(np.float64).var(axis=0)

    def _scoring_network(self):
        """The network whose outputs give the score: the trigger network, or the whole VAE for its mse score."""
        if self.score_name == "mse":
            self._check_fitted()
            return self.keras_model
        return self.trigger_network()

    @property
    def decodes_angles(self) -> bool:
        """Whether reconstructed eta and phi are decoded within the acceptance (tanh) before the MSE."""
        return MODELS[self.model_config.name].angles(self.model_config) == "tanh"

    @property
    def angle_scales(self) -> np.ndarray | None:
        """What decoded eta and phi are scaled to (the training dataset's acceptances); None for linear outputs."""
        return angle_scales(self.acceptance) if self.decodes_angles else None

    def firmware_score(self) -> str | None:
        """``sum_squares`` for mu2 and ``masked_mse`` for the MSE of linear outputs: exact sums in fixed point. The
        tanh-decoded MSE and the kl and rz scores need tanh or exp, so they stay in software (float64)."""
        if self.score_name == "mu2":
            return "sum_squares"
        if self.score_name == "mse" and not self.decodes_angles and not MODELS[self.model_config.name].variational:
            return "masked_mse"
        return None

    def training_loss(self):
        scales = self.angle_scales

        def masked_mse(y_true, y_pred):
            return masked_mse_loss(y_true, y_pred, scales)

        return masked_mse

    def output_score(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """The score of (network inputs, network outputs) as a picklable function: the masked reconstruction MSE, or
        the VAE's latent score."""
        if self.score_name == "mse":
            return ReconstructionScore(self.angle_scales)
        return LatentScore(self.score_name)

    @property
    def score_description(self) -> str:
        return SCORE_DESCRIPTIONS[self.score_name]


def epoch_progress(bar):
    """A Keras callback advancing ``bar`` once per epoch, showing the losses."""
    import tensorflow as tf

    class EpochProgress(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            bar.set_postfix({k: f"{v:.4g}" for k, v in (logs or {}).items() if "loss" in k})
            bar.update(1)

    return EpochProgress()


def _with_pruning(keras_model, training: TrainingConfig, steps_per_epoch: int):
    """Wrap the prunable layers for magnitude pruning; returns the model to train, its callbacks and the ramp length
    in epochs."""
    import tensorflow_model_optimization as tfmot

    ramp_epochs = max(1, round(training.pruning.ramp_fraction * training.epochs))
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=training.pruning.final_sparsity, begin_step=0,
        end_step=ramp_epochs * steps_per_epoch, frequency=steps_per_epoch)  # masks tighten once per epoch
    import tensorflow as tf

    def wrap(layer):  # dense and convolution kernels only; other layers (input quantizer, sampling) are copied
        clone = layer.__class__.from_config(layer.get_config())
        has_kernel = any("kernel" in w.name for w in layer.weights)
        return tfmot.sparsity.keras.prune_low_magnitude(clone, pruning_schedule=schedule) if has_kernel else clone

    model = tf.keras.models.clone_model(keras_model, clone_function=wrap)
    for layer in model.layers:  # start from the same initial weights as the unpruned network
        inner = getattr(layer, "layer", layer)
        inner.set_weights(keras_model.get_layer(inner.name).get_weights())
    return model, [tfmot.sparsity.keras.UpdatePruningStep()], ramp_epochs


def load_weights(keras_model, path: Path):
    import h5py

    if not path.is_file():
        raise ModelFileError(f"{path}: no such weights file")
    if not h5py.is_hdf5(path):
        raise ModelFileError(f"{path}: not an HDF5 weights file")
    try:
        keras_model.load_weights(path)
    except Exception as exc:  # h5py/Keras raise several types; all mean "these weights do not fit this model"
        raise ModelFileError(f"{path}: weights do not match the model in model.json ({first_line(exc)})") from None
    damaged = [w.name for w in keras_model.weights if not np.isfinite(w.numpy()).all()]
    if damaged:
        raise ModelFileError(f"{path}: NaN or Inf weights in {damaged[0]} ({len(damaged)} arrays); retrain the model")
    return keras_model


def _mse(y_true, y_pred):
    import tensorflow as tf

    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)


class RegionAutoencoderDetector(AutoencoderDetector):
    """An autoencoder on calorimeter regions (N, 18, 14); score = MSE over the 252 scaled regions."""

    score_description = "reconstruction MSE over the 252 scaled calorimeter regions"

    def training_loss(self):
        return _mse

    def output_score(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        return ReconstructionScore(masked=False)

    def firmware_score(self) -> str | None:
        return None  # the unmasked MSE over 252 regions is left to software


LOSSES = {"mae": "mean_absolute_error", "mse": "mean_squared_error", "huber": "huber"}


class StudentDetector(KerasDetector):
    """A student network on trigger objects or calorimeter regions (as its catalogue entry reads)."""

    score_name = "target"

    @property
    def score_description(self) -> str:
        return "the student's regression of its teacher's score target (see provenance.teacher)"

    def fit(self, X: np.ndarray, y: np.ndarray, validation: tuple[np.ndarray, np.ndarray] | None = None, *,
            verbose: int = 0) -> StudentDetector:
        """Regress targets ``y`` (one per event of ``X``) with the configured loss; early stopping on ``validation``
        = (events, targets) if given, else on the training loss."""
        targets = _targets(y, len(X), "training")
        x = self._start(X)
        val = None
        if validation is not None:
            xv, yv = validation
            self._check_inputs(xv, "validation data")
            val = (self.network_inputs(xv), _targets(yv, len(xv), "validation"))
        self._train(x, targets, val, verbose)
        return self

    def training_loss(self):
        return LOSSES[str(MODELS[self.model_config.name].param(self.model_config, "loss"))]

    def trigger_network(self):
        """The whole student: it is what runs in the trigger."""
        self._check_fitted()
        return self.keras_model

    def output_score(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        return OutputScore()

    def firmware_score(self) -> str | None:
        """The score is the network's output: the firmware computes it exactly, with nothing added."""
        return "output"


LATENT = "latent.json"


class ContrastiveDetector(KerasDetector):
    """The contrastive anomaly detector of :mod:`l1ad.models.contrastive_ad` (VICReg on pile-up-shifted views)."""

    score_name = "latent_density"
    score_description = ("squared standardised distance of the contrastive latent representation from the training "
                         "background's mean (VICReg on pile-up-shifted views)")

    def __init__(self, model: ModelConfig, training: TrainingConfig | None = None, seed: int = 42,
                 acceptance: EtaAcceptance | None = None):
        super().__init__(model, training, seed, acceptance)
        self.latent_mean: np.ndarray | None = None
        self.latent_std: np.ndarray | None = None

    def views(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One shifted view of each event: a phi rotation and a pile-up-like shift (the catalogue's params)."""
        from l1ad.benchmark.trigger.shifts import pileup_shift, rotate_objects

        spec = MODELS[self.model_config.name]
        shift = {k: float(spec.param(self.model_config, k)) for k in ("met_scale", "jet_scale", "soft_jet_gev",
                                                                      "soft_jet_drop")}
        return self.network_inputs(pileup_shift(rotate_objects(X, rng), rng, **shift))

    def fit(self, X: np.ndarray, validation: np.ndarray | None = None, *, verbose: int = 0) -> ContrastiveDetector:
        """VICReg on two fresh views of every training event each epoch; early stopping on the loss of fixed views
        of ``validation`` (else of the training events)."""
        from l1ad.config.robustness import VicregWeights
        from l1ad.models.contrastive import train_epoch, training_step, vicreg

        x = self._start(X)
        t = self.training_config
        rng = np.random.default_rng(self.seed)
        check = X if validation is None else validation
        self._check_inputs(check, "validation data")
        check_a, check_b = self.views(check, rng), self.views(check, rng)
        network, weights = self.keras_model, VicregWeights()
        step = training_step(lambda a, b: vicreg(network(a, training=True), network(b, training=True), weights),
                             network.trainable_variables, t.learning_rate)

        batch = max(2, min(t.batch_size, len(x)))
        best, best_weights, waited, history = np.inf, network.get_weights(), 0, {"loss": [], "val_loss": []}
        with progress_bar(t.epochs, f"train {self.label} (VICReg)", "epoch") as bar:
            for _ in range(t.epochs):
                loss = train_epoch(step, self.views(X, rng), self.views(X, rng), batch, rng)
                val = float(np.mean([float(vicreg(network(check_a[k:k + 4096]), network(check_b[k:k + 4096]),
                                                  weights)) for k in range(0, len(check_a), 4096)]))
                history["loss"].append(loss)
                history["val_loss"].append(val)
                if not np.isfinite(val):
                    raise DivergedModelError(f"model {self.label!r}: the VICReg loss became NaN or Inf in epoch "
                                             f"{len(history['loss'])}")
                bar.set_postfix({"loss": f"{history['loss'][-1]:.4g}", "val_loss": f"{val:.4g}"})
                bar.update(1)
                if val < best:
                    best, best_weights, waited = val, network.get_weights(), 0
                else:
                    waited += 1
                    if waited >= t.early_stopping_patience:
                        break
        network.set_weights(best_weights)
        self.history = history
        z = network.predict(x, batch_size=8192, verbose=0).astype(np.float64)
        self.latent_mean, self.latent_std = z.mean(axis=0), z.std(axis=0) + 1e-6
        return self

    def trigger_network(self):
        """The encoder: it is what runs in the trigger (the score is computed from its latent outputs)."""
        self._check_fitted()
        return self.keras_model

    def output_score(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        if self.latent_mean is None:
            raise L1adError(f"model {self.label!r} is not fitted: call fit() or load() first")
        return LatentDensityScore(tuple(self.latent_mean.tolist()), tuple(self.latent_std.tolist()))

    def _write_params(self, directory: Path) -> None:
        super()._write_params(directory)
        (directory / LATENT).write_text(json.dumps({"mean": self.latent_mean.tolist(),
                                                    "std": self.latent_std.tolist()}, indent=2))

    def _read_params(self, directory: Path) -> None:
        data = read_json(directory / LATENT, "latent standardisation")
        mean, std = np.asarray(data.get("mean", []), dtype=float), np.asarray(data.get("std", []), dtype=float)
        n = self.model_config.latent_dim
        if mean.shape != (n,) or std.shape != (n,) or not (np.isfinite(mean).all() and np.isfinite(std).all()
                                                          and (std > 0).all()):
            raise ModelFileError(f"{directory / LATENT}: expected {n} finite means and positive spreads")
        self.latent_mean, self.latent_std = mean, std


def _targets(y, n_events: int, what: str) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (n_events,):
        raise DataFileError(f"{what} targets: expected one per event, shape ({n_events},), got {y.shape}")
    if not np.isfinite(y).all():
        raise DataFileError(f"{what} targets: {int((~np.isfinite(y)).sum())} are NaN or Inf")
    return y.astype(np.float32)
