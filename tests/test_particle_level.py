"""Particle level of each crossing (issue 11): leading generator muon and e/gamma, a perfect calorimeter's MET, the
jet count folded with the stated resolution, how they travel through the pile-up overlay, and the particle-level
column of the menu table."""

from __future__ import annotations

import numpy as np
import pytest

from l1ad.benchmark.datasets.fidelity import particle_level_fires
from l1ad.benchmark.generation.particle_level import (
    ParticleLevelDefinition,
    particle_level_summary,
    pass_probability,
)
from l1ad.benchmark.generation.particles import KIND_EM, KIND_HAD, KIND_MUON, ParticleTable
from l1ad.benchmark.generation.pileup import PileupPool, overlay_pileup
from l1ad.benchmark.geometry import N_ETA, N_PHI, PHI_CENTERS, tower_index
from l1ad.benchmark.trigger.calibration import MatchedJets, measure_resolution
from l1ad.config import JetResolution, JetResolutionBin
from l1ad.config.menu import MenuConfig

RESOLUTION = JetResolution(bins=[
    JetResolutionBin(abs_eta_lo=0.0, abs_eta_hi=1.5, gen_pt_gev=[20.0, 60.0], response=[1.0, 1.0], width=[0.2, 0.2]),
    JetResolutionBin(abs_eta_lo=1.5, abs_eta_hi=5.0, gen_pt_gev=[20.0], response=[0.5], width=[0.1]),
])


def _table(interactions: list[list[tuple[float, float, float, int]]]) -> ParticleTable:
    """interactions: lists of (pt, eta, phi, kind) particles."""
    rows = [p for i in interactions for p in i]
    pt, eta, phi = (np.array([r[k] for r in rows], dtype=np.float32) for k in range(3))
    ieta, iphi = tower_index(eta, phi)
    return ParticleTable.from_columns(np.array([len(i) for i in interactions]), pt=pt, eta=eta, phi=phi,
                                      kind=np.array([r[3] for r in rows], dtype=np.int8), ieta=ieta, iphi=iphi)


def test_summary_takes_leptons_in_acceptance_and_the_calorimeter_pt_sum():
    table = _table([
        [(30.0, 0.5, 0.0, KIND_MUON), (50.0, 2.6, 1.0, KIND_MUON), (10.0, 0.0, 0.5 * np.pi, KIND_EM),
         (40.0, 2.7, -1.0, KIND_EM), (20.0, 6.0, 0.0, KIND_HAD)],
        [(8.0, -1.0, np.pi, KIND_HAD), (25.0, -2.0, 0.0, KIND_MUON)],
    ])
    s = particle_level_summary(table, ParticleLevelDefinition(met_max_eta=5.0))
    assert s.muon_leading_pt == pytest.approx([30.0, 25.0])  # the 50 GeV muon is beyond |eta| 2.4
    assert s.egamma_leading_pt == pytest.approx([10.0, 0.0])  # the 40 GeV photon beyond 2.5; a hadron is none
    # pT sum of calorimeter particles within |eta| 5: muons and the hadron at eta 6 left out
    assert s.visible_px == pytest.approx([40.0 * np.cos(-1.0), -8.0], abs=1e-4)
    assert s.visible_py == pytest.approx([10.0 + 40.0 * np.sin(-1.0), 0.0], abs=1e-4)
    turned = s.rotated(np.array([0.5 * np.pi, 0.0]))
    assert turned.visible_px[0] == pytest.approx(-s.visible_py[0], abs=1e-4)
    assert turned.visible_py[0] == pytest.approx(s.visible_px[0], abs=1e-4)


def test_pass_probability_is_the_stated_gaussian():
    p = pass_probability(RESOLUTION, np.array([30.0, 60.0, 15.0, 80.0]), np.array([0.0, 1.0, 0.5, 2.0]), 30.0)
    assert p[0] == pytest.approx(0.5)  # response 1: half of the 30 GeV jets pass 30 GeV
    assert p[1] == pytest.approx(0.99379, abs=1e-5) and p[2] < 1e-6  # z = (1 - 0.5) / 0.2 and (0.5 - 1) / 0.2 x 2
    # forward bin: 80 GeV jets measured at 0.5 x 80 = 40 GeV with a width of 0.1 x 80 = 8 GeV: z = 10 / 8
    assert p[3] == pytest.approx(0.894, abs=1e-3)


