"""The firmware stage's emulation step: the portable network of a converted model, its bit-exactness against hls4ml's
C++ model on every test event, and firmware-exact efficiencies at every working point.

Firmware-exact means the trigger decision is taken on the emulator's scores (the threshold too is set on the
emulator's background scores), so the efficiency is what the chip would deliver at that rate. Where the score is left
to software (see :func:`l1ad.firmware.scoring.describe`), it is computed in float64 from the emulator's outputs.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from l1ad.benchmark.evaluation.metrics import efficiency_at_fpr, efficiency_at_rate
from l1ad.benchmark.evaluation.report import BACKGROUND_TEST, MetricsReport
from l1ad.benchmark.evaluation.working_points import working_points
from l1ad.config import EvaluationConfig
from l1ad.firmware.emulator import FixedPointNetwork
from l1ad.firmware.network import NETWORK_FILE, FixedNetwork
from l1ad.firmware.report import Emulation, EmulatorAgreement, FirmwareWorkingPoint
from l1ad.firmware.scoring import describe, with_score


def firmware_network(hls_model, detector, *, model: str) -> FixedNetwork:
    """The portable network of a converted model, with the firmware score layer where the score allows one."""
    network = FixedPointNetwork.from_hls(hls_model, model=model).network
    kind = detector.firmware_score()
    return with_score(network, kind) if kind is not None else network


def emulated_scores(net: FixedPointNetwork, detector, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(outputs, trigger scores) of the emulated firmware for network inputs."""
    values = net.run(inputs)
    outputs = np.concatenate([values[name] for name in net.network.outputs], axis=1)
    if net.network.score is not None:
        return outputs, values[net.network.score][:, 0]
    return outputs, detector.score_from_outputs(inputs, outputs)


def emulate(hls_model, detector, inputs: dict[str, np.ndarray], hls_outputs: dict[str, np.ndarray],
            hls_scores: dict[str, np.ndarray], metrics: MetricsReport, cfg: EvaluationConfig, directory: Path, *,
            model: str) -> tuple[Emulation, FixedNetwork]:
    """Write ``network.json`` into ``directory``, run the emulator on every test sample and compare it with hls4ml;
    returns what it found and the network.

    Parameters
    ----------
    hls_model, detector
        The converted (compiled) hls4ml model and the detector it came from.
    inputs, hls_outputs, hls_scores
        Sample name -> network inputs, hls4ml C++ outputs and the scores of those outputs.
    metrics
        The evaluation's report: its working points, thresholds and Keras efficiencies.
    cfg
        Working points and confidence level (the evaluation's settings).
    """
    network = firmware_network(hls_model, detector, model=model)
    network.write(Path(directory) / NETWORK_FILE)
    net = FixedPointNetwork(network)
    thresholds = metrics.thresholds()
    started, n_events = time.perf_counter(), 0
    scores, agreement = {}, []
    for name, x in inputs.items():
        outputs, scores[name] = emulated_scores(net, detector, x)
        n_events += len(x)
        differing = np.any(outputs != hls_outputs[name], axis=1)
        agreement.append(EmulatorAgreement(
            sample=name, n_events=len(x), identical_output_fraction=float(1 - differing.mean()) if len(x) else 1.0,
            n_events_differing=int(differing.sum()),
            max_abs_output_difference=float(np.abs(outputs - hls_outputs[name]).max(initial=0)),
            decision_mismatch_events={wp: int(((scores[name] > t) != (hls_scores[name] > t)).sum())
                                      for wp, t in thresholds.items()}))
    elapsed = time.perf_counter() - started
    emulation = Emulation(network_file=NETWORK_FILE, score=describe(network, detector.firmware_score()),
                          agreement=agreement,
                          working_points=firmware_working_points(scores, metrics, cfg),
                          confidence_level=cfg.confidence_level, events_per_second=n_events / max(elapsed, 1e-9))
    return emulation, network


def firmware_working_points(scores: dict[str, np.ndarray], metrics: MetricsReport,
                            cfg: EvaluationConfig) -> list[FirmwareWorkingPoint]:
    """Efficiencies of the emulated firmware at every working point of the evaluation, thresholds set on the
    emulator's background scores (no bootstrap: the intervals are Clopper-Pearson)."""
    zero_bias = metrics.dataset.zero_bias
    keras = {(r.signal, r.working_point): r.efficiency for r in metrics.rows}
    options = dict(confidence_level=cfg.confidence_level, min_background_accepted=cfg.min_background_accepted)
    bkg = scores[BACKGROUND_TEST]
    rows = []
    for signal in dict.fromkeys(r.signal for r in metrics.rows):
        for spec in working_points(cfg, zero_bias):
            if (signal, spec.id) not in keras:
                continue
            wp = (efficiency_at_rate(bkg, scores[signal], spec.rate_khz, cfg.collision_rate_mhz, **options)
                  if zero_bias else efficiency_at_fpr(bkg, scores[signal], spec.fpr, **options))
            lo, hi = wp.background_rate_interval_khz or (None, None)
            rows.append(FirmwareWorkingPoint(
                signal=signal, working_point=spec.id, label=spec.label, threshold=wp.threshold,
                efficiency=wp.efficiency, efficiency_lo=wp.efficiency_interval[0], efficiency_hi=wp.efficiency_interval[1],
                keras_efficiency=keras[(signal, spec.id)], background_fpr=wp.background_fpr,
                background_rate_khz=wp.background_rate_khz, background_rate_lo_khz=lo, background_rate_hi_khz=hi,
                n_background=wp.n_background, n_background_accepted=wp.n_background_accepted, n_signal=wp.n_signal,
                n_signal_accepted=wp.n_signal_accepted, measurable=wp.measurable, note=wp.note))
    return rows
