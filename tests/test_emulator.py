"""The bit-exact fixed-point emulator against hls4ml's compiled C++ model (real hls4ml projects, built with g++).

Every layer type the baselines use, randomly generated small QKeras models with random bit widths and rounding and
overflow modes, the firmware scores, and the checks that must fail: a wrong precision, an unsupported layer.
"""

import numpy as np
import pytest

from l1ad.firmware.emulator import EmulationError, FixedPointNetwork
from l1ad.firmware.fixed import FixedType, cast

pytestmark = pytest.mark.slow


# -- ap_fixed casts, against values worked out by hand ------------------------------------------------------------
@pytest.mark.parametrize(("rounding", "expected"), [
    ("TRN", [-3, -3, -2, -1, 0, 1, 1, 2]),
    ("TRN_ZERO", [-2, -2, -1, 0, 0, 1, 1, 2]),
    ("RND", [-2, -2, -1, -1, 1, 1, 2, 3]),
    ("RND_ZERO", [-2, -2, -1, -1, 0, 1, 1, 2]),
    ("RND_INF", [-3, -2, -2, -1, 1, 1, 2, 3]),
    ("RND_MIN_INF", [-3, -2, -2, -1, 0, 1, 1, 2]),
    ("RND_CONV", [-2, -2, -2, -1, 0, 1, 2, 2]),
])
def test_rounding_modes(rounding, expected):
    x = np.array([-2.5, -2.25, -1.5, -0.75, 0.5, 1.25, 1.5, 2.5])
    t = FixedType(width=8, integer=8, rounding=rounding, overflow="WRAP")  # an integer type: LSB 1
    np.testing.assert_array_equal(cast(x, t), expected)


@pytest.mark.parametrize(("overflow", "signed", "expected"), [
    ("WRAP", True, [-8, -7, 7, -8, -6, 6]),      # ap_fixed<4,4>: 8 -> -8, 10 -> -6, -10 -> 6
    ("SAT", True, [-8, -7, 7, 7, 7, -8]),
    ("SAT_SYM", True, [-7, -7, 7, 7, 7, -7]),
    ("SAT_ZERO", True, [-8, -7, 7, 0, 0, 0]),
    ("WRAP", False, [8, 9, 7, 8, 10, 6]),        # ap_ufixed<4,4>: -8 -> 8, -7 -> 9
    ("SAT", False, [0, 0, 7, 8, 10, 0]),
])
def test_overflow_modes(overflow, signed, expected):
    x = np.array([-8.0, -7.0, 7.0, 8.0, 10.0, -10.0])
    t = FixedType(width=4, integer=4, signed=signed, rounding="TRN", overflow=overflow)
    np.testing.assert_array_equal(cast(x, t), expected)


def test_fractional_cast():
    t = FixedType(width=6, integer=2, rounding="RND_CONV", overflow="SAT")  # LSB 1/16, range [-2, 2 - 1/16]
    np.testing.assert_array_equal(cast(np.array([0.03125, 0.09375, 1.99, 5.0, -3.0]), t),
                                  [0.0, 0.125, 1.9375, 1.9375, -2.0])


# -- against hls4ml ---------------------------------------------------------------------------------------------
def _hls(keras_model, tmp_path, *, input_precision="ap_fixed<16,8>", overrides=None, name="prj"):
    import hls4ml

    config = hls4ml.utils.config_from_keras_model(keras_model, granularity="name", default_precision="ap_fixed<24,12>",
                                                  backend="Vitis")
    config["LayerName"][keras_model.layers[0].name]["Precision"] = input_precision
    for layer, precision in (overrides or {}).items():
        config["LayerName"][layer]["Precision"].update(precision)
    hls_model = hls4ml.converters.convert_from_keras_model(keras_model, hls_config=config,
                                                           output_dir=str(tmp_path / name), backend="Vitis",
                                                           io_type="io_parallel")
    hls_model.compile()
    return hls_model


def _events(rng, n, n_inputs, frac_bits=8, scale=3.0):
    x = np.round(rng.normal(0, scale, (n, n_inputs)) * 2**frac_bits) / 2**frac_bits
    x[rng.random(x.shape) < 0.3] = 0.0
    return x


