"""The saved-model directory (format ``l1ad-model/2``) shared by every model family.

Every directory has ``model.json`` (format tag, family, validated model config, score definition, history, provenance)
and ``preprocessing.json``; the family adds its parameter file (``weights.h5`` for Keras, ``estimator.skops`` for
scikit-learn). Nothing from these files is executed when loading: architectures are rebuilt from the registered
builders, Keras weights are plain HDF5 arrays, scikit-learn estimators are read by skops with a fixed type allow-list.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from l1ad.errors import L1adError, first_line

# 2: autoencoder scores decode eta and phi within the acceptance (tanh); a /1 model's outputs would be misread.
FORMAT = "l1ad-model/2"
META = "model.json"
PREPROCESSING = "preprocessing.json"


def write_model_dir(directory: str | Path, meta: dict, preprocessing: dict, write_params: Callable[[Path], None]) -> Path:
    """Write a model directory atomically: an existing one is replaced only once the new one is complete."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_params(tmp)
    (tmp / PREPROCESSING).write_text(json.dumps(preprocessing, indent=2))
    (tmp / META).write_text(json.dumps({"format": FORMAT, **meta}, indent=2))
    if directory.exists():
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old)
    else:
        tmp.rename(directory)
    return directory


def read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise L1adError(f"{path}: missing {what} file")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise L1adError(f"{path}: corrupt {what} ({first_line(exc)})") from None
    if not isinstance(data, dict):
        raise L1adError(f"{path}: {what} must be a JSON object")
    return data


def read_meta(directory: Path) -> dict:
    meta = read_json(Path(directory) / META, "model metadata")
    if meta.get("format") != FORMAT:
        raise L1adError(f"{Path(directory) / META}: unsupported model format {meta.get('format')!r}, expected {FORMAT!r}")
    return meta


def configs_from_meta(meta: dict, directory: Path):
    """The validated model and training configs recorded in ``model.json``."""
    from pydantic import ValidationError

    from l1ad.config import ModelConfig, TrainingConfig, describe_validation_error

    try:
        return ModelConfig.model_validate(meta["model"]), TrainingConfig.model_validate(meta["training"])
    except (KeyError, ValidationError) as exc:
        what = describe_validation_error(exc) if isinstance(exc, ValidationError) else f"missing {exc}"
        raise L1adError(f"{Path(directory) / META}: invalid model description ({what})") from None


def check_events(data, event_shape: tuple[int, ...], kind: str, what: str) -> None:
    """Model input must be a finite (N, *event_shape) array with N > 0."""
    import numpy as np

    if not isinstance(data, np.ndarray) or data.shape[1:] != event_shape or data.ndim != 1 + len(event_shape):
        shape = getattr(data, "shape", type(data).__name__)
        expected = ", ".join(("N", *map(str, event_shape)))
        raise L1adError(f"{what}: expected {kind} of shape ({expected}), got {shape}")
    if len(data) == 0:
        raise L1adError(f"{what}: no events")
    if not np.isfinite(data).all():
        raise L1adError(f"{what}: contains NaN or Inf")


def check_particles(particles, what: str) -> None:
    check_events(particles, (19, 4), "trigger objects", what)


def load_detector(directory: str | Path):
    """Load any saved detector; the family recorded in ``model.json`` picks the class."""
    from l1ad.models.registry import MODELS, detector_class

    directory = Path(directory)
    if not (directory / META).is_file():
        raise L1adError(f"{directory}: no trained model; run 'l1ad train' first")
    meta = read_meta(directory)
    name = meta.get("model", {}).get("name") if isinstance(meta.get("model"), dict) else None
    if name not in MODELS or MODELS[name].family != meta.get("family"):
        raise L1adError(f"{directory / META}: unknown model {name!r} of family {meta.get('family')!r}")
    return detector_class(name).load(directory)
