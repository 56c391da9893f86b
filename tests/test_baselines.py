"""Neural baselines beyond the dense AE: VAE (AXOL1TL-style), CNNs, the CICADA teacher, float variants, pruning."""

from __future__ import annotations

import numpy as np
import pytest

from l1ad.config import ModelConfig, PruningConfig, TrainingConfig
from l1ad.errors import L1adError, NotConvertibleError
from l1ad.models.autoencoder import decode_outputs, decode_outputs_tf, latent_score, masked_mse_loss, masked_mse_score
from l1ad.models.neural import AutoencoderDetector
from l1ad.models.registry import detector_class

pytestmark = pytest.mark.slow


def _fit(tiny_dataset, training: TrainingConfig | None = None, **model):
    cfg = ModelConfig(**model)
    detector = detector_class(cfg.name)(cfg, training or TrainingConfig(epochs=6, batch_size=256), seed=3)
    train, validation = tiny_dataset.background("train"), tiny_dataset.background("validation")
    return detector.fit(detector.inputs_of(train), detector.inputs_of(validation))


@pytest.fixture(scope="module")
def vae(tiny_dataset):
    return _fit(tiny_dataset, name="dense_vae")


def test_latent_scores_by_hand():
    mean = np.array([[1.0, -2.0], [0.0, 0.0]])
    log_var = np.array([[0.0, np.log(4.0)], [0.0, 0.0]])
    both = np.concatenate((mean, log_var), axis=1)
    assert latent_score(mean, "mu2").tolist() == [5.0, 0.0]
    assert latent_score(both, "rz") == pytest.approx([1.0 + 4.0 / 4.0, 0.0])
    kl_first = -0.5 * ((1 + 0 - 1 - 1) + (1 + np.log(4.0) - 4 - 4))
    assert latent_score(both, "kl") == pytest.approx([kl_first, 0.0])


def test_decoded_angles_stay_within_the_acceptance_of_each_object_class():
    huge = np.full((2, 57), 50.0)
    huge[1] *= -1
    objects = decode_outputs(huge).reshape(2, 19, 3)
    assert np.all(objects[:, :, 0] == huge.reshape(2, 19, 3)[:, :, 0])  # pT is not decoded
    assert objects[0, 0, 1] == 0  # MET carries no eta
    for rows, acceptance in ((slice(1, 5), 3.0), (slice(5, 9), 2.4), (slice(9, 19), 4.0)):  # e/gamma, muons, jets
        assert objects[0, rows, 1] == pytest.approx(acceptance) and objects[1, rows, 1] == pytest.approx(-acceptance)
    assert np.allclose(np.abs(objects[:, :, 2]), np.pi)
    assert decode_outputs(np.zeros((1, 57))).tolist() == np.zeros((1, 57)).tolist()


def test_mse_score_and_loss_agree_and_vanish_for_a_perfect_decoder_output():
    rng = np.random.default_rng(0)
    inputs = np.zeros((4, 19, 3), dtype=np.float32)
    inputs[:, :7] = rng.uniform(-1, 1, size=(4, 7, 3))  # MET, 4 e/gamma, 2 muons present; the rest padded
    inputs[:, 0, 1] = 0.0
    inputs = inputs.reshape(4, 57)
    scales = decode_outputs(np.full((1, 57), 1e3))[0]  # acceptance per value (pT: 1e3, never used)
    ratio = np.divide(inputs, scales, out=np.zeros_like(inputs, dtype=np.float64), where=scales > 0)  # MET eta: 0
    perfect = np.where(np.arange(57) % 3 == 0, inputs, np.arctanh(ratio))
    assert masked_mse_score(inputs, perfect) == pytest.approx(np.zeros(4), abs=1e-10)
    outputs = rng.normal(size=(4, 57)).astype(np.float32)
    loss = masked_mse_loss(inputs, outputs).numpy()
    assert loss == pytest.approx(masked_mse_score(inputs, outputs), rel=1e-5)
    assert np.asarray(decode_outputs_tf(outputs)) == pytest.approx(decode_outputs(outputs), rel=1e-5)


