"""The saved-model directory (format ``l1ad-model/2``) shared by every model family.

Every directory has ``model.json`` (the :class:`ModelCard`: format tag, family, validated model config, score
definition, history, provenance) and ``preprocessing.json``; the family adds its parameter file (``weights.h5`` for
Keras, ``estimator.skops`` for scikit-learn). Nothing from these files is executed when loading: architectures are
rebuilt from the registered builders, Keras weights are plain HDF5 arrays, scikit-learn estimators are read by skops
with a fixed type allow-list.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from l1ad.config import MODELS, EmulationConfig, EtaAcceptance, ModelConfig, TrainingConfig
from l1ad.config.base import StrictModel
from l1ad.config.distill import TargetConfig
from l1ad.errors import ModelFileError, first_line
from l1ad.files import validate_model

# 2: autoencoder scores decode eta and phi within the acceptance (tanh); a /1 model's outputs would be misread.
FORMAT = "l1ad-model/2"
META = "model.json"
PREPROCESSING = "preprocessing.json"


class InputDescription(StrictModel):
    layout: str
    quantizer: dict | str = Field(description="the input quantizer (bits, integer bits, signed), or 'none (float model)'")


class TeacherRef(StrictModel):
    """The teacher a distilled student learned from, and the target it regressed."""

    label: str
    model_dir: str
    score: str = Field(description="what the teacher's score is")
    target: TargetConfig


class Provenance(StrictModel):
    """Where a trained model comes from; the dataset fields let later stages refuse a model trained elsewhere."""

    l1ad_version: str
    dataset: str | None = None
    dataset_version: str | None = None
    dataset_digest: str | None = None
    config_digest: str | None = None
    mlflow_run_id: str | None = None
    teacher: TeacherRef | None = Field(None, description="distilled students: their teacher and target")


class ModelCard(StrictModel):
    """The contents of ``model.json``."""

    format: Literal["l1ad-model/2"]
    family: Literal["keras", "sklearn"]
    model: ModelConfig
    training: TrainingConfig
    seed: int = Field(ge=0)
    score: str = Field(description="what the anomaly score is (higher = more anomalous)")
    input: InputDescription | None = None
    acceptance: EtaAcceptance = Field(default_factory=lambda: EmulationConfig().eta_acceptance,
                                      description="|eta| acceptances of the training dataset's trigger objects")
    history: dict[str, list[Annotated[float, Field(allow_inf_nan=True)]]] = Field(
        default_factory=dict, description="per-epoch losses and metrics (NaN if training diverged)")
    provenance: Provenance

    model_config = StrictModel.model_config | {"ser_json_inf_nan": "constants"}


def write_model_dir(directory: str | Path, card: ModelCard, preprocessing: dict,
                    write_params: Callable[[Path], None]) -> Path:
    """Write a model directory atomically: an existing one is replaced only once the new one is complete."""

    def write(tmp: Path) -> None:
        write_params(tmp)
        (tmp / PREPROCESSING).write_text(json.dumps(preprocessing, indent=2))
        (tmp / META).write_text(card.model_dump_json(indent=2) + "\n")

    return write_directory(directory, write)


def write_directory(directory: str | Path, write: Callable[[Path], None]) -> Path:
    """Fill ``directory`` by ``write(tmp)`` into a temporary sibling, then swap it in: an existing directory is
    replaced only once the new one is complete."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
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
    """A JSON object from a model directory (``preprocessing.json``); one-line errors naming the file."""
    if not path.is_file():
        raise ModelFileError(f"{path}: missing {what} file")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: corrupt {what} ({first_line(exc)})") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: {what} must be a JSON object")
    return data


def read_preprocessing(directory: Path, scaler_type):
    """The fitted scaler saved in ``preprocessing.json``, checked (finite, positive scales)."""
    path = Path(directory) / PREPROCESSING
    try:
        return scaler_type.from_dict(read_json(path, "preprocessing"))
    except ValueError as exc:
        raise ModelFileError(f"{path}: invalid preprocessing ({exc})") from None


def read_format_file(path: Path, model, fmt: str, what: str, missing: str):
    """A model directory's JSON card: present (else ``missing``, one line), of format ``fmt``, valid as ``model``."""
    if not path.is_file():
        raise ModelFileError(missing)
    raw = read_json(path, f"{what} metadata")
    if raw.get("format") != fmt:
        raise ModelFileError(f"{path}: unsupported {what} format {raw.get('format')!r}, expected {fmt!r}")
    return validate_model(raw, model, f"{path}: invalid {what} metadata", error=ModelFileError)


def read_card(directory: str | Path) -> ModelCard:
    """The validated ``model.json`` of a model directory."""
    path = Path(directory) / META
    card = read_format_file(path, ModelCard, FORMAT, "model", f"{Path(directory)}: no trained model; run 'l1ad train' "
                            "first")
    if MODELS[card.model.name].family != card.family:
        raise ModelFileError(f"{path}: model {card.model.name!r} is not of family {card.family!r}")
    return card
