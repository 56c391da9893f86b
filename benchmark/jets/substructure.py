"""Jet substructure: a jet's constituents, its constituent image and the high-level features of ``FEATURE_NAMES``.

:class:`Constituents` holds the pT-ordered constituents of several jets; :func:`constituent_image` gives the per-jet
(pT fraction, Delta eta, Delta phi) array of the leading constituents and :func:`features` the substructure features
(mass, soft-drop mass, N-subjettiness, energy-correlation ratios, ...), defined in the :mod:`l1ad.benchmark.jets`
docstring.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import awkward as ak
import numpy as np

from l1ad.benchmark.jets.clustering import JET_R, ClusteredJets, momenta_array
from l1ad.benchmark.jets.truth import Record
from l1ad.benchmark.kinematics import delta_r, eta_phi, invariant_mass, wrap_phi

FEATURE_NAMES: tuple[str, ...] = (
    "j_mass",
    "j_mass_mmdt",
    "j_multiplicity",
    "j_tau1_b1",
    "j_tau2_b1",
    "j_tau3_b1",
    "j_tau21_b1",
    "j_tau32_b1",
    "j_c1_b1",
    "j_c2_b1",
    "j_c2_b2",
    "j_d2_b1",
    "j_d2_b2",
    "j_zlogz",
    "j_ptd",
    "j_girth",
)

MMDT_ZCUT = 0.1
ECF_CONSTITUENTS = 32
# Re-clustering radius for a jet's own constituents: larger than any distance inside an R = 0.8 jet, so that C/A and
# kT exclusive clustering down to one jet really collects the whole jet.
_RECLUSTER_R = 10.0


@dataclass(frozen=True)
class Constituents:
    """Constituents of N jets, flat and pT-ordered within each jet, with the jet's four-momentum."""

    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    jet: np.ndarray  # owning jet of each constituent
    rank: np.ndarray  # 0 for the hardest constituent of its jet
    offsets: np.ndarray  # (N + 1,)
    jet_p4: np.ndarray  # (N, 4): px, py, pz, E

    @classmethod
    def build(cls, px, py, pz, e, counts: np.ndarray) -> Constituents:
        counts = np.asarray(counts, dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(counts)))
        jet = np.repeat(np.arange(len(counts)), counts)
        pt = np.hypot(px, py)
        order = np.lexsort((-pt, jet))
        px, py, pz, e, pt = px[order], py[order], pz[order], e[order], pt[order]
        eta, phi = eta_phi(px, py, pz)
        p4 = np.stack([np.bincount(jet, weights=v, minlength=len(counts)) for v in (px, py, pz, e)], axis=1)
        rank = np.arange(len(jet)) - offsets[jet]
        return cls(px, py, pz, e, pt, eta, phi, jet, rank, offsets, p4)

    @classmethod
    def of_jets(cls, jets: ClusteredJets, chosen: np.ndarray, particles: Record) -> Constituents:
        """The constituents of the jets ``chosen`` of ``jets``, clustered from ``particles``."""
        index, counts = jets.constituent_index(chosen)
        return cls.build(particles.px[index], particles.py[index], particles.pz[index], particles.e[index], counts)

    @property
    def n_jets(self) -> int:
        return len(self.offsets) - 1

    def jet_axis(self) -> tuple[np.ndarray, np.ndarray]:
        return eta_phi(self.jet_p4[:, 0], self.jet_p4[:, 1], self.jet_p4[:, 2])

    def padded(self, values: np.ndarray, n: int) -> np.ndarray:
        """(N, n) array of a per-constituent quantity for the ``n`` leading constituents, zero-padded."""
        out = np.zeros((self.n_jets, n), dtype=values.dtype)
        keep = self.rank < n
        out[self.jet[keep], self.rank[keep]] = values[keep]
        return out


def constituent_image(const: Constituents, kinematics: np.ndarray, n: int) -> np.ndarray:
    """(N, n, 3) float32: pT / jet pT, eta - jet eta, wrapped phi - jet phi of the ``n`` leading constituents."""
    jet_pt, jet_eta, jet_phi = kinematics[:, 0], kinematics[:, 1], kinematics[:, 2]
    rel = np.stack(
        (
            const.pt / jet_pt[const.jet],
            const.eta - jet_eta[const.jet],
            wrap_phi(const.phi - jet_phi[const.jet]),
        ),
        axis=1,
    )
    out = np.zeros((const.n_jets, n, 3), dtype=np.float32)
    keep = const.rank < n
    out[const.jet[keep], const.rank[keep]] = rel[keep]
    return out


