"""Jet taggers of the ``jets`` dataset: scikit-learn-style classifiers over the five classes (q, g, W, Z, t).

``fit(X, y, validation=(X, y))``, ``predict_proba(X)`` (N, 5), ``predict(X)``, ``score(X, y)`` (accuracy),
``inputs_of(sample)`` (the 16 high-level features or the 32 constituents), ``save``/``load``:

* :class:`JetTagger`: a supervised network, the hls4ml-jet-style dense network on the standardised features (6-bit
  QKeras or float) or a Deep Sets network on the constituents (a per-constituent network, masked sum, dense layers).
* :class:`ContrastiveTagger`: the Deep Sets encoder pre-trained without labels on positive pairs
  (:meth:`~ContrastiveTagger.pretrain`, :mod:`l1ad.models.contrastive` losses), then two heads on the labels: a linear
  ``probe`` on the frozen representation and a ``fine_tune`` copy of the whole encoder with a linear layer.
  ``embed(X)`` is the pre-trained representation.

Saved directory (``l1ad-tagger/1``): ``tagger.json`` (:class:`TaggerCard`: config, heads, preprocessing, history,
provenance) and one HDF5 weights file per network; loading rebuilds the networks from the config and reads the
weights, so nothing from the files is executed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal, Self

import numpy as np
from pydantic import Field

from l1ad import __version__
from l1ad.benchmark.jets import FEATURE_NAMES, JET_CLASSES, JetSample
from l1ad.benchmark.jets.augment import present
from l1ad.benchmark.jets.pairing import ViewPairs
from l1ad.config.base import StrictModel
from l1ad.config.robustness import TaggerConfig, TaggerTraining
from l1ad.errors import DataFileError, DivergedModelError, L1adError, ModelFileError
from l1ad.models.base import check_events
from l1ad.models.contrastive import nt_xent, train_epoch, training_step, vicreg
from l1ad.models.io import read_format_file, write_directory
from l1ad.models.neural import epoch_progress, load_weights
from l1ad.progress import progress_bar

FORMAT = "l1ad-tagger/1"
CARD = "tagger.json"
N_CLASSES = len(JET_CLASSES)
SUPERVISED = "supervised"
PROBE, FINE_TUNE = "probe", "fine_tune"
TUNED_ENCODER = "tuned_encoder"
# Constituent inputs: (present, (ln(pT / jet pT) + 4) / 2, delta eta / 0.4, delta phi / 0.4), zero rows where absent:
# numbers of order one for the leading constituents inside R = 0.8.
LOG_PT_SHIFT, LOG_PT_SCALE, ANGLE_SCALE = 4.0, 2.0, 0.4


class TaggerCard(StrictModel):
    """The contents of ``tagger.json``."""

    format: Literal["l1ad-tagger/1"] = FORMAT
    config: TaggerConfig
    classes: list[str]
    heads: list[str] = Field(description="'supervised', or the contrastive tagger's 'probe' and 'fine_tune'")
    feature_mean: list[float] | None = None
    feature_std: list[float] | None = None
    history: dict[str, list[float]] = {}
    provenance: dict = {}
    l1ad_version: str


def constituent_inputs(constituents: np.ndarray) -> np.ndarray:
    """The Deep Sets inputs (N, C, 4) of constituents (N, C, 3) (see ``LOG_PT_SHIFT``)."""
    mask = present(constituents)
    log_pt = np.log(np.where(mask, constituents[..., 0], 1.0))
    x = np.stack([mask, (log_pt + LOG_PT_SHIFT) / LOG_PT_SCALE, constituents[..., 1] / ANGLE_SCALE,
                  constituents[..., 2] / ANGLE_SCALE], axis=-1).astype(np.float32)
    x[~mask] = 0
    return x


def build_dense(config: TaggerConfig):
    """hls4ml-jet style: hidden dense layers with ReLU, softmax over the classes; QKeras where the config says."""
    import tensorflow as tf

    net = config.network
    inputs = tf.keras.Input(shape=(len(FEATURE_NAMES),), name="features")
    x = inputs
    for i, units in enumerate([*net.hidden_units, N_CLASSES]):
        last = i == len(net.hidden_units)
        if net.weight_bits:
            from qkeras import QActivation, QDense, quantized_bits, quantized_relu

            q = quantized_bits(net.weight_bits, 0, alpha=1)
            x = QDense(units, kernel_quantizer=q, bias_quantizer=q, name=f"dense_{i}")(x)
            if not last:
                x = (QActivation(quantized_relu(net.activation_bits), name=f"relu_{i}")(x) if net.activation_bits
                     else tf.keras.layers.ReLU(name=f"relu_{i}")(x))
        else:
            x = tf.keras.layers.Dense(units, activation=None if last else "relu", name=f"dense_{i}")(x)
    outputs = tf.keras.layers.Softmax(name="probabilities")(x)
    return tf.keras.Model(inputs, outputs, name=config.name)


def build_encoder(config: TaggerConfig, n_constituents: int, name: str = "encoder"):
    """Deep Sets: per-constituent dense layers, summed over the present constituents, then the pooled layers; the
    output of the last one is the representation."""
    import tensorflow as tf

    net = config.network
    inputs = tf.keras.Input(shape=(n_constituents, 4), name="constituents")
    mask = inputs[..., :1]
    x = inputs
    for i, units in enumerate(net.hidden_units):
        x = tf.keras.layers.Dense(units, activation="relu", name=f"phi_{i}")(x)
    x = tf.keras.layers.Lambda(lambda t: tf.reduce_sum(t[0] * t[1], axis=1), name="sum")([x, mask])
    for i, units in enumerate(net.pooled_units):
        x = tf.keras.layers.Dense(units, activation="relu", name=f"rho_{i}")(x)
    return tf.keras.Model(inputs, x, name=name)


def build_head(inputs_shape: tuple[int, ...], body=None, name: str = "head"):
    """A linear softmax layer over the classes, on ``body``'s output if given (else on its own input)."""
    import tensorflow as tf

    inputs = tf.keras.Input(shape=inputs_shape)
    x = body(inputs) if body is not None else inputs
    outputs = tf.keras.layers.Dense(N_CLASSES, activation="softmax", name="classes")(x)
    return tf.keras.Model(inputs, outputs, name=name)


