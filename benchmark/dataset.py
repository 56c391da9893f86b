"""HDF5 sample files in the ADC2021 layout, and the dataset directory that groups them.

One HDF5 file per sample, as in the public ADC2021 release: ``Particles`` (N, 19, 4) with ``Particles_Names`` and
``Particles_Classes``; our files add ``Regions`` (N, 18, 14) calorimeter region ET and metadata attributes. A dataset
directory holds the sample files and ``dataset.json`` (the manifest: what each file is, seeds, config digest, counts).
The public ADC2021 files load through the same :func:`load_dataset`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from l1ad.benchmark.emulation import N_OBJECTS, N_REGION_ETA, N_REGION_PHI, PARTICLE_CLASSES, PARTICLE_NAMES
from l1ad.errors import L1adError, first_line
from l1ad.files import replacing

MANIFEST = "dataset.json"
BACKGROUND_SPLITS = ("train", "validation", "test")


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

    @property
    def is_signal(self) -> bool:
        return self.metadata.get("label") == "signal"


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
        raise L1adError(f"{path}: no such data file")
    if path.stat().st_size == 0:
        raise L1adError(f"{path}: file is empty")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise L1adError(f"{path}: not a readable HDF5 file ({first_line(exc)})") from None
    with f:
        if "Particles" not in f:
            raise L1adError(f"{path}: missing dataset 'Particles' (keys: {', '.join(sorted(f.keys())) or 'none'})")
        try:
            particles = np.asarray(f["Particles"][...], dtype=np.float32)
            regions = np.asarray(f["Regions"][...]) if "Regions" in f else None
            event_ids = np.asarray(f["EvtId"][...]) if "EvtId" in f else None
            processes = np.asarray(f["Process"][...]) if "Process" in f else None
        except OSError as exc:
            raise L1adError(f"{path}: file is truncated or corrupt ({first_line(exc)})") from None
        metadata = {k: _attr(v) for k, v in f.attrs.items()}
    if particles.ndim != 3 or particles.shape[1:] != (N_OBJECTS, 4):
        raise L1adError(f"{path}: 'Particles' has shape {particles.shape}, expected (N, {N_OBJECTS}, 4)")
    if len(particles) == 0:
        raise L1adError(f"{path}: 'Particles' holds no events")
    if not np.isfinite(particles).all():
        bad = int((~np.isfinite(particles)).any(axis=(1, 2)).sum())
        raise L1adError(f"{path}: 'Particles' has NaN or Inf values in {bad} events")
    if regions is not None and regions.shape != (len(particles), N_REGION_PHI, N_REGION_ETA):
        raise L1adError(
            f"{path}: 'Regions' has shape {regions.shape}, expected ({len(particles)}, {N_REGION_PHI}, {N_REGION_ETA})"
        )
    name = str(metadata.pop("sample", path.stem))
    for key, values in (("EvtId", event_ids), ("Process", processes)):
        if values is not None and values.shape != (len(particles),):
            raise L1adError(f"{path}: {key!r} has shape {values.shape}, expected ({len(particles)},)")
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


@dataclass(frozen=True)
class Dataset:
    """A dataset directory: background splits and signal samples described by its manifest."""

    directory: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def zero_bias(self) -> bool:
        """Background events are unbiased bunch crossings (rates in kHz make sense), not a pre-selected stream."""
        return bool(self.manifest.get("zero_bias", True))

    @property
    def signal_names(self) -> list[str]:
        return [s for s, info in self.manifest["samples"].items() if info["label"] == "signal"]

    def sample(self, name: str) -> Sample:
        info = self.manifest["samples"].get(name)
        if info is None:
            raise L1adError(f"{self.directory}: no sample {name!r} (has: {', '.join(self.manifest['samples'])})")
        return load_sample(self.directory / info["file"])

    def background(self, split: str) -> Sample:
        if split not in BACKGROUND_SPLITS:
            raise L1adError(f"unknown split {split!r}; known: {', '.join(BACKGROUND_SPLITS)}")
        return self.sample(f"background_{split}")

    def signals(self) -> dict[str, Sample]:
        return {name: self.sample(name) for name in self.signal_names}


def load_dataset(name_or_path: str | Path, *, size: str = "default", search: str | Path = "runs") -> Sample | Dataset:
    """Open a dataset directory (with ``dataset.json``), read a single sample file (ours or public ADC2021), or find a
    generated standard dataset by name (``"zb"``, ``"adc"``, ``"jets"``) and ``size`` among the run directories under
    ``search`` (the newest if several hold it)."""
    from l1ad.config import shipped_datasets

    path = Path(name_or_path)
    if isinstance(name_or_path, str) and name_or_path in shipped_datasets() and not (
        path.is_file() or (path / MANIFEST).is_file()
    ):
        return _find_generated(name_or_path, size, Path(search))
    if path.is_dir():
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise L1adError(f"{path}: not a dataset directory (no {MANIFEST}); generate it with 'l1ad data generate'")
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise L1adError(f"{manifest_path}: corrupt manifest ({exc.msg} at line {exc.lineno})") from None
        return Dataset(directory=path, manifest=manifest)
    return load_sample(path)



def _find_generated(name: str, size: str, search: Path) -> Dataset:
    found = []
    for manifest in search.glob("*/*/" + MANIFEST):
        try:
            info = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if info.get("name") == name and info.get("size") == size:
            found.append(manifest)
    if not found:
        raise L1adError(f"standard dataset {name!r} ({size}) is not generated under {search}/; generate it with "
                        f"'l1ad data generate --dataset {name} --size {size} -o {search}/{name}-{size}'")
    return load_dataset(max(found, key=lambda m: m.stat().st_mtime).parent)
