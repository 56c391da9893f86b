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
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from l1ad.config.base import SAFE_NAME, StrictModel
from l1ad.config.datasets import DatasetConfig, JetsDatasetDefinition, dataset_definition
from l1ad.config.menu import MenuConfig
from l1ad.config.models import MODELS
from l1ad.config.parts import DEFAULT_CLOCK_MHZ, DEFAULT_PART, FpgaPart, find_part, known_parts
from l1ad.config.reading import parse_yaml, read_text_file
from l1ad.errors import ConfigError, describe_validation_error


class QuantizationConfig(StrictModel):
    weight_bits: int = Field(8, ge=2, le=32)
    weight_integer_bits: int = Field(0, ge=0)
    activation_bits: int = Field(10, ge=2, le=32)
    activation_integer_bits: int = Field(5, ge=0)
    input_bits: int = Field(16, ge=2, le=32)
    input_integer_bits: int = Field(7, ge=0)


# Limits checked before anything is built: far above any trigger network, far below what would exhaust memory.
MAX_LAYER_UNITS = 4096
MAX_ENCODER_LAYERS = 16
MAX_DENSE_WEIGHTS = 20_000_000


class ModelConfig(StrictModel):
    name: str = "dense_ae"
    label: str | None = Field(
        None, pattern=SAFE_NAME, description="names this variant's outputs and table rows; default: name"
    )
    encoder_units: list[Annotated[int, Field(gt=0, le=MAX_LAYER_UNITS)]] = Field(
        default_factory=lambda: [32, 16], min_length=1, max_length=MAX_ENCODER_LAYERS)
    latent_dim: int = Field(3, gt=0, le=MAX_LAYER_UNITS)
    quantization: QuantizationConfig | None = Field(
        QuantizationConfig(), description="QKeras fixed-point settings; null: the same network in float"
    )
    params: dict[str, float | int | str] = Field(default_factory=dict, description="family-specific settings")

    @field_validator("name")
    @classmethod
    def _known_model(cls, name: str) -> str:
        if name not in MODELS:
            raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
        return name

    @model_validator(mode="after")
    def _known_params(self) -> ModelConfig:
        unknown = sorted(set(self.params) - set(MODELS[self.name].params))
        if unknown:
            accepted = ", ".join(MODELS[self.name].params) or "none"
            raise ValueError(f"model {self.name!r} has no parameter {unknown[0]!r} (accepted: {accepted})")
        for key, allowed in MODELS[self.name].choices.items():
            if key in self.params and self.params[key] not in allowed:
                raise ValueError(f"model {self.name!r}: {key} must be one of {', '.join(allowed)}, got {self.params[key]!r}")
        for key, default in MODELS[self.name].params.items():
            value = self.params.get(key, default)
            if type(value) is not type(default) and not (isinstance(default, float) and type(value) is int):
                raise ValueError(f"model {self.name!r}: {key} must be a {type(default).__name__}, got {value!r}")
            if isinstance(value, int | float) and not 0 < value <= 1e7:
                raise ValueError(f"model {self.name!r}: {key} must lie in (0, 1e7], got {value!r}")
        sizes = [57, *self.encoder_units, self.latent_dim]
        weights = 2 * sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))  # encoder and mirrored decoder
        if weights > MAX_DENSE_WEIGHTS:
            raise ValueError(f"encoder_units {self.encoder_units} with latent_dim {self.latent_dim} make about "
                             f"{weights:.2e} weights, above the limit of {MAX_DENSE_WEIGHTS:.0e}")
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
        # AXOL1TL v3's size and types (anchors.md): 57 -> 32 -> 16 -> 8, weights ap_fixed<6,3>, inputs ap_fixed<14,6>
        ModelConfig(name="dense_vae", label="axol1tl_v3", latent_dim=8,
                    quantization=QuantizationConfig(weight_bits=6, weight_integer_bits=2, input_bits=14,
                                                    input_integer_bits=5)),
        ModelConfig(name="cnn_ae"),
        ModelConfig(name="cnn_vae"),
        ModelConfig(name="cicada_teacher", latent_dim=80, quantization=None),
        # trained contrastively on pile-up-shifted views (issue 15): 57 -> 32 -> 16 -> 8, AXOL1TL v3's types
        ModelConfig(name="contrastive_ad", latent_dim=8,
                    quantization=QuantizationConfig(weight_bits=6, weight_integer_bits=2, input_bits=14,
                                                    input_integer_bits=5)),
        ModelConfig(name="isolation_forest"),
        ModelConfig(name="gmm"),
    ]


