"""Evaluate a detector on a dataset: anomaly scores, the metrics table and the plots.

Writes into one directory:

* ``scores.h5``      the anomaly score of every test event, one dataset per sample (consumed by the firmware stage)
* ``metrics.csv`` / ``metrics.json``  one row per (model, signal, working point), with intervals and provenance
* ``efficiency_vs_rate.png``, ``scores.png``
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from l1ad.benchmark.dataset import Dataset
from l1ad.benchmark.metrics import efficiency_at_fpr, efficiency_at_rate, roc_auc
from l1ad.config import EvaluationConfig
from l1ad.errors import L1adError
from l1ad.files import replacing

ADC2021_FPR = 1e-5  # the ADC2021 challenge's working point


@dataclass(frozen=True)
class Evaluation:
    table: pd.DataFrame
    scores: dict[str, np.ndarray]
    directory: Path


@dataclass(frozen=True)
class WorkingPointSpec:
    label: str
    fpr: float
    rate_khz: float | None  # None on a pre-selected background, where only the FPR is meaningful


def fpr_label(fpr: float) -> str:
    label = "FPR " + f"{fpr:.0e}".replace("e-0", "e-")
    return label + " (ADC2021)" if np.isclose(fpr, ADC2021_FPR) else label


def working_points(cfg: EvaluationConfig, zero_bias: bool = True) -> list[WorkingPointSpec]:
    """Zero-bias background: the configured rates, the leaderboard rate and ADC2021's FPR 1e-5 (as a rate).
    Pre-selected background: ADC2021's FPR 1e-5 and the configured FPRs. Ordered from tight to loose."""
    if zero_bias:
        to_khz = cfg.collision_rate_mhz * 1e3
        specs = {f"{r:g} kHz": WorkingPointSpec(f"{r:g} kHz", r / to_khz, r)
                 for r in (*cfg.rates_khz, cfg.leaderboard_rate_khz)}
        specs["adc"] = WorkingPointSpec(fpr_label(ADC2021_FPR), ADC2021_FPR, ADC2021_FPR * to_khz)
    else:
        specs = {f: WorkingPointSpec(fpr_label(f), f, None) for f in (ADC2021_FPR, *cfg.fprs, cfg.leaderboard_fpr)}
    return sorted(specs.values(), key=lambda s: s.fpr)


def headline_label(cfg: EvaluationConfig, zero_bias: bool = True) -> str:
    """The working point printed after evaluation, checked in firmware and ranked on the leaderboard."""
    return f"{cfg.leaderboard_rate_khz:g} kHz" if zero_bias else fpr_label(cfg.leaderboard_fpr)


def evaluate_scores(
    scores: dict[str, np.ndarray], background: str, signals: list[str], cfg: EvaluationConfig, *, model: str,
    dataset: Dataset, seed: int = 0,
) -> pd.DataFrame:
    rows = []
    bkg = scores[background]
    zero_bias = dataset.zero_bias
    options = dict(confidence_level=cfg.confidence_level, bootstrap_samples=cfg.bootstrap_samples,
                   min_background_accepted=cfg.min_background_accepted, seed=seed)
    for signal in signals:
        auc = roc_auc(bkg, scores[signal])
        for spec in working_points(cfg, zero_bias):
            wp = (efficiency_at_rate(bkg, scores[signal], spec.rate_khz, cfg.collision_rate_mhz, **options) if zero_bias
                  else efficiency_at_fpr(bkg, scores[signal], spec.fpr, **options))
            rows.append({
                "model": model,
                "dataset": dataset.name,
                "dataset_version": dataset.version,
                "dataset_digest": dataset.manifest.get("digest", ""),
                "signal": signal,
                "working_point": spec.label,
                "rate_khz": wp.rate_khz,
                "collision_rate_mhz": wp.collision_rate_mhz,
                "target_fpr": wp.target_fpr,
                "threshold": wp.threshold,
                "efficiency": wp.efficiency,
                "efficiency_lo": wp.efficiency_interval[0],
                "efficiency_hi": wp.efficiency_interval[1],
                "efficiency_bootstrap_std": wp.efficiency_bootstrap_std,
                "background_fpr": wp.background_fpr,
                "background_fpr_lo": wp.background_fpr_interval[0],
                "background_fpr_hi": wp.background_fpr_interval[1],
                "background_rate_khz": wp.background_rate_khz,
                "background_rate_lo_khz": wp.background_rate_interval_khz[0] if zero_bias else None,
                "background_rate_hi_khz": wp.background_rate_interval_khz[1] if zero_bias else None,
                "n_background": wp.n_background,
                "n_background_accepted": wp.n_background_accepted,
                "n_signal": wp.n_signal,
                "n_signal_accepted": wp.n_signal_accepted,
                "confidence_level": wp.confidence_level,
                "measurable": wp.measurable,
                "note": wp.note,
                "roc_auc": auc,
                "enhancement": wp.efficiency / wp.background_fpr if wp.background_fpr > 0 else None,
                "source": "measured on the dataset's test samples (Clopper-Pearson intervals; bootstrap over the threshold)",
            })
    return pd.DataFrame(rows)


def evaluate_detector(detector, dataset: Dataset, cfg: EvaluationConfig, directory: Path, *, model: str, seed: int = 0) -> Evaluation:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    background = "background_test"
    samples = [background, *dataset.signal_names]
    from l1ad.models.registry import model_inputs_of

    scores = {name: detector.anomaly_score(model_inputs_of(detector.model_config, dataset.sample(name)))
              for name in samples}
    table = evaluate_scores(scores, background, dataset.signal_names, cfg, model=model, dataset=dataset, seed=seed)
    write_scores(directory / "scores.h5", scores)
    _write_table(table, directory)
    from l1ad.benchmark.plots import plot_efficiency_vs_rate, plot_score_distributions

    plot_efficiency_vs_rate(scores, background, dataset.signal_names, cfg, directory / "efficiency_vs_rate.png", title=model,
                            zero_bias=dataset.zero_bias)
    plot_score_distributions(scores, background, dataset.signal_names, directory / "scores.png", title=model)
    return Evaluation(table=table, scores=scores, directory=directory)


def write_scores(path: Path, scores: dict[str, np.ndarray]) -> None:
    with replacing(path) as tmp, h5py.File(tmp, "w") as f:
            for name, values in scores.items():
                f.create_dataset(name, data=np.asarray(values, dtype=np.float64))


def read_scores(path: Path) -> dict[str, np.ndarray]:
    if not Path(path).is_file():
        raise L1adError(f"{path}: no scores; run 'l1ad evaluate' first")
    with h5py.File(path, "r") as f:
        return {name: f[name][...] for name in f}


def read_table(directory: Path) -> pd.DataFrame:
    path = Path(directory) / "metrics.json"
    if not path.is_file():
        raise L1adError(f"{path}: no metrics; run 'l1ad evaluate' first")
    return pd.DataFrame(json.loads(path.read_text()))


def _write_table(table: pd.DataFrame, directory: Path) -> None:
    for name, write in (("metrics.csv", lambda p: table.to_csv(p, index=False)),
                        ("metrics.json", lambda p: p.write_text(table.to_json(orient="records", indent=2)))):
        with replacing(directory / name) as tmp:
            write(tmp)
