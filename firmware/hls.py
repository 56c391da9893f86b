"""hls4ml conversion of a saved model and the agreement between Keras and the firmware's bit-accurate C++ model.

The hls4ml project is written to disk as it would be synthesized (Vitis backend, io_parallel, Latency strategy by
default). Without Vivado/Vitis HLS on this machine, the C++ model is compiled with g++ by ``hls_model.compile()`` and run
on the same inputs as Keras: that is a bit-accurate emulation of the firmware's arithmetic, not a synthesis. Latency and
resources need C synthesis or the open-source RTL path; the report says which vendor tools it looked for.

For QKeras layers hls4ml infers accumulator and result widths exactly ("auto") from the quantizers, which is what makes
the emulation agree with Keras bit for bit; ``firmware.layer_precision`` overrides a layer's widths to study truncation.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np

from l1ad.benchmark.evaluation.report import MetricsReport
from l1ad.config import EvaluationConfig, FirmwareConfig
from l1ad.errors import ConfigError, L1adError, NotConvertibleError, first_line
from l1ad.firmware.report import FirmwareReport, SampleAgreement


def hls_config(keras_model, cfg: FirmwareConfig, input_bits: int | None, input_integer_bits: int | None) -> dict:
    """hls4ml configuration; the input precision matches the QKeras input quantizer (float models: the default)."""
    import hls4ml

    config = hls4ml.utils.config_from_keras_model(
        keras_model, granularity="name", default_precision=cfg.default_precision, backend=cfg.backend
    )
    config["Model"]["Strategy"] = cfg.strategy
    config["Model"]["ReuseFactor"] = cfg.reuse_factor
    if input_bits is not None:
        input_name = keras_model.layers[0].name
        # ap_fixed<W, I> counts the sign bit among the integer bits; QKeras' quantized_bits(W, I) does not.
        config["LayerName"].setdefault(input_name, {})["Precision"] = f"ap_fixed<{input_bits},{input_integer_bits + 1}>"
    for layer, precision in cfg.layer_precision.items():
        if layer not in config["LayerName"]:
            raise ConfigError(f"firmware.layer_precision: no layer {layer!r} (layers: {', '.join(config['LayerName'])})")
        config["LayerName"][layer]["Precision"].update(accum=precision, result=precision)
    return config


def build_hls_model(detector, cfg: FirmwareConfig, project_dir: Path):
    """Convert the detector's Keras model into an hls4ml project in ``project_dir`` and compile its C++ model."""
    import hls4ml

    q = detector.model_config.quantization
    keras_model = detector.trigger_network()
    with warnings.catch_warnings():
        # QKeras quantizers passed through keras.constraints.serialize() warn on every layer; harmless here.
        warnings.filterwarnings("ignore", message=r"The `keras.constraints.serialize\(\)` API")
        config = hls_config(keras_model, cfg, *((q.input_bits, q.input_integer_bits) if q is not None else (None, None)))
        if project_dir.exists():
            shutil.rmtree(project_dir)
        try:
            hls_model = hls4ml.converters.convert_from_keras_model(
                keras_model,
                hls_config=config,
                output_dir=str(project_dir),
                project_name="l1ad_model",
                backend=cfg.backend,
                io_type=cfg.io_type,
                part=cfg.part,
                clock_period=cfg.clock_period_ns,
            )
            hls_model.compile()
        except Exception as exc:  # hls4ml raises plain exceptions for unsupported layers and failed g++ builds
            raise L1adError(f"hls4ml conversion or compilation failed: {first_line(exc)}") from None
    return hls_model, config


def hls_outputs(hls_model, inputs: np.ndarray, batch_size: int = 20000) -> np.ndarray:
    """The compiled C++ model's outputs (float64 in and out, so no output is rounded to float32 on the way)."""
    outs = [np.asarray(hls_model.predict(np.ascontiguousarray(inputs[start : start + batch_size], dtype=np.float64)))
            .reshape(min(batch_size, len(inputs) - start), -1) for start in range(0, len(inputs), batch_size)]
    return np.concatenate(outs) if outs else np.empty((0, 0))


