"""The evaluation result: anomaly scores -> one typed metrics report per model, and the files it is kept in.

Files of one evaluation directory:

* ``scores.h5``        the anomaly score of every test event, one dataset per sample
* ``metrics.json``     the :class:`MetricsReport` (schema ``l1ad-metrics/2``): one :class:`MetricRow` per
  (signal, working point), with intervals, counts and where the numbers come from, and the reference menu the pure
  efficiencies and unique rates are counted beyond; later stages read only this
* ``metrics.csv``      the same rows as a flat table, for people and pandas
* ``network_inputs.h5``  for models with a trigger network: the exact (quantized) values it was fed for every test
  event, one dataset per sample; the firmware stage runs its emulation on these test vectors
* ``efficiency_vs_rate.png``, ``scores.png``
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
from pydantic import Field, model_validator

from l1ad.benchmark.datasets.manifest import DatasetRef
from l1ad.benchmark.evaluation.metrics import beyond_menu, efficiency_at_fpr, efficiency_at_rate, roc_auc
from l1ad.benchmark.evaluation.plots import plot_efficiency_vs_rate, plot_score_distributions
from l1ad.benchmark.evaluation.working_points import headline, working_points
from l1ad.config import EvaluationConfig
from l1ad.config.base import StrictModel
from l1ad.config.menu import MenuConfig
from l1ad.errors import DataFileError, MissingStageOutput, first_line
from l1ad.files import read_json_model, replacing, write_json_model

SCORES = "scores.h5"
NETWORK_INPUTS = "network_inputs.h5"
METRICS = "metrics.json"
METRICS_TABLE = "metrics.csv"
SCHEMA = "l1ad-metrics/2"
# What to do with a metrics.json of an older schema (l1ad-metrics/1 has no pure efficiencies): write it again.
REGENERATE = "re-run 'l1ad evaluate' to rewrite it"
BACKGROUND_TEST = "background_test"
SOURCE = "measured on the dataset's test samples (Clopper-Pearson intervals; bootstrap over the threshold)"


class MetricRow(StrictModel):
    """One signal at one working point."""

    signal: str
    working_point: str = Field(description="stable id, e.g. rate_10khz or fpr_1e-05")
    label: str = Field(description="the working point for people, e.g. '10 kHz'")
    rate_khz: float | None = Field(description="requested trigger rate; None on a pre-selected background")
    collision_rate_mhz: float | None
    target_fpr: float
    threshold: float = Field(description="accept: score > threshold")
    efficiency: float
    efficiency_lo: float
    efficiency_hi: float
    efficiency_bootstrap_std: float | None
    background_fpr: float
    background_fpr_lo: float
    background_fpr_hi: float
    background_rate_khz: float | None
    background_rate_lo_khz: float | None
    background_rate_hi_khz: float | None
    n_background: int
    n_background_accepted: int
    n_signal: int
    n_signal_accepted: int
    confidence_level: float
    measurable: bool = Field(description="enough background above threshold to pin down the rate")
    note: str
    roc_auc: float
    enhancement: float | None = Field(description="efficiency / background FPR")
    # Beyond the reference menu (MetricsReport.menu): what the anomaly trigger accepts that no menu seed does.
    pure_efficiency: float = Field(
        description="fraction of the signal accepted (score > threshold) and rejected by the reference menu")
    pure_efficiency_lo: float
    pure_efficiency_hi: float
    n_signal_pure: int = Field(description="signal events accepted and rejected by the reference menu")
    menu_efficiency: float = Field(description="fraction of the signal the reference menu accepts (any seed)")
    n_signal_menu: int
    unique_background_fpr: float = Field(
        description="fraction of the background accepted and rejected by the reference menu")
    unique_background_fpr_lo: float
    unique_background_fpr_hi: float
    unique_rate_khz: float | None = Field(
        description="the anomaly trigger's rate beyond the reference menu (unique FPR x collision rate); None on a "
        "pre-selected background")
    unique_rate_lo_khz: float | None
    unique_rate_hi_khz: float | None
    n_background_unique: int = Field(description="background events accepted and rejected by the reference menu")
    menu_background_fpr: float = Field(description="fraction of the background the reference menu accepts")
    menu_rate_khz: float | None = Field(
        description="the reference menu's rate (menu FPR x collision rate); None on a pre-selected background")
    n_background_menu: int


class MetricsReport(StrictModel):
    """The contents of ``metrics.json``."""

    schema_: Literal["l1ad-metrics/2"] = Field(SCHEMA, alias="schema")
    model: str = Field(description="the model's label")
    dataset: DatasetRef
    source: str = SOURCE
    headline: str = Field(description="id of the working point printed, checked in firmware and ranked")
    trained_on: str | None = Field(None, description="digest of the dataset the model was trained on")
    menu: MenuConfig = Field(description="the reference L1 menu (seeds and thresholds) of the pure efficiencies and "
                             "unique rates")
    rows: list[MetricRow] = Field(min_length=1)

    model_config = StrictModel.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _headline_is_measured(self) -> MetricsReport:
        if not self.at(self.headline):
            raise ValueError(f"no rows at the headline working point {self.headline!r}")
        return self

    def at(self, working_point: str) -> list[MetricRow]:
        """The rows of one working point (by id), one per signal."""
        return [r for r in self.rows if r.working_point == working_point]

    def thresholds(self) -> dict[str, float]:
        """Working point id -> score threshold (the same for every signal)."""
        return {r.working_point: r.threshold for r in self.rows}

    def table(self):
        """The rows as a flat pandas table with the model and dataset on every row (``metrics.csv``, the bench
        tables)."""
        import pandas as pd  # imported when used: most commands never build a table

        identity = {"model": self.model, "dataset": self.dataset.name, "dataset_version": self.dataset.version,
                    "dataset_digest": self.dataset.digest, "menu": " ".join(s.name for s in self.menu.seeds)}
        return pd.DataFrame([{**identity, **row.model_dump(), "source": self.source} for row in self.rows])


def evaluate_scores(
    scores: dict[str, np.ndarray], signals: list[str], cfg: EvaluationConfig, *, model: str, dataset: DatasetRef,
    menu_accepts: Mapping[str, np.ndarray], seed: int = 0, background: str = BACKGROUND_TEST,
    trained_on: str | None = None,
) -> MetricsReport:
    """Efficiencies at every working point, ROC AUCs and background rates from the test samples' scores, and what
    the anomaly trigger adds beyond the reference menu (pure efficiencies, unique rates).

    Parameters
    ----------
    scores
        Sample name -> anomaly score per event (higher = more anomalous); must hold ``background`` and ``signals``.
    signals
        The signal samples to evaluate.
    cfg
        Working points, confidence level, bootstrap size, and the reference menu recorded in the report.
    model, dataset
        What was evaluated on what, recorded in the report.
    menu_accepts
        Sample name -> the decision of ``cfg.menu`` per event (True: a menu seed accepts it), in the order of
        ``scores``; for ``background`` and every signal.
    trained_on
        Digest of the model's training dataset, recorded so that a model evaluated elsewhere is recognised.
    seed
        Seed of the bootstrap over the threshold.

    Returns
    -------
    MetricsReport
    """
    missing = [name for name in (background, *signals) if name not in menu_accepts]
    if missing:
        raise ValueError(f"no menu decisions for sample {missing[0]!r}")
    bkg = scores[background]
    options = dict(confidence_level=cfg.confidence_level, bootstrap_samples=cfg.bootstrap_samples,
                   min_background_accepted=cfg.min_background_accepted, seed=seed)
    rows = []
    for signal in signals:
        auc = roc_auc(bkg, scores[signal])
        for spec in working_points(cfg, dataset.zero_bias):
            wp = (efficiency_at_rate(bkg, scores[signal], spec.rate_khz, cfg.collision_rate_mhz, **options)
                  if dataset.zero_bias else efficiency_at_fpr(bkg, scores[signal], spec.fpr, **options))
            rate_lo, rate_hi = wp.background_rate_interval_khz or (None, None)
            pure = beyond_menu(scores[signal], wp.threshold, menu_accepts[signal], confidence_level=cfg.confidence_level)
            unique = beyond_menu(bkg, wp.threshold, menu_accepts[background], confidence_level=cfg.confidence_level)
            mhz = wp.collision_rate_mhz
            rows.append(MetricRow(
                signal=signal, working_point=spec.id, label=spec.label, rate_khz=wp.rate_khz,
                collision_rate_mhz=wp.collision_rate_mhz, target_fpr=wp.target_fpr, threshold=wp.threshold,
                efficiency=wp.efficiency, efficiency_lo=wp.efficiency_interval[0], efficiency_hi=wp.efficiency_interval[1],
                efficiency_bootstrap_std=wp.efficiency_bootstrap_std, background_fpr=wp.background_fpr,
                background_fpr_lo=wp.background_fpr_interval[0], background_fpr_hi=wp.background_fpr_interval[1],
                background_rate_khz=wp.background_rate_khz, background_rate_lo_khz=rate_lo,
                background_rate_hi_khz=rate_hi, n_background=wp.n_background,
                n_background_accepted=wp.n_background_accepted, n_signal=wp.n_signal,
                n_signal_accepted=wp.n_signal_accepted, confidence_level=wp.confidence_level,
                measurable=wp.measurable, note=wp.note, roc_auc=auc,
                enhancement=wp.efficiency / wp.background_fpr if wp.background_fpr > 0 else None,
                pure_efficiency=pure.unique_fraction, pure_efficiency_lo=pure.unique_fraction_interval[0],
                pure_efficiency_hi=pure.unique_fraction_interval[1], n_signal_pure=pure.n_unique,
                menu_efficiency=pure.menu_fraction, n_signal_menu=pure.n_menu_accepted,
                unique_background_fpr=unique.unique_fraction, unique_background_fpr_lo=unique.unique_fraction_interval[0],
                unique_background_fpr_hi=unique.unique_fraction_interval[1], unique_rate_khz=_khz(unique.unique_fraction, mhz),
                unique_rate_lo_khz=_khz(unique.unique_fraction_interval[0], mhz),
                unique_rate_hi_khz=_khz(unique.unique_fraction_interval[1], mhz), n_background_unique=unique.n_unique,
                menu_background_fpr=unique.menu_fraction, menu_rate_khz=_khz(unique.menu_fraction, mhz),
                n_background_menu=unique.n_menu_accepted,
            ))
    return MetricsReport(model=model, dataset=dataset, headline=headline(cfg, dataset.zero_bias).id,
                         trained_on=trained_on, menu=cfg.menu, rows=rows)


def _khz(fraction: float, collision_rate_mhz: float | None) -> float | None:
    """An accepted fraction of zero-bias crossings as a rate; None without a collision rate (pre-selected background,
    where only fractions are meaningful)."""
    # the same operations as the background rate (metrics.efficiency_at_rate), so a unique rate never exceeds it by
    # a rounding
    return None if collision_rate_mhz is None else fraction * (collision_rate_mhz * 1e3)


@dataclass(frozen=True)
class Evaluation:
    """What the evaluation stage hands on: the report, the scores and (for a trigger network) its inputs."""

    report: MetricsReport
    scores: dict[str, np.ndarray]
    network_inputs: dict[str, np.ndarray] | None = None


def write_evaluation(directory: Path, evaluation: Evaluation, cfg: EvaluationConfig, signals: list[str]) -> None:
    """Write the scores, network inputs, the report (JSON and CSV) and the plots into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    report, scores = evaluation.report, evaluation.scores
    write_arrays(directory / SCORES, scores, np.float64)
    if evaluation.network_inputs is not None:
        write_arrays(directory / NETWORK_INPUTS, evaluation.network_inputs, np.float32, compress=True)
    else:
        (directory / NETWORK_INPUTS).unlink(missing_ok=True)  # from an earlier model of the same label
    with replacing(directory / METRICS_TABLE) as tmp:
        report.table().to_csv(tmp, index=False)
    write_json_model(directory / METRICS, report)
    plot_efficiency_vs_rate(scores, BACKGROUND_TEST, signals, cfg, directory / "efficiency_vs_rate.png",
                            title=report.model, zero_bias=report.dataset.zero_bias)
    plot_score_distributions(scores, BACKGROUND_TEST, signals, directory / "scores.png", title=report.model)


