"""Dense autoencoder and variational autoencoder on the 57 trigger-object inputs, in QKeras or float, and their scores.

Architectures (after Govorkova et al., Nat. Mach. Intell. 4 (2022) 154, arXiv:2108.03986, and the CMS AXOL1TL
trigger): input quantizer -> dense encoder (AXOL1TL-sized, 57 -> 32 -> 16) -> latent -> mirrored decoder -> 57 linear
outputs. With a quantization config every layer is a QKeras layer and the inputs pass a
``quantized_bits`` activation first, so Keras sees exactly the fixed-point values the firmware receives; with
``quantization: null`` the same network is built from plain float Keras layers (the "input_quantizer" is then the
identity).

Scores (higher = more anomalous):

* ``mse``: reconstruction MSE over the objects that are present (padded slots excluded) -- the AE's score. The
  decoder's 57 linear outputs are decoded within the acceptance before the MSE, as in the published L1 decoders:
  pT as it is, eta = acceptance x tanh(output) (e/gamma, muons and jets each at the acceptance of the dataset's emulation; MET's eta
  is always 0), phi = pi x tanh(output). The decoding is part of the score, not of the network, so the network that
  goes through hls4ml stays plain layers and Keras and firmware outputs are scored by the same function
  (``params: {angles: linear}`` compares with undecoded linear outputs);
* ``mu2``: sum of squared latent means, from the VAE encoder alone (the AXOL1TL trigger score: no decoder in firmware);
* ``kl``: the KL divergence of the encoder's Gaussian from the unit Gaussian;
* ``rz``: sum of mu^2 / sigma^2 over latent dimensions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from l1ad.benchmark.trigger.layout import N_EGAMMA, N_JETS, N_MUONS, N_OBJECTS
from l1ad.config import EmulationConfig, EtaAcceptance, ModelConfig

N_FEATURES = 3  # pT, eta, phi per object
N_INPUTS = N_OBJECTS * N_FEATURES


def angle_scales(acceptance: EtaAcceptance) -> np.ndarray:
    """Per input value: 0 for pT (not decoded), the slot's |eta| acceptance for eta, pi for phi."""
    eta = [0.0] + [acceptance.egamma] * N_EGAMMA + [acceptance.muon] * N_MUONS + [acceptance.jet] * N_JETS
    return np.stack((np.zeros(N_OBJECTS), eta, np.full(N_OBJECTS, np.pi)), axis=1).reshape(N_INPUTS)


DEFAULT_ANGLE_SCALES = angle_scales(EmulationConfig().eta_acceptance)
IS_ANGLE = np.arange(N_INPUTS) % N_FEATURES != 0


def decode_outputs(outputs: np.ndarray, scales: np.ndarray = DEFAULT_ANGLE_SCALES) -> np.ndarray:
    """Decoder outputs (N, 57) -> reconstructed inputs (float64): pT as it is, eta and phi within the acceptance
    given by ``scales`` (see :func:`angle_scales`)."""
    out = np.asarray(outputs, dtype=np.float64)
    return np.where(IS_ANGLE, scales * np.tanh(out), out)


def decode_outputs_tf(outputs, scales: np.ndarray = DEFAULT_ANGLE_SCALES):
    """:func:`decode_outputs` in TensorFlow, for the training loss."""
    import tensorflow as tf

    return tf.where(tf.constant(IS_ANGLE), tf.constant(scales, dtype=outputs.dtype) * tf.tanh(outputs), outputs)


class _Layers:
    """Dense layers and activations in QKeras (quantized) or plain Keras (float), named alike."""

    def __init__(self, cfg: ModelConfig):
        import tensorflow as tf

        self.tf = tf
        self.q = cfg.quantization
        if self.q is not None:
            from qkeras import QActivation, QDense, quantized_bits, quantized_relu

            self._qdense, self._qact = QDense, QActivation
            self._weights = quantized_bits(self.q.weight_bits, self.q.weight_integer_bits, alpha=1)
            self._relu = quantized_relu(self.q.activation_bits, self.q.activation_integer_bits)
            self._input = quantized_bits(self.q.input_bits, self.q.input_integer_bits, alpha=1)

    def input_quantizer(self, x):
        if self.q is None:
            return self.tf.keras.layers.Activation("linear", name="input_quantizer")(x)
        return self._qact(self._input, name="input_quantizer")(x)

    def dense(self, x, units: int, name: str):
        if self.q is None:
            return self.tf.keras.layers.Dense(units, name=name)(x)
        return self._qdense(units, kernel_quantizer=self._weights, bias_quantizer=self._weights, name=name)(x)

    def conv2d(self, x, filters: int, kernel: tuple[int, int], name: str, strides: tuple[int, int] = (1, 1),
               padding: str = "same"):
        if self.q is None:
            return self.tf.keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, name=name)(x)
        from qkeras import QConv2D

        return QConv2D(filters, kernel, strides=strides, padding=padding, kernel_quantizer=self._weights,
                       bias_quantizer=self._weights, name=name)(x)

    def relu(self, x, name: str):
        if self.q is None:
            return self.tf.keras.layers.Activation("relu", name=name)(x)
        return self._qact(self._relu, name=name)(x)

    def stack(self, x, units: list[int], role: str, first_index: int = 0):
        for i, n in enumerate(units, first_index):
            x = self.relu(self.dense(x, n, f"{role}_dense_{i}"), f"{role}_act_{i}")
        return x


