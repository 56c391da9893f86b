"""Student configs for ``l1ad distill``: the student network, its training, the teacher-score target and augmentation.

One YAML file per student (shipped ones in ``src/l1ad/configs/students``, addressed by name), validated into
:class:`StudentConfig`; the teacher is named on the command line, the dataset is the one it was trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from l1ad.config.base import SAFE_NAME, StrictModel
from l1ad.config.models import MODELS
from l1ad.config.reading import load_named_config, shipped_names
from l1ad.config.run import MAX_LAYER_UNITS, ModelConfig, TrainingConfig


class TargetConfig(StrictModel):
    """What the student regresses: ``quantize(transform(teacher score) x scale)`` (l1ad.distill.target)."""

    transform: Literal["log", "log1p", "identity"] = Field(
        "log", description="log: CICADA's log(MSE); log1p: log(1 + score), Pol et al.; identity: the score itself")
    scale: float = Field(32.0, gt=0, le=1e6, description="CICADA multiplies log(MSE) by 32")
    bits: int | None = Field(16, ge=2, le=32, description="signed fixed-point target (QKeras quantized_bits); "
                             "null: a float target")
    integer_bits: int = Field(8, ge=0, le=31, description="integer bits besides the sign (CICADA: 16 bits, 8 integer)")

    @model_validator(mode="after")
    def _fits(self) -> TargetConfig:
        if self.bits is not None and self.integer_bits >= self.bits:
            raise ValueError(f"a {self.bits}-bit target cannot have {self.integer_bits} integer bits")
        return self


class AugmentationConfig(StrictModel):
    """Extra training events made from the training background; the teacher scores each of them, so a student learns
    the teacher's score of the very event it sees (the teacher need not be invariant)."""

    copies: int = Field(0, ge=0, le=10, description="augmented copies of the training background (0: none)")
    phi_rotation: bool = Field(True, description="rotate the whole event in phi (objects: by a uniform angle; "
                               "regions: by a whole number of the 18 iphi rows)")
    shuffle: bool = Field(False, description="trigger objects only: permute the slots within each object class "
                          "(e/gamma, muons, jets), as Pol et al.'s particle shuffling")


class ExposureConfig(StrictModel):
    """Events from another dataset shown to the student with their teacher targets: signal-like events fill the
    high-score range, where the background has few events and every threshold sits. Never the evaluated dataset's
    samples (the distillation refuses its digest): the student would train on its own test events."""

    dataset: str = Field(min_length=1, description="directory of the other dataset (e.g. one generated with another "
                         "seed)")
    samples: list[Annotated[str, Field(pattern=SAFE_NAME)]] = Field(min_length=1, description="its samples to use")
    events: int | None = Field(None, ge=1, le=10_000_000, description="events per sample (default: all)")


class SweepConfig(StrictModel):
    """The size sweep of ``l1ad distill --sweep``: every hidden-layer list with every weight width."""

    encoder_units: list[list[Annotated[int, Field(gt=0, le=MAX_LAYER_UNITS)]]] = Field(min_length=1)
    weight_bits: list[Annotated[int, Field(ge=2, le=32)]] = Field(min_length=1)


class StudentConfig(StrictModel):
    name: str = Field(pattern=SAFE_NAME)
    seed: int = Field(42, ge=0, lt=2**31)
    student: ModelConfig
    training: TrainingConfig = TrainingConfig()
    target: TargetConfig = TargetConfig()
    augmentation: AugmentationConfig = AugmentationConfig()
    exposure: ExposureConfig | None = None
    sweep: SweepConfig | None = None

    @field_validator("student")
    @classmethod
    def _a_student(cls, model: ModelConfig) -> ModelConfig:
        if not MODELS[model.name].student:
            students = ", ".join(n for n, spec in MODELS.items() if spec.student)
            raise ValueError(f"{model.name!r} is not a student model (students: {students})")
        return model

    @model_validator(mode="after")
    def _augmentation_fits_the_inputs(self) -> StudentConfig:
        if self.augmentation.shuffle and self.augmentation.copies and self.reads_regions:
            raise ValueError(f"augmentation.shuffle permutes trigger objects; {self.student.name!r} reads "
                             "calorimeter regions")
        return self

    @property
    def reads_regions(self) -> bool:
        return MODELS[self.student.name].inputs == "regions"


def shipped_students() -> list[str]:
    return shipped_names("students")


def load_student_config(name_or_path: str | Path) -> StudentConfig:
    """A shipped student config by name or a YAML file by path, validated (one-line errors naming the file)."""
    return load_named_config("students", "student", name_or_path, StudentConfig)
