"""Training a student on its teacher: the teacher scores the training background (and its augmented copies), the
scores become targets (:class:`~l1ad.distill.target.TeacherTarget`), the student regresses them.

The student trains on the split its teacher trained on and stops early on the validation split, both scored by the
teacher; the test samples stay unseen by either until the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l1ad.benchmark.datasets.dataset import Dataset, load_dataset
from l1ad.config import MODELS
from l1ad.config.distill import StudentConfig, TargetConfig
from l1ad.distill.augment import augmented_copies
from l1ad.distill.target import TeacherTarget
from l1ad.errors import ConfigError
from l1ad.models.base import Detector
from l1ad.models.registry import new_detector


def teacher_target(config: TargetConfig) -> TeacherTarget:
    return TeacherTarget(config.transform, config.scale, config.bits, config.integer_bits)


def check_fits_teacher(config: StudentConfig, teacher: Detector) -> None:
    """The student must read what its teacher reads (trigger objects or calorimeter regions)."""
    reads = MODELS[teacher.model_config.name].inputs
    if MODELS[config.student.name].inputs != reads:
        wants = "calorimeter regions" if config.reads_regions else "trigger objects"
        has = "calorimeter regions" if reads == "regions" else "trigger objects"
        raise ConfigError(f"student config {config.name!r}: its model {config.student.name!r} reads {wants}, but "
                          f"the teacher {teacher.model_config.run_label!r} reads {has}; pick a student of the "
                          "teacher's inputs")


@dataclass(frozen=True)
class DistillationData:
    """What the student is fitted on: events and their targets."""

    train: np.ndarray
    train_targets: np.ndarray
    validation: np.ndarray
    validation_targets: np.ndarray
    n_background: int  # training background events before augmentation
    n_exposure: int  # of the training events, exposure events from another dataset
    saturated: float  # fraction of training targets at an end of the target's range (order lost there)


def exposure_events(teacher: Detector, config: StudentConfig, dataset: Dataset, background: np.ndarray) -> np.ndarray:
    """The exposure samples' events in the teacher's inputs (none, shaped as ``background``, without an exposure
    config).

    Raises
    ------
    ConfigError
        If the exposure dataset is the evaluated one (its samples are test events).
    """
    exposure = config.exposure
    if exposure is None:
        return background[:0]
    other = load_dataset(Path(exposure.dataset))
    if not isinstance(other, Dataset):
        raise ConfigError(f"student config {config.name!r}: exposure.dataset {exposure.dataset} is a sample file, "
                          "not a dataset directory")
    if other.digest == dataset.digest:
        raise ConfigError(f"student config {config.name!r}: exposure dataset {exposure.dataset} is the dataset the "
                          "student is evaluated on; its samples are test events: take them from another dataset")
    return np.concatenate([teacher.inputs_of(other.sample(name))[: exposure.events] for name in exposure.samples])


def distillation_data(teacher: Detector, config: StudentConfig, dataset: Dataset) -> DistillationData:
    """The training background, its augmented copies and any exposure events, and the validation background, with the
    teacher's targets."""
    check_fits_teacher(config, teacher)
    target = teacher_target(config.target)
    background = teacher.inputs_of(dataset.background("train"))
    extra = augmented_copies(background, config.augmentation, regions=config.reads_regions,
                             rng=np.random.default_rng(config.seed))
    exposure = exposure_events(teacher, config, dataset, background)
    train = np.concatenate([background, *(x for x in (extra, exposure) if len(x))])
    validation = teacher.inputs_of(dataset.background("validation"))
    y = target.transform_scores(teacher.score_samples(train))
    return DistillationData(train=train, train_targets=y, validation=validation,
                            validation_targets=target.transform_scores(teacher.score_samples(validation)),
                            n_background=len(background), n_exposure=len(exposure),
                            saturated=float(target.saturated(y).mean()))


def fit_student(teacher: Detector, config: StudentConfig, dataset: Dataset) -> tuple[Detector, DistillationData]:
    """A student fitted on its teacher's targets (unsaved; the caller records provenance and saves it)."""
    data = distillation_data(teacher, config, dataset)
    student = new_detector(config.student, config.training, seed=config.seed, acceptance=teacher.acceptance)
    student.fit(data.train, data.train_targets, validation=(data.validation, data.validation_targets))
    return student, data