def build_dense_autoencoder(cfg: ModelConfig):
    layers = _Layers(cfg)
    inputs = layers.tf.keras.Input(shape=(N_INPUTS,), name="inputs")
    x = layers.stack(layers.input_quantizer(inputs), cfg.encoder_units, "enc")
    x = layers.stack(x, [cfg.latent_dim], "latent", len(cfg.encoder_units))
    x = layers.stack(x, list(reversed(cfg.encoder_units)), "dec", len(cfg.encoder_units) + 1)
    outputs = layers.dense(x, N_INPUTS, "reconstruction")
    return layers.tf.keras.Model(inputs, outputs, name=cfg.name)


def build_dense_vae(cfg: ModelConfig, beta: float):
    """VAE trained on masked MSE + beta x KL per input value (see :func:`variational_latent`); the decoder reads z = mu
    at inference (no sampling outside training)."""
    layers = _Layers(cfg)
    inputs = layers.tf.keras.Input(shape=(N_INPUTS,), name="inputs")
    x = layers.stack(layers.input_quantizer(inputs), cfg.encoder_units, "enc")
    z, finish = variational_latent(layers, x, cfg.latent_dim, beta)
    x = layers.stack(z, list(reversed(cfg.encoder_units)), "dec", len(cfg.encoder_units) + 1)
    return finish(layers.tf.keras.Model(inputs, layers.dense(x, N_INPUTS, "reconstruction"), name=cfg.name))


def variational_latent(layers: _Layers, x, latent_dim: int, beta: float):
    """The VAE bottleneck: ``z_mean`` and ``z_log_var`` heads and the sampled ``z``; ``finish(model)`` adds the
    beta-weighted KL term to the model's loss (and reports the KL, summed over latent dimensions, as metric ``kl``).

    The KL is divided by the number of input values, ``N_INPUTS``, because the reconstruction loss is a mean over
    input values rather than the ELBO's sum: so beta = 1 weighs the two terms as the ELBO does. Added to the mean
    unnormalised, the KL was weighed ~57 times more: at beta 0.5 the posterior collapsed (no latent unit with
    Var[mu] > 0.01 on zero-bias background, so mu2 hardly depended on the event; README "Baselines")."""
    tf = layers.tf
    z_mean = layers.dense(x, latent_dim, "z_mean")
    z_log_var = layers.dense(x, latent_dim, "z_log_var")
    z = _Sampling(name="z")([z_mean, z_log_var])

    def finish(model):
        kl = -0.5 * tf.reduce_mean(tf.reduce_sum(1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var), axis=-1))
        model.add_loss(beta * kl / N_INPUTS)
        model.add_metric(kl, name="kl")
        return model

    return z, finish


def vae_trigger_model(keras_model, score: str):
    """The part of a VAE that runs in the trigger: the encoder, returning mu (mu2) or [mu, log sigma^2] (kl, rz)."""
    import tensorflow as tf

    mean = keras_model.get_layer("z_mean").output
    if score == "mu2":
        return tf.keras.Model(keras_model.input, mean, name=f"{keras_model.name}_encoder")
    log_var = keras_model.get_layer("z_log_var").output
    both = tf.keras.layers.Concatenate(name="z_params")([mean, log_var])
    return tf.keras.Model(keras_model.input, both, name=f"{keras_model.name}_encoder")


def latent_score(outputs: np.ndarray, score: str) -> np.ndarray:
    """VAE scores from the encoder outputs of :func:`vae_trigger_model`, in float64."""
    out = np.asarray(outputs, dtype=np.float64)
    if score == "mu2":
        return np.square(out).sum(axis=1)
    mean, log_var = np.split(out, 2, axis=1)
    if score == "kl":
        return -0.5 * (1 + log_var - np.square(mean) - np.exp(log_var)).sum(axis=1)
    if score == "rz":
        return (np.square(mean) / np.exp(log_var)).sum(axis=1)
    raise ValueError(f"no latent score {score!r}")


