"""Particle-level summaries of each interaction: what the Level-1 objects of a crossing are compared with.

Per interaction, from its visible final-state particles with no pile-up mixed in (a crossing's particle level is the
union of its interactions'):

* generator jets (:mod:`.genjets`): the leading jet, the number of jets above ``MIN_PT_GEV`` and their HT within
  ``HT_MAX_ETA``, and the number Level-1 would count above ``MIN_PT_GEV`` given the stated jet resolution
  (:class:`~l1ad.config.JetResolution`: each jet counts with its probability to pass);
* the leading muon within ``MUON_MAX_ETA`` and the leading photon or electron within ``EGAMMA_MAX_ETA`` (any origin,
  no isolation: what the single-object seeds would fire on with a perfect detector);
* the vector sum of the calorimeter particles' pT within the MET acceptance (a perfect calorimeter's MET is minus
  it; muons excluded, as from Level-1 MET).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import awkward as ak
import numpy as np

from l1ad.benchmark.generation.genjets import HT_MAX_ETA, MIN_PT_GEV, cluster
from l1ad.benchmark.generation.particles import KIND_EM, KIND_MUON, ParticleTable
from l1ad.config import EmulationConfig, JetResolution

MUON_MAX_ETA = 2.4  # the reference menu's SingleMu acceptance
EGAMMA_MAX_ETA = 2.5  # SingleEG36er2p5


@dataclass(frozen=True)
class ParticleLevelDefinition:
    """Acceptances of the particle-level summary, taken from the emulation it is compared with."""

    jet_max_eta: float = 4.0
    met_max_eta: float = 5.0
    jet_resolution: JetResolution | None = None

    @classmethod
    def of(cls, emulation: EmulationConfig) -> ParticleLevelDefinition:
        calibration = emulation.jet_calibration
        return cls(emulation.jet_max_eta, emulation.met_max_eta, calibration.resolution if calibration else None)


@dataclass(frozen=True)
class ParticleLevelSummary:
    """Per interaction, float32 (GeV) unless said: see the module docstring."""

    jet_leading_pt: np.ndarray
    jet_count: np.ndarray  # int16
    jet_ht: np.ndarray
    jet_count_smeared: np.ndarray  # expected count; the plain count when no resolution is stated
    muon_leading_pt: np.ndarray
    egamma_leading_pt: np.ndarray
    visible_px: np.ndarray
    visible_py: np.ndarray

    def columns(self) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def take(self, index: np.ndarray) -> ParticleLevelSummary:
        return ParticleLevelSummary(*(column[index] for column in self.columns()))

    def rotated(self, angle: np.ndarray) -> ParticleLevelSummary:
        """The same interactions turned in phi by ``angle`` (one per interaction): only the pT sum changes."""
        c, s = np.cos(angle), np.sin(angle)
        px, py = self.visible_px, self.visible_py
        return replace(self, visible_px=(c * px - s * py).astype(np.float32),
                       visible_py=(s * px + c * py).astype(np.float32))


def pass_probability(resolution: JetResolution, pt: np.ndarray, abs_eta: np.ndarray, threshold: float) -> np.ndarray:
    """Probability that a particle-level jet of ``pt`` at ``abs_eta`` is measured above ``threshold`` by Level-1:
    Gaussian response with the stated median and width (linear in pT between points, constant beyond; the bin of the
    jet's |eta|, the last bin beyond the last edge)."""
    from scipy.special import ndtr

    pt, abs_eta = np.asarray(pt, np.float64), np.asarray(abs_eta, np.float64)
    edges = np.array([b.abs_eta_lo for b in resolution.bins[1:]])
    which = np.searchsorted(edges, abs_eta, side="right")
    response, width = np.ones_like(pt), np.ones_like(pt)
    for i, b in enumerate(resolution.bins):
        inside = which == i
        response[inside] = np.interp(pt[inside], b.gen_pt_gev, b.response)
        width[inside] = np.interp(pt[inside], b.gen_pt_gev, b.width)
    return ndtr((response - threshold / np.maximum(pt, 1e-9)) / width)


def _leading(table: ParticleTable, interaction: np.ndarray, selected: np.ndarray) -> np.ndarray:
    leading = np.zeros(table.n_interactions, np.float32)
    np.maximum.at(leading, interaction[selected], table.pt[selected])
    return leading


def particle_level_summary(table: ParticleTable, definition: ParticleLevelDefinition) -> ParticleLevelSummary:
    """Summarise every interaction of ``table`` on its own (jets with |eta| > ``definition.jet_max_eta`` are ignored,
    as the Level-1 jets they are compared with)."""
    n = table.n_interactions
    abs_eta = np.abs(table.eta)
    interaction = np.repeat(np.arange(n), table.counts())
    muon_pt = _leading(table, interaction, (table.kind == KIND_MUON) & (abs_eta < MUON_MAX_ETA))
    egamma_pt = _leading(table, interaction, (table.kind == KIND_EM) & (abs_eta < EGAMMA_MAX_ETA))
    calo = (table.kind != KIND_MUON) & (abs_eta <= definition.met_max_eta)
    phi, pt = table.phi[calo].astype(np.float64), table.pt[calo].astype(np.float64)
    px = np.bincount(interaction[calo], weights=pt * np.cos(phi), minlength=n).astype(np.float32)
    py = np.bincount(interaction[calo], weights=pt * np.sin(phi), minlength=n).astype(np.float32)

    clustered = cluster(table, MIN_PT_GEV / 2)
    if clustered is None:
        zero = np.zeros(n, np.float32)
        return ParticleLevelSummary(zero, np.zeros(n, np.int16), zero, zero, muon_pt, egamma_pt, px, py)
    jet_pt, jet_eta, _ = clustered
    inside = np.abs(jet_eta) <= definition.jet_max_eta
    leading = ak.to_numpy(ak.fill_none(ak.max(jet_pt[inside], axis=1), 0.0))
    above = inside & (jet_pt > MIN_PT_GEV)
    n_jets = ak.to_numpy(ak.sum(above, axis=1))
    ht = ak.to_numpy(ak.sum(jet_pt[(np.abs(jet_eta) < HT_MAX_ETA) & (jet_pt > MIN_PT_GEV)], axis=1))
    if definition.jet_resolution is None:
        smeared = n_jets.astype(np.float32)
    else:
        counts = ak.to_numpy(ak.num(jet_pt[inside], axis=1))
        flat_pt, flat_eta = (ak.to_numpy(ak.flatten(x[inside])) for x in (jet_pt, jet_eta))
        probability = pass_probability(definition.jet_resolution, flat_pt, np.abs(flat_eta), MIN_PT_GEV)
        smeared = np.bincount(np.repeat(np.arange(n), counts), weights=probability, minlength=n)
    return ParticleLevelSummary(leading.astype(np.float32), n_jets.astype(np.int16), ht.astype(np.float32),
                                smeared.astype(np.float32), muon_pt, egamma_pt, px, py)
