"""Generator-level truth: Pythia event records as flat arrays, and the objects a jet of each class must match.

A :class:`Record` holds the event records of several events, flat, built from a batch of Pythia events
(:func:`record_from_batch`), from one event (:func:`record_from_event`, :func:`final_state_of_event`) or from one-event
records (:func:`concatenate_records`). :func:`find_targets` picks, per event, the generator-level objects of a jet class
and the decay quarks a matched jet must contain (the choices are in the :mod:`l1ad.benchmark.jets` docstring).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from l1ad.benchmark.kinematics import eta_phi

_LIGHT_QUARKS = (1, 2, 3)
_DECAY_QUARKS = (1, 2, 3, 4, 5)

# ------------------------------------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class Record:
    """Pythia event records of several events, flat, with mother and daughter pointers made global (flat) indices."""

    id: np.ndarray
    status: np.ndarray
    mother1: np.ndarray
    daughter1: np.ndarray
    daughter2: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    offsets: np.ndarray  # int64 (n_events + 1,)

    @classmethod
    def build(cls, counts: np.ndarray, **columns: np.ndarray) -> Record:
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        start = np.repeat(offsets[:-1], counts)
        # Pointer 0 is "none"; made global it points at the event's own entry 0 (id 90, the system), never a match.
        for name in ("mother1", "daughter1", "daughter2"):
            columns[name] = columns[name].astype(np.int64) + start
        return cls(**columns, offsets=offsets)

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    def event_of(self, index: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.offsets, index, side="right") - 1


def record_from_batch(prt: ak.Array) -> Record:
    def flat(x: ak.Array, dtype) -> np.ndarray:
        return ak.to_numpy(ak.flatten(x)).astype(dtype)

    return Record.build(
        ak.to_numpy(ak.num(prt)),
        id=flat(prt.id, np.int64),
        status=flat(prt.status, np.int64),
        mother1=flat(prt.mother1, np.int64),
        daughter1=flat(prt.daughter1, np.int64),
        daughter2=flat(prt.daughter2, np.int64),
        px=flat(prt.p.px, np.float64),
        py=flat(prt.p.py, np.float64),
        pz=flat(prt.p.pz, np.float64),
        e=flat(prt.p.e, np.float64),
    )


def record_from_event(event) -> Record:
    rows = np.array(
        [(p.id(), p.status(), p.mother1(), p.daughter1(), p.daughter2(), p.px(), p.py(), p.pz(), p.e())
         for p in event.particles()]
    )
    names = ("id", "status", "mother1", "daughter1", "daughter2", "px", "py", "pz", "e")
    columns = {n: rows[:, i].astype(np.int64 if i < 5 else np.float64) for i, n in enumerate(names)}
    return Record.build(np.array([len(rows)]), **columns)


def final_state_of_event(event) -> Record:
    """The final-state particles of one event as a record (pointers are meaningless and zeroed)."""
    rows = np.array([(p.id(), p.px(), p.py(), p.pz(), p.e()) for p in event.particles() if p.isFinal()])
    zeros = np.zeros(len(rows), dtype=np.int64)
    return Record.build(
        np.array([len(rows)]), id=rows[:, 0].astype(np.int64), status=zeros + 1, mother1=zeros, daughter1=zeros,
        daughter2=zeros, px=rows[:, 1], py=rows[:, 2], pz=rows[:, 3], e=rows[:, 4],
    )


def concatenate_records(records: list[Record]) -> Record:
    """Records of one event each, as one record of several events (pointers are dropped)."""
    counts = np.array([len(r.id) for r in records])
    zeros = np.zeros(int(counts.sum()), dtype=np.int64)
    columns = {n: np.concatenate([getattr(r, n) for r in records]) for n in ("id", "status", "px", "py", "pz", "e")}
    return Record.build(counts, mother1=zeros, daughter1=zeros, daughter2=zeros, **columns)


# ---------------------------------------------------------------------------------------- generator-level targets


@dataclass(frozen=True)
class Targets:
    """Generator-level objects a jet must match: direction, and the directions of decay quarks it must contain."""

    event: np.ndarray  # int64 (T,)
    eta: np.ndarray  # (T,)
    phi: np.ndarray  # (T,)
    prong_eta: np.ndarray  # (T, 3); unused prongs repeat the object's own direction
    prong_phi: np.ndarray  # (T, 3)


def find_targets(rec: Record, jet_class: str) -> Targets:
    """The generator-level objects of ``jet_class`` (one of ``JET_CLASSES``) in every event of ``rec``."""
    if jet_class in ("q", "g"):
        return _parton_targets(rec, _LIGHT_QUARKS if jet_class == "q" else (21,))
    if jet_class == "t":
        return _top_targets(rec)
    return _boson_targets(rec, 24 if jet_class == "W" else 23)


def _parton_targets(rec: Record, ids: tuple[int, ...]) -> Targets:
    # Outgoing partons of the 2 -> 2 hard scattering: status (-)23 with the first incoming parton (local index 3) as
    # mother. Resonance decay products also carry status 23 but have the resonance as mother.
    local_mother = rec.mother1 - np.repeat(rec.offsets[:-1], np.diff(rec.offsets))
    selected = np.flatnonzero((np.abs(rec.status) == 23) & (local_mother == 3) & np.isin(np.abs(rec.id), ids))
    return _make_targets(rec, selected, np.empty((len(selected), 0), dtype=np.int64))


def _boson_targets(rec: Record, boson_id: int) -> Targets:
    # Decay quarks point to the last copy of the boson (after recoil from radiation) as their mother.
    quarks = np.flatnonzero(np.isin(np.abs(rec.id), _DECAY_QUARKS) & (np.abs(rec.id[rec.mother1]) == boson_id))
    bosons, prongs = _group_by_mother(rec, quarks, 2)
    return _make_targets(rec, bosons, prongs)


def _top_targets(rec: Record) -> Targets:
    # The last top copy decays to W b (rarely W s, W d); the quark is a direct daughter, the W decays after its own
    # recoil copies, so its quarks hang from the W's last copy.
    aid = np.abs(rec.id)
    top_quarks = np.flatnonzero(np.isin(aid, _DECAY_QUARKS) & (aid[rec.mother1] == 6))
    tops, b = _group_by_mother(rec, top_quarks, 1)
    first_w = np.flatnonzero((aid == 24) & (aid[rec.mother1] == 6))
    w_of_top = dict(zip(rec.mother1[first_w].tolist(), _last_copy(rec, first_w).tolist(), strict=True))
    w_quarks = np.flatnonzero(np.isin(aid, _DECAY_QUARKS) & (aid[rec.mother1] == 24))
    ws, w_prongs = _group_by_mother(rec, w_quarks, 2)
    prongs_of_w = dict(zip(ws.tolist(), w_prongs.tolist(), strict=True))
    keep = [i for i, t in enumerate(tops.tolist()) if w_of_top.get(t) in prongs_of_w]
    tops, b = tops[keep], b[keep]
    w = np.array([prongs_of_w[w_of_top[t]] for t in tops.tolist()], dtype=np.int64).reshape(len(tops), 2)
    return _make_targets(rec, tops, np.concatenate((b, w), axis=1))


def _group_by_mother(rec: Record, daughters: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mothers with exactly ``n`` of the given daughters, in record order, and those daughters (M, n)."""
    order = np.argsort(rec.mother1[daughters], kind="stable")
    daughters = daughters[order]
    mothers, starts, count = np.unique(rec.mother1[daughters], return_index=True, return_counts=True)
    good = count == n
    return mothers[good], daughters[starts[good, None] + np.arange(n)].reshape(int(good.sum()), n)


def _last_copy(rec: Record, index: np.ndarray) -> np.ndarray:
    index = index.copy()
    for _ in range(200):
        child = rec.daughter1[index]
        same = (rec.id[child] == rec.id[index]) & (child != index)
        if not same.any():
            break
        index[same] = child[same]
    return index


def _make_targets(rec: Record, objects: np.ndarray, prongs: np.ndarray) -> Targets:
    eta, phi = eta_phi(rec.px, rec.py, rec.pz)
    all_prongs = np.concatenate((prongs, np.repeat(objects[:, None], 3 - prongs.shape[1], axis=1)), axis=1)
    return Targets(rec.event_of(objects), eta[objects], phi[objects], eta[all_prongs], phi[all_prongs])
