import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from l1ad.benchmark.evaluation.metrics import efficiency_at_rate, efficiency_vs_rate, roc_auc, threshold_for_fpr
from l1ad.benchmark.statistics import clopper_pearson


@pytest.fixture
def scores():
    rng = np.random.default_rng(3)
    return rng.normal(0, 1, 200_000), rng.normal(2, 1, 5_000)


def test_clopper_pearson_edges_and_known_value():
    # k = 0: the upper limit solves (1 - p)^n = alpha / 2
    lo, hi = clopper_pearson(0, 100, 0.95)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 100))
    lo, hi = clopper_pearson(100, 100, 0.95)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 100))
    lo, hi = clopper_pearson(5, 10, 0.6827)
    assert lo < 0.5 < hi and hi - 0.5 == pytest.approx(0.5 - lo)


def test_clopper_pearson_covers_at_least_nominal():
    rng = np.random.default_rng(0)
    n, p = 40, 0.1
    ks = rng.binomial(n, p, size=2000)
    covered = np.mean([lo <= p <= hi for lo, hi in (clopper_pearson(k, n) for k in ks)])
    assert covered >= 0.68


def test_threshold_accepts_floor_fpr_times_n(scores):
    bkg, _ = scores
    for fpr in (1e-4, 1e-3, 3.5e-2):
        t = threshold_for_fpr(bkg, fpr)
        assert (bkg > t).sum() == int(np.floor(fpr * len(bkg)))


def test_efficiency_at_rate_matches_sklearn_roc_curve(scores):
    bkg, sig = scores
    wp = efficiency_at_rate(bkg, sig, rate_khz=28.61, collision_rate_mhz=28.61)  # FPR 1e-3
    assert wp.target_fpr == pytest.approx(1e-3)
    labels = np.r_[np.zeros(len(bkg)), np.ones(len(sig))]
    fpr, tpr, thresholds = roc_curve(labels, np.r_[bkg, sig], drop_intermediate=False)
    # sklearn accepts score >= threshold; ours accepts score > threshold: the next higher sklearn threshold matches.
    i = np.searchsorted(-thresholds, -wp.threshold, side="left") - 1
    assert fpr[i] == pytest.approx(wp.n_background_accepted / len(bkg))
    assert tpr[i] == pytest.approx(wp.efficiency)
    assert wp.background_rate_khz == pytest.approx(wp.n_background_accepted / len(bkg) * 28.61e3)
    lo, hi = wp.efficiency_interval
    assert lo < wp.efficiency < hi
    assert wp.measurable


def test_auc_matches_sklearn_and_mann_whitney(scores):
    bkg, sig = scores[0][:3000], scores[1][:2000]
    ours = roc_auc(bkg, sig)
    labels = np.r_[np.zeros(len(bkg)), np.ones(len(sig))]
    assert ours == pytest.approx(roc_auc_score(labels, np.r_[bkg, sig]))
    pairs = (sig[:, None] > bkg[None, :]).mean()
    assert ours == pytest.approx(pairs, abs=1e-9)


def test_efficiency_vs_rate_against_brute_force(scores):
    bkg, sig = scores[0][:500], scores[1][:300]
    rate, eff = efficiency_vs_rate(bkg, sig, collision_rate_mhz=1.0)
    thresholds = np.unique(bkg)[::-1]
    assert len(rate) == len(thresholds)
    for k in (0, 10, 250, len(thresholds) - 1):
        t = thresholds[k]
        assert rate[k] == pytest.approx((bkg > t).mean() * 1e3)
        assert eff[k] == pytest.approx((sig > t).mean())
    assert np.all(np.diff(rate) >= 0) and np.all(np.diff(eff) >= 0)


def test_unmeasurable_working_point_is_flagged(scores):
    bkg, sig = scores[0][:10_000], scores[1]
    wp = efficiency_at_rate(bkg, sig, rate_khz=0.2861)  # FPR 1e-5: 0.1 expected background events
    assert not wp.measurable
    assert wp.n_background_accepted == 0
    assert "not measurable" in wp.note and "1000000" in wp.note


def test_bootstrap_spread_shrinks_with_more_background(scores):
    bkg, sig = scores
    small = efficiency_at_rate(bkg[:5_000], sig, 286.1, bootstrap_samples=100, seed=1)
    large = efficiency_at_rate(bkg, sig, 286.1, bootstrap_samples=100, seed=1)
    assert small.efficiency_bootstrap_std > large.efficiency_bootstrap_std > 0


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([np.inf]), np.array([])])
def test_bad_scores_rejected(bad):
    with pytest.raises(ValueError):
        efficiency_at_rate(bad, np.ones(3), 1.0)


def test_rate_above_collision_rate_rejected(scores):
    with pytest.raises(ValueError, match="not below the collision rate"):
        efficiency_at_rate(*scores, rate_khz=50_000, collision_rate_mhz=40.0)
