import numpy as np
import pytest

from l1ad.benchmark.generation.particles import KIND_EM, KIND_HAD, KIND_MUON, ParticleTable
from l1ad.benchmark.generation.pileup import Crossings, PileupPool, overlay_pileup
from l1ad.benchmark.geometry import N_ETA, N_PHI, tower_index
from l1ad.benchmark.trigger.emulation import emulate, median_of_seven
from l1ad.benchmark.trigger.layout import CLASS_EGAMMA, CLASS_JET, CLASS_MET, CLASS_MUON
from l1ad.config import EmulationConfig

# No noise, smearing or jet calibration: the answers below are exact.
CLEAN = EmulationConfig(em_stochastic=0, em_constant=0, had_stochastic=0, had_constant=0, tower_noise_gev=0,
                        jet_calibration=None)


def table(events):
    """events: list of lists of (pt, eta, phi, kind)."""
    rows = [p for ev in events for p in ev]
    pt, eta, phi, kind = (np.array(c, dtype=np.float32) for c in zip(*rows, strict=True))
    ieta, iphi = tower_index(eta, phi)
    return ParticleTable.from_columns(
        np.array([len(e) for e in events]), pt=pt, eta=eta, phi=phi, kind=kind.astype(np.int8), ieta=ieta, iphi=iphi
    )


def crossings(events):
    return Crossings.from_table(table(events))


def test_single_photon_becomes_egamma_jet_and_met():
    out = emulate(crossings([[(50.0, 0.5, 1.0, KIND_EM)]]), CLEAN, np.random.default_rng(0)).particles[0]
    met, eg, jet = out[0], out[1], out[9]
    assert met[3] == CLASS_MET and met[1] == 0
    assert met[0] == pytest.approx(50.0, abs=0.5)
    assert abs(abs(met[2] - 1.0) - np.pi) < 0.1  # opposite to the photon
    assert eg[3] == CLASS_EGAMMA and eg[0] == pytest.approx(50.0, abs=0.5)
    assert eg[1] == pytest.approx(0.5, abs=0.087) and eg[2] == pytest.approx(1.0, abs=2 * np.pi / 72)
    assert jet[3] == CLASS_JET and jet[0] == pytest.approx(50.0, abs=1.0)
    assert np.all(out[2:9] == 0)  # no second e/gamma, no muon


def test_hadron_is_a_jet_not_an_egamma():
    out = emulate(crossings([[(80.0, -1.2, -2.0, KIND_HAD)]]), CLEAN, np.random.default_rng(0)).particles[0]
    assert np.all(out[1:5] == 0)
    assert out[9, 3] == CLASS_JET and out[9, 0] == pytest.approx(80.0, abs=1.0)


def test_muon_goes_to_muon_slots_only_inside_acceptance():
    events = [[(30.0, 0.3, 0.0, KIND_MUON)], [(30.0, 2.6, 0.0, KIND_MUON)]]
    cfg = CLEAN.model_copy(update={"muon_pt_resolution": 0.0})
    out = emulate(crossings(events), cfg, np.random.default_rng(0)).particles
    assert out[0, 5, 3] == CLASS_MUON and out[0, 5, 0] == 30.0
    assert np.all(out[1, 5:9] == 0)
    assert out[0, 9, 0] == 0  # muons leave no calorimeter jet


def test_objects_are_pt_ordered_and_capped():
    # 12 isolated jets: four eta rows 9 towers apart, three phi positions 24 towers apart (barrel windows are 9 x 9, and
    # the pile-up estimate, a median over the ring band's other blocks, sees at most two of them).
    positions = [(eta, -np.pi + (24 * k + 6) * 2 * np.pi / 72) for eta in (-1.2, -0.4, 0.4, 1.2) for k in range(3)]
    jets = [(20.0 + 10 * i, eta, phi, KIND_HAD) for i, (eta, phi) in enumerate(positions)]
    out = emulate(crossings([jets]), CLEAN, np.random.default_rng(0)).particles[0]
    pts = out[9:, 0]
    assert np.all(pts > 0) and np.all(np.diff(pts) <= 0)
    assert np.all(out[9:, 3] == CLASS_JET)
    lead_eta, lead_phi = positions[-1]  # the 130 GeV particle
    assert out[9, 1] == pytest.approx(lead_eta, abs=0.087) and out[9, 2] == pytest.approx(lead_phi, abs=0.09)