def test_linear_angles_option_scores_raw_outputs_and_unknown_choice_is_rejected():
    rng = np.random.default_rng(1)
    inputs, outputs = rng.normal(size=(3, 57)), rng.normal(size=(3, 57)) * 3
    tanh = AutoencoderDetector(ModelConfig(name="dense_ae"))
    linear = AutoencoderDetector(ModelConfig(name="dense_ae", params={"angles": "linear"}))
    assert tanh.decodes_angles and not linear.decodes_angles
    assert linear.score_from_outputs(inputs, outputs) == pytest.approx(np.square(inputs - outputs).mean(axis=1))
    assert not np.allclose(tanh.score_from_outputs(inputs, outputs), linear.score_from_outputs(inputs, outputs))
    with pytest.raises(ValueError, match="angles must be one of tanh, linear"):
        ModelConfig(name="cnn_ae", params={"angles": "cubic"})


def test_vae_learns_with_kl_and_scores_ttbar_higher(vae, tiny_dataset):
    assert "kl" in vae.history and vae.history["loss"][-1] < vae.history["loss"][0]
    bg = vae.score_samples(tiny_dataset.background("test").particles)
    tt = vae.score_samples(tiny_dataset.sample("ttbar").particles)
    assert np.median(tt) > np.median(bg)
    assert [layer.name for layer in vae.trigger_network().layers][-1] == "z_mean"  # mu2: the encoder alone


def test_vae_kl_is_weighed_per_input_value():
    """The loss adds beta x KL / 57, as the reconstruction is a mean over the input values; added unnormalised, the
    KL collapsed the posterior on the zb dataset (README "Baselines"; too few events here to show it)."""
    import tensorflow as tf

    from l1ad.models.autoencoder import N_INPUTS, build_dense_vae, vae_trigger_model

    cfg = ModelConfig(name="dense_vae", quantization=None, latent_dim=4)
    tf.keras.utils.set_random_seed(1)
    model = build_dense_vae(cfg, beta=0.25)
    x = np.random.default_rng(0).normal(size=(64, N_INPUTS)).astype(np.float32)
    model(x, training=False)
    kl = latent_score(vae_trigger_model(model, "kl").predict(x, verbose=0), "kl").mean()
    assert float(tf.add_n(model.losses)) == pytest.approx(0.25 * kl / N_INPUTS, rel=1e-4)


def test_vae_saves_loads_and_switches_scores(vae, tiny_dataset, tmp_path):
    particles = tiny_dataset.background("test").particles[:500]
    vae.save(tmp_path / "vae")
    loaded = AutoencoderDetector.load(tmp_path / "vae")
    assert np.array_equal(loaded.score_samples(particles), vae.score_samples(particles))
    # The same weights scored with KL: the encoder now also returns log sigma^2.
    kl = AutoencoderDetector(vae.model_config.model_copy(update={"params": {"score": "kl"}}), seed=3)
    kl.scaler, kl.keras_model = vae.scaler, vae.keras_model
    scores = kl.score_samples(particles)
    assert kl.trigger_network().output_shape == (None, 2 * vae.model_config.latent_dim)
    assert (scores >= 0).all() and not np.array_equal(scores, vae.score_samples(particles))


def test_latent_variances_are_those_of_the_encoder_means(vae, tiny_dataset, tiny_run):
    from l1ad.errors import ConfigError
    from l1ad.models.autoencoder import vae_trigger_model
    from l1ad.models.registry import load_detector

    particles = tiny_dataset.background("test").particles[:700]
    means = vae_trigger_model(vae.keras_model, "mu2").predict(vae.network_inputs(particles), verbose=0)
    variances = vae.latent_variances(particles)
    assert variances.shape == (vae.model_config.latent_dim,)
    np.testing.assert_allclose(variances, means.astype(np.float64).var(axis=0), rtol=1e-6)
    with pytest.raises(ConfigError, match="is not a VAE"):
        load_detector(tiny_run.paths.model).latent_variances(particles)


def test_unknown_vae_score_is_rejected():
    with pytest.raises(ValueError, match="score must be one of mu2, kl, rz, mse"):
        ModelConfig(name="dense_vae", params={"score": "likelihood"})