def _randomize(keras_model, rng, scale=0.5):
    for layer in keras_model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(0, scale, w.shape).astype(np.float32) for w in weights])
    return keras_model


def _assert_bit_exact(hls_model, x, net=None):
    net = net or FixedPointNetwork.from_hls(hls_model, model="test")
    reference = np.asarray(hls_model.predict(x)).reshape(len(x), -1)
    emulated = net.predict(x)
    assert emulated.shape == reference.shape
    assert np.array_equal(emulated, reference), f"{(emulated != reference).mean():.2%} of outputs differ"
    return net


@pytest.mark.parametrize("model_name", ["dense_ae", "cnn_ae", "dense_vae", "cnn_vae"])
def test_baseline_architectures_are_bit_exact(model_name, tmp_path):
    """Dense, ReLU and quantizer layers (dense AE), Conv2D / AveragePooling2D / UpSampling2D / ZeroPadding2D (CNNs),
    the VAE encoders with Concatenate (kl/rz heads)."""
    from l1ad.config import ModelConfig, QuantizationConfig
    from l1ad.models.autoencoder import vae_trigger_model
    from l1ad.models.builders import build_network

    rng = np.random.default_rng(1)
    keras_model = _randomize(build_network(ModelConfig(name=model_name, quantization=QuantizationConfig()), 1), rng)
    if "vae" in model_name:
        keras_model = vae_trigger_model(keras_model, "kl")
    hls_model = _hls(keras_model, tmp_path)
    _assert_bit_exact(hls_model, _events(rng, 3000 if "cnn" in model_name else 20000, 57))


