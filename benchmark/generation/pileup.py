"""Pile-up: bunch crossings made of a hard interaction (or none, for zero bias) plus Poisson(mu) minimum-bias
interactions drawn from a pool, as the flat :class:`Crossings` the trigger emulation reads."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from l1ad.benchmark.generation.particle_level import ParticleLevelDefinition, particle_level_summary
from l1ad.benchmark.generation.particles import KIND_HAD, KIND_MUON, ParticleTable, gather_ranges
from l1ad.benchmark.geometry import N_ETA, N_PHI
from l1ad.benchmark.kinematics import wrap_phi


@dataclass(frozen=True)
class Crossings:
    """What the Level-1 trigger sees of ``n_events`` bunch crossings, flat with event indices.

    Calorimeter deposits carry one integer ``deposit_cell`` = (ieta * N_PHI + iphi) * 2 + layer (0 EM, 1 hadronic);
    muons keep their direction. Deposits need no order; muons are ordered by event.
    """

    n_events: int
    deposit_event: np.ndarray  # int64
    deposit_cell: np.ndarray  # int32
    deposit_pt: np.ndarray  # float32
    muon_event: np.ndarray  # int64
    muon_pt: np.ndarray
    muon_eta: np.ndarray
    muon_phi: np.ndarray

    @classmethod
    def from_table(cls, table: ParticleTable) -> Crossings:
        """One crossing per interaction of ``table`` (no pile-up)."""
        event = np.repeat(np.arange(table.n_interactions), table.counts())
        calo, mu = table.kind != KIND_MUON, table.kind == KIND_MUON
        return cls(
            table.n_interactions, event[calo], _cell(table.ieta[calo], table.iphi[calo], table.kind[calo]),
            table.pt[calo], event[mu], table.pt[mu], table.eta[mu], table.phi[mu],
        )


def _cell(ieta: np.ndarray, iphi: np.ndarray, kind: np.ndarray) -> np.ndarray:
    return (ieta.astype(np.int32) * N_PHI + iphi) * 2 + (kind == KIND_HAD)


class PileupPool:
    """Soft minimum-bias interactions (below the stitching scale) prepared once for overlay: calorimeter deposits and
    muons apart, grouped per interaction, with each interaction's pT-hat and particle-level summary (acceptances of
    ``particle_level``; default: the default emulation's, no jet resolution)."""

    def __init__(self, table: ParticleTable, particle_level: ParticleLevelDefinition | None = None):
        interaction = np.repeat(np.arange(table.n_interactions), table.counts())
        self.particle_level = particle_level or ParticleLevelDefinition()
        self.summary = particle_level_summary(table, self.particle_level)
        calo, mu = table.kind != KIND_MUON, table.kind == KIND_MUON
        self.n_interactions = table.n_interactions
        self.scale = table.scale
        self.calo_offsets = _offsets(interaction[calo], table.n_interactions)
        self.calo_ieta, self.calo_iphi = table.ieta[calo], table.iphi[calo]
        self.calo_layer = (table.kind[calo] == KIND_HAD).astype(np.int8)
        self.calo_pt = table.pt[calo]
        self.muon_offsets = _offsets(interaction[mu], table.n_interactions)
        self.muon_pt, self.muon_eta, self.muon_phi = table.pt[mu], table.eta[mu], table.phi[mu]


def _offsets(group: np.ndarray, n_groups: int) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(np.bincount(group, minlength=n_groups)))).astype(np.int64)


# Where the hardest interaction of a crossing comes from (``CrossingTruth.hardest_source``).
SOURCE_NONE, SOURCE_SOFT_POOL, SOURCE_HARD_PILEUP, SOURCE_OWN = 0, 1, 2, 3
SOURCE_NAMES = ("no interaction", "soft pile-up (pool, below the stitching scale)",
                "hard pile-up (generated fresh, above the stitching scale)", "the sample's own hard process")
_ID_SHIFT = 48  # hardest_id = source << 48 | index within the source: unique within a sample


def interaction_id(source: int, index: np.ndarray) -> np.ndarray:
    return (np.int64(source) << _ID_SHIFT) | np.asarray(index, dtype=np.int64)