@dataclass(frozen=True)
class LatentScore:
    """:func:`latent_score` as a picklable function of (network inputs, network outputs)."""

    score: str

    def __call__(self, inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
        return latent_score(outputs, self.score)


@functools.cache
def _sampling_layer():
    import tensorflow as tf

    class Sampling(tf.keras.layers.Layer):
        """z = mu + sigma * eps while training; z = mu otherwise, so scoring is deterministic."""

        def call(self, inputs, training=None):
            mean, log_var = inputs
            if not training:
                return mean
            return mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))

    return Sampling


def _Sampling(**kwargs):  # noqa: N802 - a layer constructor; TensorFlow is imported lazily
    return _sampling_layer()(**kwargs)


def present_mask(inputs):
    """1 for each input value that belongs to a present object, 0 for padded slots (all three values zero)."""
    import tensorflow as tf

    objects = tf.reshape(inputs, (-1, N_OBJECTS, N_FEATURES))
    present = tf.cast(tf.reduce_any(tf.not_equal(objects, 0.0), axis=-1, keepdims=True), inputs.dtype)
    return tf.reshape(tf.repeat(present, N_FEATURES, axis=-1), (-1, N_INPUTS))


def masked_mse_loss(y_true, y_pred, scales: np.ndarray | None = DEFAULT_ANGLE_SCALES):
    """Training loss: mean squared error of the (decoded) reconstruction over present objects only."""
    import tensorflow as tf

    mask = present_mask(y_true)
    squared = tf.square(y_true - (decode_outputs_tf(y_pred, scales) if scales is not None else y_pred))
    return tf.reduce_sum(mask * squared, axis=-1) / tf.maximum(tf.reduce_sum(mask, axis=-1), 1.0)


def _present_values(inputs: np.ndarray) -> np.ndarray:
    """1 for each input value of a present object, 0 for padded slots (numpy, (N, 57))."""
    objects = inputs.reshape(len(inputs), N_OBJECTS, N_FEATURES)
    return np.repeat(np.any(objects != 0, axis=-1), N_FEATURES, axis=-1).reshape(len(inputs), N_INPUTS)


def masked_mse_score(inputs: np.ndarray, outputs: np.ndarray,
                     scales: np.ndarray | None = DEFAULT_ANGLE_SCALES) -> np.ndarray:
    """Anomaly score per event (numpy) from the decoder's outputs: the same masked MSE as the loss, in float64."""
    mask = _present_values(inputs)
    reconstruction = decode_outputs(outputs, scales) if scales is not None else np.asarray(outputs, dtype=np.float64)
    squared = np.square(inputs.astype(np.float64) - reconstruction)
    return (mask * squared).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)


@dataclass(frozen=True, eq=False)
class ReconstructionScore:
    """A reconstruction error ``sum_k c_k (x_k - decode_k(y_k))**2`` per event as a function of (network inputs,
    network outputs), picklable (fault-campaign workers take it). ``squared_error_terms`` exposes its form: the weights
    ``c`` (1/count over present objects' values, or 1/n over every value), the residuals and how far each decoded
    output can move per unit change of the output (``scale`` for tanh-decoded angles, 1 for values taken as they are),
    so a fault campaign can bound what a changed output does to the score."""

    scales: np.ndarray | None = None  # tanh-decoded angles (see decode_outputs); None: outputs taken as they are
    masked: bool = True  # over the values of present objects only (object inputs), else over every value

    def __call__(self, inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
        if self.masked:
            return masked_mse_score(inputs, outputs, self.scales)
        return np.square(inputs.astype(np.float64) - np.asarray(outputs, dtype=np.float64)).mean(axis=1)

    def squared_error_terms(self, inputs: np.ndarray, outputs: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(c, |x - decode(y)|, lipschitz)``, shapes (N, n), (N, n), (n,): the score is ``sum_k c_k r_k**2``."""
        x = inputs.reshape(len(inputs), -1).astype(np.float64)
        y = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
        if self.masked:
            mask = _present_values(inputs)
            weights = mask / np.maximum(mask.sum(axis=1), 1)[:, None]
        else:
            weights = np.full(x.shape, 1.0 / x.shape[1])
        if self.scales is None:
            return weights, np.abs(x - y), np.ones(x.shape[1])
        return weights, np.abs(x - decode_outputs(y, self.scales)), np.where(IS_ANGLE, np.abs(self.scales), 1.0)
