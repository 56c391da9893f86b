"""Run configuration: one YAML file validated into typed objects.

A run config names the dataset, the model, its training, the evaluation working points, the firmware settings and where
the leaderboard lives. Shipped configs sit in ``src/l1ad/configs`` and are addressed by name (``default``, ``tiny``); any other
value is read as a path. Every validation problem becomes one line naming the file and the offending key.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from l1ad.errors import L1adError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmulationConfig(_Strict):
    """Level-1 trigger-object emulation (approximate CMS Phase-1 values; see the dataset card)."""

    tower_threshold_gev: float = Field(0.5, ge=0)
    tower_lsb_gev: float = Field(0.5, gt=0)
    em_stochastic: float = Field(0.2, ge=0, description="EM energy resolution a/sqrt(E)")
    em_constant: float = Field(0.02, ge=0)
    had_stochastic: float = Field(1.0, ge=0, description="hadronic energy resolution a/sqrt(E)")
    had_constant: float = Field(0.05, ge=0)
    tower_noise_gev: float = Field(0.15, ge=0, description="Gaussian electronics noise per tower, in ET")
    jet_seed_gev: float = Field(4.0, ge=0)
    jet_min_pt_gev: float = Field(20.0, ge=0)
    jet_max_eta: float = Field(4.0, gt=0)
    egamma_seed_gev: float = Field(2.0, ge=0)
    egamma_min_pt_gev: float = Field(5.0, ge=0)
    egamma_max_eta: float = Field(3.0, gt=0)
    egamma_max_h_over_e: float = Field(0.25, ge=0)
    egamma_max_rel_iso: float = Field(0.5, ge=0)
    muon_min_pt_gev: float = Field(3.0, ge=0)
    muon_max_eta: float = Field(2.4, gt=0)
    muon_pt_resolution: float = Field(0.15, ge=0)
    met_max_eta: float = Field(5.0, gt=0)


class SampleSizes(_Strict):
    train: int = Field(gt=0)
    validation: int = Field(gt=0)
    test: int = Field(gt=0)


class BlindSizes(_Strict):
    """A blind test sample: background and signal events mixed and shuffled; labels are written elsewhere."""

    background: int = Field(0, ge=0)
    per_signal: int = Field(0, ge=0)


class LeptonTrigger(_Strict):
    """The ADC2021 pre-selection, applied to every sample after emulation: leading e/gamma or muon above a threshold."""

    min_pt_gev: float = Field(23.0, gt=0, description="leading e/gamma or muon pT must exceed this (GeV)")
    max_attempts_per_event: int = Field(
        2000, gt=0, description="give up on a process whose selection efficiency is below 1/max_attempts_per_event"
    )


def _check_process(name: str, what: str) -> None:
    from l1ad.benchmark.processes import PROCESSES

    if name not in PROCESSES or name == "minbias":
        known = ", ".join(sorted(p for p in PROCESSES if p != "minbias"))
        raise ValueError(f"unknown {what} process {name!r}; known: {known}")


class DatasetConfig(_Strict):
    name: str = "zb"
    version: str = "0.1"
    size: str = Field("custom", description="the named size this config was resolved from")
    sqrt_s_tev: float = Field(13.6, gt=0)
    pileup_mu: float = Field(60.0, ge=0)
    pileup_pool_size: int = Field(4000, gt=0)
    background: SampleSizes
    signals: dict[str, int] = Field(min_length=1, description="signal process name -> number of events")
    background_cocktail: dict[str, float] | None = Field(
        None, description="hard processes making up the background and their shares; none: zero bias (pile-up only)"
    )
    trigger: LeptonTrigger | None = Field(None, description="pre-selection every sample must pass; none: unbiased")
    blind: BlindSizes = BlindSizes()
    emulation: EmulationConfig = EmulationConfig()
    chunk_size: int = Field(100, gt=0, description="events emulated together in one vectorized pass")
    shard_size: int = Field(
        5000, gt=0, description="events per generation task; fixed so results do not depend on the number of workers"
    )

    @field_validator("signals")
    @classmethod
    def _known_signals(cls, signals: dict[str, int]) -> dict[str, int]:
        for name, count in signals.items():
            _check_process(name, "signal")
            if count <= 0:
                raise ValueError(f"signal {name!r} needs a positive number of events, got {count}")
        return signals

    @field_validator("background_cocktail")
    @classmethod
    def _known_cocktail(cls, cocktail: dict[str, float] | None) -> dict[str, float] | None:
        if cocktail is None:
            return None
        if not cocktail:
            raise ValueError("an empty background cocktail; leave it out for zero bias")
        for name, share in cocktail.items():
            _check_process(name, "background")
            if share <= 0:
                raise ValueError(f"background share of {name!r} must be positive, got {share}")
        total = sum(cocktail.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"background shares must add up to 1, they add up to {total:g}")
        return cocktail

    @model_validator(mode="after")
    def _trigger_needs_hard_processes(self) -> DatasetConfig:
        if self.trigger is not None and self.background_cocktail is None:
            raise ValueError("a trigger pre-selection needs a background_cocktail of hard processes to select from")
        return self

    @property
    def zero_bias(self) -> bool:
        """Background events are unbiased bunch crossings, so accepted fraction x collision rate is a trigger rate."""
        return self.background_cocktail is None and self.trigger is None


class DatasetSize(_Strict):
    pileup_pool_size: int = Field(gt=0)
    background: SampleSizes
    signal_events: int = Field(gt=0, description="events per signal")
    blind: BlindSizes = BlindSizes()


class DatasetDefinition(_Strict):
    """A standard, named dataset shipped in ``src/l1ad/configs/datasets``; ``resolve(size)`` gives its config."""

    name: str
    version: str
    description: str
    sqrt_s_tev: float = Field(13.6, gt=0)
    pileup_mu: float = Field(60.0, ge=0)
    signals: list[str] = Field(min_length=1)
    background_cocktail: dict[str, float] | None = None
    trigger: LeptonTrigger | None = None
    emulation: EmulationConfig = EmulationConfig()
    shard_size: int = Field(5000, gt=0, description="events per generation task")
    sizes: dict[str, DatasetSize]

    def resolve(self, size: str) -> DatasetConfig:
        if size not in self.sizes:
            raise L1adError(f"dataset {self.name!r} has no size {size!r}; sizes: {', '.join(self.sizes)}")
        chosen = self.sizes[size]
        return DatasetConfig(
            name=self.name, version=self.version, size=size, sqrt_s_tev=self.sqrt_s_tev, pileup_mu=self.pileup_mu,
            pileup_pool_size=chosen.pileup_pool_size, background=chosen.background,
            signals={s: chosen.signal_events for s in self.signals}, background_cocktail=self.background_cocktail,
            trigger=self.trigger, blind=chosen.blind, emulation=self.emulation, shard_size=self.shard_size,
        )


class JetSplitSizes(_Strict):
    """Jets per class in each split."""

    train: int = Field(gt=0)
    validation: int = Field(gt=0)
    test: int = Field(gt=0)


class ResimulationSizes(_Strict):
    jets_per_class: int = Field(0, ge=0, description="hard-process events re-hadronised, per class (0: none)")
    copies: int = Field(4, ge=2)


class JetsDatasetConfig(_Strict):
    """Boosted jets for taggers (q, g, W, Z, t) in two simulation domains, plus re-simulated copies."""

    name: str = "jets"
    version: str = "0.1"
    size: str = "custom"
    sqrt_s_tev: float = Field(13.6, gt=0)
    pt_min_gev: float = Field(500.0, gt=0)
    pt_max_gev: float = Field(1000.0, gt=0)
    n_constituents: int = Field(32, gt=0)
    domains: list[str] = Field(default_factory=lambda: ["nominal", "alternative"], min_length=1)
    per_class: JetSplitSizes
    resimulation: ResimulationSizes = ResimulationSizes()
    shard_size: int = Field(500, gt=0, description="jets per generation task")

    @field_validator("domains")
    @classmethod
    def _known_domains(cls, domains: list[str]) -> list[str]:
        from l1ad.benchmark.jets import DOMAINS

        unknown = [d for d in domains if d not in DOMAINS]
        if unknown:
            raise ValueError(f"unknown domain {unknown[0]!r}; known: {', '.join(DOMAINS)}")
        return domains


class JetsDatasetSize(_Strict):
    per_class: JetSplitSizes
    resimulation: ResimulationSizes = ResimulationSizes()


class JetsDatasetDefinition(_Strict):
    kind: Literal["jets"]
    name: str
    version: str
    description: str
    sqrt_s_tev: float = Field(13.6, gt=0)
    pt_min_gev: float = Field(500.0, gt=0)
    pt_max_gev: float = Field(1000.0, gt=0)
    n_constituents: int = Field(32, gt=0)
    domains: list[str] = Field(default_factory=lambda: ["nominal", "alternative"])
    sizes: dict[str, JetsDatasetSize]

    def resolve(self, size: str) -> JetsDatasetConfig:
        if size not in self.sizes:
            raise L1adError(f"dataset {self.name!r} has no size {size!r}; sizes: {', '.join(self.sizes)}")
        fields = self.model_dump(exclude={"kind", "description", "sizes"})
        return JetsDatasetConfig(**fields, size=size, **self.sizes[size].model_dump())


def shipped_datasets() -> list[str]:
    folder = resources.files("l1ad.configs").joinpath("datasets")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def dataset_definition(name: str) -> DatasetDefinition | JetsDatasetDefinition:
    """A shipped standard dataset: trigger objects (``DatasetDefinition``) or boosted jets (``kind: jets``)."""
    if name not in shipped_datasets():
        raise L1adError(f"unknown dataset {name!r}; known: {', '.join(shipped_datasets())}")
    raw = yaml.safe_load(resources.files("l1ad.configs").joinpath("datasets", f"{name}.yaml").read_text())
    model = JetsDatasetDefinition if raw.get("kind") == "jets" else DatasetDefinition
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise L1adError(f"dataset definition {name!r}: {describe_validation_error(exc)}") from None


class QuantizationConfig(_Strict):
    weight_bits: int = Field(8, ge=2, le=32)
    weight_integer_bits: int = Field(0, ge=0)
    activation_bits: int = Field(10, ge=2, le=32)
    activation_integer_bits: int = Field(5, ge=0)
    input_bits: int = Field(16, ge=2, le=32)
    input_integer_bits: int = Field(7, ge=0)


class ModelConfig(_Strict):
    name: str = "dense_ae"
    label: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_.-]+$", description="names this variant's outputs and table rows; default: name"
    )
    encoder_units: list[int] = Field(default_factory=lambda: [32, 16], min_length=1)
    latent_dim: int = Field(3, gt=0)
    quantization: QuantizationConfig | None = Field(
        QuantizationConfig(), description="QKeras fixed-point settings; null: the same network in float"
    )
    params: dict[str, float | int | str] = Field(default_factory=dict, description="family-specific settings")

    @field_validator("name")
    @classmethod
    def _known_model(cls, name: str) -> str:
        from l1ad.models.registry import MODELS

        if name not in MODELS:
            raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
        return name

    @model_validator(mode="after")
    def _known_params(self) -> ModelConfig:
        from l1ad.models.registry import MODELS

        unknown = sorted(set(self.params) - set(MODELS[self.name].params))
        if unknown:
            accepted = ", ".join(MODELS[self.name].params) or "none"
            raise ValueError(f"model {self.name!r} has no parameter {unknown[0]!r} (accepted: {accepted})")
        for key, allowed in MODELS[self.name].choices.items():
            if key in self.params and self.params[key] not in allowed:
                raise ValueError(f"model {self.name!r}: {key} must be one of {', '.join(allowed)}, got {self.params[key]!r}")
        return self

    @property
    def run_label(self) -> str:
        return self.label or self.name


def _default_bench() -> list[ModelConfig]:
    return [
        ModelConfig(name="dense_ae"),
        ModelConfig(name="dense_ae", label="dense_ae_float", quantization=None),
        ModelConfig(name="dense_ae", label="dense_ae_linear", params={"angles": "linear"}),
        ModelConfig(name="dense_vae"),
        ModelConfig(name="dense_vae", label="dense_vae_float", quantization=None),
        ModelConfig(name="cnn_ae"),
        ModelConfig(name="cnn_vae"),
        ModelConfig(name="cicada_teacher", latent_dim=80, quantization=None),
        ModelConfig(name="isolation_forest"),
        ModelConfig(name="gmm"),
    ]


class PruningConfig(_Strict):
    """Magnitude pruning with tensorflow-model-optimization: sparsity ramps from 0 to ``final_sparsity`` over the
    first ``ramp_fraction`` of the epochs, then the masks stay fixed (early stopping only looks after the ramp)."""

    final_sparsity: float = Field(0.5, gt=0, lt=1)
    ramp_fraction: float = Field(0.5, gt=0, le=1)


class TrainingConfig(_Strict):
    epochs: int = Field(30, gt=0)
    batch_size: int = Field(512, gt=0)
    learning_rate: float = Field(3e-3, gt=0)
    early_stopping_patience: int = Field(5, ge=1)
    pruning: PruningConfig | None = Field(None, description="prune weights while training (Keras models); null: dense")


class EvaluationConfig(_Strict):
    rates_khz: list[float] = Field(default_factory=lambda: [1.0, 3.0, 10.0], min_length=1)
    leaderboard_rate_khz: float = Field(10.0, gt=0)
    fprs: list[float] = Field(
        default_factory=lambda: [1e-3, 1e-2], min_length=1,
        description="working points as false-positive rates, used on pre-selected (not zero-bias) datasets",
    )
    leaderboard_fpr: float = Field(
        1e-2, gt=0, lt=1, description="headline working point on pre-selected datasets (measurable on default sizes)"
    )
    collision_rate_mhz: float = Field(28.61, gt=0, description="effective filled-bunch crossing rate")
    confidence_level: float = Field(0.6827, gt=0, lt=1)
    bootstrap_samples: int = Field(200, ge=0)
    min_background_accepted: int = Field(
        10, ge=1, description="background events above threshold needed to call a working point measurable"
    )

    @field_validator("rates_khz")
    @classmethod
    def _positive_rates(cls, rates: list[float]) -> list[float]:
        if any(r <= 0 for r in rates):
            raise ValueError("trigger rates must be positive (kHz)")
        return rates

    @field_validator("fprs")
    @classmethod
    def _fractions(cls, fprs: list[float]) -> list[float]:
        if any(not 0 < f < 1 for f in fprs):
            raise ValueError("false-positive rates must lie between 0 and 1")
        return fprs


class FirmwareConfig(_Strict):
    backend: Literal["Vitis", "Vivado"] = "Vitis"
    io_type: Literal["io_parallel", "io_stream"] = "io_parallel"
    strategy: Literal["Latency", "Resource"] = "Latency"
    part: str = "xcvu9p-flga2104-2L-e"
    clock_period_ns: float = Field(2.5, gt=0)
    default_precision: str = Field("ap_fixed<24,12>", description="for layers whose precision hls4ml cannot infer")
    reuse_factor: int = Field(1, ge=1)
    layer_precision: dict[str, str] = Field(
        default_factory=dict, description="layer name -> ap_fixed type for its accumulator and result (overrides 'auto')"
    )


class LeaderboardConfig(_Strict):
    directory: str | None = Field("leaderboards", description="relative to the working directory; null: <output_dir>/leaderboards")
    submitter: str = "l1ad-bench baseline"


class RunConfig(_Strict):
    name: str
    seed: int = Field(42, ge=0, lt=2**31)
    output_dir: str
    dataset: DatasetConfig
    model: ModelConfig = Field(default_factory=ModelConfig)  # deferred: its validator imports the model registry
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    firmware: FirmwareConfig = FirmwareConfig()
    leaderboard: LeaderboardConfig = LeaderboardConfig()
    bench: list[ModelConfig] = Field(
        default_factory=_default_bench, min_length=1, description="the baselines 'l1ad bench' trains and compares"
    )

    @field_validator("bench")
    @classmethod
    def _unique_labels(cls, models: list[ModelConfig]) -> list[ModelConfig]:
        labels = [m.run_label for m in models]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"bench models need distinct labels; repeated: {', '.join(repeated)}")
        return models

    def digest(self) -> str:
        """A short hash of the whole config, recorded in every output for provenance."""
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:12]


def shipped_configs() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in resources.files("l1ad.configs").iterdir() if p.name.endswith(".yaml"))


def load_config(
    name_or_path: str | Path, *, output_dir: str | None = None, dataset: str | None = None, size: str | None = None
) -> RunConfig:
    """Read a shipped config by name or a YAML file by path and validate it.

    ``output_dir`` overrides the config's output directory (the CLI's ``--output``); ``dataset`` and ``size`` replace the
    config's dataset by a shipped standard dataset (``--dataset``, ``--size``). A config's dataset may itself be given
    as just ``{name: zb, size: default}``, a reference to a standard dataset.
    """
    text, source = _read_config_text(str(name_or_path))
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise L1adError(f"config {source}: not valid YAML ({_one_line(str(exc))})") from None
    if not isinstance(raw, dict):
        raise L1adError(f"config {source}: expected a mapping of settings at the top level")
    if output_dir is not None:
        raw["output_dir"] = output_dir
    ref = raw.get("dataset") if isinstance(raw.get("dataset"), dict) else {}
    if dataset is not None or size is not None or (ref and set(ref) <= {"name", "size"}):
        name = dataset or ref.get("name", "zb")
        definition = dataset_definition(name)
        if isinstance(definition, JetsDatasetDefinition):
            raise L1adError(f"dataset {name!r} holds boosted jets for taggers, not trigger objects for a run; "
                            f"generate it with 'l1ad data generate --dataset {name}'")
        raw["dataset"] = definition.resolve(size or ref.get("size", "default")).model_dump()
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise L1adError(f"config {source}: {describe_validation_error(exc)}") from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line for a pydantic error: the dotted key of the first problem and what is wrong with it."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    message = {"missing": "missing required key", "extra_forbidden": "unknown key"}.get(err["type"], err["msg"])
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    return f"{where}: {_one_line(message)}{more}"


def _read_config_text(name_or_path: str) -> tuple[str, str]:
    if name_or_path in shipped_configs():
        return resources.files("l1ad.configs").joinpath(f"{name_or_path}.yaml").read_text(), f"'{name_or_path}' (shipped)"
    path = Path(name_or_path)
    if not path.is_file():
        raise L1adError(
            f"config {name_or_path!r}: no such file, and not a shipped config ({', '.join(shipped_configs())})"
        )
    return path.read_text(), str(path)


def _one_line(text: str) -> str:
    return " ".join(text.split())