def test_smeared_count_sums_each_jets_chance_to_pass():
    table = _table([[(30.0, 0.0, 0.0, KIND_HAD), (60.0, 1.0, 2.0, KIND_HAD)], [(20.0, -0.5, 1.0, KIND_HAD)]])
    plain = particle_level_summary(table, ParticleLevelDefinition())
    folded = particle_level_summary(table, ParticleLevelDefinition(jet_resolution=RESOLUTION))
    assert list(plain.jet_count) == [1, 0] and list(plain.jet_count_smeared) == [1, 0]  # 30 GeV is not above 30
    expected = pass_probability(RESOLUTION, np.array([30.0, 60.0, 20.0]), np.array([0.0, 1.0, 0.5]), 30.0)
    assert folded.jet_count_smeared == pytest.approx([expected[0] + expected[1], expected[2]], rel=1e-5)


def test_overlay_turns_the_met_with_the_deposits_and_keeps_the_leading_leptons():
    iphi = 5
    pool = PileupPool(_table([[(10.0, 0.3, float(PHI_CENTERS[iphi]), KIND_HAD), (12.0, 1.0, 0.0, KIND_MUON),
                               (7.0, -0.5, 0.2, KIND_EM)]]))
    crossings, truth = overlay_pileup(None, 300, pool, 1.0, np.random.default_rng(4))
    one = np.flatnonzero(truth.n_pileup == 1)
    assert len(one) > 50
    hadron = crossings.deposit_pt == 10.0
    for event in one[:40]:
        cell = crossings.deposit_cell[hadron & (crossings.deposit_event == event)][0]
        phi = PHI_CENTERS[(cell // 2) % N_PHI]  # the deposit's tower after the draw's turn
        assert (cell // 2) // N_PHI in range(N_ETA)
        # MET of the calorimeter particles is minus their pT sum: the turned hadron and e/gamma
        em_phi = 0.2 + (phi - PHI_CENTERS[iphi])
        assert truth.genmet_x[event] == pytest.approx(-10 * np.cos(phi) - 7 * np.cos(em_phi), abs=1e-3)
        assert truth.genmet_y[event] == pytest.approx(-10 * np.sin(phi) - 7 * np.sin(em_phi), abs=1e-3)
    assert np.all(truth.genmuon_leading_pt[one] == 12.0) and np.all(truth.genegamma_leading_pt[one] == 7.0)
    none = truth.n_pileup == 0
    assert np.all(truth.genmuon_leading_pt[none] == 0) and np.all(truth.genmet_x[none] == 0)


def test_menu_particle_level_uses_each_seeds_threshold_and_only_comparable_seeds():
    pool = PileupPool(_table([[(30.0, 0.0, 0.0, KIND_MUON)], [(5.0, 0.0, 0.0, KIND_MUON), (50.0, 1.0, 0.0, KIND_EM)]]))
    _, truth = overlay_pileup(None, 400, pool, 0.5, np.random.default_rng(5))
    seeds = {s.name: s for s in MenuConfig().seeds}
    fired, what = particle_level_fires(truth, seeds["SingleMu22"], jet_max_eta=4.0)
    assert np.array_equal(fired, truth.genmuon_leading_pt > 22) and "muon" in what
    assert fired.sum() > 0 and not fired.all()
    eg, _ = particle_level_fires(truth, seeds["SingleEG36er2p5"], jet_max_eta=4.0)
    assert np.array_equal(eg, truth.genegamma_leading_pt > 36)
    met, _ = particle_level_fires(truth, seeds["ETM90"], jet_max_eta=4.0)
    assert np.array_equal(met, np.hypot(truth.genmet_x, truth.genmet_y) > 90)
    assert not met[truth.n_pileup < 2].any()  # one interaction holds 50 GeV of calorimeter pT at most
    assert particle_level_fires(truth, seeds["DoubleMu15_7"], jet_max_eta=4.0) is None  # no second muon in the truth
    narrower = seeds["SingleEG36er2p5"].model_copy(update={"max_eta": 1.5})
    assert particle_level_fires(truth, narrower, jet_max_eta=4.0) is None  # other acceptance than the truth's


def test_measured_resolution_is_the_median_and_half_the_68_percent_interval():
    rng = np.random.default_rng(6)
    n = 20000
    gen_pt = rng.uniform(20, 40, n)
    response = rng.normal(0.9, 0.15, n)
    matched = MatchedJets(gen_pt, np.zeros(n), gen_pt * response, rng.uniform(-1, 1, n), n)
    resolution = measure_resolution(matched, [0.0, 1.5, 3.0], [20, 30, 40], 100, "by hand")
    assert len(resolution.bins) == 1  # nothing beyond |eta| 1.5
    b = resolution.bins[0]
    assert b.response == pytest.approx([0.9, 0.9], abs=0.01) and b.width == pytest.approx([0.15, 0.15], abs=0.01)
    assert b.gen_pt_gev == pytest.approx([25.0, 35.0], abs=0.5)
    with pytest.raises(ValueError, match="generate more events"):
        measure_resolution(matched, [0.0, 1.5], [20, 40], n + 1, "by hand")