class JetTagger:
    """A supervised jet tagger (see the module docstring)."""

    classes_ = JET_CLASSES

    def __init__(self, config: TaggerConfig):
        self.config = config
        self.networks: dict = {}  # head -> Keras model giving class probabilities (contrastive: + "encoder")
        self.feature_mean: np.ndarray | None = None
        self.feature_std: np.ndarray | None = None
        self.history: dict[str, list[float]] = {}
        self.provenance: dict = {}
        self.n_constituents: int | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def heads(self) -> tuple[str, ...]:
        return (SUPERVISED,)

    def label(self, head: str) -> str:
        """The name of one head in tables: the tagger's, with the head for contrastive taggers."""
        return self.name if head == SUPERVISED else f"{self.name} ({head.replace('_', '-')})"

    # -- inputs -------------------------------------------------------------------------------------------------
    def inputs_of(self, sample: JetSample) -> np.ndarray:
        return sample.features if self.config.inputs == "features" else sample.constituents

    def _check(self, X: np.ndarray, what: str) -> None:
        if self.config.inputs == "features":
            check_events(X, (len(FEATURE_NAMES),), "high-level features", what)
        else:
            if self.n_constituents is not None and getattr(X, "ndim", 0) == 3 and X.shape[1] != self.n_constituents:
                raise DataFileError(f"{what}: {X.shape[1]} constituents per jet, the tagger was trained on "
                                    f"{self.n_constituents}")
            slots = X.shape[1] if getattr(X, "ndim", 0) == 3 else "C"
            check_events(X, (slots, 3), "jet constituents", what)

    def _network_inputs(self, X: np.ndarray) -> np.ndarray:
        if self.config.inputs == "features":
            return ((X - self.feature_mean) / self.feature_std).astype(np.float32)
        return constituent_inputs(X)

    def _labels(self, y, n: int, what: str) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (n,) or y.dtype.kind not in "iu" or len(y) and (y.min() < 0 or y.max() >= N_CLASSES):
            raise DataFileError(f"{what}: expected {n} class indices in [0, {N_CLASSES}), got {y.dtype} of shape "
                                f"{y.shape}")
        return y.astype(np.int64)

    def _start(self, X: np.ndarray, y, what: str = "training data"):
        import tensorflow as tf

        self._check(X, what)
        tf.keras.utils.set_random_seed(self.config.seed)
        tf.config.experimental.enable_op_determinism()
        if self.config.inputs == "features":
            self.feature_mean = X.mean(axis=0).astype(np.float64)
            self.feature_std = X.std(axis=0).astype(np.float64) + 1e-9
        else:
            self.n_constituents = X.shape[1]
        return self._network_inputs(X), self._labels(y, len(X), what)

    def _validation(self, validation) -> tuple[np.ndarray, np.ndarray] | None:
        if validation is None:
            return None
        X, y = validation
        self._check(X, "validation data")
        return self._network_inputs(X), self._labels(y, len(X), "validation labels")

    # -- training -----------------------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, validation: tuple[np.ndarray, np.ndarray] | None = None) -> Self:
        """Train on labelled jets (early stopping on ``validation`` if given, else on the training loss)."""
        x, labels = self._start(X, y)
        network = self._supervised_network()
        self.networks = {SUPERVISED: network}
        self.history = _train_classifier(network, x, labels, self._validation(validation), self.config.training,
                                         f"train {self.name}")
        return self

    # -- predictions --------------------------------------------------------------------------------------------
    def predict_proba(self, X: np.ndarray, head: str | None = None) -> np.ndarray:
        """Class probabilities (N, 5) in the order of ``classes_``; ``head``: which head (default: the last)."""
        head = head or self.heads[-1]
        if head not in self.networks:
            fitted = "" if head not in self.heads else "; call fit() or load() first"
            raise L1adError(f"tagger {self.name!r} has no {head!r} head (heads: {', '.join(self.heads)}){fitted}")
        self._check(X, "tagger input")
        return self._probabilities(self._network_inputs(X), head)

    def _probabilities(self, x: np.ndarray, head: str) -> np.ndarray:
        return _outputs(self.networks[head], x)

    def predict(self, X: np.ndarray, head: str | None = None) -> np.ndarray:
        return np.argmax(self.predict_proba(X, head), axis=1)

    def score(self, X: np.ndarray, y: np.ndarray, head: str | None = None) -> float:
        """Accuracy, as scikit-learn classifiers' ``score``."""
        return float(np.mean(self.predict(X, head) == self._labels(y, len(X), "labels")))

    # -- files --------------------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        if not self.networks:
            raise L1adError(f"tagger {self.name!r} is not fitted: nothing to save")
        card = TaggerCard(
            config=self.config, classes=list(self.classes_), heads=list(self.heads),
            feature_mean=None if self.feature_mean is None else self.feature_mean.tolist(),
            feature_std=None if self.feature_std is None else self.feature_std.tolist(),
            history=self.history, provenance=dict(self.provenance, n_constituents=self.n_constituents),
            l1ad_version=__version__)

        def write(tmp: Path) -> None:
            for key, network in self.networks.items():
                network.save_weights(tmp / f"{key}.h5")
            (tmp / CARD).write_text(card.model_dump_json(indent=2) + "\n")

        return write_directory(directory, write)

    @classmethod
    def load(cls, directory: str | Path) -> JetTagger:
        """Any saved tagger: the card's config says whether it is contrastive."""
        directory = Path(directory)
        card = read_tagger_card(directory)
        tagger = (ContrastiveTagger if card.config.contrastive is not None else JetTagger)(card.config)
        if card.heads != list(tagger.heads):
            raise ModelFileError(f"{directory / CARD}: heads {card.heads} do not fit a {type(tagger).__name__}")
        tagger.feature_mean = None if card.feature_mean is None else np.asarray(card.feature_mean)
        tagger.feature_std = None if card.feature_std is None else np.asarray(card.feature_std)
        if card.config.inputs == "features" and (tagger.feature_mean is None or tagger.feature_std is None
                                                  or len(tagger.feature_mean) != len(FEATURE_NAMES)
                                                  or not np.all(tagger.feature_std > 0)):
            raise ModelFileError(f"{directory / CARD}: missing or invalid feature standardisation")
        n = card.provenance.get("n_constituents")
        if card.config.inputs == "constituents" and not (isinstance(n, int) and 0 < n <= 1024):
            raise ModelFileError(f"{directory / CARD}: invalid n_constituents {n!r}")
        tagger.n_constituents = n if card.config.inputs == "constituents" else None
        tagger.history, tagger.provenance = card.history, card.provenance
        tagger._load_networks(directory)
        return tagger

    def _supervised_network(self):
        if self.config.inputs == "features":
            return build_dense(self.config)
        return build_head((self.n_constituents, 4), build_encoder(self.config, self.n_constituents), name=self.name)

    def _load_networks(self, directory: Path) -> None:
        self.networks = {SUPERVISED: load_weights(self._supervised_network(), directory / f"{SUPERVISED}.h5")}


