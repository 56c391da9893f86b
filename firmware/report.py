"""``firmware.json``: the typed firmware report, read by the leaderboard (and the coming fault-injection stage).

It says whether the model went through hls4ml; how hls4ml's bit-accurate C++ model agrees with Keras per test sample
(score differences and trigger-decision changes at every working point, keyed by working-point id); how the bit-exact
fixed-point emulator (:mod:`l1ad.firmware.emulator`) agrees with that C++ model, where the score is computed (firmware
or software), and the firmware-exact efficiencies at every working point; where every number comes from; and what is
known of latency and resources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from l1ad.config import FirmwareConfig
from l1ad.config.base import StrictModel
from l1ad.files import read_json_model
from l1ad.firmware.rtl_report import RTLReport
from l1ad.firmware.vendor import VendorReport

FIRMWARE_REPORT = "firmware.json"
SCHEMA = "l1ad-firmware/2"
REGENERATE = "re-run 'l1ad firmware' to rewrite it"
EMULATOR_SOURCE = ("l1ad FixedPointNetwork: bit-exact fixed-point emulation of the hls4ml firmware (ap_fixed casts, "
                   "vectorized numpy), checked against hls4ml's compiled C++ model on every test event")


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


class EmulatorAgreement(StrictModel):
    """The emulator against hls4ml's compiled C++ model on one test sample (outputs and trigger decisions)."""

    sample: str
    n_events: int = Field(ge=0)
    identical_output_fraction: float = Field(ge=0, le=1, description="events whose every output is bit-identical")
    n_events_differing: int = Field(ge=0)
    max_abs_output_difference: float
    decision_mismatch_events: dict[str, int] = Field(
        description="working point id -> events whose decision (emulator score vs the C++ outputs' score) differs")


class FirmwareWorkingPoint(StrictModel):
    """A signal efficiency at one working point with the threshold set on the emulator's background scores."""

    signal: str
    working_point: str
    label: str
    threshold: float
    efficiency: float
    efficiency_lo: float
    efficiency_hi: float
    keras_efficiency: float = Field(description="the evaluation's (Keras) efficiency at the same working point")
    background_fpr: float
    background_rate_khz: float | None
    background_rate_lo_khz: float | None
    background_rate_hi_khz: float | None
    n_background: int
    n_background_accepted: int
    n_signal: int
    n_signal_accepted: int
    measurable: bool
    note: str


class Emulation(StrictModel):
    """What the bit-exact emulator says of the firmware."""

    source: str = EMULATOR_SOURCE
    network_file: str = Field(description="the portable fixed-point network (l1ad-fixed-network/1), beside this report")
    score: str = Field(description="where the trigger score is computed: firmware (fixed point) or software")
    agreement: list[EmulatorAgreement]
    working_points: list[FirmwareWorkingPoint] = Field(description="firmware-exact efficiencies on the full test sets")
    confidence_level: float
    events_per_second: float = Field(description="measured emulator throughput on this run's test events")

    def decision_mismatch(self, working_point: str) -> tuple[int, int]:
        return (sum(a.decision_mismatch_events[working_point] for a in self.agreement),
                sum(a.n_events for a in self.agreement))

    def identical_outputs(self) -> tuple[int, int]:
        """(events with every output identical, events compared) over all samples."""
        n = sum(a.n_events for a in self.agreement)
        return n - sum(a.n_events_differing for a in self.agreement), n


class FirmwareReport(StrictModel):
    """The contents of ``firmware.json``."""

    schema_: Literal["l1ad-firmware/2"] = Field(SCHEMA, alias="schema")
    model: str
    status: Literal["emulated", "not_convertible"]
    source: str = Field(description="where the agreement numbers come from, or why there are none")
    hls4ml_config: dict | None = None
    firmware: FirmwareConfig | None = None
    agreement: list[SampleAgreement] = Field(default_factory=list, description="Keras against hls4ml's C++ model")
    emulation: Emulation | None = None
    rtl: RTLReport | None = Field(None, description="the open-source RTL path (da4ml, Verilator, yosys)")
    vendor: VendorReport | None = Field(None, description="vendor C synthesis, when Vivado/Vitis HLS was on PATH")
    headline: str | None = Field(None, description="the evaluation's headline working point id")
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
    return read_json_model(Path(directory) / FIRMWARE_REPORT, FirmwareReport, "firmware report", missing="l1ad firmware",
                           schema=SCHEMA, regenerate=REGENERATE)
