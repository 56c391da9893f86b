"""Anomaly-detection models: the detector contract (:mod:`.base`), the neural (:mod:`.neural`) and classical
(:mod:`.classical`) detectors, their builders (:mod:`.registry`) and the saved-model format (:mod:`.io`)."""

from l1ad.models.base import Detector
from l1ad.models.classical import ClassicalDetector
from l1ad.models.neural import AutoencoderDetector
from l1ad.models.registry import load_detector, new_detector

__all__ = ["AutoencoderDetector", "ClassicalDetector", "Detector", "load_detector", "new_detector"]
