"""Vendor C synthesis (Vivado/Vitis HLS), when one of those tools is on PATH: hls4ml's ``build()`` and its report.

The figures come from the tool's own report (``<project>/<prj>/solution1/syn/report/<top>_csynth.xml``), read with
``hls4ml.report.parse_vivado_report``, and are labelled as vendor figures (HLS estimates of the C synthesis, not
place-and-route results). Without a vendor tool nothing here runs and the report says so.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

from l1ad.config.base import StrictModel
from l1ad.errors import L1adError, first_line

VENDOR_TOOLS = ("vitis_hls", "vivado_hls", "vivado")
VENDOR_SOURCE = "vendor report: Vivado/Vitis HLS C synthesis (csynth.xml, read by hls4ml.report)"


class VendorReport(StrictModel):
    """What the vendor's C synthesis report states (its estimates; no place and route)."""

    source: str = VENDOR_SOURCE
    target_clock_ns: float
    estimated_clock_ns: float
    best_latency_cycles: int
    worst_latency_cycles: int
    interval_min: int
    interval_max: int
    lut: int
    ff: int
    dsp: int
    bram_18k: int


def vendor_tool() -> str | None:
    """The first vendor HLS tool on PATH, if any."""
    return next((tool for tool in VENDOR_TOOLS if shutil.which(tool)), None)


def read_vendor_report(project_dir: Path) -> VendorReport:
    """The C synthesis figures of a built hls4ml project (one-line error naming the project if there are none)."""
    from hls4ml.report import parse_vivado_report

    with contextlib.redirect_stdout(io.StringIO()):  # hls4ml prints what it cannot find; the error below says it
        report = parse_vivado_report(str(project_dir)) or {}
    synth = report.get("CSynthesisReport")
    if not synth:
        raise L1adError(f"{project_dir}: no vendor C synthesis report (csynth.xml) in this hls4ml project")
    try:
        return VendorReport(
            target_clock_ns=float(synth["TargetClockPeriod"]), estimated_clock_ns=float(synth["EstimatedClockPeriod"]),
            best_latency_cycles=int(synth["BestLatency"]), worst_latency_cycles=int(synth["WorstLatency"]),
            interval_min=int(synth["IntervalMin"]), interval_max=int(synth["IntervalMax"]), lut=int(synth["LUT"]),
            ff=int(synth["FF"]), dsp=int(synth["DSP"]), bram_18k=int(synth["BRAM_18K"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise L1adError(f"{project_dir}: unreadable vendor C synthesis report ({first_line(exc)})") from None


def vendor_synthesis(hls_model, project_dir: Path) -> VendorReport:
    """Run hls4ml's ``build()`` (C synthesis only) with the vendor tool on PATH and read its report."""
    try:
        hls_model.build(csim=False, synth=True, vsynth=False)
    except Exception as exc:  # the vendor flow raises plain exceptions
        raise L1adError(f"vendor C synthesis ({vendor_tool()}) failed: {first_line(exc)}") from None
    return read_vendor_report(project_dir)
