"""The JSON Schemas of every file one stage writes and a later stage reads, kept in the repository's ``schemas/``.

``python -m l1ad.pipeline.schemas DIR`` writes them; a test checks the committed copies are current.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from l1ad.benchmark.datasets.manifest import DatasetManifest
from l1ad.benchmark.evaluation.report import MetricsReport
from l1ad.benchmark.evaluation.tagging import RobustnessReport
from l1ad.config import RunConfig
from l1ad.config.distill import StudentConfig
from l1ad.config.robustness import RobustnessConfig, TaggerConfig
from l1ad.distill.report import DistillationReport
from l1ad.distill.sweep import SweepReport
from l1ad.files import write_text_atomic
from l1ad.firmware.faults.report import FaultReport
from l1ad.firmware.report import FirmwareReport
from l1ad.firmware.rtl_report import RTLReport
from l1ad.leaderboards.board import Board
from l1ad.models.io import ModelCard
from l1ad.models.taggers import TaggerCard

# file name of the schema -> the pydantic model it is generated from (and the file it describes)
SCHEMAS: dict[str, type[BaseModel]] = {
    "run-config.schema.json": RunConfig,  # a run config (YAML)
    "dataset.schema.json": DatasetManifest,  # dataset/dataset.json
    "model.schema.json": ModelCard,  # models/<label>/model.json
    "metrics.schema.json": MetricsReport,  # evaluation/<label>/metrics.json
    "student.schema.json": StudentConfig,  # a student config of 'l1ad distill' (YAML)
    "distillation.schema.json": DistillationReport,  # distill/<label>/distillation.json
    "distill-sweep.schema.json": SweepReport,  # distill/sweep_<name>/sweep.json ('l1ad distill --sweep')
    "firmware.schema.json": FirmwareReport,  # firmware/<label>/firmware.json
    "rtl.schema.json": RTLReport,  # rtl.json of the open-source RTL path (l1ad.firmware.rtl)
    "faults.schema.json": FaultReport,  # faults/<label>/fault_report.json ('l1ad faults')
    "leaderboard.schema.json": Board,  # leaderboards/board.json
    "tagger-config.schema.json": TaggerConfig,  # a tagger config of 'l1ad train -c TAGGER' (YAML)
    "tagger.schema.json": TaggerCard,  # taggers/<name>/tagger.json
    "robustness-config.schema.json": RobustnessConfig,  # a robustness config of 'l1ad robustness' (YAML)
    "robustness.schema.json": RobustnessReport,  # robustness/robustness.json
}


def schema_text(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(by_alias=True), indent=2, sort_keys=True) + "\n"


def export(directory: str | Path) -> list[Path]:
    """Write every schema into ``directory``; returns the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        write_text_atomic(directory / name, schema_text(model))
        written.append(directory / name)
    return written


if __name__ == "__main__":
    for path in export(sys.argv[1] if len(sys.argv) > 1 else "schemas"):
        print(path)
