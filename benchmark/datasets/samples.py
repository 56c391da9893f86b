"""One HDF5 sample file in the ADC2021 layout: writing it atomically and reading it back with every check.

``Particles`` (N, 19, 4) with ``Particles_Names`` and ``Particles_Classes`` as in the public ADC2021 release; our
files add ``Regions`` (N, 18, 14) calorimeter region ET, optional ``EvtId`` and ``Process`` columns and metadata
attributes. Public ADC2021 files load through the same :func:`load_sample`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from l1ad.benchmark.trigger.layout import N_OBJECTS, N_REGION_ETA, N_REGION_PHI, PARTICLE_CLASSES, PARTICLE_NAMES
from l1ad.errors import DataFileError, first_line
from l1ad.files import replacing


@dataclass
class Sample:
    """One sample: trigger objects (N, 19, 4), optional calorimeter regions (N, 18, 14) and metadata."""

    name: str
    particles: np.ndarray
    regions: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)
    path: Path | None = None
    event_ids: np.ndarray | None = None  # ``EvtId``, as in ADC2021's blind file
    processes: np.ndarray | None = None  # ``Process``: per-event index into metadata["processes"] (cocktails)

    def __len__(self) -> int:
        return len(self.particles)


def write_sample(path: Path, sample: Sample) -> None:
    """Write a sample atomically: a crash or bad input never leaves a half-written file under ``path``."""
    path = Path(path)
    with replacing(path) as tmp, h5py.File(tmp, "w") as f:
            f.create_dataset("Particles", data=sample.particles.astype(np.float32), compression="gzip", shuffle=True)
            f.create_dataset("Particles_Names", data=np.array(PARTICLE_NAMES, dtype="S"))
            f.create_dataset("Particles_Classes", data=np.array(PARTICLE_CLASSES, dtype="S"))
            if sample.regions is not None:
                f.create_dataset("Regions", data=sample.regions, compression="gzip", shuffle=True)
            if sample.event_ids is not None:
                f.create_dataset("EvtId", data=sample.event_ids)
            if sample.processes is not None:
                f.create_dataset("Process", data=sample.processes)
            f.attrs["sample"] = sample.name
            for key, value in sample.metadata.items():
                f.attrs[key] = json.dumps(value) if isinstance(value, Mapping | list) else value


def load_sample(path: str | Path) -> Sample:
    """Read one sample file (ours or a public ADC2021 file), checking layout and values."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such data file")
    if path.stat().st_size == 0:
        raise DataFileError(f"{path}: file is empty")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataFileError(f"{path}: not a readable HDF5 file ({first_line(exc)})") from None
    with f:
        if "Particles" not in f:
            raise DataFileError(f"{path}: missing dataset 'Particles' (keys: {', '.join(sorted(f.keys())) or 'none'})")
        try:
            particles = np.asarray(f["Particles"][...], dtype=np.float32)
            regions = np.asarray(f["Regions"][...]) if "Regions" in f else None
            event_ids = np.asarray(f["EvtId"][...]) if "EvtId" in f else None
            processes = np.asarray(f["Process"][...]) if "Process" in f else None
        except OSError as exc:
            raise DataFileError(f"{path}: file is truncated or corrupt ({first_line(exc)})") from None
        metadata = {k: _attr(v) for k, v in f.attrs.items()}
    if particles.ndim != 3 or particles.shape[1:] != (N_OBJECTS, 4):
        raise DataFileError(f"{path}: 'Particles' has shape {particles.shape}, expected (N, {N_OBJECTS}, 4)")
    if len(particles) == 0:
        raise DataFileError(f"{path}: 'Particles' holds no events")
    if not np.isfinite(particles).all():
        bad = int((~np.isfinite(particles)).any(axis=(1, 2)).sum())
        raise DataFileError(f"{path}: 'Particles' has NaN or Inf values in {bad} events")
    if regions is not None and regions.shape != (len(particles), N_REGION_PHI, N_REGION_ETA):
        raise DataFileError(
            f"{path}: 'Regions' has shape {regions.shape}, expected ({len(particles)}, {N_REGION_PHI}, {N_REGION_ETA})"
        )
    name = str(metadata.pop("sample", path.stem))
    for key, values in (("EvtId", event_ids), ("Process", processes)):
        if values is not None and values.shape != (len(particles),):
            raise DataFileError(f"{path}: {key!r} has shape {values.shape}, expected ({len(particles)},)")
    return Sample(name=name, particles=particles, regions=regions, metadata=metadata, path=path, event_ids=event_ids,
                  processes=processes)


def _attr(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value.item() if isinstance(value, np.generic) else value
