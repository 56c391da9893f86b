"""Where a run's stages read and write (:class:`RunPaths`), and what every stage is handed (:class:`RunContext`).

Run output directory (``output_dir`` of the config)::

    dataset/                  dataset.json, CARD.md + card/*.png, one HDF5 file per sample (ADC2021 layout)
    dataset_blind_labels/     the blind sample's labels, kept apart from its features
    models/<model>/           (<model>: the model's label, default its name) model.json, weights.h5, preprocessing.json
    evaluation/<model>/       scores.h5, network_inputs.h5, metrics.json, metrics.csv, efficiency_vs_rate.png, scores.png
    firmware/<model>/         hls4ml_prj/ (the hls4ml project), firmware.json
    faults/<model>/           fault_report.json, faults.csv, sensitivity.png, rate_blowup.png ('l1ad faults')
    drift/<model>/            drift.json: the rate at the model's threshold on domain-shifted variants
    variants/<dataset>/       those variants (dataset/, mlflow.db), both from 'l1ad robustness' (drift)
    bench/                    results.csv/.json/.md/.png: the bench models side by side ('l1ad bench')
    mlflow.db, mlartifacts/   the default MLflow store (unless a tracking URI is given)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from l1ad import __version__
from l1ad.benchmark.datasets.parallel import Execution
from l1ad.config import ModelConfig, RunConfig, TrainingConfig
from l1ad.pipeline.tracking import stage_run, tracking_uri


@dataclass(frozen=True)
class RunPaths:
    root: Path
    model_name: str

    @property
    def dataset(self) -> Path:
        return self.root / "dataset"

    @property
    def model(self) -> Path:
        return self.root / "models" / self.model_name

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation" / self.model_name

    @property
    def firmware(self) -> Path:
        return self.root / "firmware" / self.model_name

    @property
    def faults(self) -> Path:
        return self.root / "faults" / self.model_name

    @property
    def drift(self) -> Path:
        return self.root / "drift" / self.model_name


@dataclass(frozen=True)
class RunContext:
    """A validated run config with its output paths, MLflow store, log and where generation runs."""

    cfg: RunConfig
    tracking_uri: str
    log: Callable[[str], object] = print
    execution: Execution = field(default_factory=Execution.default)

    @classmethod
    def create(cls, cfg: RunConfig, *, tracking: str | None = None, log: Callable[[str], object] = print,
               execution: Execution | None = None) -> RunContext:
        return cls(cfg=cfg, tracking_uri=tracking_uri(cfg.output_dir, tracking), log=log,
                   execution=execution or Execution.default())

    @property
    def paths(self) -> RunPaths:
        return RunPaths(Path(self.cfg.output_dir), self.cfg.model.run_label)

    def for_model(self, model: ModelConfig, training: TrainingConfig | None = None,
                  seed: int | None = None) -> RunContext:
        """The same run with another model (a bench entry, a student), and its own training and seed if given."""
        update = {"model": model, "training": training, "seed": seed}
        return replace(self, cfg=self.cfg.model_copy(update={k: v for k, v in update.items() if v is not None}))

    def stage_run(self, stage: str, *, of_model: bool = True):
        """The MLflow run of one stage (a context manager); ``of_model=False`` for stages that are not about the run
        config's model (jet taggers, the robustness study), so it is not tagged with it."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        tags = {"l1ad.config_digest": self.cfg.digest(), "l1ad.model": self.cfg.model.run_label} if of_model else {}
        return stage_run(uri=self.tracking_uri, experiment=f"l1ad/{self.cfg.name}", stage=stage,
                         output_dir=self.paths.root, tags={**tags, "l1ad.version": __version__})