@dataclass(frozen=True)
class CrossingTruth:
    """Per crossing: how many pile-up interactions it holds, which interaction is the hardest (the sample's own hard
    process if it has one, else the pile-up interaction of largest pT-hat; pT-hat is 0 for 2 -> 1 processes), and its
    particle level (the union of its interactions', :mod:`.particle_level`)."""

    n_pileup: np.ndarray  # int16
    hardest_scale: np.ndarray  # float32, GeV
    hardest_source: np.ndarray  # int8, SOURCE_*
    hardest_id: np.ndarray  # int64, see interaction_id
    genjet_leading_pt: np.ndarray  # float32, GeV
    genjet_count: np.ndarray  # int16, jets above genjets.MIN_PT_GEV
    genjet_ht: np.ndarray  # float32, GeV
    genjet_count_smeared: np.ndarray  # float32, jets Level-1 would count above genjets.MIN_PT_GEV (stated resolution)
    genmuon_leading_pt: np.ndarray  # float32, GeV, |eta| < particle_level.MUON_MAX_ETA
    genegamma_leading_pt: np.ndarray  # float32, GeV, photons and electrons, |eta| < particle_level.EGAMMA_MAX_ETA
    genmet_x: np.ndarray  # float32, GeV: minus the calorimeter particles' pT sum within the MET acceptance
    genmet_y: np.ndarray  # float32, GeV

    def columns(self) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def take(self, index: np.ndarray) -> CrossingTruth:
        return CrossingTruth(*(column[index] for column in self.columns()))

    @staticmethod
    def concatenate(parts: list[CrossingTruth]) -> CrossingTruth:
        return CrossingTruth(*(np.concatenate(columns) for columns in zip(*(p.columns() for p in parts), strict=True)))


class HardPileup:
    """Pile-up interactions above the stitching scale, generated fresh on demand so that none is ever used twice.

    ``stream`` is a Pythia stream of hard QCD above the scale; ``id_base`` makes the interactions' ids unique within the
    sample (one base per shard).
    """

    def __init__(self, stream, id_base: int):
        self._stream, self._next_id = stream, id_base

    def take(self, n: int) -> tuple[ParticleTable, np.ndarray]:
        ids = interaction_id(SOURCE_HARD_PILEUP, self._next_id + np.arange(n))
        self._next_id += n
        return self._stream.next(n), ids


