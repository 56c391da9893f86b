"""Quantized dense autoencoder on the 57 trigger-object inputs, and its anomaly score.

Architecture (anchors section 2-3): input quantizer -> QDense encoder (AXOL1TL-sized, 57 -> 32 -> 16) -> latent ->
mirrored decoder -> 57 linear outputs. Inputs pass a ``quantized_bits`` activation first, so Keras sees exactly the
fixed-point values the firmware receives. The score is the reconstruction MSE over the objects that are present
(padded slots excluded), higher = more anomalous.
"""

from __future__ import annotations

import numpy as np

from l1ad.benchmark.emulation import N_OBJECTS
from l1ad.config import ModelConfig

N_FEATURES = 3  # pT, eta, phi per object
N_INPUTS = N_OBJECTS * N_FEATURES


def build_dense_autoencoder(cfg: ModelConfig):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    q = cfg.quantization
    weights = quantized_bits(q.weight_bits, q.weight_integer_bits, alpha=1)
    act = quantized_relu(q.activation_bits, q.activation_integer_bits)

    inputs = tf.keras.Input(shape=(N_INPUTS,), name="inputs")
    x = QActivation(quantized_bits(q.input_bits, q.input_integer_bits, alpha=1), name="input_quantizer")(inputs)
    units = [*cfg.encoder_units, cfg.latent_dim, *reversed(cfg.encoder_units)]
    for i, n in enumerate(units):
        role = "latent" if i == len(cfg.encoder_units) else ("enc" if i < len(cfg.encoder_units) else "dec")
        x = QDense(n, kernel_quantizer=weights, bias_quantizer=weights, name=f"{role}_dense_{i}")(x)
        x = QActivation(act, name=f"{role}_act_{i}")(x)
    outputs = QDense(N_INPUTS, kernel_quantizer=weights, bias_quantizer=weights, name="reconstruction")(x)
    return tf.keras.Model(inputs, outputs, name=cfg.name)


def present_mask(inputs):
    """1 for each input value that belongs to a present object, 0 for padded slots (all three values zero)."""
    import tensorflow as tf

    objects = tf.reshape(inputs, (-1, N_OBJECTS, N_FEATURES))
    present = tf.cast(tf.reduce_any(tf.not_equal(objects, 0.0), axis=-1, keepdims=True), inputs.dtype)
    return tf.reshape(tf.repeat(present, N_FEATURES, axis=-1), (-1, N_INPUTS))


def masked_mse_loss(y_true, y_pred):
    """Training loss: mean squared reconstruction error over present objects only."""
    import tensorflow as tf

    mask = present_mask(y_true)
    return tf.reduce_sum(mask * tf.square(y_true - y_pred), axis=-1) / tf.maximum(tf.reduce_sum(mask, axis=-1), 1.0)


def masked_mse_score(inputs: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """Anomaly score per event (numpy): the same masked MSE as the loss, in float64."""
    objects = inputs.reshape(len(inputs), N_OBJECTS, N_FEATURES)
    mask = np.repeat(np.any(objects != 0, axis=-1), N_FEATURES, axis=-1).reshape(len(inputs), N_INPUTS)
    squared = np.square(inputs.astype(np.float64) - reconstruction.astype(np.float64))
    return (mask * squared).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)