@pytest.mark.parametrize("seed", range(4))
def test_random_models_with_random_precisions(seed, tmp_path):
    """Random QKeras MLPs (with a batch normalization), random bit widths, and hls4ml precision overrides with random
    rounding and overflow modes, so per-product rounding and saturating accumulators are exercised too."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(3, 20))
    inputs = tf.keras.Input((n_in,), name="inputs")
    x = QActivation(quantized_bits(int(rng.integers(6, 14)), int(rng.integers(2, 6)), alpha=1), name="q_in")(inputs)
    overrides = {}
    for i in range(int(rng.integers(1, 4))):
        bits = int(rng.integers(3, 9))
        x = QDense(int(rng.integers(2, 12)), kernel_quantizer=quantized_bits(bits, int(rng.integers(0, 2)), alpha=1),
                   bias_quantizer=quantized_bits(bits, 1, alpha=1), name=f"dense_{i}")(x)
        if rng.random() < 0.5:
            width = int(rng.integers(8, 16))
            rounding, overflow = rng.choice(["AP_TRN", "AP_RND", "AP_RND_CONV"]), rng.choice(["AP_WRAP", "AP_SAT"])
            overrides[f"dense_{i}"] = {"accum": f"ap_fixed<{width},{width // 2},{rounding},{overflow}>",
                                       "result": f"ap_fixed<{width},{width // 2},{rounding},{overflow}>"}
        if i == 0:
            x = tf.keras.layers.BatchNormalization(name="norm")(x)
        x = QActivation(quantized_relu(int(rng.integers(4, 10)), int(rng.integers(1, 4))), name=f"relu_{i}")(x)
    outputs = QDense(int(rng.integers(1, 6)), kernel_quantizer=quantized_bits(6, 0, alpha=1),
                     bias_quantizer=quantized_bits(6, 0, alpha=1), name="out")(x)
    keras_model = _randomize(tf.keras.Model(inputs, outputs), rng, scale=0.8)
    norm = keras_model.get_layer("norm")
    norm.set_weights([rng.uniform(0.5, 2, w.shape).astype(np.float32) if i in (0, 3) else
                      rng.normal(0, 0.5, w.shape).astype(np.float32) for i, w in enumerate(norm.get_weights())])
    hls_model = _hls(keras_model, tmp_path, input_precision="ap_fixed<14,7>", overrides=overrides)
    _assert_bit_exact(hls_model, _events(rng, 5000, n_in, frac_bits=7))


def test_wrong_precision_is_detected(tmp_path):
    """The comparison must be able to fail: an emulator told one ReLU keeps one fractional bit fewer disagrees."""
    from l1ad.config import ModelConfig, QuantizationConfig
    from l1ad.firmware.network import FixedNetwork
    from l1ad.models.builders import build_network

    rng = np.random.default_rng(2)
    keras_model = _randomize(build_network(ModelConfig(quantization=QuantizationConfig()), 1), rng)
    hls_model = _hls(keras_model, tmp_path)
    network = FixedPointNetwork.from_hls(hls_model, model="test").network
    layers = [layer.model_copy(update={"type": layer.type.model_copy(update={"width": layer.type.width - 1})})
              if layer.name == "enc_act_0" else layer for layer in network.layers]
    wrong = FixedPointNetwork(FixedNetwork.model_validate({**network.model_dump(), "layers": [
        layer.model_dump() for layer in layers]}))
    x = _events(rng, 2000, 57)
    reference = np.asarray(hls_model.predict(x)).reshape(len(x), -1)
    assert not np.array_equal(wrong.predict(x), reference)
    with pytest.raises(AssertionError, match="outputs differ"):
        _assert_bit_exact(hls_model, x, wrong)


def test_firmware_scores_are_exact(tmp_path):
    """mu2 as an exact fixed-point sum of squares equals the software score of the same outputs, bit for bit; so does
    the masked MSE of a linear reconstruction."""
    from l1ad.config import ModelConfig, QuantizationConfig
    from l1ad.firmware.scoring import with_score
    from l1ad.models.autoencoder import latent_score, masked_mse_score, vae_trigger_model
    from l1ad.models.builders import build_network

    rng = np.random.default_rng(3)
    q = QuantizationConfig()
    vae = _randomize(build_network(ModelConfig(name="dense_vae", quantization=q), 1), rng)
    encoder = _hls(vae_trigger_model(vae, "mu2"), tmp_path, name="enc")
    x = _events(rng, 5000, 57)
    net = FixedPointNetwork(with_score(FixedPointNetwork.from_hls(encoder, model="vae").network, "sum_squares"))
    np.testing.assert_array_equal(net.score(x), latent_score(net.predict(x), "mu2"))

    ae = _hls(_randomize(build_network(ModelConfig(quantization=q), 1), rng), tmp_path, name="ae")
    net = FixedPointNetwork(with_score(FixedPointNetwork.from_hls(ae, model="ae").network, "masked_mse"))
    x = np.asarray(net.run(x, keep=("inputs",))["inputs"])  # the input layer's values: what the network reads
    np.testing.assert_array_equal(net.score(x), masked_mse_score(x, net.predict(x), None))


def test_unsupported_layer_is_one_line(tmp_path):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    inputs = tf.keras.Input((4,), name="inputs")
    x = QDense(3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1),
               name="dense")(QActivation(quantized_bits(8, 3, alpha=1), name="q")(inputs))
    hls_model = _hls(tf.keras.Model(inputs, tf.keras.layers.Activation("softmax", name="soft")(x)), tmp_path)
    with pytest.raises(EmulationError, match=r"^toy: layer 'soft' \(Softmax\) is not supported by the emulator$") as caught:
        FixedPointNetwork.from_hls(hls_model, model="toy")
    assert "\n" not in str(caught.value)


def test_firmware_stage_reports_the_emulation(tiny_run):
    """The tiny run's firmware report: emulator identical to hls4ml C++ on every test event, firmware-exact
    efficiencies at every working point (equal to Keras for this bit-exact model), the network file beside it."""
    from l1ad.firmware.network import read_network
    from l1ad.firmware.report import read_firmware_report

    report = read_firmware_report(tiny_run.paths.firmware)
    emulation = report.emulation
    identical, compared = emulation.identical_outputs()
    assert identical == compared == sum(a.n_events for a in report.agreement) > 0
    assert all(n == 0 for a in emulation.agreement for n in a.decision_mismatch_events.values())
    assert emulation.score.startswith("software")  # the default AE decodes angles with tanh: labelled as software
    metrics_wps = {(a.sample, wp) for a in report.agreement for wp in a.decision_mismatch}
    assert {wp.working_point for wp in emulation.working_points} == {wp for _, wp in metrics_wps}
    for wp in emulation.working_points:
        assert wp.efficiency == wp.keras_efficiency and wp.efficiency_lo <= wp.efficiency <= wp.efficiency_hi
    network = read_network(tiny_run.paths.firmware / emulation.network_file)
    assert network.model == report.model and network.layers[0].kind == "input"


def test_firmware_report_of_an_older_schema_is_refused(tiny_run, tmp_path):
    import json

    from l1ad.errors import StageOutputError
    from l1ad.firmware.report import FIRMWARE_REPORT, read_firmware_report

    old = json.loads((tiny_run.paths.firmware / FIRMWARE_REPORT).read_text())
    old["schema"] = "l1ad-firmware/1"
    (tmp_path / FIRMWARE_REPORT).write_text(json.dumps(old))
    with pytest.raises(StageOutputError, match=r"firmware report of schema 'l1ad-firmware/1', this version of l1ad "
                                               r"reads l1ad-firmware/2; re-run 'l1ad firmware'"):
        read_firmware_report(tmp_path)


# -- the three exact convolution products agree with a plain loop over output positions ----------------------------
@pytest.mark.parametrize(("image", "kernel", "stride", "padding"), [
    ((19, 3, 1), (3, 3, 1, 16), (1, 1), (1, 1, 1, 1)),  # the CNNs' first layer: one channel, many filters
    ((6, 3, 16), (3, 1, 16, 32), (1, 1), (1, 1, 0, 0)),
    ((19, 3, 16), (3, 3, 16, 1), (1, 1), (1, 1, 1, 1)),  # the decoders' last layer: many channels, one filter
    ((7, 5, 3), (2, 3, 3, 4), (2, 1), (0, 1, 2, 0)),
])
def test_convolution_products_are_exact(image, kernel, stride, padding, monkeypatch):
    from l1ad.firmware import emulator
    from l1ad.firmware.network import Conv2DLayer, FixedNetwork, InputLayer

    rng = np.random.default_rng(sum(image) + sum(kernel))
    in_t, w_t = FixedType(width=12, integer=5, rounding="RND_CONV", overflow="SAT"), FixedType(width=7, integer=1)
    acc_t, out_t = FixedType(width=40, integer=20), FixedType(width=14, integer=6, rounding="RND", overflow="SAT")
    w_int = rng.integers(-64, 64, kernel)
    b_int = rng.integers(-64, 64, kernel[3])
    net = FixedNetwork(model="conv", source="test", outputs=["conv"], layers=[
        InputLayer(name="inputs", shape=list(image), type=in_t),
        Conv2DLayer(name="conv", input="inputs", kernel_shape=kernel, weight=w_int.ravel().tolist(), weight_type=w_t,
                    bias=b_int.tolist(), bias_type=w_t, accum_type=acc_t, stride=stride, padding=padding, type=out_t)])
    x = cast(rng.normal(0, 8, (300, *image)), in_t)

    # reference: integer sums over each output's window, then the cast to the output type
    top, bottom, left, right = padding
    xi = np.pad(np.ldexp(x, in_t.frac).astype(np.int64), ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw, _, filters = kernel
    out_h, out_w = (xi.shape[1] - kh) // stride[0] + 1, (xi.shape[2] - kw) // stride[1] + 1
    total = np.zeros((len(x), out_h, out_w, filters), dtype=np.int64)
    for i in range(out_h):
        for j in range(out_w):
            window = xi[:, i * stride[0] : i * stride[0] + kh, j * stride[1] : j * stride[1] + kw]
            total[:, i, j] = np.einsum("nabc,abcf->nf", window, w_int)
    expected = cast(np.ldexp(total.astype(np.float64), -(in_t.frac + w_t.frac)) + np.ldexp(b_int, -w_t.frac), out_t)

    for method in ("patches", "by offset", "all offsets"):
        monkeypatch.setattr(emulator, "_conv_method", lambda *costs, method=method: method)
        np.testing.assert_array_equal(FixedPointNetwork(net).predict(x.reshape(len(x), -1)),
                                      expected.reshape(len(x), -1), err_msg=method)