class PruningConfig(StrictModel):
    """Magnitude pruning with tensorflow-model-optimization: sparsity ramps from 0 to ``final_sparsity`` over the
    first ``ramp_fraction`` of the epochs, then the masks stay fixed (early stopping only looks after the ramp)."""

    final_sparsity: float = Field(0.5, gt=0, lt=1)
    ramp_fraction: float = Field(0.5, gt=0, le=1)


class TrainingConfig(StrictModel):
    epochs: int = Field(30, gt=0, le=10_000)
    batch_size: int = Field(512, gt=0, le=1_000_000)
    learning_rate: float = Field(3e-3, gt=0, le=10)
    early_stopping_patience: int = Field(5, ge=1, le=10_000)
    pruning: PruningConfig | None = Field(None, description="prune weights while training (Keras models); null: dense")


class EvaluationConfig(StrictModel):
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
    bootstrap_samples: int = Field(200, ge=0, le=10_000)
    min_background_accepted: int = Field(
        10, ge=1, description="background events above threshold needed to call a working point measurable"
    )
    menu: MenuConfig = Field(
        MenuConfig(), description="the Level-1 menu the pure efficiencies and unique rates are counted beyond "
        "(events it accepts are not the anomaly trigger's own); default: the reference menu"
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

    @model_validator(mode="after")
    def _rates_below_collision_rate(self) -> EvaluationConfig:
        to_khz = self.collision_rate_mhz * 1e3
        too_high = [r for r in (*self.rates_khz, self.leaderboard_rate_khz) if r >= to_khz]
        if too_high:
            raise ValueError(f"a trigger rate of {too_high[0]:g} kHz is not below the collision rate of "
                             f"{self.collision_rate_mhz:g} MHz")
        return self


# hls4ml precision strings: ap_fixed<W,I> / ap_ufixed<W,I> (optionally with rounding and saturation modes) or ap_int<W>
PRECISION = r"^(ap_u?fixed<\s*\d{1,3}\s*,\s*-?\d{1,3}\s*(,\s*AP_[A-Z_]+\s*){0,2}>|ap_u?int<\s*\d{1,3}\s*>)$"


class FirmwareConfig(StrictModel):
    backend: Literal["Vitis", "Vivado"] = "Vitis"
    io_type: Literal["io_parallel", "io_stream"] = "io_parallel"
    strategy: Literal["Latency", "Resource"] = "Latency"
    part: str = Field(DEFAULT_PART, description=f"the FPGA resources are reported against: {known_parts()}")
    clock_period_ns: float = Field(round(1e3 / DEFAULT_CLOCK_MHZ, 4), gt=0, le=100,
                                   description="the clock latencies are counted in (default 240 MHz)")
    default_precision: str = Field("ap_fixed<24,12>", pattern=PRECISION,
                                   description="for layers whose precision hls4ml cannot infer")
    reuse_factor: int = Field(1, ge=1, le=4096)
    layer_precision: dict[str, Annotated[str, Field(pattern=PRECISION)]] = Field(
        default_factory=dict, description="layer name -> ap_fixed type for its accumulator and result (overrides 'auto')"
    )
    rtl: bool = Field(True, description="build, simulate and synthesize the network with the open-source RTL path "
                      "(da4ml, Verilator, yosys; needs the RTL environment, 'tox -e rtl')")
    rtl_events: int = Field(10_000, ge=1, le=10_000_000, description="test events simulated in RTL against the emulator")
    rtl_timeout_s: float = Field(3600.0, gt=0, le=86_400)

    @field_validator("part")
    @classmethod
    def _known_part(cls, part: str) -> str:
        found = find_part(part)
        if found is None:
            raise ValueError(f"unknown FPGA part {part!r}; known: {known_parts()}")
        return found.name

    @property
    def fpga_part(self) -> FpgaPart:
        return find_part(self.part)


class FaultsConfig(StrictModel):
    """Single-bit fault campaigns on the firmware network (``l1ad faults``) and how their outcomes are classed."""

    campaign: Literal["exhaustive", "sampled"] = Field(
        "exhaustive", description="every bit of every weight and bias, or a random sample of them")
    margin: float = Field(0.01, gt=0, lt=0.5, description="sampled: the half-width of a class share's interval at "
                          "'confidence' the sample is sized for (worst case, share 0.5)")
    confidence: float = Field(0.95, gt=0, lt=1, description="sampled: the confidence of that interval")
    background_events: int = Field(100_000, ge=100, le=100_000_000,
                                   description="the fixed background set: the first N background test events")
    score_events: int = Field(2_000, ge=0, le=100_000_000,
                              description="background events (the first N) the score change is measured on")
    catastrophic_rate_factor: float = Field(2.0, gt=1, description="catastrophic: the background rate at the nominal "
                                            "threshold grows by more than this factor")
    rate_budget_khz: float = Field(100.0, gt=0, description="catastrophic: the faulted trigger alone accepts more "
                                   "than this (zero-bias data; the whole Level-1 accept budget by default)")
    catastrophic_efficiency_loss: float = Field(0.5, gt=0, le=1, description="catastrophic: a signal loses more than "
                                                "this fraction of its efficiency (and more than "
                                                "degrading_efficiency_change of it)")
    degrading_rate_change: float = Field(0.1, gt=0, description="degrading: the rate changes by more than this "
                                         "fraction")
    degrading_efficiency_change: float = Field(0.01, gt=0, le=1, description="degrading: a signal's efficiency "
                                               "changes by more than this (absolute)")
    ranking_events: int = Field(20_000, ge=1, le=10_000_000, description="background events (the first N) the bit "
                                "rankings' gradients and Hessian are computed on")
    shard_faults: int = Field(2_000, ge=1, le=10_000_000, description="faults per shard: a campaign resumes from "
                              "its finished shards")

    @model_validator(mode="after")
    def _ordered(self) -> FaultsConfig:
        if self.degrading_rate_change >= self.catastrophic_rate_factor - 1:
            raise ValueError("degrading_rate_change must stay below catastrophic_rate_factor - 1")
        return self


class LeaderboardConfig(StrictModel):
    directory: str | None = Field("leaderboards", description="relative to the working directory; null: <output_dir>/leaderboards")
    submitter: str = Field("l1ad-bench baseline", min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f]+$",
                           description="shown on the leaderboard (one line; escaped when rendered)")


