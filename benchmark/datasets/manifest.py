"""``dataset.json``: the typed manifest of a dataset directory, read by every later stage.

It says what each sample file is (label, split, process, event count) and records how the dataset was made (config,
seed, generator, digest). Later stages identify a dataset by :class:`DatasetRef` (name, version, digest), never by
re-reading its files.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from l1ad.config.base import StrictModel

MANIFEST = "dataset.json"
SCHEMA = "l1ad-dataset/1"
# A sample file lives in the dataset directory itself: a plain file name, no path separators or "..".
SAFE_FILE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.h5$"


class DatasetRef(StrictModel):
    """Which dataset a result was measured on."""

    name: str
    version: str
    digest: str
    zero_bias: bool = Field(True, description="background is unbiased bunch crossings, so rates in kHz make sense")


class SampleEntry(StrictModel):
    file: str = Field(pattern=SAFE_FILE_NAME, description="HDF5 file in the dataset directory")
    label: Literal["signal", "background", "blind", "jets"]
    split: str
    process: str | None = None
    domain: str | None = Field(None, description="jets: the simulation domain")
    description: str
    n_events: int = Field(ge=0)


class ExecutionRecord(StrictModel):
    workers: int
    scheduler: str | None


class ProcessSelection(StrictModel):
    generated: int = Field(ge=0)
    emulated: int = Field(ge=0)
    passed: int = Field(ge=0)
    efficiency: float = Field(ge=0, le=1)
    efficiency_interval_68: tuple[float, float]


class SelectionSummary(StrictModel):
    trigger: dict
    source: str
    processes: dict[str, ProcessSelection]


class PileupStitching(StrictModel):
    stitch_pthat_gev: float
    sigma_inelastic_mb: float = Field(gt=0)
    sigma_hard_mb: float = Field(ge=0)
    sigma_hard_error_mb: float = Field(ge=0)
    hard_fraction: float = Field(ge=0, le=1, description="of pile-up interactions, the fraction generated fresh")
    source: str


class PileupPoolRecord(StrictModel):
    size: int = Field(gt=0, description="soft interactions in the pool")
    crossings: int = Field(ge=0, description="crossings that drew pile-up from it")
    reuse_factor: float = Field(ge=0, description="mean number of times each pool interaction was drawn")
    fresh_hard_interactions_expected: int = Field(ge=0)


class PileupSummary(StrictModel):
    mu: float
    stitching: PileupStitching | None
    pool_generated: int = Field(gt=0, description="minimum-bias interactions generated to fill all pools")
    fraction_above_stitch: float = Field(ge=0, le=1, description="of them, the fraction above the stitching scale "
                                         "(dropped): a check of the hard fraction")
    fraction_above_stitch_interval_68: tuple[float, float]
    pools: dict[str, PileupPoolRecord]


class DatasetManifest(StrictModel):
    """The contents of ``dataset.json``."""

    schema_: Literal["l1ad-dataset/1"] = Field(SCHEMA, alias="schema")
    kind: Literal["events", "jets"] = Field("events", description="trigger objects per bunch crossing, or boosted jets")
    name: str
    version: str
    size: str
    digest: str
    seed: int
    generator: str
    l1ad_version: str
    config: dict = Field(description="the dataset config it was generated from (DatasetConfig or JetsDatasetConfig)")
    zero_bias: bool = True
    samples: dict[str, SampleEntry] = Field(min_length=1)
    generation_seconds: float
    events_per_second: float | None = None
    execution: ExecutionRecord
    selection: SelectionSummary | None = None
    pileup: PileupSummary | None = None
    classes: list[str] | None = Field(None, description="jets: class names, indexed by the labels")
    features: list[str] | None = Field(None, description="jets: feature names")

    model_config = StrictModel.model_config | {"populate_by_name": True}

    @property
    def ref(self) -> DatasetRef:
        return DatasetRef(name=self.name, version=self.version, digest=self.digest, zero_bias=self.zero_bias)