def features(const: Constituents) -> np.ndarray:
    """(N, len(FEATURE_NAMES)) float64 features; see the :mod:`l1ad.benchmark.jets` docstring for definitions."""
    n = const.n_jets
    if n == 0:
        return np.zeros((0, len(FEATURE_NAMES)))
    sum_pt = np.bincount(const.jet, weights=const.pt, minlength=n)
    z = const.pt / sum_pt[const.jet]
    axis_eta, axis_phi = const.jet_axis()
    dr_axis = delta_r(const.eta, const.phi, axis_eta[const.jet], axis_phi[const.jet])
    multiplicity = np.diff(const.offsets).astype(np.float64)
    zlogz = np.bincount(const.jet, weights=z * np.log(z, where=z > 0, out=np.zeros_like(z)), minlength=n)
    ptd = np.sqrt(np.bincount(const.jet, weights=const.pt**2, minlength=n)) / sum_pt
    girth = np.bincount(const.jet, weights=z * dr_axis, minlength=n)
    mass = invariant_mass(*const.jet_p4.T)
    mmdt, taus = _groomed_mass_and_nsubjettiness(const)
    tau21 = _ratio(taus[:, 1], taus[:, 0])
    tau32 = _ratio(taus[:, 2], taus[:, 1])
    e2_b1, e3_b1, e2_b2, e3_b2 = _energy_correlations(const, z)
    columns = {
        "j_mass": mass,
        "j_mass_mmdt": mmdt,
        "j_multiplicity": multiplicity,
        "j_tau1_b1": taus[:, 0],
        "j_tau2_b1": taus[:, 1],
        "j_tau3_b1": taus[:, 2],
        "j_tau21_b1": tau21,
        "j_tau32_b1": tau32,
        "j_c1_b1": e2_b1,
        "j_c2_b1": _ratio(e3_b1, e2_b1**2),
        "j_c2_b2": _ratio(e3_b2, e2_b2**2),
        "j_d2_b1": _ratio(e3_b1, e2_b1**3),
        "j_d2_b2": _ratio(e3_b2, e2_b2**3),
        "j_zlogz": zlogz,
        "j_ptd": ptd,
        "j_girth": girth,
    }
    return np.stack([columns[name] for name in FEATURE_NAMES], axis=1)


def _groomed_mass_and_nsubjettiness(const: Constituents) -> tuple[np.ndarray, np.ndarray]:
    """mMDT mass (N,) and tau_1..3 with beta = 1 (N, 3) from fastjet-contrib, one "event" per jet."""
    import fastjet

    events = momenta_array(const.px, const.py, const.pz, const.e, np.diff(const.offsets))
    cs = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.cambridge_algorithm, _RECLUSTER_R))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        groomed = cs.exclusive_jets_softdrop_grooming(njets=1, beta=0.0, symmetry_cut=MMDT_ZCUT, R0=JET_R)
        taus = cs.njettiness(njets=[1, 2, 3], beta=1.0, R0=JET_R, axes_definition="OnePass_KT_Axes")
    mmdt = np.nan_to_num(ak.to_numpy(groomed.msoftdrop).astype(np.float64), nan=0.0)
    return mmdt, ak.to_numpy(taus).astype(np.float64).reshape(const.n_jets, 3)


def _energy_correlations(const: Constituents, z: np.ndarray) -> tuple[np.ndarray, ...]:
    """e2 and e3 for beta = 1 and 2 over the ECF_CONSTITUENTS leading constituents of each jet.

    With M_ij = Delta R_ij^beta (zero on the diagonal), sum_{i<j<k} z_i z_j z_k M_ij M_ik M_jk is one sixth of
    sum_ij z_i z_j M_ij (M diag(z) M)_ij, so e3 costs one batched matrix product instead of a triple loop.
    """
    n = ECF_CONSTITUENTS
    zz = const.padded(z, n)
    eta, phi = const.padded(const.eta, n), const.padded(const.phi, n)
    dr = np.hypot(eta[:, :, None] - eta[:, None, :], wrap_phi(phi[:, :, None] - phi[:, None, :]))
    results = []
    for beta in (1.0, 2.0):
        m = dr**beta
        w = zz[:, :, None] * zz[:, None, :] * m  # padded entries have z = 0 and drop out
        e2 = w.sum(axis=(1, 2)) / 2
        e3 = (w * ((m * zz[:, None, :]) @ m)).sum(axis=(1, 2)) / 6
        results += [e2, e3]
    return results[0], results[1], results[2], results[3]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)
