"""Which detector class trains, scores, saves and loads each model of the catalogue."""

from __future__ import annotations

from pathlib import Path

from l1ad.config import MODELS, EtaAcceptance, ModelConfig, TrainingConfig
from l1ad.models.base import Detector
from l1ad.models.classical import ClassicalDetector
from l1ad.models.io import read_card
from l1ad.models.neural import (
    AutoencoderDetector,
    ContrastiveDetector,
    RegionAutoencoderDetector,
    StudentDetector,
)


def detector_class(name: str) -> type:
    """The detector class of the named model."""
    spec = MODELS[name]
    if spec.family == "sklearn":
        return ClassicalDetector
    if spec.student:
        return StudentDetector
    if spec.contrastive:
        return ContrastiveDetector
    return RegionAutoencoderDetector if spec.inputs == "regions" else AutoencoderDetector


def new_detector(model: ModelConfig, training: TrainingConfig | None = None, seed: int = 42,
                 acceptance: EtaAcceptance | None = None) -> Detector:
    """An unfitted detector for a model config (``acceptance``: the training dataset's, default the emulation's)."""
    return detector_class(model.name)(model, training, seed=seed, acceptance=acceptance)


def load_detector(directory: str | Path) -> Detector:
    """Load any saved detector; the model recorded in ``model.json`` picks the class."""
    return detector_class(read_card(directory).model.name).load(directory)
