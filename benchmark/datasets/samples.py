"""One HDF5 sample file in the ADC2021 layout: writing it atomically and reading it back with every check.

``Particles`` (N, 19, 4) with ``Particles_Names`` and ``Particles_Classes`` as in the public ADC2021 release; our
files add ``Regions`` (N, 18, 14) calorimeter region ET, optional ``EvtId`` and ``Process`` columns, the per-crossing
truth ``Truth_*`` (pile-up count, the hardest interaction's pT-hat, source and id) and metadata attributes. Public ADC2021 files load through the same :func:`load_sample`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from l1ad.benchmark.generation.pileup import CrossingTruth
from l1ad.benchmark.trigger.layout import N_OBJECTS, N_REGION_ETA, N_REGION_PHI, PARTICLE_CLASSES, PARTICLE_NAMES
from l1ad.errors import DataFileError, first_line
from l1ad.files import replacing

# Per-crossing truth, in the order of CrossingTruth's fields, and the dtype kinds accepted for each.
TRUTH_KEYS = ("Truth_NPileup", "Truth_HardestPtHat", "Truth_HardestSource", "Truth_HardestId", "Truth_GenJetLeadingPt",
              "Truth_GenJetCount", "Truth_GenJetHT", "Truth_GenJetCountSmeared", "Truth_GenMuonLeadingPt",
              "Truth_GenEGammaLeadingPt", "Truth_GenMETx", "Truth_GenMETy")
TRUTH_KINDS = ("ui", "f", "ui", "i", "f", "ui", "f", "f", "f", "f", "f", "f")
_TRUTH_SIGNED = ("Truth_HardestId", "Truth_GenMETx", "Truth_GenMETy")  # may be negative (-1: no interaction)


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
    truth: CrossingTruth | None = None  # ``Truth_*``: pile-up count and hardest interaction per crossing (ours only)

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
            if sample.truth is not None:
                for key, column in zip(TRUTH_KEYS, sample.truth.columns(), strict=True):
                    f.create_dataset(key, data=column, compression="gzip", shuffle=True)
            f.attrs["sample"] = sample.name
            for key, value in sample.metadata.items():
                f.attrs[key] = json.dumps(value) if isinstance(value, Mapping | list) else value


def load_sample(path: str | Path) -> Sample:
    """Read one sample file (ours or a public ADC2021 file), checking layout, types and values.

    Raises
    ------
    DataFileError
        For a missing, empty, truncated or non-HDF5 file, a missing or mistyped dataset, wrong shapes, non-float or
        complex trigger objects, NaN/Inf, negative pT, or ``Particles_Names`` other than ADC2021's; the message names
        the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such data file")
    if path.stat().st_size == 0:
        raise DataFileError(f"{path}: file is empty")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataFileError(f"{path}: not a readable HDF5 file ({first_line(exc)})") from None
    try:
        with f:
            particles = _dataset(f, path, "Particles", "f", (None, N_OBJECTS, 4))
            regions = _dataset(f, path, "Regions", "uif", (len(particles), N_REGION_PHI, N_REGION_ETA), required=False)
            event_ids = _dataset(f, path, "EvtId", "ui", (len(particles),), required=False)
            processes = _dataset(f, path, "Process", "ui", (len(particles),), required=False)
            truth_columns = [_dataset(f, path, key, kind, (len(particles),), required=False)
                             for key, kind in zip(TRUTH_KEYS, TRUTH_KINDS, strict=True)]
            names = _dataset(f, path, "Particles_Names", "SUO", (4,), required=False)
            metadata = {k: _attr(v) for k, v in f.attrs.items()}
    except (OSError, TypeError, ValueError, KeyError) as exc:  # h5py's errors for damaged files and odd attributes
        raise DataFileError(f"{path}: file is truncated or corrupt ({first_line(exc)})") from None
    if names is None or [_text(n) for n in names] != list(PARTICLE_NAMES):
        found = "missing" if names is None else [_text(n) for n in names]
        raise DataFileError(f"{path}: 'Particles_Names' is {found}, expected {list(PARTICLE_NAMES)} (the ADC2021 layout)")
    particles = particles.astype(np.float32, copy=False)
    if len(particles) == 0:
        raise DataFileError(f"{path}: 'Particles' holds no events")
    if not np.isfinite(particles).all():
        bad = int((~np.isfinite(particles)).any(axis=(1, 2)).sum())
        raise DataFileError(f"{path}: 'Particles' has NaN or Inf values in {bad} events")
    if (particles[:, :, 0] < 0).any():
        bad = int((particles[:, :, 0] < 0).any(axis=1).sum())
        raise DataFileError(f"{path}: 'Particles' has negative pT in {bad} events")
    if regions is not None and (not np.isfinite(regions).all() or (regions < 0).any()):
        raise DataFileError(f"{path}: 'Regions' has negative, NaN or Inf energies")
    truth = None
    if any(c is not None for c in truth_columns):
        if any(c is None for c in truth_columns):
            missing = [k for k, c in zip(TRUTH_KEYS, truth_columns, strict=True) if c is None]
            raise DataFileError(f"{path}: truth datasets incomplete, missing {', '.join(missing)}")
        if any(not np.isfinite(c).all() or (key not in _TRUTH_SIGNED and (c < 0).any())
               for key, c in zip(TRUTH_KEYS, truth_columns, strict=True)):
            raise DataFileError(f"{path}: truth has negative, NaN or Inf values")
        truth = CrossingTruth(*truth_columns)
    name = str(metadata.pop("sample", path.stem))
    return Sample(name=name, particles=particles, regions=regions, metadata=metadata, path=path, event_ids=event_ids,
                  processes=processes, truth=truth)


def _dataset(f: h5py.File, path: Path, key: str, kinds: str, shape: tuple, *, required: bool = True):
    """The array stored as ``key``: an HDF5 dataset of a dtype kind in ``kinds`` and ``shape`` (None: any length);
    None if absent and not ``required``. Shape and type are checked before anything is read."""
    if key not in f:
        if required:
            raise DataFileError(f"{path}: missing dataset {key!r} (keys: {', '.join(sorted(f.keys())) or 'none'})")
        return None
    item = f[key]
    if not isinstance(item, h5py.Dataset):
        raise DataFileError(f"{path}: {key!r} is an HDF5 {type(item).__name__.lower()}, not a dataset")
    if item.dtype.kind not in kinds:
        raise DataFileError(f"{path}: {key!r} has type {item.dtype}, expected {_KINDS[kinds]}")
    if len(item.shape) != len(shape) or any(want is not None and got != want for got, want in zip(item.shape, shape, strict=True)):
        expected = ", ".join("N" if want is None else str(want) for want in shape)
        raise DataFileError(f"{path}: {key!r} has shape {item.shape}, expected ({expected})")
    return np.asarray(item[...])


_KINDS = {"f": "floating point", "ui": "integers", "uif": "real numbers", "SUO": "strings"}


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _attr(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value.item() if isinstance(value, np.generic) else value