def read_metrics(directory: Path) -> MetricsReport:
    """The validated ``metrics.json`` of an evaluation directory."""
    return read_json_model(Path(directory) / METRICS, MetricsReport, "metrics", missing="l1ad evaluate",
                           schema=SCHEMA, regenerate=REGENERATE)


def read_evaluation(directory: Path) -> Evaluation:
    """Everything the evaluation stage wrote into ``directory``, validated."""
    directory = Path(directory)
    report = read_metrics(directory)
    scores = read_arrays(directory / SCORES, "scores")
    inputs = read_arrays(directory / NETWORK_INPUTS, "network inputs") if (directory / NETWORK_INPUTS).is_file() else None
    if set(scores) != {BACKGROUND_TEST, *(r.signal for r in report.rows)}:
        raise DataFileError(f"{directory / SCORES}: samples {sorted(scores)} do not match {directory / METRICS}")
    return Evaluation(report=report, scores=scores, network_inputs=inputs)


def write_arrays(path: Path, arrays: dict[str, np.ndarray], dtype, *, compress: bool = False) -> None:
    """One HDF5 dataset per sample name, written atomically."""
    options = {"compression": "gzip", "shuffle": True} if compress else {}
    with replacing(path) as tmp, h5py.File(tmp, "w") as f:
        for name, values in arrays.items():
            f.create_dataset(name, data=np.asarray(values, dtype=dtype), **options)


def read_arrays(path: Path, what: str) -> dict[str, np.ndarray]:
    """Sample name -> array, from a file written by :func:`write_arrays`."""
    path = Path(path)
    if not path.is_file():
        raise MissingStageOutput(path, what, "l1ad evaluate")
    try:
        with h5py.File(path, "r") as f:
            return {name: f[name][...] for name in f}
    except (OSError, TypeError, ValueError, AttributeError) as exc:
        raise DataFileError(f"{path}: unreadable {what} ({first_line(exc)})") from None
