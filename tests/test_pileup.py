"""Stitched pile-up (issue 11): soft pools below a pT-hat scale, fresh hard interactions above it, a pool per split,
per-crossing truth, and the zero-bias fidelity checks of the dataset card."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from l1ad.benchmark.datasets.build import (
    ShardJob,
    _Overlay,
    _pool_shard,
    pileup_cross_sections,
    pool_of,
    split_pools,
)
from l1ad.benchmark.datasets.fidelity import tails
from l1ad.benchmark.datasets.samples import Sample, load_sample, write_sample
from l1ad.benchmark.generation.particles import KIND_HAD, ParticleTable
from l1ad.benchmark.generation.pileup import (
    SOURCE_HARD_PILEUP,
    SOURCE_OWN,
    SOURCE_SOFT_POOL,
    CrossingTruth,
    PileupPool,
    overlay_pileup,
)
from l1ad.benchmark.generation.pythia import EventStream
from l1ad.benchmark.geometry import tower_index
from l1ad.config import DatasetConfig, SampleSizes
from l1ad.config.datasets import PileupPools
from l1ad.errors import DataFileError


def _config(**overrides) -> DatasetConfig:
    base = dict(name="pu-test", background=SampleSizes(train=10, validation=10, test=10), signals={"zll": 10},
                pileup_pools=PileupPools(train=150, validation=150, test=150, blind=150, signal=150))
    return DatasetConfig(**{**base, **overrides})


def _interaction_hashes(table: ParticleTable) -> list[str]:
    """One fingerprint per interaction with visible particles (diffractive ones can leave none inside |eta| < 5)."""
    return [hashlib.sha1(table.slice(i, i + 1).pt.tobytes() + table.slice(i, i + 1).eta.tobytes()).hexdigest()
            for i in range(table.n_interactions) if table.counts()[i] > 0]


def _table(interactions: list[list[tuple[float, float, float]]], scales: list[float]) -> ParticleTable:
    pt, eta, phi = (np.array([p[k] for i in interactions for p in i], dtype=np.float32) for k in range(3))
    ieta, iphi = tower_index(eta, phi)
    return ParticleTable.from_columns(np.array([len(i) for i in interactions]), np.array(scales), pt=pt, eta=eta,
                                      phi=phi, kind=np.full(len(pt), KIND_HAD, dtype=np.int8), ieta=ieta, iphi=iphi)


class _Fresh:
    """A real stream stand-in would need Pythia; this one hands out hand-made hard interactions in order."""

    def __init__(self, table: ParticleTable):
        self.table, self.used = table, 0

    def next(self, n: int) -> ParticleTable:
        out = self.table.slice(self.used, self.used + n)
        self.used += n
        return out


def test_overlay_truth_names_the_hardest_interaction_and_uses_fresh_ones_once():
    from l1ad.benchmark.generation.pileup import HardPileup

    pool = PileupPool(_table([[(1.0, 0.1, 0.1)], [(2.0, -0.5, 1.0)]], [5.0, 12.0]))
    fresh = _table([[(50.0, 0.3, 0.2)] for _ in range(800)], list(np.linspace(31, 200, 800)))
    hard_pileup = HardPileup(_Fresh(fresh), id_base=0)
    crossings, truth = overlay_pileup(None, 50, pool, 20.0, np.random.default_rng(1), hard_pileup=hard_pileup,
                                      hard_fraction=0.2)
    used = hard_pileup._stream.used
    fresh_hardest = truth.hardest_source == SOURCE_HARD_PILEUP
    assert used > 0 and fresh_hardest.sum() > 0  # Poisson(20 x 0.2) fresh interactions per crossing
    fresh_ids = truth.hardest_id[fresh_hardest]
    assert len(np.unique(fresh_ids)) == len(fresh_ids)  # no fresh interaction in two crossings
    assert np.all(truth.hardest_scale[fresh_hardest] > 31) and np.all(truth.hardest_scale[~fresh_hardest] <= 12)
    assert truth.n_pileup.mean() == pytest.approx(20, abs=3)
    # the calorimeter holds each fresh 50 GeV particle once, and soft ones of 1 or 2 GeV for the rest
    n_soft = int(truth.n_pileup.sum()) - used
    soft_et = crossings.deposit_pt.sum() - 50 * used
    assert n_soft * 1.0 - 1e-2 <= soft_et <= n_soft * 2.0 + 1e-2

    # with a hard process of the sample's own, that is the crossing's hardest even when pile-up has a larger pT-hat
    own = _table([[(80.0, 1.0, 2.0)] for _ in range(50)], [0.0] * 50)  # a 2 -> 1 process: pT-hat 0
    crossings, truth = overlay_pileup(own, 50, pool, 20.0, np.random.default_rng(1), hard_pileup=hard_pileup,
                                      hard_fraction=0.2)
    assert np.all(truth.hardest_source == SOURCE_OWN) and np.all(truth.hardest_scale == 0.0)
    assert np.all(np.bincount(crossings.deposit_event, weights=crossings.deposit_pt, minlength=50) >= 80.0)


def test_unstitched_overlay_draws_only_from_the_pool():
    pool = PileupPool(_table([[(1.0, 0.1, 0.1)]] * 3, [5.0, 6.0, 7.0]))
    _, truth = overlay_pileup(None, 200, pool, 5.0, np.random.default_rng(2))
    assert set(np.unique(truth.hardest_source)) <= {0, SOURCE_SOFT_POOL}
    assert set(np.unique(truth.hardest_scale)) <= {0.0, 5.0, 6.0, 7.0}


def test_samples_draw_from_the_pool_of_their_split():
    assert [pool_of(s) for s in ("background_train", "background_validation", "background_test",
                                 "blind_background", "blind_zll", "zll")] == [
        "train", "validation", "test", "blind", "blind", "signal"]


def test_truth_round_trips_and_bad_truth_is_refused(tmp_path):
    n = 5
    truth = CrossingTruth(np.arange(n, dtype=np.int16), np.linspace(1, 50, n, dtype=np.float32),
                          np.array([0, 1, 2, 3, 1], dtype=np.int8), np.arange(n, dtype=np.int64),
                          np.zeros(n, np.float32), np.zeros(n, np.int16), np.zeros(n, np.float32),
                          np.full(n, 0.5, np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32),
                          np.linspace(-20, 20, n, dtype=np.float32), np.linspace(5, -5, n, dtype=np.float32))
    sample = Sample("s", np.zeros((n, 19, 4), np.float32), truth=truth)
    write_sample(tmp_path / "s.h5", sample)
    back = load_sample(tmp_path / "s.h5").truth
    assert all(np.array_equal(a, b) for a, b in zip(back.columns(), truth.columns(), strict=True))
    bad = CrossingTruth(*truth.columns()[:1], np.full(n, np.nan, np.float32), *truth.columns()[2:])
    write_sample(tmp_path / "bad.h5", Sample("bad", np.zeros((n, 19, 4), np.float32), truth=bad))
    with pytest.raises(DataFileError, match="truth has negative, NaN or Inf"):
        load_sample(tmp_path / "bad.h5")  # MET components may be negative, a pT may not
    negative = CrossingTruth(*truth.columns()[:8], np.full(n, -1.0, np.float32), *truth.columns()[9:])
    write_sample(tmp_path / "negative.h5", Sample("negative", np.zeros((n, 19, 4), np.float32), truth=negative))
    with pytest.raises(DataFileError, match="truth has negative"):
        load_sample(tmp_path / "negative.h5")


def test_tail_counts_distinct_interactions():
    n = 28610  # at 28.61 MHz, one crossing is 1 kHz: a 10 kHz tail is the top 10
    particles = np.zeros((n, 19, 4), np.float32)
    particles[:, 9, 0] = np.arange(n, dtype=np.float32) / 100  # leading jet pT rises with the index
    ids = np.arange(n, dtype=np.int64)
    ids[-11:] = 7  # ... and the 11 hardest crossings all share one interaction
    zero = np.zeros(n, np.float32)
    truth = CrossingTruth(np.zeros(n, np.int16), zero, np.ones(n, np.int8), ids, zero, np.zeros(n, np.int16),
                          *[zero] * 6)
    jet = next(t for t in tails(Sample("zb", particles, truth=truth)) if t.quantity == "leading jet pT")
    assert jet.n_above == 10 and jet.n_distinct == 1
    assert jet.threshold_gev == pytest.approx((n - 11) / 100)


@pytest.mark.slow
def test_pools_of_different_splits_share_no_interaction():
    cfg = _config()
    shard = _pool_shard(ShardJob("pool", None, 0, 450, 1, cfg))
    assert shard.table.n_interactions == 450 and np.all(shard.table.scale < cfg.pileup_stitch_pthat_gev)
    pools = split_pools(shard.table, {"train": 200, "test": 150, "blind": 100})
    hashes = {}
    for split, table in pools.items():
        fingerprints = _interaction_hashes(table)
        hashes[split] = set(fingerprints)
        assert len(hashes[split]) == len(fingerprints) > 0.6 * table.n_interactions  # none twice within a pool
    assert not (hashes["train"] & hashes["test"]) and not (hashes["test"] & hashes["blind"])
    assert not (hashes["train"] & hashes["blind"])
    with pytest.raises(ValueError, match="pools need 451"):
        split_pools(shard.table, {"train": 451})


@pytest.mark.slow
def test_fresh_hard_pileup_differs_between_shards_and_samples():
    cfg = _config()
    seen = []
    for sample, index in (("background_train", 0), ("background_train", 1), ("background_test", 0)):
        job = ShardJob(sample, None, index, 10, 1, cfg, "", hard_fraction=0.01)
        pools = {pool_of(sample): PileupPool(_table([[(1.0, 0.1, 0.1)]], [5.0]))}
        table, _ = _Overlay(job, pools).hard.take(30)
        assert np.all(table.scale > cfg.pileup_stitch_pthat_gev)
        seen.append(set(_interaction_hashes(table)))
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])


@pytest.mark.slow
def test_stitched_hardest_scale_spectrum_matches_an_unstitched_run():
    """The pT-hat spectrum of one pile-up interaction: soft pool (below the cut) x (1 - f) plus fresh hard QCD (above)
    x f, with f from Pythia's cross sections, against plain minimum bias; bins on both sides of the cut."""
    cut = 15.0
    cfg = _config(pileup_stitch_pthat_gev=cut, decays_in_flight=None)
    f = pileup_cross_sections(cfg, 3)["hard_fraction"]
    plain = EventStream("minbias", 11, cfg.sqrt_s_tev).next(6000).scale
    soft, generated = EventStream("minbias", 12, cfg.sqrt_s_tev).next_below(3000, cut)
    hard = EventStream("pileup_hard", 13, cfg.sqrt_s_tev, (f"PhaseSpace:pTHatMin = {cut:g}",)).next(800).scale
    # the minimum-bias interactions dropped from the pool measure f independently
    above = generated - soft.n_interactions
    assert above / generated == pytest.approx(f, abs=3 * np.sqrt(f / generated))
    for lo, hi in ((8, 11), (11, 15), (15, 19), (19, 30)):
        p_plain = np.mean((plain >= lo) & (plain < hi))
        part = soft.scale if hi <= cut else hard
        share = (1 - f) if hi <= cut else f
        p_stitched = share * np.mean((part >= lo) & (part < hi))
        n_part = soft.n_interactions if hi <= cut else len(hard)
        sigma = np.sqrt(p_plain * (1 - p_plain) / len(plain) + share**2 * p_stitched / share * (1 - p_stitched / share)
                        / n_part)
        assert abs(p_plain - p_stitched) < 3 * sigma + 1e-4, (lo, hi, p_plain, p_stitched)
