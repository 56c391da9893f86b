"""hls4ml conversion of a saved model and the agreement between Keras and the firmware's bit-accurate C++ model.

The hls4ml project is written to disk as it would be synthesized (Vitis backend, io_parallel, Latency strategy by
default). Without Vivado/Vitis HLS on this machine, the C++ model is compiled with g++ by ``hls_model.compile()`` and run
on the same inputs as Keras: that is a bit-accurate emulation of the firmware's arithmetic, not a synthesis. Latency and
resources need C synthesis or the open-source RTL path and are reported as "not available" until then.

For QKeras layers hls4ml infers accumulator and result widths exactly ("auto") from the quantizers, which is what makes
the emulation agree with Keras bit for bit; ``firmware.layer_precision`` overrides a layer's widths to study truncation.
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from l1ad.config import FirmwareConfig
from l1ad.errors import L1adError, first_line
from l1ad.files import write_text_atomic


@dataclass(frozen=True)
class SampleAgreement:
    sample: str
    n_events: int
    max_abs_score_difference: float
    mean_abs_score_difference: float
    identical_score_fraction: float
    decision_mismatch: dict[str, float]  # working point label -> fraction of events whose trigger decision differs
    decision_mismatch_events: dict[str, int]


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
            raise L1adError(f"firmware.layer_precision: no layer {layer!r} (layers: {', '.join(config['LayerName'])})")
        config["LayerName"][layer]["Precision"].update(accum=precision, result=precision)
    return config


def not_convertible(detector) -> str | None:
    """Why the detector cannot go through hls4ml, or None if it can."""
    if not hasattr(detector, "keras_model"):
        return "scikit-learn models have no hls4ml conversion"
    if any(layer.name == "z" for layer in detector.trigger_model.layers):
        return ("a VAE's reconstruction score needs its sampling layer, which hls4ml cannot convert; "
                "use score mu2, kl or rz (encoder only)")
    return None


def build_hls_model(detector, cfg: FirmwareConfig, project_dir: Path):
    """Convert the detector's Keras model into an hls4ml project in ``project_dir`` and compile its C++ model."""
    import hls4ml

    q = detector.model_config.quantization
    keras_model = detector.trigger_model
    config = hls_config(keras_model, cfg, *((q.input_bits, q.input_integer_bits) if q is not None else (None, None)))
    if project_dir.exists():
        shutil.rmtree(project_dir)
    with warnings.catch_warnings():
        # QKeras quantizers passed through keras.constraints.serialize() warn on every layer; harmless here.
        warnings.filterwarnings("ignore", message=r"The `keras.constraints.serialize\(\)` API")
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


def firmware_scores(hls_model, detector, inputs: np.ndarray, batch_size: int = 20000) -> np.ndarray:
    """Anomaly scores from the bit-accurate C++ model's outputs (the score itself is computed in numpy, as the
    detector computes it from Keras outputs)."""
    outs = []
    for start in range(0, len(inputs), batch_size):
        chunk = np.ascontiguousarray(inputs[start : start + batch_size], dtype=np.float32)
        outs.append(np.asarray(hls_model.predict(chunk)).reshape(len(chunk), -1))
    return detector.score_from_outputs(inputs, np.concatenate(outs))


def compare(sample: str, keras_scores: np.ndarray, fw_scores: np.ndarray, thresholds: dict[str, float]) -> SampleAgreement:
    diff = np.abs(keras_scores - fw_scores)
    mismatch = {label: (keras_scores > t) != (fw_scores > t) for label, t in thresholds.items()}
    return SampleAgreement(
        sample=sample,
        n_events=len(keras_scores),
        max_abs_score_difference=float(diff.max()),
        mean_abs_score_difference=float(diff.mean()),
        identical_score_fraction=float((diff == 0).mean()),
        decision_mismatch={label: float(m.mean()) for label, m in mismatch.items()},
        decision_mismatch_events={label: int(m.sum()) for label, m in mismatch.items()},
    )


def write_report(path: Path, report: dict) -> None:
    write_text_atomic(path, json.dumps(report, indent=2, default=_jsonable))


def _jsonable(value):
    if isinstance(value, SampleAgreement):
        return asdict(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")
