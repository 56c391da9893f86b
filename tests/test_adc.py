"""The ADC2021-like lepton-triggered dataset: cocktail, pre-selection, veto, FPR working points."""

from __future__ import annotations

import numpy as np
import pytest

from l1ad.benchmark.datasets.build import build_dataset, cocktail_counts
from l1ad.benchmark.datasets.dataset import load_dataset
from l1ad.benchmark.datasets.manifest import DatasetRef
from l1ad.benchmark.datasets.parallel import Execution
from l1ad.benchmark.evaluation.report import evaluate_scores
from l1ad.benchmark.generation.pileup import PileupPool, overlay_pileup
from l1ad.benchmark.generation.pythia import generate
from l1ad.benchmark.trigger.emulation import emulate
from l1ad.benchmark.trigger.selection import could_pass, passes_lepton_trigger
from l1ad.config import BlindSizes, DatasetConfig, EvaluationConfig, LeptonTrigger, SampleSizes, dataset_definition
from l1ad.config.datasets import PileupPools


def _small_triggered(**overrides) -> DatasetConfig:
    base = dict(name="adc-test", background=SampleSizes(train=20, validation=10, test=20), signals={"ato4l": 12},
                background_cocktail={"wlnu": 0.6, "zll": 0.4}, trigger=LeptonTrigger(),
                pileup_pools=PileupPools(train=60, validation=30, test=60, blind=30, signal=60),
                shard_size=60, chunk_size=40, blind=BlindSizes(background=6, per_signal=4))
    return DatasetConfig(**{**base, **overrides})


def test_shipped_adc_has_adc2021_cocktail_and_signals():
    cfg = dataset_definition("adc").resolve("tiny")
    assert cfg.background_cocktail == {"wlnu": 0.592, "qcd": 0.338, "zll": 0.067, "ttbar": 0.003}
    assert set(cfg.signals) == {"ato4l", "lq_btau", "htautau", "hplus_taunu"}
    assert cfg.trigger.min_pt_gev == 23.0
    assert not cfg.zero_bias
    assert dataset_definition("zb").resolve("tiny").zero_bias


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"background_cocktail": {"wlnu": 0.5, "zll": 0.4}}, "add up to 1"),
        ({"background_cocktail": {"wlnu": 0.5, "nope": 0.5}}, "unknown background process 'nope'"),
        ({"background_cocktail": {"wlnu": 1.2, "zll": -0.2}}, "must be positive"),
        ({"background_cocktail": None}, "trigger pre-selection needs a background_cocktail"),
    ],
)
def test_bad_cocktail_is_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        _small_triggered(**overrides)


def test_cocktail_counts_are_exact_and_proportional():
    shares = {"wlnu": 0.592, "qcd": 0.338, "zll": 0.067, "ttbar": 0.003}
    for n in (1, 7, 100, 2500, 12345):
        counts = dict(cocktail_counts(shares, n))
        assert sum(counts.values()) == n
        for name, k in counts.items():
            assert abs(k - shares[name] * n) < 1
    assert cocktail_counts(shares, 100) == [("wlnu", 59), ("qcd", 34), ("zll", 7)]


def test_trigger_needs_pt_strictly_above_threshold():
    particles = np.zeros((4, 19, 4), dtype=np.float32)
    particles[0, 1, 0] = 23.5  # leading e/gamma
    particles[1, 5, 0] = 30.0  # leading muon
    particles[2, 1, 0] = 23.0  # exactly at threshold: not above it
    particles[3, 9, 0] = 200.0  # a jet does not fire a lepton trigger
    assert passes_lepton_trigger(particles, 23.0).tolist() == [True, True, False, False]