def test_float_autoencoder_has_no_quantizers(tiny_dataset):
    detector = _fit(tiny_dataset, name="dense_ae", quantization=None)
    assert not any(type(layer).__name__.startswith("Q") for layer in detector.keras_model.layers)
    x = detector.network_inputs(tiny_dataset.background("test").particles[:100])
    assert np.array_equal(x, detector.scaler.transform(tiny_dataset.background("test").particles[:100]).astype(np.float32))


def test_vae_encoder_goes_through_hls4ml_bit_exactly(vae, tiny_dataset, tiny_config, tmp_path):
    from l1ad.firmware.hls import build_hls_model, compare, firmware_scores

    assert vae.trigger_network() is vae.trigger_network()  # the encoder, built once
    hls_model, _ = build_hls_model(vae, tiny_config.firmware, tmp_path / "prj")
    particles = tiny_dataset.background("test").particles[:2000]
    keras = vae.score_samples(particles)
    agreement = compare("background_test", keras, firmware_scores(hls_model, vae, vae.network_inputs(particles)),
                        {"median": float(np.median(keras))})
    assert agreement.max_abs_score_difference == 0.0


def test_vae_reconstruction_score_is_not_convertible(vae):
    mse = AutoencoderDetector(vae.model_config.model_copy(update={"params": {"score": "mse"}}), seed=3)
    mse.scaler, mse.keras_model = vae.scaler, vae.keras_model
    with pytest.raises(NotConvertibleError, match="sampling layer"):
        mse.trigger_network()
    assert np.isfinite(mse.score_samples(np.zeros((3, 19, 4), dtype=np.float32))).all()  # it still scores
    with pytest.raises(L1adError, match="not fitted"):
        AutoencoderDetector(vae.model_config).trigger_network()  # noqa: B018


def test_cnn_autoencoder_learns(tiny_dataset):
    cnn = _fit(tiny_dataset, name="cnn_ae", latent_dim=8)
    assert any(layer.name == "enc_conv_0" for layer in cnn.keras_model.layers)
    bg = cnn.score_samples(tiny_dataset.background("test").particles)
    tt = cnn.score_samples(tiny_dataset.sample("ttbar").particles)
    assert np.median(tt) > np.median(bg)


def test_cicada_teacher_reads_regions(tiny_dataset, tmp_path):
    teacher = _fit(tiny_dataset, name="cicada_teacher", latent_dim=16, quantization=None)
    regions = tiny_dataset.background("test").regions
    scores = teacher.score_samples(regions)
    assert scores.shape == (len(regions),)
    assert np.median(teacher.score_samples(tiny_dataset.sample("ttbar").regions)) > np.median(scores)
    teacher.save(tmp_path / "teacher")
    from l1ad.models.io import read_card
    from l1ad.models.registry import load_detector

    score = read_card(tmp_path / "teacher").score
    assert "calorimeter regions" in score and "present objects" not in score  # not the trigger-object AE's text

    # the same batch on both sides: a convolution's float result may depend on the batch it is computed in
    assert np.array_equal(load_detector(tmp_path / "teacher").score_samples(regions[:300]),
                          teacher.score_samples(regions[:300]))
    with pytest.raises(L1adError, match=r"expected calorimeter regions of shape \(N, 18, 14\)"):
        teacher.score_samples(tiny_dataset.background("test").particles)


def test_pruning_reaches_its_sparsity_and_survives_saving(tiny_dataset, tmp_path):
    training = TrainingConfig(epochs=6, batch_size=256, pruning=PruningConfig(final_sparsity=0.6, ramp_fraction=0.5))
    pruned = _fit(tiny_dataset, training, name="dense_ae")
    assert pruned.weight_sparsity() == pytest.approx(0.6, abs=0.02)
    assert pruned.history["weight_sparsity"] == [pruned.weight_sparsity()]
    pruned.save(tmp_path / "pruned")
    loaded = AutoencoderDetector.load(tmp_path / "pruned")
    assert loaded.weight_sparsity() == pruned.weight_sparsity()
    particles = tiny_dataset.background("test").particles[:300]
    assert np.array_equal(loaded.score_samples(particles), pruned.score_samples(particles))
    assert _fit(tiny_dataset, name="dense_ae").weight_sparsity() < 0.05
