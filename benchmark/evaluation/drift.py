"""Trigger-rate drift of an anomaly trigger under domain shift (``l1ad robustness``, ``l1ad-drift/1``).

A model is thresholded where its evaluation put it (the nominal zero-bias test background, at the headline rate);
the same threshold is applied to the test background and signals of domain-shifted variants of the dataset (other
pile-up, another tune). The rate on a variant is its accepted fraction times the collision rate, with a
Clopper-Pearson interval; the ratio to the nominal rate has the exact conditional interval for a ratio of two
Poisson rates (the variant's share of all accepted events is binomial given their total); the efficiency change of a
signal is shifted minus nominal, each with its Clopper-Pearson interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from l1ad.benchmark.statistics import clopper_pearson
from l1ad.config.base import StrictModel

FORMAT = "l1ad-drift/1"
DRIFT_FILE = "drift.json"


class EfficiencyShift(StrictModel):
    signal: str
    nominal: float
    nominal_interval: tuple[float, float]
    shifted: float
    shifted_interval: tuple[float, float]
    change: float = Field(description="shifted - nominal")
    n_signal: int


class VariantDrift(StrictModel):
    variant: str
    digest: str
    pileup_mu: float
    tune: str | None
    n_background: int
    n_accepted: int
    rate_khz: float
    rate_interval_khz: tuple[float, float]
    rate_ratio: float | None = Field(description="rate on the variant / nominal rate; None if no nominal event passed")
    rate_ratio_interval: tuple[float, float | None]
    efficiencies: list[EfficiencyShift]


class ModelDrift(StrictModel):
    """One model's rate and efficiencies at its nominal threshold on each variant (``<run>/drift/<label>/drift.json``)."""

    format: Literal["l1ad-drift/1"] = FORMAT
    model: str
    run: str
    dataset: str
    dataset_digest: str
    pileup_mu: float
    working_point: str
    threshold: float
    collision_rate_mhz: float
    confidence_level: float
    nominal_n_background: int
    nominal_n_accepted: int
    nominal_rate_khz: float
    nominal_rate_interval_khz: tuple[float, float]
    variants: list[VariantDrift]


def rate_ratio_interval(k_shifted: int, n_shifted: int, k_nominal: int, n_nominal: int,
                        confidence_level: float) -> tuple[float | None, tuple[float, float | None]]:
    """The ratio of accepted fractions (k_s / n_s) / (k_n / n_n) and its exact conditional interval: given
    k_s + k_n, k_s is binomial with p = r n_s / (r n_s + n_n) for the ratio r (Poisson limit of rare acceptance)."""
    if k_nominal == 0:
        return None, (0.0, None)
    lo, hi = clopper_pearson(k_shifted, k_shifted + k_nominal, confidence_level)
    scale = n_nominal / n_shifted

    def ratio(p: float) -> float | None:
        return None if p >= 1 else p / (1 - p) * scale

    return (k_shifted / n_shifted) / (k_nominal / n_nominal), (ratio(lo) or 0.0, ratio(hi))


def variant_drift(variant: str, digest: str, pileup_mu: float, tune: str | None, background_scores: np.ndarray,
                  signal_scores: dict[str, np.ndarray], *, threshold: float, nominal_accepted: int,
                  nominal_background: int, nominal_efficiencies: dict[str, tuple[float, tuple[float, float]]],
                  collision_rate_mhz: float, confidence_level: float) -> VariantDrift:
    """Rate and efficiencies of one variant at the nominal threshold (accept: score > threshold)."""
    n, k = len(background_scores), int((background_scores > threshold).sum())
    lo, hi = clopper_pearson(k, n, confidence_level)
    khz = collision_rate_mhz * 1e3
    ratio, ratio_interval = rate_ratio_interval(k, n, nominal_accepted, nominal_background, confidence_level)
    shifts = []
    for signal, scores in signal_scores.items():
        if signal not in nominal_efficiencies:
            continue
        accepted = int((scores > threshold).sum())
        nominal, nominal_interval = nominal_efficiencies[signal]
        shifts.append(EfficiencyShift(
            signal=signal, nominal=nominal, nominal_interval=nominal_interval, shifted=accepted / len(scores),
            shifted_interval=clopper_pearson(accepted, len(scores), confidence_level),
            change=accepted / len(scores) - nominal, n_signal=len(scores)))
    return VariantDrift(variant=variant, digest=digest, pileup_mu=pileup_mu, tune=tune, n_background=n, n_accepted=k,
                        rate_khz=k / n * khz, rate_interval_khz=(lo * khz, hi * khz), rate_ratio=ratio,
                        rate_ratio_interval=ratio_interval, efficiencies=shifts)


