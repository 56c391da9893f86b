"""Visible final-state particles of many interactions as flat numpy columns (a :class:`ParticleTable`).

Generation fills these tables, pile-up overlay draws from them and the trigger emulation consumes them; no Python loop
runs per particle.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

# Particle kinds as the calorimeter and muon system see them.
KIND_EM, KIND_HAD, KIND_MUON = 0, 1, 2


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
    scale: np.ndarray  # float32, per interaction: Pythia's pT-hat (GeV), the hardest partonic scale

    @classmethod
    def from_columns(cls, counts: np.ndarray, scale: np.ndarray | None = None, **columns: np.ndarray) -> ParticleTable:
        """A table from per-particle columns and per-interaction ``counts`` (and ``scale``; zero when not known)."""
        scale = np.zeros(len(counts), dtype=np.float32) if scale is None else np.asarray(scale, dtype=np.float32)
        return cls(**columns, offsets=np.concatenate(([0], np.cumsum(counts))).astype(np.int64), scale=scale)

    @classmethod
    def empty(cls) -> ParticleTable:
        f32, i16 = np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int16)
        return cls.from_columns(np.zeros(0, dtype=np.int64), pt=f32, eta=f32, phi=f32, kind=np.zeros(0, dtype=np.int8),
                                ieta=i16, iphi=i16)

    def columns(self) -> dict[str, np.ndarray]:
        """The per-particle columns."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("offsets", "scale")}

    @property
    def n_interactions(self) -> int:
        return len(self.offsets) - 1

    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def slice(self, start: int, stop: int) -> ParticleTable:
        """Interactions ``start`` to ``stop - 1`` as a table of their own."""
        lo, hi = self.offsets[start], self.offsets[stop]
        return replace(self, offsets=self.offsets[start : stop + 1] - lo, scale=self.scale[start:stop],
                       **{k: v[lo:hi] for k, v in self.columns().items()})

    def take(self, interactions: np.ndarray) -> ParticleTable:
        """The given interactions (indices, in that order) as a table of their own."""
        index, _ = gather_ranges(self.offsets, interactions)
        counts = self.counts()[interactions]
        return ParticleTable.from_columns(counts, self.scale[interactions], **{k: v[index] for k, v in self.columns().items()})



def gather_ranges(offsets: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the entries of groups ``which`` (given group ``offsets``), and each entry's position in ``which``."""
    counts = np.diff(offsets)[which]
    owner = np.repeat(np.arange(len(which)), counts)
    starts = np.repeat(offsets[which] - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    return starts + np.arange(counts.sum()), owner


def concatenate(tables: list[ParticleTable]) -> ParticleTable:
    names = tables[0].columns().keys()
    return ParticleTable.from_columns(
        np.concatenate([t.counts() for t in tables]), np.concatenate([t.scale for t in tables]),
        **{k: np.concatenate([t.columns()[k] for t in tables]) for k in names},
    )
