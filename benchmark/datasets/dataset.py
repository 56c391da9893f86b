"""A dataset directory: the sample files of one generated dataset and ``dataset.json``, its manifest.

The manifest says what each file is (label, split, process, event count) and records seeds, config digest and
generator. :func:`load_dataset` opens a directory, reads one sample file (ours or a public ADC2021 file), or finds a
generated standard dataset by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from l1ad.benchmark.datasets.manifest import MANIFEST, DatasetManifest, DatasetRef
from l1ad.benchmark.datasets.samples import Sample, load_sample
from l1ad.config import EmulationConfig, shipped_datasets
from l1ad.errors import DataFileError, L1adError, MissingStageOutput
from l1ad.files import read_json_model, validate_model

BACKGROUND_SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Dataset:
    """A dataset directory: background splits and signal samples described by its manifest."""

    directory: Path
    manifest: DatasetManifest

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def ref(self) -> DatasetRef:
        return self.manifest.ref

    @property
    def zero_bias(self) -> bool:
        """Background events are unbiased bunch crossings (rates in kHz make sense), not a pre-selected stream."""
        return self.manifest.zero_bias

    @property
    def emulation(self) -> EmulationConfig:
        """The trigger emulation settings the dataset was generated with."""
        return validate_model(self.manifest.config.get("emulation", {}), EmulationConfig,
                              f"{self.directory / MANIFEST}: invalid emulation settings", error=DataFileError)

    @property
    def signal_names(self) -> list[str]:
        return [s for s, info in self.manifest.samples.items() if info.label == "signal"]

    def sample(self, name: str) -> Sample:
        info = self.manifest.samples.get(name)
        if info is None:
            raise DataFileError(f"{self.directory}: no sample {name!r} (has: {', '.join(self.manifest.samples)})")
        return load_sample(self.directory / info.file)

    def background(self, split: str) -> Sample:
        if split not in BACKGROUND_SPLITS:
            raise DataFileError(f"unknown split {split!r}; known: {', '.join(BACKGROUND_SPLITS)}")
        return self.sample(f"background_{split}")


def read_manifest(directory: str | Path) -> DatasetManifest:
    """The validated ``dataset.json`` of a dataset directory."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise MissingStageOutput(path, "dataset manifest", "l1ad data generate")
    return read_json_model(path, DatasetManifest, "dataset manifest")


def load_dataset(name_or_path: str | Path, *, size: str = "default", search: str | Path = "runs") -> Sample | Dataset:
    """Open a dataset directory, read one sample file, or find a generated standard dataset by name.

    Parameters
    ----------
    name_or_path
        A dataset directory (with ``dataset.json``), one HDF5 sample file (ours or a public ADC2021 file), or the
        name of a standard dataset (``"zb"``, ``"adc"``, ``"jets"``).
    size
        For a name: the size to look for.
    search
        For a name: the directory whose run directories are searched (the newest match wins).

    Returns
    -------
    Dataset or Sample

    Raises
    ------
    DataFileError, MissingStageOutput, StageOutputError
        For a missing, unreadable or malformed file, each naming the file.
    """
    path = Path(name_or_path)
    if isinstance(name_or_path, str) and name_or_path in shipped_datasets() and not (
        path.is_file() or (path / MANIFEST).is_file()
    ):
        return _find_generated(name_or_path, size, Path(search))
    if path.is_dir():
        if not (path / MANIFEST).is_file():
            raise DataFileError(f"{path}: not a dataset directory (no {MANIFEST}); generate it with 'l1ad data generate'")
        return Dataset(directory=path, manifest=read_manifest(path))
    return load_sample(path)


def _find_generated(name: str, size: str, search: Path) -> Dataset:
    found = []
    for manifest in search.glob("*/*/" + MANIFEST):
        try:
            info = read_manifest(manifest.parent)
        except L1adError:  # another run's damaged or older manifest is not the one asked for
            continue
        if (info.name, info.size) == (name, size):
            found.append(manifest)
    if not found:
        raise DataFileError(f"standard dataset {name!r} ({size}) is not generated under {search}/; generate it with "
                        f"'l1ad data generate --dataset {name} --size {size} -o {search}/{name}-{size}'")
    return load_dataset(max(found, key=lambda m: m.stat().st_mtime).parent)