@pytest.mark.slow
@pytest.mark.parametrize(("process", "n_events"), [("wlnu", 300), ("qcd", 800)])
def test_veto_never_removes_an_event_the_trigger_keeps(process, n_events):
    """The generator-level veto must be looser than the emulated trigger, with pile-up included."""
    cfg = DatasetConfig(background=SampleSizes(train=1, validation=1, test=1), signals={"ttbar": 1})
    pool = PileupPool(generate("minbias", 200, 11, 13.6))
    hard = generate(process, n_events, 12, 13.6)
    events, _ = overlay_pileup(hard, n_events, pool, 60, np.random.default_rng(3))
    passed = passes_lepton_trigger(emulate(events, cfg.emulation, np.random.default_rng(4)).particles, 23.0)
    vetoed = ~could_pass(hard, 23.0)
    assert passed.sum() > 0
    assert not (passed & vetoed).any()
    assert vetoed.sum() > 0.2 * n_events  # and it does save work


@pytest.mark.slow
def test_triggered_dataset_keeps_only_passing_events_and_labels_the_cocktail(tmp_path):
    cfg = _small_triggered()
    local = build_dataset(cfg, 5, tmp_path / "local", execution=Execution(workers=0))
    dask = build_dataset(cfg, 5, tmp_path / "dask", execution=Execution(workers=2))
    assert not local.zero_bias
    for name in local.manifest.samples:
        a, b = local.sample(name), dask.sample(name)
        assert np.array_equal(a.particles, b.particles) and np.array_equal(a.regions, b.regions)
        assert passes_lepton_trigger(a.particles, 23.0).all()
    train = load_dataset(tmp_path / "local").background("train")
    assert train.metadata["processes"] == ["wlnu", "zll"]
    assert np.bincount(train.processes).tolist() == [12, 8]
    assert train.processes[:12].tolist() != [0] * 12  # interleaved by the seeded shuffle, not in blocks
    selection = local.manifest.selection.processes
    for s in selection.values():
        assert s.passed <= s.emulated <= s.generated
        lo, hi = s.efficiency_interval_68
        assert lo <= s.efficiency <= hi
    assert selection["wlnu"].passed == 12 + 6 + 12 + 4  # train, validation, test, blind (3.6 rounds up)
    assert selection["wlnu"].efficiency < selection["zll"].efficiency  # one lepton of W often misses 23 GeV
    card = (tmp_path / "local" / "CARD.md").read_text()
    assert "## Pre-selection" in card and "| wlnu | 60.0% |" in card


def test_preselected_background_gives_fpr_working_points_without_rates(tmp_path):
    rng = np.random.default_rng(0)
    scores = {"background_test": rng.normal(size=20000), "sig": rng.normal(2.0, size=500)}
    cfg = EvaluationConfig(fprs=[1e-3, 1e-2], leaderboard_fpr=1e-3)
    menu_accepts = {name: np.zeros(len(s), dtype=bool) for name, s in scores.items()}  # a menu accepting nothing
    report = evaluate_scores(scores, ["sig"], cfg, model="m", menu_accepts=menu_accepts,
                             dataset=DatasetRef(name="adc", version="0.1", digest="x", zero_bias=False))
    table = report.table()
    assert table.working_point.tolist() == ["fpr_1e-05", "fpr_1e-03", "fpr_1e-02"]
    assert table.label.tolist() == ["FPR 1e-5 (ADC2021)", "FPR 1e-3", "FPR 1e-2"]
    assert report.headline == "fpr_1e-03"
    assert table.rate_khz.isna().all() and table.background_rate_khz.isna().all()
    row = table.set_index("working_point").loc["fpr_1e-02"]
    assert row.background_fpr == pytest.approx(0.01, abs=1e-4)
    assert row.background_fpr_lo < row.background_fpr < row.background_fpr_hi
    assert row.enhancement == pytest.approx(row.efficiency / row.background_fpr)
    assert row.pure_efficiency == row.efficiency and row.unique_background_fpr == row.background_fpr
    assert table.unique_rate_khz.isna().all() and table.menu_rate_khz.isna().all()
    assert not table.set_index("working_point").loc["fpr_1e-05"].measurable
