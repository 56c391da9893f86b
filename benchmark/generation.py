"""Pythia 8 event generation into flat particle tables, and pile-up overlay from a minimum-bias pool.

Particles are taken from Pythia's batch interface (awkward arrays), so no Python loop runs per particle. A
:class:`ParticleTable` holds the visible final-state particles of many interactions as flat numpy columns plus offsets;
the trigger emulation consumes such tables.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace

import awkward as ak
import numpy as np

from l1ad.benchmark.geometry import MAX_CALORIMETER_ETA, N_ETA, N_PHI, tower_index
from l1ad.benchmark.processes import COMMON_SETTINGS, PROCESSES
from l1ad.errors import L1adError

# Particle kinds as the calorimeter and muon system see them.
KIND_EM, KIND_HAD, KIND_MUON = 0, 1, 2
# Invisible to the detector: neutrinos and the usual BSM invisibles (neutralino, gravitino, dark-sector hadrons).
INVISIBLE_PDG_IDS = (12, 14, 16, 1000022, 1000039, 4900211, 4900213, 51, 52, 53)


@dataclass(frozen=True)
class ParticleTable:
    """Visible final-state particles of ``n_interactions`` interactions, flat, with per-interaction offsets."""

    pt: np.ndarray  # float32, GeV
    eta: np.ndarray  # float32
    phi: np.ndarray  # float32, (-pi, pi]
    kind: np.ndarray  # int8: KIND_EM, KIND_HAD or KIND_MUON
    ieta: np.ndarray  # int16: trigger tower hit (see geometry), computed once per particle
    iphi: np.ndarray  # int16
    offsets: np.ndarray  # int64, length n_interactions + 1

    @classmethod
    def from_columns(cls, counts: np.ndarray, **columns: np.ndarray) -> ParticleTable:
        return cls(**columns, offsets=np.concatenate(([0], np.cumsum(counts))).astype(np.int64))

    def columns(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "offsets"}

    @property
    def n_interactions(self) -> int:
        return len(self.offsets) - 1

    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def slice(self, start: int, stop: int) -> ParticleTable:
        """Interactions ``start`` to ``stop - 1`` as a table of their own."""
        lo, hi = self.offsets[start], self.offsets[stop]
        return replace(self, offsets=self.offsets[start : stop + 1] - lo, **{k: v[lo:hi] for k, v in self.columns().items()})

    def take(self, interactions: np.ndarray) -> ParticleTable:
        """The given interactions (indices, in that order) as a table of their own."""
        index, _ = gather_ranges(self.offsets, interactions)
        counts = self.counts()[interactions]
        return ParticleTable.from_columns(counts, **{k: v[index] for k, v in self.columns().items()})



def gather_ranges(offsets: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the entries of groups ``which`` (given group ``offsets``), and each entry's position in ``which``."""
    counts = np.diff(offsets)[which]
    owner = np.repeat(np.arange(len(which)), counts)
    starts = np.repeat(offsets[which] - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    return starts + np.arange(counts.sum()), owner


def pythia_seed(*parts: object) -> int:
    """A Pythia seed (1..900,000,000) derived deterministically from the run seed and the sample's identity."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") % 900_000_000 + 1


class EventStream:
    """One seeded Pythia 8 instance of a named process, handing out visible final states batch by batch.

    Successive batches continue the same random sequence, so a stream that is read until enough events pass a
    selection is as reproducible as a fixed-size sample.
    """

    def __init__(self, process: str, seed: int, sqrt_s_tev: float):
        import pythia8mc

        if process not in PROCESSES:
            raise L1adError(f"unknown process {process!r}; known: {', '.join(sorted(PROCESSES))}")
        self.process = process
        self._pythia = pythia8mc.Pythia("", False)
        for setting in (*COMMON_SETTINGS, f"Beams:eCM = {sqrt_s_tev * 1000:g}", f"Random:seed = {seed}",
                        *PROCESSES[process].settings):
            if not self._pythia.readString(setting):
                raise L1adError(f"Pythia rejected the setting {setting!r} of process {process!r}")
        if not self._pythia.init():
            raise L1adError(f"Pythia failed to initialise process {process!r}")

    def next(self, n_events: int, *, progress=None) -> ParticleTable:
        """The next ``n_events`` events; ``progress`` (optional) receives the number finished since its last call."""
        tables = []
        remaining, batch = n_events, 200
        while remaining > 0:
            events = self._pythia.nextBatch(min(batch, remaining))
            if len(events) == 0:
                raise L1adError(f"Pythia produced no events for process {self.process!r}")
            tables.append(_visible_final_state(events.prt))
            remaining -= len(events)
            if progress is not None:
                progress(len(events))
        return concatenate(tables)


def generate(process: str, n_events: int, seed: int, sqrt_s_tev: float, *, progress=None) -> ParticleTable:
    """Generate ``n_events`` events of a named process with Pythia 8 and keep the visible final state."""
    return EventStream(process, seed, sqrt_s_tev).next(n_events, progress=progress)


def _visible_final_state(prt: ak.Array) -> ParticleTable:
    abs_id = np.abs(prt.id)
    visible = (prt.status > 0) & ~_isin(abs_id, INVISIBLE_PDG_IDS)
    px, py, pz = prt.p.px[visible], prt.p.py[visible], prt.p.pz[visible]
    pt = np.hypot(px, py)
    keep = pt > 1e-3  # beam remnants along the axis never reach the calorimeter
    counts = ak.to_numpy(ak.sum(keep, axis=1))
    pt_flat = ak.to_numpy(ak.flatten(pt[keep]))
    eta = np.arcsinh(ak.to_numpy(ak.flatten(pz[keep])) / pt_flat)
    phi = np.arctan2(ak.to_numpy(ak.flatten(py[keep])), ak.to_numpy(ak.flatten(px[keep])))
    ids = ak.to_numpy(ak.flatten(abs_id[visible][keep]))
    kind = np.full(len(ids), KIND_HAD, dtype=np.int8)
    kind[(ids == 22) | (ids == 11)] = KIND_EM
    kind[ids == 13] = KIND_MUON
    inside = np.abs(eta) < MAX_CALORIMETER_ETA
    owner = np.repeat(np.arange(len(counts)), counts)
    eta, phi = eta[inside].astype(np.float32), phi[inside].astype(np.float32)
    ieta, iphi = tower_index(eta, phi)
    return ParticleTable.from_columns(
        np.bincount(owner[inside], minlength=len(counts)),
        pt=pt_flat[inside].astype(np.float32), eta=eta, phi=phi, kind=kind[inside], ieta=ieta, iphi=iphi,
    )


def _isin(values: ak.Array, choices: tuple[int, ...]) -> ak.Array:
    result = values == choices[0]
    for c in choices[1:]:
        result = result | (values == c)
    return result


def concatenate(tables: list[ParticleTable]) -> ParticleTable:
    names = tables[0].columns().keys()
    return ParticleTable.from_columns(
        np.concatenate([t.counts() for t in tables]), **{k: np.concatenate([t.columns()[k] for t in tables]) for k in names}
    )


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
              ((phi + np.pi) % (2 * np.pi) - np.pi).astype(np.float32))]
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
