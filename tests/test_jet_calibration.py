"""Level-1 jet energy calibration (issue 11): the table's validation and look-up, where the emulation applies it,
per-jet particle-level jets and matching, and (real Pythia) that the shipped calibration brings the response of an
independent sample to 1."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from l1ad.benchmark.generation.genjets import GenJets, genjets
from l1ad.benchmark.generation.particle_level import ParticleLevelDefinition, particle_level_summary
from l1ad.benchmark.generation.particles import KIND_HAD, ParticleTable
from l1ad.benchmark.generation.pileup import Crossings
from l1ad.benchmark.geometry import tower_index
from l1ad.benchmark.trigger.calibration import jet_correction, match_jets, median_interval
from l1ad.benchmark.trigger.emulation import emulate
from l1ad.benchmark.trigger.menu import menu_decisions
from l1ad.config import EmulationConfig, JetCalibration, dataset_definition
from l1ad.config.menu import MenuConfig

CLEAN = EmulationConfig(em_stochastic=0, em_constant=0, had_stochastic=0, had_constant=0, tower_noise_gev=0,
                        hadron_em_probability=0)
TABLE = JetCalibration(abs_eta_edges=[0.0, 1.5, 3.0], pt_points_gev=[20.0, 100.0],
                       factors=[[1.2, 1.0], [1.4, 1.1]], method="by hand")


def _hadrons(events) -> Crossings:
    """events: list of lists of (pt, eta, phi) hadrons."""
    rows = [p for ev in events for p in ev]
    pt, eta, phi = (np.array(c, dtype=np.float32) for c in zip(*rows, strict=True))
    ieta, iphi = tower_index(eta, phi)
    table = ParticleTable.from_columns(np.array([len(e) for e in events]), pt=pt, eta=eta, phi=phi,
                                       kind=np.full(len(pt), KIND_HAD, dtype=np.int8), ieta=ieta, iphi=iphi)
    return Crossings.from_table(table)


@pytest.mark.parametrize("change, message", [
    ({"abs_eta_edges": [0.5, 1.5, 3.0]}, "start at 0"),
    ({"abs_eta_edges": [0.0, 1.5, 1.5]}, "increase strictly"),
    ({"pt_points_gev": [100.0, 20.0]}, "increase strictly"),
    ({"pt_points_gev": [0.0, 20.0]}, "positive"),
    ({"factors": [[1.2, 1.0]]}, "one row per"),
    ({"factors": [[1.2, 1.0], [1.4]]}, "one factor per"),
    ({"factors": [[1.2, 0.0], [1.4, 1.1]]}, "positive and finite"),
    ({"factors": [[1.2, -1.0], [1.4, 1.1]]}, "positive and finite"),
    ({"factors": [[1.2, float("nan")], [1.4, 1.1]]}, "finite"),
    ({"factors": [[1.2, float("inf")], [1.4, 1.1]]}, "finite"),
])
def test_calibration_table_is_validated(change, message):
    with pytest.raises(ValidationError, match=message):
        JetCalibration(**{**TABLE.model_dump(), **change})


def test_shipped_calibration_is_the_default_and_covers_the_jet_acceptance():
    default = EmulationConfig().jet_calibration
    assert default is not None and "fit_jet_calibration.py" in default.method and "approximate" in default.method
    assert default.abs_eta_edges[-1] >= EmulationConfig().jet_max_eta
    assert dataset_definition("zb").emulation.jet_calibration == default
    assert dataset_definition("adc").emulation.jet_calibration == default
    assert EmulationConfig(jet_calibration=None).jet_calibration is None


def test_correction_is_piecewise_linear_in_pt_and_constant_beyond_the_ends():
    pt = np.array([10.0, 20.0, 60.0, 100.0, 500.0, 60.0, 60.0, 60.0])
    abs_eta = np.array([0.2, 0.2, 0.2, 0.2, 0.2, 1.5, 2.9, 4.5])  # 1.5 is the second bin's lower edge; 4.5: last bin
    assert jet_correction(TABLE, pt, abs_eta) == pytest.approx([1.2, 1.2, 1.1, 1.0, 1.0, 1.25, 1.25, 1.25])


def test_emulated_jets_are_calibrated_before_the_minimum_pt_cut():
    events = [[(80.0, 0.5, 1.0)], [(18.0, 0.5, 1.0)], [(60.0, 2.0, -1.0)]]
    calibrated = emulate(_hadrons(events), CLEAN.model_copy(update={"jet_calibration": TABLE}),
                         np.random.default_rng(0)).particles[:, 9]
    plain = emulate(_hadrons(events), CLEAN.model_copy(update={"jet_calibration": None}),
                    np.random.default_rng(0)).particles[:, 9]
    assert plain[0, 0] == 80.0 and calibrated[0, 0] == np.floor(80.0 * 1.05 / 0.5) * 0.5  # 84.0
    assert plain[1, 0] == 0.0 and calibrated[1, 0] == 21.5  # 18 GeV x 1.2 = 21.6 passes the 20 GeV minimum
    assert calibrated[2, 0] == 60.0 * 1.25
    assert np.array_equal(plain[[0, 2], 1:], calibrated[[0, 2], 1:])  # positions and classes unchanged


def test_ht_is_summed_over_calibrated_jets():
    # six isolated 56 GeV hadrons in |eta| < 2.5: HT 336 GeV uncalibrated (below HTT360er), 6 x floor(56 x 1.11) = 372 GeV
    # calibrated
    positions = [(eta, -np.pi + (24 * k + 6) * 2 * np.pi / 72) for eta in (-0.4, 0.4) for k in range(3)]
    event = _hadrons([[(56.0, eta, phi) for eta, phi in positions]])
    menu = MenuConfig()
    fired = {}
    for label, calibration in (("plain", None), ("calibrated", TABLE)):
        particles = emulate(event, CLEAN.model_copy(update={"jet_calibration": calibration}),
                            np.random.default_rng(0)).particles
        fired[label] = menu_decisions(particles, menu)["HTT360er"][0]
    assert not fired["plain"] and fired["calibrated"]


def test_genjets_one_by_one_agree_with_the_summary():
    # interaction 0: two separated sprays of 50 and 40 GeV; interaction 1: one of 35 GeV; interaction 2: nothing hard
    interactions = [[(30.0, 0.0, 0.0), (20.0, 0.05, 0.05), (40.0, 1.5, 2.0)], [(35.0, -2.0, -1.0)], [(2.0, 0.0, 0.0)]]
    rows = [p for i in interactions for p in i]
    pt, eta, phi = (np.array(c, dtype=np.float32) for c in zip(*rows, strict=True))
    ieta, iphi = tower_index(eta, phi)
    table = ParticleTable.from_columns(np.array([len(i) for i in interactions]), pt=pt, eta=eta, phi=phi,
                                       kind=np.full(len(pt), KIND_HAD, dtype=np.int8), ieta=ieta, iphi=iphi)
    jets = genjets(table)
    assert list(jets.interaction) == [0, 0, 1]
    assert jets.pt == pytest.approx([50.0, 40.0, 35.0], rel=1e-3)
    assert jets.eta[1] == pytest.approx(1.5, abs=1e-3) and jets.phi[2] == pytest.approx(-1.0, abs=1e-3)
    summary = particle_level_summary(table, ParticleLevelDefinition(jet_max_eta=4.0))
    assert summary.jet_leading_pt == pytest.approx([50.0, 35.0, 0.0], rel=1e-3)
    assert list(summary.jet_count) == [2, 1, 0]
    assert list(summary.jet_count_smeared) == [2, 1, 0]  # no resolution stated: the plain count
    assert len(genjets(table, min_pt=45.0)) == 1 and len(genjets(table, max_eta=1.0)) == 1


def test_matching_takes_the_nearest_level1_jet_within_dr_and_isolated_particle_level_jets_only():
    particles = np.zeros((2, 19, 4), dtype=np.float32)
    particles[0, 9] = (90.0, 0.1, 0.0, 4)
    particles[0, 10] = (45.0, 0.3, 0.1, 4)
    particles[0, 11] = (30.0, -2.0, 3.0, 4)
    particles[1, 9] = (70.0, 1.0, 1.0, 4)
    gen = GenJets(interaction=np.array([0, 0, 1, 1]), pt=np.array([100.0, 25.0, 80.0, 12.0], np.float32),
                  eta=np.array([0.0, -2.4, 1.0, 1.5], np.float32), phi=np.array([0.0, 3.0, 1.0, 1.2], np.float32))
    matched = match_jets(particles, gen, min_gen_pt=20.0, max_abs_eta=4.0)
    # event 0: the 100 GeV jet takes the nearest L1 jet (90), the 25 GeV one is 0.4 from its L1 jet (not matched);
    # event 1: the 80 GeV jet has a 12 GeV neighbour 0.54 away (not isolated); the 12 GeV jet is below min_gen_pt
    assert matched.n_candidates == 2
    assert list(matched.gen_pt) == [100.0] and list(matched.l1_pt) == [90.0]
    assert matched.response == pytest.approx([0.9])


def test_median_interval_brackets_the_median():
    values = np.random.default_rng(3).normal(1.0, 0.1, 400)
    median, lo, hi = median_interval(values)
    assert lo < median < hi and hi - lo == pytest.approx(2 * 1.2533 * 0.1 / np.sqrt(400), rel=0.3)


# The check of the shipped calibration on an independent sample (real Pythia QCD with the zb pile-up at mu = 60; seed 7,
# the fit used seeds 1 and its check 1001). Stated tolerance: the calibrated median response within 0.05 of 1 in every
# |eta| bin holding at least MIN_JETS matched jets (statistical error of the median there ~0.015, plus the table's
# non-closure); the uncalibrated one is below 0.95 over the whole sample, with the upper end of its interval below 0.96.
TOLERANCE = 0.05
MIN_JETS = 60


@pytest.mark.slow
def test_shipped_calibration_brings_the_response_to_one_on_an_independent_sample():
    from l1ad.benchmark.datasets.calibration import calibration_sample

    cfg = dataset_definition("zb").resolve("tiny")
    calibrated = cfg.emulation
    matched = calibration_sample(cfg, [(40.0, 80.0), (80.0, 200.0)], 200, 7,
                                 {"calibrated": calibrated,
                                  "uncalibrated": calibrated.model_copy(update={"jet_calibration": None})},
                                 pool_size=300, shard_size=200, min_gen_pt=40.0)
    cal, raw = matched["calibrated"], matched["uncalibrated"]
    assert len(cal) > 0.8 * cal.n_candidates > 250
    r_raw, _, raw_hi = median_interval(raw.response)
    assert r_raw < 0.95 and raw_hi < 0.96, r_raw
    edges = calibrated.jet_calibration.abs_eta_edges
    populated = 0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (np.abs(cal.l1_eta) >= lo) & (np.abs(cal.l1_eta) < hi)
        if inside.sum() < MIN_JETS:
            continue
        populated += 1
        r, r_lo, r_hi = median_interval(cal.response[inside])
        assert abs(r - 1) < TOLERANCE, (lo, hi, r, r_lo, r_hi, int(inside.sum()))
    assert populated >= 2
    r_cal, _, _ = median_interval(cal.response)
    assert abs(r_cal - 1) < TOLERANCE / 2
