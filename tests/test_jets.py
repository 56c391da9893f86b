"""Boosted-jet samples: array layout, selection cuts, physics sanity, determinism, domains and re-simulation."""

from __future__ import annotations

import numpy as np
import pytest

from l1ad.benchmark.jets import FEATURE_NAMES, JET_CLASSES, JetSample, generate_jets, resimulate
from l1ad.config.processes import JET_DOMAINS
from l1ad.errors import L1adError

N_PER_CLASS = 30
PT_MIN, PT_MAX = 500.0, 1000.0


@pytest.fixture(scope="module")
def sample() -> JetSample:
    return generate_jets(N_PER_CLASS, 11, pt_min=PT_MIN, pt_max=PT_MAX)


def _feature(sample: JetSample, name: str, *classes: str) -> np.ndarray:
    rows = np.isin(sample.labels, [JET_CLASSES.index(c) for c in classes])
    return sample.features[rows, FEATURE_NAMES.index(name)]


def _median(sample: JetSample, name: str, *classes: str) -> float:
    return float(np.median(_feature(sample, name, *classes)))


def _delta_r(eta1, phi1, eta2, phi2):
    return np.hypot(eta1 - eta2, (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi)


def test_unknown_domain_and_class_raise_one_line_errors():
    with pytest.raises(L1adError, match="known: nominal, alternative") as info:
        generate_jets(1, 0, domain="herwig")
    assert "\n" not in str(info.value)
    with pytest.raises(L1adError, match="known: nominal, alternative"):
        resimulate(1, 2, 0, domain="data")
    with pytest.raises(L1adError, match="unknown jet class 'b'"):
        resimulate(1, 2, 0, jet_class="b")
    assert set(JET_DOMAINS) == {"nominal", "alternative"} and JET_DOMAINS["nominal"] == ()


@pytest.mark.slow
def test_shapes_dtypes_and_labels(sample):
    n = N_PER_CLASS * len(JET_CLASSES)
    assert sample.constituents.shape == (n, 32, 3) and sample.constituents.dtype == np.float32
    assert sample.features.shape == (n, len(FEATURE_NAMES)) == (n, 16) and sample.features.dtype == np.float32
    assert sample.labels.shape == (n,) and sample.labels.dtype == np.int8
    assert sample.kinematics.shape == (n, 4) and sample.kinematics.dtype == np.float32
    assert sample.domain == "nominal"
    assert np.bincount(sample.labels, minlength=len(JET_CLASSES)).tolist() == [N_PER_CLASS] * len(JET_CLASSES)
    assert np.isfinite(sample.features).all() and np.isfinite(sample.constituents).all()
    # Shuffled: the classes are not in generation order.
    assert not np.array_equal(sample.labels, np.sort(sample.labels))


@pytest.mark.slow
def test_constituents_are_pt_ordered_relative_and_zero_padded(sample):
    rel_pt, deta, dphi = sample.constituents[..., 0], sample.constituents[..., 1], sample.constituents[..., 2]
    assert (np.diff(rel_pt, axis=1) <= 0).all()
    # Scalar pT sums exceed the vector jet pT a little (by ~R^2), so "<= 1" holds only up to a percent or so.
    assert (rel_pt.sum(axis=1) <= 1.05).all() and (rel_pt.sum(axis=1) > 0.5).all()
    filled = rel_pt > 0
    multiplicity = _feature(sample, "j_multiplicity", *JET_CLASSES)
    assert np.array_equal(filled.sum(axis=1), np.minimum(multiplicity, 32).astype(int))
    assert (sample.constituents[~filled] == 0).all()
    assert (np.abs(dphi) <= np.pi).all()
    # Hard constituents are nearly massless, so their (eta, phi) distance to the axis stays about within the jet radius
    # (anti-kT works in rapidity; for a massive jet, such as a top, its eta and rapidity differ by up to ~0.1).
    hard = rel_pt > 0.01
    assert (np.hypot(deta, dphi)[hard] < 0.95).all()
    # The pT-weighted centroid of the constituents is the jet axis (up to the cut at 32 constituents and eta != y).
    for offset in (np.abs((rel_pt * deta).sum(axis=1)), np.abs((rel_pt * dphi).sum(axis=1))):
        assert np.median(offset) < 0.02 and offset.max() < 0.1


@pytest.mark.slow
def test_jet_kinematics_pass_the_cuts(sample):
    pt, eta, phi, mass = sample.kinematics.T
    assert (pt >= PT_MIN).all() and (pt <= PT_MAX).all()
    assert (np.abs(eta) < 2.0).all() and (np.abs(phi) <= np.pi).all()
    assert np.allclose(mass, sample.features[:, FEATURE_NAMES.index("j_mass")], rtol=1e-4, atol=1e-3)
    groomed = sample.features[:, FEATURE_NAMES.index("j_mass_mmdt")]
    assert (groomed <= mass + 1e-3).all() and (groomed >= 0).all()


@pytest.mark.slow
def test_groomed_masses_peak_at_the_boson_and_top_masses(sample):
    assert abs(_median(sample, "j_mass_mmdt", "W") - 80.4) < 20
    assert abs(_median(sample, "j_mass_mmdt", "Z") - 91.2) < 20
    assert _median(sample, "j_mass", "t") > 140 and _median(sample, "j_mass_mmdt", "t") > 140
    # QCD jets get their mass from soft, wide-angle radiation, which the grooming removes.
    assert _median(sample, "j_mass_mmdt", "q", "g") < 50
    w_median = _median(sample, "j_mass_mmdt", "W")
    assert _median(sample, "j_mass_mmdt", "q") < w_median and _median(sample, "j_mass_mmdt", "g") < w_median


@pytest.mark.slow
def test_substructure_separates_the_classes(sample):
    assert _median(sample, "j_multiplicity", "g") > 1.2 * _median(sample, "j_multiplicity", "q")
    assert _median(sample, "j_ptd", "g") < _median(sample, "j_ptd", "q")
    assert _median(sample, "j_tau21_b1", "W") < _median(sample, "j_tau21_b1", "q") - 0.1
    assert _median(sample, "j_tau21_b1", "Z") < _median(sample, "j_tau21_b1", "g") - 0.1
    assert _median(sample, "j_tau32_b1", "t") < _median(sample, "j_tau32_b1", "q") - 0.1
    assert _median(sample, "j_d2_b1", "W") < _median(sample, "j_d2_b1", "q")
    tau1, tau2, tau3 = (_feature(sample, f"j_tau{k}_b1", *JET_CLASSES) for k in (1, 2, 3))
    assert (tau2 <= tau1 + 1e-6).all() and (tau3 <= tau2 + 1e-6).all()


@pytest.mark.slow
def test_same_seed_gives_identical_bytes_and_other_seed_differs():
    counted = []
    a = generate_jets(6, 3, classes=("g", "Z"), progress=counted.append)
    b = generate_jets(6, 3, classes=("g", "Z"))
    c = generate_jets(6, 4, classes=("g", "Z"))
    assert sum(counted) == 12
    for field in ("constituents", "features", "labels", "kinematics"):
        assert getattr(a, field).tobytes() == getattr(b, field).tobytes(), field
    assert not np.array_equal(a.features, c.features) and not np.array_equal(a.constituents, c.constituents)


@pytest.mark.slow
def test_alternative_domain_has_fewer_harder_constituents():
    # The shift is ~10 % of the mean multiplicity against a ~25 % spread from jet to jet, so it takes ~800 jets per
    # domain to see it at 5-6 standard errors (gluon jets are the cheapest to generate).
    nominal = generate_jets(800, 5, classes=("g",))
    alternative = generate_jets(800, 5, classes=("g",), domain="alternative")
    assert alternative.domain == "alternative"

    def shift(name: str) -> float:
        x, y = _feature(nominal, name, "g"), _feature(alternative, name, "g")
        return (x.mean() - y.mean()) / np.hypot(x.std() / np.sqrt(len(x)), y.std() / np.sqrt(len(y)))

    assert shift("j_multiplicity") > 3
    assert shift("j_ptd") < -3 and shift("j_zlogz") < -3


@pytest.mark.slow
def test_resimulated_copies_share_the_jet_but_not_the_hadrons():
    n_jets, n_copies = 6, 3
    r = resimulate(n_jets, n_copies, 8, jet_class="g", pt_min=PT_MIN, pt_max=PT_MAX)
    assert r.constituents.shape == (n_jets, n_copies, 32, 3) and r.constituents.dtype == np.float32
    assert r.features.shape == (n_jets, n_copies, 16) and r.kinematics.shape == (n_jets, n_copies, 4)
    assert r.labels.tolist() == [JET_CLASSES.index("g")] * n_jets
    pt, eta, phi = r.kinematics[..., 0], r.kinematics[..., 1], r.kinematics[..., 2]
    assert (pt >= PT_MIN).all() and (pt <= PT_MAX).all()
    dr = _delta_r(eta[:, 1:], phi[:, 1:], eta[:, :1], phi[:, :1])
    assert (dr < 0.4).mean() >= 0.9
    for jet in range(n_jets):
        assert not np.array_equal(r.constituents[jet, 0], r.constituents[jet, 1])
    # Different events give different jets: the copies are closer to each other than to other events' jets.
    others = _delta_r(eta[1:, 0], phi[1:, 0], eta[:-1, 0], phi[:-1, 0])
    assert np.median(dr) < np.median(others)
    again = resimulate(n_jets, n_copies, 8, jet_class="g", pt_min=PT_MIN, pt_max=PT_MAX)
    assert again.constituents.tobytes() == r.constituents.tobytes() and again.features.tobytes() == r.features.tobytes()
