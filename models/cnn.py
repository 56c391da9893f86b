"""Convolutional autoencoder and VAE on the trigger objects seen as a 19 x 3 image (objects x pT, eta, phi).

The shape follows the published CNN baselines (Govorkova et al., Nat. Mach. Intell. 4 (2022) 154, arXiv:2108.03986):
Conv2D(16, 3x3) -> AvgPool(3, 1) -> Conv2D(32, 3x1) -> AvgPool(3, 1) -> Dense(latent); the decoder mirrors it with up-sampling. The network reads the same 57 inputs as the
dense models (reshaped inside), so preprocessing, scores and the saved format are shared.
"""

from __future__ import annotations

from l1ad.benchmark.trigger.layout import N_OBJECTS
from l1ad.config import ModelConfig
from l1ad.models.autoencoder import N_FEATURES, N_INPUTS, _Layers, variational_latent

_POOLED_ROWS = 2  # 19 -> 6 -> 2 after two AvgPool(3, 1)


def _encoder(layers: _Layers, inputs):
    keras = layers.tf.keras.layers
    x = keras.Reshape((N_OBJECTS, N_FEATURES, 1), name="to_image")(layers.input_quantizer(inputs))
    x = layers.relu(layers.conv2d(x, 16, (3, 3), "enc_conv_0"), "enc_act_0")
    x = keras.AveragePooling2D((3, 1), name="enc_pool_0")(x)
    x = layers.relu(layers.conv2d(x, 32, (3, 1), "enc_conv_1"), "enc_act_1")
    x = keras.AveragePooling2D((3, 1), name="enc_pool_1")(x)
    return keras.Flatten(name="enc_flatten")(x)


def _decoder(layers: _Layers, z):
    keras = layers.tf.keras.layers
    x = layers.relu(layers.dense(z, _POOLED_ROWS * N_FEATURES * 32, "dec_dense_0"), "dec_act_0")
    x = keras.Reshape((_POOLED_ROWS, N_FEATURES, 32), name="dec_image")(x)
    x = keras.UpSampling2D((3, 1), name="dec_up_0")(x)
    x = layers.relu(layers.conv2d(x, 16, (3, 1), "dec_conv_1"), "dec_act_1")
    x = keras.UpSampling2D((3, 1), name="dec_up_1")(x)  # 18 rows
    x = keras.ZeroPadding2D(((0, 1), (0, 0)), name="dec_pad")(x)  # 19 rows
    x = layers.conv2d(x, 1, (3, 3), "dec_conv_2")
    return keras.Flatten(name="reconstruction")(x)


def build_cnn_autoencoder(cfg: ModelConfig):
    layers = _Layers(cfg)
    inputs = layers.tf.keras.Input(shape=(N_INPUTS,), name="inputs")
    z = layers.relu(layers.dense(_encoder(layers, inputs), cfg.latent_dim, "latent_dense"), "latent_act")
    return layers.tf.keras.Model(inputs, _decoder(layers, z), name=cfg.name)


def build_cnn_vae(cfg: ModelConfig, beta: float):
    layers = _Layers(cfg)
    inputs = layers.tf.keras.Input(shape=(N_INPUTS,), name="inputs")
    z, finish = variational_latent(layers, _encoder(layers, inputs), cfg.latent_dim, beta)
    return finish(layers.tf.keras.Model(inputs, _decoder(layers, z), name=cfg.name))