class ContrastiveTagger(JetTagger):
    """A Deep Sets encoder pre-trained contrastively, with a linear probe and a fine-tuned head (module docstring)."""

    @property
    def heads(self) -> tuple[str, ...]:
        return (PROBE, FINE_TUNE)

    def pretrain(self, pairs: ViewPairs, *, n_constituents: int) -> Self:
        """Contrastive pre-training of the encoder on positive pairs, freshly augmented every epoch."""
        import tensorflow as tf

        cfg = self.config.contrastive
        tf.keras.utils.set_random_seed(self.config.seed)
        tf.config.experimental.enable_op_determinism()
        self.n_constituents = n_constituents
        encoder = build_encoder(self.config, n_constituents)
        projector = tf.keras.Sequential(
            [tf.keras.Input(shape=(self.config.network.pooled_units[-1],)),
             *[tf.keras.layers.Dense(u, activation="relu") for u in cfg.projector_units[:-1]],
             tf.keras.layers.Dense(cfg.projector_units[-1])], name="projector")

        def loss_of(a, b):
            za, zb = projector(encoder(a, training=True), training=True), projector(encoder(b, training=True),
                                                                                      training=True)
            return nt_xent(za, zb, cfg.temperature) if cfg.loss == "ntxent" else vicreg(za, zb, cfg.vicreg)

        step = training_step(loss_of, encoder.trainable_variables + projector.trainable_variables, cfg.learning_rate)

        rng = np.random.default_rng(self.config.seed)
        batch = min(cfg.batch_size, len(pairs))
        if batch < 2:
            raise L1adError(f"contrastive pre-training needs at least 2 pairs, got {len(pairs)}")
        losses = []
        started = time.time()
        with progress_bar(cfg.epochs, f"pre-train {self.name} ({cfg.loss})", "epoch") as bar:
            for _ in range(cfg.epochs):
                first, second = pairs.views(rng, cfg.augmentations)
                losses.append(train_epoch(step, constituent_inputs(first), constituent_inputs(second), batch, rng))
                if not np.isfinite(losses[-1]):
                    raise DivergedModelError(f"tagger {self.name!r}: the {cfg.loss} loss became NaN or Inf in "
                                             f"pre-training epoch {len(losses)} (inputs out of range, or a learning "
                                             "rate too high)")
                bar.set_postfix({"loss": f"{losses[-1]:.4g}"})
                bar.update(1)
        self.networks = {"encoder": encoder}
        self.history = {"contrastive_loss": losses, "pretrain_seconds": [round(time.time() - started, 1)]}
        return self

    def fit(self, X: np.ndarray, y: np.ndarray, validation: tuple[np.ndarray, np.ndarray] | None = None) -> Self:
        """Train both heads on labelled jets; the encoder must be pre-trained (:meth:`pretrain`)."""
        import tensorflow as tf

        if "encoder" not in self.networks:
            raise L1adError(f"tagger {self.name!r}: pre-train the encoder (pretrain()) before fitting its heads")
        encoder = self.networks["encoder"]
        self._check(X, "training data")
        x, labels = self._network_inputs(X), self._labels(y, len(X), "training labels")
        val = self._validation(validation)
        tf.keras.utils.set_random_seed(self.config.seed + 1)
        probe = self._probe_network()
        embed = _outputs(encoder, x)
        val_embedded = None if val is None else (_outputs(encoder, val[0]), val[1])
        history = _train_classifier(probe, embed, labels, val_embedded, self.config.training, f"probe {self.name}")
        tuned = self._tuned_network()  # built after the probe's training, which draws from the same random stream
        tuned.get_layer(TUNED_ENCODER).set_weights(encoder.get_weights())
        training = self.config.training.model_copy(
            update={"learning_rate": self.config.contrastive.fine_tune_learning_rate})
        tuned_history = _train_classifier(tuned, x, labels, val, training, f"fine-tune {self.name}")
        self.history.update({f"probe_{k}": v for k, v in history.items()})
        self.history.update({f"fine_tune_{k}": v for k, v in tuned_history.items()})
        self.networks.update({PROBE: probe, FINE_TUNE: tuned})
        return self

    def embed(self, X: np.ndarray) -> np.ndarray:
        """The pre-trained encoder's representation (N, pooled_units[-1])."""
        if "encoder" not in self.networks:
            raise L1adError(f"tagger {self.name!r} is not pre-trained: call pretrain() or load() first")
        self._check(X, "tagger input")
        return _outputs(self.networks["encoder"], self._network_inputs(X))

    def _probabilities(self, x: np.ndarray, head: str) -> np.ndarray:
        if head == PROBE:
            x = _outputs(self.networks["encoder"], x)
        return _outputs(self.networks[head], x)

    def _probe_network(self):
        """The untrained linear probe on the representation."""
        return build_head((self.config.network.pooled_units[-1],), name=PROBE)

    def _tuned_network(self):
        """The untrained fine-tune network: a copy of the encoder with a linear head."""
        return build_head((self.n_constituents, 4), build_encoder(self.config, self.n_constituents,
                                                                  name=TUNED_ENCODER), name=FINE_TUNE)

    def _load_networks(self, directory: Path) -> None:
        self.networks = {
            "encoder": load_weights(build_encoder(self.config, self.n_constituents), directory / "encoder.h5"),
            PROBE: load_weights(self._probe_network(), directory / f"{PROBE}.h5"),
            FINE_TUNE: load_weights(self._tuned_network(), directory / f"{FINE_TUNE}.h5")}