def markdown_table(drifts: Sequence[ModelDrift]) -> str:
    """Rate at the nominal threshold per model and variant (kHz, ratio to nominal), then the efficiency changes."""
    if not drifts:
        return "No anomaly-detection models to measure.\n"
    variants = [v.variant for v in drifts[0].variants]
    first = drifts[0]
    lines = [
        f"# Trigger-rate drift on `{first.dataset}` variants (threshold from {first.working_point})",
        "",
        f"Intervals at {first.confidence_level:.4g} CL (rates: Clopper-Pearson; ratios: exact conditional). Each model "
        "keeps the threshold its evaluation set on the nominal test background.",
        "",
        f"| model | nominal (mu {first.pileup_mu:g}) kHz | " + " | ".join(f"{v} kHz (ratio)" for v in variants) + " |",
        "|---|---|" + "---|" * len(variants),
    ]
    for d in drifts:
        lo, hi = d.nominal_rate_interval_khz
        cells = [f"{d.nominal_rate_khz:.1f} [{lo:.1f}, {hi:.1f}]"]
        for v in d.variants:
            r = "n/a" if v.rate_ratio is None else (
                f"x{v.rate_ratio:.2f} [{v.rate_ratio_interval[0]:.2f}, "
                f"{'inf' if v.rate_ratio_interval[1] is None else f'{v.rate_ratio_interval[1]:.2f}'}]")
            cells.append(f"{v.rate_khz:.1f} [{v.rate_interval_khz[0]:.1f}, {v.rate_interval_khz[1]:.1f}] ({r})")
        lines.append(f"| {d.model} | " + " | ".join(cells) + " |")
    signals = [e.signal for e in first.variants[0].efficiencies] if first.variants else []
    if signals:
        lines += ["", "Signal efficiency at the nominal threshold: nominal -> shifted (change).", "",
                  "| model | signal | " + " | ".join(variants) + " |", "|---|---|" + "---|" * len(variants)]
        for d in drifts:
            for signal in signals:
                cells = []
                for v in d.variants:
                    e = next((e for e in v.efficiencies if e.signal == signal), None)
                    cells.append("n/a" if e is None else f"{e.nominal:.3f} -> {e.shifted:.3f} ({e.change:+.3f})")
                lines.append(f"| {d.model} | {signal} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_drift(drifts: Sequence[ModelDrift], path) -> None:
    """Trigger rate at the nominal threshold on the nominal sample and each variant, per model."""
    from l1ad.benchmark.plotting import hep_pyplot

    plt, _ = hep_pyplot()
    fig, ax = plt.subplots(figsize=(12, 8))
    names = ["nominal", *[v.variant for v in drifts[0].variants]] if drifts else ["nominal"]
    x = np.arange(len(names))
    for i, d in enumerate(drifts):
        rates = [d.nominal_rate_khz, *[v.rate_khz for v in d.variants]]
        intervals = [d.nominal_rate_interval_khz, *[v.rate_interval_khz for v in d.variants]]
        errors = np.array([[r - lo for r, (lo, _) in zip(rates, intervals, strict=True)],
                           [hi - r for r, (_, hi) in zip(rates, intervals, strict=True)]])
        ax.errorbar(x + 0.08 * (i - len(drifts) / 2), rates, yerr=errors, marker="o", linestyle="none",
                    color=f"C{i % 10}", label=d.model, capsize=4)
    ax.set_xticks(x, names)
    ax.set_ylabel("trigger rate at the nominal threshold [kHz]")
    ax.set_yscale("log")
    ax.legend(fontsize=12)
    fig.savefig(path, dpi=70, bbox_inches="tight")
    plt.close(fig)
