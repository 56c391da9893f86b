"""Generator-level (particle-level) jets of each interaction: what the Level-1 jets are compared with.

As CMS's generator jets, they are anti-kT 0.4 jets of one interaction's visible final-state particles (neutrinos and
BSM invisibles excluded, muons included) with no pile-up mixed in; a crossing's particle-level jets are the union of
its interactions' jets. The samples keep only per-interaction summaries (:mod:`.particle_level`): the leading jet, the
number of jets above ``MIN_PT_GEV`` and their HT within ``HT_MAX_ETA`` (the reference menu's HTT360er definition).
The jet energy calibration is fitted to the jets themselves (:func:`genjets`: per-jet pT, eta, phi).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from l1ad.benchmark.generation.particles import ParticleTable

JET_R = 0.4
MIN_PT_GEV = 30.0
HT_MAX_ETA = 2.5


@dataclass(frozen=True)
class GenJets:
    """Particle-level jets one by one, flat: the index of the interaction each belongs to (ascending), pT [GeV], eta
    and phi; pT-ordered within an interaction."""

    interaction: np.ndarray  # int64
    pt: np.ndarray  # float32
    eta: np.ndarray  # float32
    phi: np.ndarray  # float32, (-pi, pi]

    def __len__(self) -> int:
        return len(self.pt)


def cluster(table: ParticleTable, min_pt: float):
    """Anti-kT ``JET_R`` jets above ``min_pt`` of every interaction of ``table`` on its own: (pT, eta, phi) as awkward
    arrays of one list per interaction, or None when there is nothing to cluster."""
    if table.n_interactions == 0 or len(table.pt) == 0:
        return None
    import fastjet

    _silence_banner(fastjet)
    pt, eta, phi = (np.asarray(x, dtype=np.float64) for x in (table.pt, table.eta, table.phi))
    momenta = ak.zip({"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta),
                      "E": pt * np.cosh(eta)}, with_name="Momentum4D")
    events = ak.unflatten(momenta, table.counts())
    jets = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R)).inclusive_jets(
        min_pt=min_pt)
    jet_pt = np.hypot(jets.px, jets.py)
    return jet_pt, np.arcsinh(jets.pz / np.maximum(jet_pt, 1e-9)), np.arctan2(jets.py, jets.px)


def genjets(table: ParticleTable, min_pt: float = MIN_PT_GEV / 2, max_eta: float = np.inf) -> GenJets:
    """Every particle-level jet of every interaction of ``table`` with pT > ``min_pt`` and |eta| <= ``max_eta``, one
    row per jet (what Level-1 jets are matched to, e.g. to fit the jet energy calibration)."""
    clustered = cluster(table, min_pt)
    if clustered is None:
        f32 = np.zeros(0, np.float32)
        return GenJets(np.zeros(0, np.int64), f32, f32, f32)
    jet_pt, jet_eta, jet_phi = clustered
    keep = (jet_pt > min_pt) & (np.abs(jet_eta) <= max_eta)
    order = ak.argsort(jet_pt[keep], axis=1, ascending=False)
    pt, eta, phi = (ak.to_numpy(ak.flatten(x[keep][order])) for x in (jet_pt, jet_eta, jet_phi))
    interaction = np.repeat(np.arange(table.n_interactions), ak.to_numpy(ak.sum(keep, axis=1)))
    return GenJets(interaction.astype(np.int64), pt.astype(np.float32), eta.astype(np.float32),
                   phi.astype(np.float32))


_BANNER_SHOWN = False


def _silence_banner(fastjet) -> None:
    """FastJet prints its banner to stdout on a process's first clustering (once per Dask worker, in the middle of the
    progress bars); cluster one particle with stdout pointed at /dev/null first. FastJet is cited in the card."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        return
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            one = ak.Array([[{"px": 1.0, "py": 0.0, "pz": 0.0, "E": 1.0}]], with_name="Momentum4D")
            fastjet.ClusterSequence(one, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R)).inclusive_jets()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _BANNER_SHOWN = True