def read_tagger_card(directory: str | Path) -> TaggerCard:
    return read_format_file(Path(directory) / CARD, TaggerCard, FORMAT, "tagger",
                            f"{Path(directory)}: no trained tagger (no {CARD}); train it with 'l1ad train -c TAGGER'")


def _outputs(network, x: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """The network's outputs in float64, in chunks (a direct call: Keras' predict() retraces for every new size)."""
    return np.concatenate([network(x[i:i + chunk], training=False).numpy() for i in range(0, len(x), chunk)]
                          ).astype(np.float64)


def _train_classifier(network, x, labels, validation, training: TaggerTraining, description: str) -> dict:
    """Adam on the cross entropy, early stopping on the validation loss (else the training loss); the history."""
    import tensorflow as tf

    network.compile(optimizer=tf.keras.optimizers.Adam(training.learning_rate),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    stop = tf.keras.callbacks.EarlyStopping(monitor="val_loss" if validation is not None else "loss",
                                            patience=training.early_stopping_patience, restore_best_weights=True)
    with progress_bar(training.epochs, description, "epoch") as bar:
        fit = network.fit(x, labels, validation_data=validation, epochs=training.epochs,
                          batch_size=training.batch_size, shuffle=True, callbacks=[stop, epoch_progress(bar)],
                          verbose=0)
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
    if not all(np.isfinite(v).all() for v in history.values()):
        raise DivergedModelError(f"{description}: the loss became NaN or Inf (inputs out of range, or a learning "
                                 "rate too high)")
    return history
