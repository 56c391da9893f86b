"""Jets from the visible final state: anti-kT clustering (fastjet) and matching jets to generator-level targets.

:func:`visible_particles` keeps the particles a detector would see within ``MAX_PARTICLE_ETA``; :func:`antikt` clusters
them, event by event, into :class:`ClusteredJets`; :func:`match` and :func:`nearest_jets` pair each target of
:mod:`.truth` with its nearest jet and apply the jet cuts (pT window, ``MAX_JET_ETA``, ``MATCH_R`` for the object and
its decay quarks).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from l1ad.benchmark.generation.pythia import is_visible
from l1ad.benchmark.jets.truth import Record, Targets
from l1ad.benchmark.kinematics import delta_r, eta_phi, invariant_mass

JET_R = 0.8
MAX_PARTICLE_ETA = 2.5
MAX_JET_ETA = 2.0
MATCH_R = 0.8


def visible_particles(rec: Record) -> Record:
    """The visible final-state particles of ``rec`` with |eta| < MAX_PARTICLE_ETA (pointers are zeroed)."""
    eta, _ = eta_phi(rec.px, rec.py, rec.pz)
    keep = is_visible(rec.status, rec.id) & (np.abs(eta) < MAX_PARTICLE_ETA)
    counts = np.bincount(rec.event_of(np.flatnonzero(keep)), minlength=rec.n_events)
    zeros = np.zeros(int(keep.sum()), dtype=np.int64)
    return Record.build(
        counts, id=rec.id[keep], status=rec.status[keep], mother1=zeros, daughter1=zeros, daughter2=zeros,
        px=rec.px[keep], py=rec.py[keep], pz=rec.pz[keep], e=rec.e[keep],
    )


@dataclass(frozen=True)
class ClusteredJets:
    event: np.ndarray  # (J,)
    kinematics: np.ndarray  # (J, 4): pT, eta, phi, m
    const_offsets: np.ndarray  # (J + 1,) into const_index
    const_index: np.ndarray  # flat indices into the clustered particle record

    def constituent_index(self, jets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices into the clustered particle record of the constituents of ``jets``, jet after jet, and the
        number of constituents of each jet."""
        counts = np.diff(self.const_offsets)[jets]
        return self.const_index[_ranges(self.const_offsets[jets], counts)], counts


def antikt(particles: Record, pt_min: float) -> ClusteredJets:
    """Anti-kT jets (R = JET_R) with pT >= ``pt_min`` of every event of ``particles``."""
    import fastjet

    events = momenta_array(particles.px, particles.py, particles.pz, particles.e, np.diff(particles.offsets))
    cs = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R))
    # Both lists come from the same inclusive_jets(pt_min) of each event, so jets and constituent lists line up.
    jets = cs.inclusive_jets(pt_min)
    index = cs.constituent_index(pt_min)
    jets_per_event = ak.to_numpy(ak.num(jets))
    const_per_jet = ak.to_numpy(ak.flatten(ak.num(index, axis=2)))
    event = np.repeat(np.arange(particles.n_events), jets_per_event)
    const_index = ak.to_numpy(ak.flatten(index, axis=None)).astype(np.int64)
    const_index += np.repeat(particles.offsets[:-1][event], const_per_jet)
    px, py, pz, e = (ak.to_numpy(ak.flatten(jets[f])) for f in ("px", "py", "pz", "E"))
    eta, phi = eta_phi(px, py, pz)
    kinematics = np.stack((np.hypot(px, py), eta, phi, invariant_mass(px, py, pz, e)), axis=1)
    return ClusteredJets(event, kinematics, np.concatenate(([0], np.cumsum(const_per_jet))), const_index)


def momenta_array(px, py, pz, e, counts) -> ak.Array:
    """Jagged Momentum4D array of ``counts`` particles per entry, the input fastjet's awkward interface takes."""
    flat = ak.zip({"px": px, "py": py, "pz": pz, "E": e}, with_name="Momentum4D")
    return ak.unflatten(flat, np.asarray(counts, dtype=np.int64))


def match(jets: ClusteredJets, targets: Targets, pt_min: float, pt_max: float) -> np.ndarray:
    """Selected jets matched to targets, in target order, each jet once."""
    matched = nearest_jets(jets, targets, pt_min, pt_max)
    chosen = matched[matched >= 0]
    # One jet can be nearest to two targets only if they are closer than the jet size; count it once.
    return chosen[np.sort(np.unique(chosen, return_index=True)[1])]


def nearest_jets(jets: ClusteredJets, targets: Targets, pt_min: float, pt_max: float) -> np.ndarray:
    """For each target, its nearest jet if that is within MATCH_R, passes the cuts and contains the prongs; else -1."""
    n_events = int(max(jets.event.max(initial=-1), targets.event.max(initial=-1))) + 1
    jet_start = np.searchsorted(jets.event, np.arange(n_events))
    pair_count = np.bincount(jets.event, minlength=n_events)[targets.event]
    pair_target = np.repeat(np.arange(len(targets.event)), pair_count)
    pair_jet = _ranges(jet_start[targets.event], pair_count)
    pt, eta, phi = (jets.kinematics[pair_jet, k] for k in range(3))
    dr = delta_r(eta, phi, targets.eta[pair_target], targets.phi[pair_target])
    # Nearest jet per target: sort pairs by (target, distance) and take each target's first pair.
    order = np.lexsort((dr, pair_target))
    first = order[np.unique(pair_target[order], return_index=True)[1]]
    target = pair_target[first]
    prong_dr = delta_r(eta[first, None], phi[first, None], targets.prong_eta[target], targets.prong_phi[target])
    good = (
        (dr[first] < MATCH_R)
        & (prong_dr < MATCH_R).all(axis=1)
        & (pt[first] >= pt_min)
        & (pt[first] <= pt_max)
        & (np.abs(eta[first]) < MAX_JET_ETA)
    )
    result = np.full(len(targets.event), -1, dtype=np.int64)
    result[target[good]] = pair_jet[first[good]]
    return result


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + c) for each (start, count)."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return np.repeat(np.asarray(starts, dtype=np.int64) - offsets, counts) + np.arange(total)
