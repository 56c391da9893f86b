"""Distilled students' networks: small QKeras regressors of a teacher's anomaly score, as CMS's CICADA runs in the
trigger (the detector is :class:`l1ad.models.neural.StudentDetector`).

A student is an ordinary detector: ``score_samples`` is its one linear output (the teacher's score target it learned,
e.g. ``32 log(teacher MSE)``; higher = more anomalous), the whole network goes through hls4ml, and the evaluation,
firmware, fault and leaderboard stages treat it like any model. Only training differs, scikit-learn regressor style:
``fit(X, y, validation=(X_val, y_val))`` with ``y`` the targets of :class:`l1ad.distill.target.TeacherTarget`, which
the distillation stage computes from the teacher (this stage knows no teachers).

Architectures (anchors.md section 3, without the published students' batch normalisation: the fitted scaler already
brings the inputs to O(1)):

* ``student_dense``: the 57 trigger-object inputs -> ``encoder_units`` (ReLU) -> 1 (Pol et al. use 2n -> n -> n -> 1);
* ``student_regions``: the 252 calorimeter regions -> ``encoder_units`` -> 1 (CICADA v1: 252 -> 15/16 -> 1);
* ``student_conv``: the 18 x 14 region image -> Conv(``filters``, 3x3, stride 2, no padding) -> 8 x 6 x filters ->
  ``encoder_units`` -> 1 (CICADA v2: Conv(3) -> 144 -> 20 -> 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ad.benchmark.trigger.layout import N_REGION_ETA, N_REGION_PHI
from l1ad.config import MODELS, ModelConfig
from l1ad.models.autoencoder import N_INPUTS, _Layers
from l1ad.models.cicada import N_REGIONS


def _output(layers: _Layers, x):
    return layers.dense(x, 1, "target")


def build_dense_student(cfg: ModelConfig, n_inputs: int):
    """``n_inputs`` -> hidden dense layers (ReLU) -> one linear output."""
    layers = _Layers(cfg)
    inputs = layers.tf.keras.Input(shape=(n_inputs,), name="inputs")
    x = layers.stack(layers.input_quantizer(inputs), cfg.encoder_units, "hidden")
    return layers.tf.keras.Model(inputs, _output(layers, x), name=cfg.run_label)


def build_conv_student(cfg: ModelConfig):
    """The region image -> one strided 3x3 convolution (ReLU) -> hidden dense layers -> one linear output."""
    layers = _Layers(cfg)
    keras = layers.tf.keras.layers
    inputs = layers.tf.keras.Input(shape=(N_REGIONS,), name="inputs")
    x = keras.Reshape((N_REGION_PHI, N_REGION_ETA, 1), name="to_image")(layers.input_quantizer(inputs))
    filters = int(MODELS[cfg.name].param(cfg, "filters"))
    x = layers.relu(layers.conv2d(x, filters, (3, 3), "conv_0", strides=(2, 2), padding="valid"), "conv_act_0")
    x = layers.stack(keras.Flatten(name="flatten")(x), cfg.encoder_units, "hidden", 1)
    return layers.tf.keras.Model(inputs, _output(layers, x), name=cfg.run_label)


def build_student(cfg: ModelConfig):
    if cfg.name == "student_conv":
        return build_conv_student(cfg)
    return build_dense_student(cfg, N_REGIONS if MODELS[cfg.name].inputs == "regions" else N_INPUTS)


@dataclass(frozen=True)
class OutputScore:
    """The score of a student: its single network output, as float64 (picklable, for fault-campaign workers)."""

    def __call__(self, inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
        return np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)[:, 0]
