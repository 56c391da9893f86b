"""Trigger metrics: signal efficiency at a fixed trigger rate, with statistical uncertainties.

Conventions: a higher score is more anomalous; an event is accepted when its score is strictly above the threshold;
the trigger rate is the accepted fraction of (unbiased, zero-bias) background events times the collision rate. On a
pre-selected background (ADC2021-like) only the accepted fraction, the false-positive rate (FPR), is meaningful.
Intervals are Clopper-Pearson (exact binomial) at the requested confidence level; the bootstrap resamples the
background to show how much the threshold choice itself moves the efficiency.

Beside a reference Level-1 menu, an anomaly trigger's own contribution is what the menu does not already accept: its
"pure" efficiency on a signal and its unique rate on the background (events accepted by the anomaly trigger and by no
menu seed), as CMS reports for its anomaly-detection triggers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from l1ad.benchmark.statistics import clopper_pearson
from l1ad.benchmark.trigger.menu import DEFAULT_COLLISION_RATE_MHZ


@dataclass(frozen=True)
class WorkingPoint:
    rate_khz: float | None  # requested trigger rate (None: the working point was asked for as an FPR)
    collision_rate_mhz: float | None
    target_fpr: float
    threshold: float
    n_background: int
    n_background_accepted: int
    background_fpr: float  # achieved accepted fraction of the background sample
    background_fpr_interval: tuple[float, float]
    background_rate_khz: float | None  # the same as a rate, when the background is zero bias
    background_rate_interval_khz: tuple[float, float] | None
    n_signal: int
    n_signal_accepted: int
    efficiency: float
    efficiency_interval: tuple[float, float]
    efficiency_bootstrap_std: float | None
    confidence_level: float
    measurable: bool  # enough background above threshold to pin down the rate
    note: str


@dataclass(frozen=True)
class BeyondMenu:
    """An anomaly trigger at one threshold beside a reference menu, on one sample."""

    n_events: int
    n_menu_accepted: int  # accepted by the menu (any seed)
    menu_fraction: float
    n_unique: int  # accepted by the anomaly trigger (score > threshold) and rejected by the menu
    unique_fraction: float  # the pure efficiency on a signal, the unique accepted fraction on the background
    unique_fraction_interval: tuple[float, float]


def beyond_menu(scores: np.ndarray, threshold: float, menu_accepts: np.ndarray, *,
                confidence_level: float = 0.6827) -> BeyondMenu:
    """Events the anomaly trigger accepts (score > threshold) that the menu rejects, with a Clopper-Pearson interval.

    ``menu_accepts`` is the menu's decision per event, in the order of ``scores``.
    """
    s = _scores(scores, "anomaly")
    menu = np.asarray(menu_accepts)
    if menu.dtype != np.bool_ or menu.shape != s.shape:
        raise ValueError(f"menu decisions must be one boolean per scored event ({len(s)}), "
                         f"got {menu.dtype} of shape {menu.shape}")
    n_menu = int(menu.sum())
    n_unique = int(((s > threshold) & ~menu).sum())
    return BeyondMenu(n_events=len(s), n_menu_accepted=n_menu, menu_fraction=n_menu / len(s), n_unique=n_unique,
                      unique_fraction=n_unique / len(s),
                      unique_fraction_interval=clopper_pearson(n_unique, len(s), confidence_level))


def threshold_for_fpr(background_scores: np.ndarray, fpr: float) -> float:
    """The lowest threshold that accepts at most ``floor(fpr * N)`` background events (accept: score > threshold)."""
    scores = np.asarray(background_scores, dtype=np.float64)
    k = int(np.floor(fpr * len(scores)))
    if k <= 0:
        return float(scores.max())
    if k >= len(scores):
        return float(np.nextafter(scores.min(), -np.inf))
    # The (k+1)-th largest value: exactly k events lie strictly above it (fewer when scores tie).
    return float(np.partition(scores, len(scores) - k - 1)[len(scores) - k - 1])


def efficiency_at_rate(
    background_scores: np.ndarray,
    signal_scores: np.ndarray,
    rate_khz: float,
    collision_rate_mhz: float = DEFAULT_COLLISION_RATE_MHZ,
    *,
    confidence_level: float = 0.6827,
    bootstrap_samples: int = 0,
    min_background_accepted: int = 10,
    seed: int = 0,
) -> WorkingPoint:
    """Signal efficiency at the threshold that gives ``rate_khz`` on zero-bias background, with its uncertainties."""
    if rate_khz <= 0 or collision_rate_mhz <= 0:
        raise ValueError("rate_khz and collision_rate_mhz must be positive")
    fpr = rate_khz / (collision_rate_mhz * 1e3)
    if fpr >= 1:
        raise ValueError(f"a rate of {rate_khz} kHz is not below the collision rate of {collision_rate_mhz} MHz")
    wp = efficiency_at_fpr(background_scores, signal_scores, fpr, confidence_level=confidence_level,
                           bootstrap_samples=bootstrap_samples, min_background_accepted=min_background_accepted, seed=seed)
    to_khz = collision_rate_mhz * 1e3
    lo, hi = wp.background_fpr_interval
    return replace(wp, rate_khz=float(rate_khz), collision_rate_mhz=float(collision_rate_mhz),
                   background_rate_khz=wp.background_fpr * to_khz, background_rate_interval_khz=(lo * to_khz, hi * to_khz))


def efficiency_at_fpr(
    background_scores: np.ndarray,
    signal_scores: np.ndarray,
    fpr: float,
    *,
    confidence_level: float = 0.6827,
    bootstrap_samples: int = 0,
    min_background_accepted: int = 10,
    seed: int = 0,
) -> WorkingPoint:
    """Signal efficiency at the threshold accepting the fraction ``fpr`` of the background, with its uncertainties.

    For a pre-selected background (not zero bias) this is the only meaningful working point: the FPR is relative to the
    pre-selected stream, whose absolute rate the sample does not know.
    """
    bkg = _scores(background_scores, "background")
    sig = _scores(signal_scores, "signal")
    if not 0 < fpr < 1:
        raise ValueError(f"a false-positive rate must lie in (0, 1), got {fpr}")
    threshold = threshold_for_fpr(bkg, fpr)
    n_bkg_acc = int((bkg > threshold).sum())
    n_sig_acc = int((sig > threshold).sum())

    boot_std = None
    if bootstrap_samples > 0:
        rng = np.random.default_rng(seed)
        sorted_sig = np.sort(sig)
        effs = np.empty(bootstrap_samples)
        for i in range(bootstrap_samples):
            t = threshold_for_fpr(bkg[rng.integers(len(bkg), size=len(bkg))], fpr)
            effs[i] = (len(sig) - np.searchsorted(sorted_sig, t, side="right")) / len(sig)
        boot_std = float(effs.std(ddof=1)) if bootstrap_samples > 1 else 0.0

    measurable = n_bkg_acc >= min_background_accepted
    note = (
        "measured"
        if measurable
        else f"not measurable: only {n_bkg_acc} of {len(bkg)} background events above threshold "
        f"(need >= {min_background_accepted}; FPR {fpr:.2e} needs about {int(np.ceil(min_background_accepted / fpr))})"
    )
    return WorkingPoint(
        rate_khz=None,
        collision_rate_mhz=None,
        target_fpr=fpr,
        threshold=threshold,
        n_background=len(bkg),
        n_background_accepted=n_bkg_acc,
        background_fpr=n_bkg_acc / len(bkg),
        background_fpr_interval=clopper_pearson(n_bkg_acc, len(bkg), confidence_level),
        background_rate_khz=None,
        background_rate_interval_khz=None,
        n_signal=len(sig),
        n_signal_accepted=n_sig_acc,
        efficiency=n_sig_acc / len(sig),
        efficiency_interval=clopper_pearson(n_sig_acc, len(sig), confidence_level),
        efficiency_bootstrap_std=boot_std,
        confidence_level=confidence_level,
        measurable=measurable,
        note=note,
    )


def roc_auc(background_scores: np.ndarray, signal_scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score  # imported when used: a second of start-up otherwise

    bkg = _scores(background_scores, "background")
    sig = _scores(signal_scores, "signal")
    labels = np.concatenate((np.zeros(len(bkg)), np.ones(len(sig))))
    return float(roc_auc_score(labels, np.concatenate((bkg, sig))))


def efficiency_vs_rate(
    background_scores: np.ndarray, signal_scores: np.ndarray, collision_rate_mhz: float = DEFAULT_COLLISION_RATE_MHZ
) -> tuple[np.ndarray, np.ndarray]:
    """The whole curve: background rate (kHz) and signal efficiency for every distinct background threshold."""
    bkg = np.sort(_scores(background_scores, "background"))
    sig = np.sort(_scores(signal_scores, "signal"))
    thresholds = np.unique(bkg)[::-1]
    n_bkg = len(bkg) - np.searchsorted(bkg, thresholds, side="right")
    n_sig = len(sig) - np.searchsorted(sig, thresholds, side="right")
    return n_bkg / len(bkg) * collision_rate_mhz * 1e3, n_sig / len(sig)


def _scores(values: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if len(arr) == 0:
        raise ValueError(f"no {what} scores")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} scores contain NaN or Inf")
    return arr