def firmware_scores(hls_model, detector, inputs: np.ndarray) -> np.ndarray:
    """Anomaly scores from the bit-accurate C++ model's outputs (the score itself is computed in numpy, as the
    detector computes it from Keras outputs)."""
    return detector.score_from_outputs(inputs, hls_outputs(hls_model, inputs))


def compare(sample: str, keras_scores: np.ndarray, fw_scores: np.ndarray, thresholds: dict[str, float]) -> SampleAgreement:
    """Score differences and trigger-decision changes at each threshold (working point id -> threshold)."""
    diff = np.abs(keras_scores - fw_scores)
    mismatch = {wp: (keras_scores > t) != (fw_scores > t) for wp, t in thresholds.items()}
    return SampleAgreement(
        sample=sample,
        n_events=len(keras_scores),
        max_abs_score_difference=float(diff.max()),
        mean_abs_score_difference=float(diff.mean()),
        identical_score_fraction=float((diff == 0).mean()),
        decision_mismatch={wp: float(m.mean()) for wp, m in mismatch.items()},
        decision_mismatch_events={wp: int(m.sum()) for wp, m in mismatch.items()},
    )


def check_agreement(detector, inputs: dict[str, np.ndarray], keras_scores: dict[str, np.ndarray],
                    metrics: MetricsReport, evaluation_cfg: EvaluationConfig, cfg: FirmwareConfig, directory: Path, *,
                    model: str) -> FirmwareReport:
    """Convert the detector's trigger network with hls4ml, run its bit-accurate C++ model on the network inputs the
    evaluation recorded and compare with the Keras scores; then emulate the firmware bit-exactly (see
    :func:`l1ad.firmware.emulation.emulate`) and compare the emulator with the C++ model.

    Parameters
    ----------
    detector
        A fitted :class:`~l1ad.models.base.Detector`.
    inputs, keras_scores
        Sample name -> the network inputs and Keras scores the evaluation stage wrote.
    metrics, evaluation_cfg
        The evaluation's report (working points, thresholds, Keras efficiencies) and settings.
    cfg
        hls4ml settings.
    directory
        The firmware directory: the hls4ml project goes to ``hls4ml_prj`` (replaced if it exists), the portable
        network to ``network.json``.

    Returns
    -------
    FirmwareReport

    Raises
    ------
    NotConvertibleError
        If the detector has no trigger network (see :func:`not_convertible_report`).
    """
    from l1ad.firmware.emulation import emulate
    from l1ad.firmware.synthesis import latency_text, resources_text, rtl_figures, vendor_figures

    project_dir = Path(directory) / "hls4ml_prj"
    hls_model, hls_cfg = build_hls_model(detector, cfg, project_dir)
    outputs = {name: hls_outputs(hls_model, x) for name, x in inputs.items()}
    scores = {name: detector.score_from_outputs(inputs[name], outputs[name]) for name in inputs}
    thresholds = metrics.thresholds()
    agreement = [compare(name, keras_scores[name], scores[name], thresholds) for name in keras_scores]
    emulation, network = emulate(hls_model, detector, inputs, outputs, scores, metrics, evaluation_cfg, directory,
                                 model=model)
    rtl = rtl_figures(network, inputs, cfg, directory)
    vendor = vendor_figures(hls_model, project_dir)
    return FirmwareReport(
        model=model, status="emulated",
        source="hls4ml bit-accurate C++ model compiled with g++ (hls_model.compile()); not synthesized",
        hls4ml_config=json.loads(json.dumps(hls_cfg, default=_plain)), firmware=cfg, agreement=agreement,
        emulation=emulation, rtl=rtl, vendor=vendor, headline=metrics.headline,
        latency=latency_text(rtl, vendor, cfg), resources=resources_text(rtl, vendor, cfg),
    )


def not_convertible_report(model: str, reason: NotConvertibleError) -> FirmwareReport:
    """The report of a detector without a trigger network: nothing emulated, and why."""
    why = f"not applicable: {reason}"
    return FirmwareReport(model=model, status="not_convertible", source=why, latency=why, resources=why)


def _plain(value):
    """numpy scalars in the hls4ml config as plain JSON numbers."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__} in the hls4ml config")