class RunConfig(StrictModel):
    name: str
    seed: int = Field(42, ge=0, lt=2**31)
    output_dir: str
    dataset: DatasetConfig
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    firmware: FirmwareConfig = FirmwareConfig()
    faults: FaultsConfig = FaultsConfig()
    leaderboard: LeaderboardConfig = LeaderboardConfig()
    bench: list[ModelConfig] = Field(
        default_factory=_default_bench, min_length=1, description="the baselines 'l1ad bench' trains and compares"
    )

    @field_validator("model")
    @classmethod
    def _not_a_student(cls, model: ModelConfig) -> ModelConfig:
        if MODELS[model.name].student:
            raise ValueError(f"{model.name!r} is a student: it learns a teacher's score, so 'l1ad distill --teacher "
                             "... --student CONFIG' trains it, not a run config")
        return model

    @field_validator("bench")
    @classmethod
    def _unique_labels(cls, models: list[ModelConfig]) -> list[ModelConfig]:
        for model in models:
            cls._not_a_student(model)
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
    raw = parse_yaml(text, source)
    if not isinstance(raw, dict):
        raise ConfigError(f"config {source}: expected a mapping of settings at the top level")
    if output_dir is not None:
        raw["output_dir"] = output_dir
    ref = raw.get("dataset") if isinstance(raw.get("dataset"), dict) else {}
    if dataset is not None or size is not None or (ref and set(ref) <= {"name", "size"}):
        name = dataset or ref.get("name", "zb")
        definition = dataset_definition(name)
        if isinstance(definition, JetsDatasetDefinition):
            raise ConfigError(f"dataset {name!r} holds boosted jets for taggers, not trigger objects for a run; "
                            f"generate it with 'l1ad data generate --dataset {name}'")
        raw["dataset"] = definition.resolve(size or ref.get("size", "default")).model_dump()
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"config {source}: {describe_validation_error(exc)}") from None


def _read_config_text(name_or_path: str) -> tuple[str, str]:
    if name_or_path in shipped_configs():
        return resources.files("l1ad.configs").joinpath(f"{name_or_path}.yaml").read_text(), f"'{name_or_path}' (shipped)"
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(
            f"config {name_or_path!r}: no such file, and not a shipped config ({', '.join(shipped_configs())})"
        )
    return read_text_file(path, str(path)), str(path)