def overlay_pileup(
    hard: ParticleTable | None, n_events: int, pool: PileupPool, mu: float, rng: np.random.Generator, *,
    hard_pileup: HardPileup | None = None, hard_fraction: float = 0.0, hard_ids: np.ndarray | None = None,
) -> tuple[Crossings, CrossingTruth]:
    """Crossings made of an optional hard interaction each plus Poisson(mu) pile-up interactions.

    Pile-up is stitched at a hard scale: of the mean ``mu`` interactions, ``mu * (1 - hard_fraction)`` come from the
    soft pool (interactions below the scale, reused) and ``mu * hard_fraction`` are fresh interactions above the scale
    from ``hard_pileup`` (never reused); ``hard_fraction`` is sigma(above the scale) / sigma_inelastic.

    Pool interactions are reused, so each draw is rotated in phi by a whole number of trigger towers (2 pi / 72) and
    mirrored in eta with probability 1/2; this keeps the tower pattern exact while multiplying the pool's variety by 144.
    Tower indices travel with the deposits (shifted and mirrored, never recomputed). Returns the crossings and their
    truth (number of pile-up interactions, the hardest interaction). ``hard_ids`` name the hard interactions in the
    truth (default: their index here).
    """
    if hard_fraction > 0 and hard_pileup is None:
        raise ValueError("a hard fraction needs a source of fresh hard pile-up")
    n_soft = rng.poisson(mu * (1 - hard_fraction), size=n_events)
    n_fresh = rng.poisson(mu * hard_fraction, size=n_events) if hard_fraction > 0 else np.zeros(n_events, dtype=np.int64)
    draws = rng.integers(pool.n_interactions, size=int(n_soft.sum()))
    phi_steps = rng.integers(N_PHI, size=len(draws))
    mirrored = rng.random(len(draws)) < 0.5
    event_of_draw = np.repeat(np.arange(n_events), n_soft)

    index, draw = gather_ranges(pool.calo_offsets, draws)
    ieta = pool.calo_ieta[index]
    ieta = np.where(mirrored[draw], N_ETA - 1 - ieta, ieta)
    iphi = (pool.calo_iphi[index] + phi_steps[draw]) % N_PHI
    cell = (ieta.astype(np.int32) * N_PHI + iphi) * 2 + pool.calo_layer[index]
    deposits = [(event_of_draw[draw], cell, pool.calo_pt[index])]

    index, draw = gather_ranges(pool.muon_offsets, draws)
    phi = pool.muon_phi[index] + (phi_steps[draw] * (2 * np.pi / N_PHI)).astype(np.float32)
    muons = [(event_of_draw[draw], pool.muon_pt[index], np.where(mirrored[draw], -1, 1) * pool.muon_eta[index],
              wrap_phi(phi).astype(np.float32))]
    candidates = [(event_of_draw, pool.scale[draws], np.full(len(draws), SOURCE_SOFT_POOL),
                   interaction_id(SOURCE_SOFT_POOL, draws),
                   pool.summary.take(draws).rotated(phi_steps * (2 * np.pi / N_PHI)))]

    extra = []
    if n_fresh.sum():
        fresh, fresh_ids = hard_pileup.take(int(n_fresh.sum()))
        extra.append((fresh, np.repeat(np.arange(n_events), n_fresh), SOURCE_HARD_PILEUP, fresh_ids))
    if hard is not None:
        if hard.n_interactions != n_events:
            raise ValueError("one hard interaction per event is needed")
        ids = interaction_id(SOURCE_OWN, np.arange(n_events)) if hard_ids is None else hard_ids
        extra.append((hard, np.arange(n_events), SOURCE_OWN, ids))
    for table, event_of, source, ids in extra:
        own = Crossings.from_table(table)
        deposits.append((event_of[own.deposit_event], own.deposit_cell, own.deposit_pt))
        muons.append((event_of[own.muon_event], own.muon_pt, own.muon_eta, own.muon_phi))
        candidates.append((event_of, table.scale, np.full(table.n_interactions, source), ids,
                           particle_level_summary(table, pool.particle_level)))
    dep = [np.concatenate(c) for c in zip(*deposits, strict=True)]
    mus = [np.concatenate(c) for c in zip(*muons, strict=True)]
    order = np.argsort(mus[0], kind="stable")
    return Crossings(n_events, *dep, *(c[order] for c in mus)), _truth(n_events, n_soft + n_fresh, candidates)


def _truth(n_events: int, n_pileup: np.ndarray, candidates: list[tuple]) -> CrossingTruth:
    event, scale, source, ids = (np.concatenate(c) for c in zip(*(c[:4] for c in candidates), strict=True))
    leading, count, ht, smeared, muon, egamma, px, py = (
        np.concatenate(c) for c in zip(*(c[4].columns() for c in candidates), strict=True))
    hardest_scale = np.zeros(n_events, dtype=np.float32)
    hardest_source = np.full(n_events, SOURCE_NONE, dtype=np.int8)
    hardest_id = np.full(n_events, -1, dtype=np.int64)
    if len(event):
        # by event, then the sample's own process first (it is the crossing's hard interaction by construction, even a
        # 2 -> 1 process whose pT-hat is 0), then pT-hat: the last of each event is its hardest
        order = np.lexsort((scale, source == SOURCE_OWN, event))
        last = order[np.r_[event[order][1:] != event[order][:-1], True]]
        hardest_scale[event[last]] = scale[last]
        hardest_source[event[last]] = source[last]
        hardest_id[event[last]] = ids[last]
    def largest(values):
        out = np.zeros(n_events, dtype=np.float32)
        np.maximum.at(out, event, values)
        return out

    def total(values, dtype=np.float32):
        return np.bincount(event, weights=values, minlength=n_events).astype(dtype)

    return CrossingTruth(n_pileup.astype(np.int16), hardest_scale, hardest_source, hardest_id, largest(leading),
                         total(count, np.int16), total(ht), total(smeared), largest(muon), largest(egamma), -total(px),
                         -total(py))
