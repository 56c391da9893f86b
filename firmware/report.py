"""``firmware.json``: the typed firmware report, read by the leaderboard (and the coming fault-injection stage).

It says whether the model went through hls4ml, how its firmware emulation agrees with Keras per test sample (score
differences and trigger-decision changes at every working point, keyed by working-point id), where those numbers come
from, and what is known of latency and resources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from l1ad.config import FirmwareConfig
from l1ad.config.base import StrictModel
from l1ad.files import read_json_model

FIRMWARE_REPORT = "firmware.json"
SCHEMA = "l1ad-firmware/1"


class SampleAgreement(StrictModel):
    """Keras against the firmware emulation on one test sample."""

    sample: str
    n_events: int = Field(ge=0)
    max_abs_score_difference: float
    mean_abs_score_difference: float
    identical_score_fraction: float = Field(ge=0, le=1)
    decision_mismatch: dict[str, float] = Field(description="working point id -> fraction of events whose trigger "
                                                            "decision differs")
    decision_mismatch_events: dict[str, int]


class FirmwareReport(StrictModel):
    """The contents of ``firmware.json``."""

    schema_: Literal["l1ad-firmware/1"] = Field(SCHEMA, alias="schema")
    model: str
    status: Literal["emulated", "not_convertible"]
    source: str = Field(description="where the agreement numbers come from, or why there are none")
    hls4ml_config: dict | None = None
    firmware: FirmwareConfig | None = None
    agreement: list[SampleAgreement] = Field(default_factory=list)
    latency: str = Field(description="the latency figure with its source, or why it is not available")
    resources: str = Field(description="the resource figures with their source, or why they are not available")

    model_config = StrictModel.model_config | {"populate_by_name": True}

    def decision_mismatch(self, working_point: str) -> tuple[int, int] | None:
        """(events whose decision changes, events compared) over all samples at a working point id; None if the
        model was not emulated."""
        if self.status != "emulated":
            return None
        return (sum(a.decision_mismatch_events[working_point] for a in self.agreement),
                sum(a.n_events for a in self.agreement))


def read_firmware_report(directory: Path) -> FirmwareReport:
    """The validated ``firmware.json`` of a firmware directory."""
    return read_json_model(Path(directory) / FIRMWARE_REPORT, FirmwareReport, "firmware report", missing="l1ad firmware")
