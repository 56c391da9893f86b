"""CICADA-style teacher: a convolutional autoencoder on the 18 (phi) x 14 (eta) calorimeter region energies.

Shape as published for the teacher of CMS's CICADA (the calorimeter layer-1 anomaly trigger): Conv(20) -> AvgPool(2x2)
-> Conv(30) -> Dense(80) latent -> mirrored decoder, trained on zero-bias background with the MSE over all 252 regions (no padding to mask).
The teacher is too large for the trigger; distillation (a later stage) trains small students on its score, so it is
usually built in float (``quantization: null``).
"""

from __future__ import annotations

import numpy as np

from l1ad.benchmark.trigger.layout import N_REGION_ETA, N_REGION_PHI
from l1ad.config import ModelConfig
from l1ad.models.autoencoder import _Layers

N_REGIONS = N_REGION_PHI * N_REGION_ETA


def build_cicada_teacher(cfg: ModelConfig):
    layers = _Layers(cfg)
    keras = layers.tf.keras.layers
    inputs = layers.tf.keras.Input(shape=(N_REGIONS,), name="inputs")
    x = keras.Reshape((N_REGION_PHI, N_REGION_ETA, 1), name="to_image")(layers.input_quantizer(inputs))
    x = layers.relu(layers.conv2d(x, 20, (3, 3), "enc_conv_0"), "enc_act_0")
    x = keras.AveragePooling2D((2, 2), name="enc_pool_0")(x)
    x = layers.relu(layers.conv2d(x, 30, (3, 3), "enc_conv_1"), "enc_act_1")
    pooled = (N_REGION_PHI // 2, N_REGION_ETA // 2, 30)
    x = keras.Flatten(name="enc_flatten")(x)
    z = layers.relu(layers.dense(x, cfg.latent_dim, "latent_dense"), "latent_act")
    x = layers.relu(layers.dense(z, int(np.prod(pooled)), "dec_dense_0"), "dec_act_0")
    x = keras.Reshape(pooled, name="dec_image")(x)
    x = layers.relu(layers.conv2d(x, 20, (3, 3), "dec_conv_1"), "dec_act_1")
    x = keras.UpSampling2D((2, 2), name="dec_up_1")(x)
    x = layers.conv2d(x, 1, (3, 3), "dec_conv_2")
    return layers.tf.keras.Model(inputs, keras.Flatten(name="reconstruction")(x), name=cfg.name)
