"""Pythia 8 event generation: one seeded Pythia factory for every sample, and the visible final state.

Particles are taken from Pythia's batch interface (awkward arrays) into :class:`~l1ad.benchmark.generation.particles.
ParticleTable` columns. The jets dataset (:mod:`l1ad.benchmark.jets`) makes its Pythia instances with the same
:func:`new_pythia` and keeps visible particles with the same :func:`is_visible`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import awkward as ak
import numpy as np

from l1ad.benchmark.generation.particles import KIND_EM, KIND_HAD, KIND_MUON, ParticleTable, concatenate
from l1ad.benchmark.geometry import MAX_CALORIMETER_ETA, tower_index
from l1ad.config.processes import COMMON_SETTINGS, PROCESSES
from l1ad.errors import ConfigError, L1adError

# Invisible to the detector: neutrinos and the usual BSM invisibles (neutralino, gravitino, dark-sector hadrons).
INVISIBLE_PDG_IDS = (12, 14, 16, 1000022, 1000039, 4900211, 4900213, 51, 52, 53)


def pythia_seed(*parts: object) -> int:
    """A Pythia seed (1..900,000,000) derived deterministically from the run seed and the sample's identity."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") % 900_000_000 + 1


def new_pythia(settings: Iterable[str], *, seed: int, sqrt_s_tev: float, what: str):
    """An initialised Pythia 8 instance with the common settings, the beam energy, the seed and ``settings``.

    ``what`` names the process in error messages. Raises :class:`~l1ad.errors.ConfigError` if Pythia rejects a
    setting and :class:`~l1ad.errors.L1adError` if it fails to initialise.
    """
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for setting in (*COMMON_SETTINGS, f"Beams:eCM = {sqrt_s_tev * 1000:g}", f"Random:seed = {seed}", *settings):
        if not pythia.readString(setting):
            raise ConfigError(f"Pythia rejected the setting {setting!r} of {what}")
    if not pythia.init():
        raise L1adError(f"Pythia failed to initialise {what}")
    return pythia


def is_visible(status, pdg_id):
    """Final-state particles a detector sees: status > 0 and not a neutrino or BSM invisible (works elementwise on
    numpy and awkward arrays)."""
    abs_id = np.abs(pdg_id)
    invisible = abs_id == INVISIBLE_PDG_IDS[0]
    for other in INVISIBLE_PDG_IDS[1:]:
        invisible = invisible | (abs_id == other)
    return (status > 0) & ~invisible


class EventStream:
    """One seeded Pythia 8 instance of a named process, handing out visible final states batch by batch.

    Successive batches continue the same random sequence, so a stream that is read until enough events pass a
    selection is as reproducible as a fixed-size sample. ``settings`` are added after the process's own (the dataset's
    detector settings, such as decays in flight, or a phase-space cut).
    """

    def __init__(self, process: str, seed: int, sqrt_s_tev: float, settings: Iterable[str] = ()):
        if process not in PROCESSES:
            raise ConfigError(f"unknown process {process!r}; known: {', '.join(sorted(PROCESSES))}")
        self.process = process
        self._pythia = new_pythia((*PROCESSES[process].settings, *settings), seed=seed, sqrt_s_tev=sqrt_s_tev,
                                  what=f"process {process!r}")

    def next(self, n_events: int, *, progress=None) -> ParticleTable:
        """The next ``n_events`` events; ``progress`` (optional) receives the number finished since its last call."""
        tables = [ParticleTable.empty()]
        remaining, batch = n_events, 200
        while remaining > 0:
            events = self._pythia.nextBatch(min(batch, remaining))
            if len(events) == 0:
                raise L1adError(f"Pythia produced no events for process {self.process!r}")
            tables.append(_visible_final_state(events.prt, np.sqrt(ak.to_numpy(events.info.pT2Hat))))
            remaining -= len(events)
            if progress is not None:
                progress(len(events))
        return concatenate(tables)

    def next_below(self, n_events: int, max_scale_gev: float) -> tuple[ParticleTable, int]:
        """The next ``n_events`` events whose pT-hat is below ``max_scale_gev``, and how many were generated for them
        (the rest, above the scale, are dropped: they belong to the other side of a stitched sample)."""
        kept, n_kept, n_generated = [], 0, 0
        while n_kept < n_events:
            table = self.next(min(200, 2 * (n_events - n_kept)))
            below = np.flatnonzero(table.scale < max_scale_gev)[: n_events - n_kept]
            # count up to the last event used, so kept / generated estimates the fraction below the scale
            n_generated += int(below[-1]) + 1 if n_kept + len(below) == n_events else table.n_interactions
            kept.append(table.take(below))
            n_kept += len(below)
        return concatenate(kept), n_generated


def generate(process: str, n_events: int, seed: int, sqrt_s_tev: float, *, settings: Iterable[str] = (),
             progress=None) -> ParticleTable:
    """Generate ``n_events`` events of a named process with Pythia 8 and keep the visible final state."""
    return EventStream(process, seed, sqrt_s_tev, settings).next(n_events, progress=progress)


def cross_section_mb(process: str, seed: int, sqrt_s_tev: float, *, settings: Iterable[str] = (),
                     n_events: int = 20_000) -> tuple[float, float]:
    """Pythia's cross-section estimate of a process (mb) and its statistical error, from ``n_events`` events of the
    hard process alone (no showers, no hadronisation: the estimate needs only the phase-space sampling)."""
    pythia = new_pythia((*PROCESSES[process].settings, *settings, "PartonLevel:all = off", "HadronLevel:all = off"),
                        seed=seed, sqrt_s_tev=sqrt_s_tev, what=f"cross section of {process!r}")
    pythia.nextBatch(n_events)
    info = pythia.infoPython()
    return float(info.sigmaGen()), float(info.sigmaErr())


def _visible_final_state(prt: ak.Array, scale: np.ndarray) -> ParticleTable:
    # flattened once: selections on flat numpy columns cost a fraction of the same on jagged awkward arrays
    counts = ak.to_numpy(ak.num(prt.id, axis=1))
    ids, status = ak.to_numpy(ak.flatten(prt.id)), ak.to_numpy(ak.flatten(prt.status))
    px, py, pz = (ak.to_numpy(ak.flatten(getattr(prt.p, c))) for c in ("px", "py", "pz"))
    pt = np.hypot(px, py)
    keep = is_visible(status, ids) & (pt > 1e-3)  # beam remnants along the axis never reach the calorimeter
    owner = np.repeat(np.arange(len(counts)), counts)[keep]
    pt_flat = pt[keep]
    eta = np.arcsinh(pz[keep] / pt_flat)
    phi = np.arctan2(py[keep], px[keep])
    ids = np.abs(ids[keep])
    kind = np.full(len(ids), KIND_HAD, dtype=np.int8)
    kind[(ids == 22) | (ids == 11)] = KIND_EM
    kind[ids == 13] = KIND_MUON
    inside = np.abs(eta) < MAX_CALORIMETER_ETA
    eta, phi = eta[inside].astype(np.float32), phi[inside].astype(np.float32)
    ieta, iphi = tower_index(eta, phi)
    return ParticleTable.from_columns(
        np.bincount(owner[inside], minlength=len(counts)), scale,
        pt=pt_flat[inside].astype(np.float32), eta=eta, phi=phi, kind=kind[inside], ieta=ieta, iphi=iphi,
    )
