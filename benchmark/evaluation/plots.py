"""Plots people would rather look at than tables: efficiency versus trigger rate and score distributions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from l1ad.benchmark.evaluation.metrics import efficiency_vs_rate
from l1ad.benchmark.evaluation.working_points import working_points
from l1ad.benchmark.plotting import hep_pyplot


def plot_efficiency_vs_rate(scores, background, signals, cfg, path: Path, *, title: str = "", zero_bias: bool = True) -> None:
    """Signal efficiency against the background trigger rate (a ROC curve in trigger units); against the
    false-positive rate when the background is pre-selected rather than zero bias."""
    plt, hep = hep_pyplot()
    fig, ax = plt.subplots(figsize=(10, 8))
    n_bkg = len(scores[background])
    scale = cfg.collision_rate_mhz * 1e3 if zero_bias else 1.0  # accepted fraction -> x axis
    for signal in signals:
        fraction, eff = efficiency_vs_rate(scores[background], scores[signal], 1e-3)
        ax.step(fraction * scale, eff, where="post", label=signal)
    floor = scale / n_bkg  # one accepted background event
    for spec in working_points(cfg, zero_bias):
        x = spec.fpr * scale
        if x >= floor * 0.5:
            ax.axvline(x, color="grey", linestyle=":", linewidth=1)
            ax.text(x, 1.02, spec.label, rotation=90, fontsize=10, va="bottom", ha="center", color="grey")
    ax.axvspan(floor * 1e-3, floor * cfg.min_background_accepted, color="red", alpha=0.08,
               label=f"< {cfg.min_background_accepted} background events")
    ax.set_xscale("log")
    ax.set_xlim(floor * 0.5, scale)
    ax.set_ylim(0, 1.15)
    ax.set_xlabel(f"Background trigger rate [kHz] (collision rate {cfg.collision_rate_mhz:g} MHz)" if zero_bias
                  else "Background false-positive rate (fraction of the pre-selected stream)")
    ax.set_ylabel("Signal efficiency")
    ax.legend(loc="lower right", fontsize=14)
    hep.label.exp_text("l1ad-bench", f"simulation {title}", ax=ax, loc=0, fontsize=16)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def score_bins(all_scores: np.ndarray, n_bins: int = 60) -> np.ndarray:
    """Bin edges from the lowest score (0 for non-negative scores, so the axis starts where they do) to the 99.9 %
    quantile; scores may be negative (a Gaussian mixture's -log L), and none is dropped: the caller clips the tails
    into the outer bins."""
    lower = min(0.0, float(np.min(all_scores)))
    upper = float(np.quantile(all_scores, 0.999))
    return np.linspace(lower, upper if upper > lower else lower + 1, n_bins)


def plot_score_distributions(scores, background, signals, path: Path, *, title: str = "") -> None:
    plt, hep = hep_pyplot()
    fig, ax = plt.subplots(figsize=(10, 8))
    bins = score_bins(np.concatenate([scores[s] for s in (background, *signals)]))
    for name in (background, *signals):
        ax.hist(np.clip(scores[name], bins[0], bins[-1]), bins=bins, density=True, histtype="step", linewidth=2,
                label=f"{name} ({len(scores[name])})")
    ax.set_yscale("log")
    ax.set_xlabel("Anomaly score (first and last bins include under- and overflow)")
    ax.set_ylabel("Normalised events")
    ax.legend(fontsize=14)
    hep.label.exp_text("l1ad-bench", f"simulation {title}", ax=ax, loc=0, fontsize=16)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