def test_jets_beyond_acceptance_are_dropped():
    out = emulate(crossings([[(100.0, 4.5, 0.0, KIND_HAD)]]), CLEAN, np.random.default_rng(0)).particles[0]
    assert np.all(out[9:] == 0)
    assert out[0, 0] == pytest.approx(100.0, abs=0.5)  # still in MET


def test_regions_hold_central_energy_only():
    events = [[(40.0, 0.1, 0.1, KIND_HAD), (25.0, 3.5, 0.1, KIND_HAD)]]
    regions = emulate(crossings(events), CLEAN, np.random.default_rng(0)).regions
    assert regions.shape == (1, 18, 14) and regions.dtype == np.uint16
    assert regions.sum() == 40


def test_pileup_overlay_keeps_particles_and_maps_towers():
    rng = np.random.default_rng(5)
    pool_table = table([[(1.0 + i, 0.2 * i - 2, 0.3 * i - 3, KIND_HAD)] for i in range(20)])
    hard = table([[(100.0, 0.0, 0.0, KIND_EM)], [(90.0, 1.0, 1.0, KIND_EM), (30.0, 0.5, 0.5, KIND_MUON)]])
    merged, truth = overlay_pileup(hard, 2, PileupPool(pool_table), mu=5, rng=rng)
    n_pu = truth.n_pileup
    layer = merged.deposit_cell % 2
    assert np.bincount(merged.deposit_event, minlength=2).tolist() == (n_pu + 1).tolist()
    assert np.bincount(merged.deposit_event[layer == 0], minlength=2).tolist() == [1, 1]  # the hard photons
    ieta = merged.deposit_cell // 2 // N_PHI
    for pt, eta in zip(merged.deposit_pt[layer == 1], ieta[layer == 1], strict=True):
        original = pool_table.ieta[int(round(pt)) - 1]
        assert eta in (original, N_ETA - 1 - original)  # rotated in phi, possibly mirrored in eta
    assert merged.muon_event.tolist() == [1] and merged.muon_pt.tolist() == [30.0]


def test_same_seed_same_output():
    rng_events = crossings([[(50.0, 0.5, 1.0, KIND_EM), (40.0, -0.5, 2.0, KIND_HAD)]] * 3)
    a = emulate(rng_events, EmulationConfig(), np.random.default_rng(9))
    b = emulate(rng_events, EmulationConfig(), np.random.default_rng(9))
    assert np.array_equal(a.particles, b.particles) and np.array_equal(a.regions, b.regions)


@pytest.mark.parametrize("half", [1, 4])
def test_window_max_and_sum_match_brute_force_with_phi_wrap_and_eta_edges(half):
    from l1ad.benchmark.trigger.emulation import _window_max, _window_sum

    rng = np.random.default_rng(half)
    grid = rng.integers(0, 50, size=(2, N_ETA, N_PHI)).astype(np.int32)
    grid[:, 0, 0] = grid[:, -1, -1] = 1000  # corners: reach across the phi seam, not across the eta edge
    padded = np.pad(grid, ((0, 0), (half, half), (0, 0)))  # zero beyond eta
    shifts = [(i, j) for i in range(-half, half + 1) for j in range(-half, half + 1)]
    views = [np.roll(padded, (-i, -j), axis=(1, 2))[:, half : half + N_ETA] for i, j in shifts]  # roll wraps phi
    np.testing.assert_array_equal(_window_max(grid, half), np.max(views, axis=0))
    np.testing.assert_array_equal(_window_sum(grid.astype(np.float32), half), np.sum(views, axis=0))
    assert _window_max(grid, half)[0, 0, N_PHI - 1] == 1000 and _window_max(grid, half)[0, N_ETA - 1, 0] == 1000
    assert _window_max(grid, half)[0, half + 1, 0] < 1000  # the eta edge does not wrap


def test_median_of_seven_is_the_median_of_every_input():
    import itertools

    # every 0/1 input (a comparator network that selects the median of all of them selects it of any input) ...
    bits = np.array(list(itertools.product([0.0, 1.0], repeat=7))).T
    assert np.array_equal(median_of_seven(list(bits)), np.median(bits, axis=0))
    # ... and tower sums with ties, as the pile-up estimate sees them
    sums = np.random.default_rng(0).integers(0, 12, size=(7, 30, 8, 9)) * 0.5
    assert np.array_equal(median_of_seven(list(sums)), np.median(sums, axis=0))
    with pytest.raises(ValueError, match="7 arrays"):
        median_of_seven(list(sums[:6]))
