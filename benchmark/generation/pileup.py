"""Pile-up: bunch crossings made of a hard interaction (or none, for zero bias) plus Poisson(mu) minimum-bias
interactions drawn from a pool, as the flat :class:`Crossings` the trigger emulation reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    """Minimum-bias interactions prepared once for overlay: calorimeter deposits and muons apart, grouped per interaction."""

    def __init__(self, table: ParticleTable):
        interaction = np.repeat(np.arange(table.n_interactions), table.counts())
        calo, mu = table.kind != KIND_MUON, table.kind == KIND_MUON
        self.n_interactions = table.n_interactions
        self.calo_offsets = _offsets(interaction[calo], table.n_interactions)
        self.calo_ieta, self.calo_iphi = table.ieta[calo], table.iphi[calo]
        self.calo_layer = (table.kind[calo] == KIND_HAD).astype(np.int8)
        self.calo_pt = table.pt[calo]
        self.muon_offsets = _offsets(interaction[mu], table.n_interactions)
        self.muon_pt, self.muon_eta, self.muon_phi = table.pt[mu], table.eta[mu], table.phi[mu]


def _offsets(group: np.ndarray, n_groups: int) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(np.bincount(group, minlength=n_groups)))).astype(np.int64)


def overlay_pileup(
    hard: ParticleTable | None, n_events: int, pool: PileupPool, mu: float, rng: np.random.Generator
) -> tuple[Crossings, np.ndarray]:
    """Crossings made of an optional hard interaction each plus Poisson(mu) interactions drawn from the pool.

    Pool interactions are reused, so each draw is rotated in phi by a whole number of trigger towers (2 pi / 72) and
    mirrored in eta with probability 1/2; this keeps the tower pattern exact while multiplying the pool's variety by 144.
    Tower indices travel with the deposits (shifted and mirrored, never recomputed). Returns the crossings and the
    number of pile-up interactions in each.
    """
    n_pileup = rng.poisson(mu, size=n_events)
    draws = rng.integers(pool.n_interactions, size=int(n_pileup.sum()))
    phi_steps = rng.integers(N_PHI, size=len(draws))
    mirrored = rng.random(len(draws)) < 0.5
    event_of_draw = np.repeat(np.arange(n_events), n_pileup)

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
    if hard is not None:
        if hard.n_interactions != n_events:
            raise ValueError("one hard interaction per event is needed")
        own = Crossings.from_table(hard)
        deposits.append((own.deposit_event, own.deposit_cell, own.deposit_pt))
        muons.append((own.muon_event, own.muon_pt, own.muon_eta, own.muon_phi))
    dep = [np.concatenate(c) for c in zip(*deposits, strict=True)]
    mus = [np.concatenate(c) for c in zip(*muons, strict=True)]
    order = np.argsort(mus[0], kind="stable")
    return Crossings(n_events, *dep, *(c[order] for c in mus)), n_pileup
