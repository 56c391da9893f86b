"""Anomaly-detection models: builders, the scikit-learn-style detector API and the saved-model format."""

from l1ad.models.classical import ClassicalDetector
from l1ad.models.detector import AutoencoderDetector
from l1ad.models.io import load_detector
from l1ad.models.registry import MODELS

__all__ = ["MODELS", "AutoencoderDetector", "ClassicalDetector", "load_detector"]
