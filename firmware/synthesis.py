"""Latency and resources of the firmware: open-source RTL (da4ml + Verilator + yosys) and, when a vendor tool is on
PATH, vendor C synthesis. Every figure keeps its source; a figure nobody measured is "not available", with why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from l1ad.config import FirmwareConfig
from l1ad.firmware.network import FixedNetwork
from l1ad.firmware.rtl_report import RTLReport
from l1ad.firmware.vendor import VENDOR_TOOLS, VendorReport, vendor_synthesis, vendor_tool

RTL_DIRECTORY = "rtl"


def rtl_figures(network: FixedNetwork, inputs: dict[str, np.ndarray], cfg: FirmwareConfig,
                directory: Path) -> RTLReport | None:
    """The RTL path on the first ``cfg.rtl_events`` test events (background first); None if ``cfg.rtl`` is off.

    Raises
    ------
    RTLError
        No RTL environment, an unsupported layer, or a failed Verilator or yosys run (one line naming the tool).
    """
    if not cfg.rtl:
        return None
    from l1ad.firmware.rtl_runner import run_rtl

    events = np.concatenate(list(inputs.values()))[: cfg.rtl_events]
    return run_rtl(network, events, Path(directory) / RTL_DIRECTORY, clock_period_ns=cfg.clock_period_ns,
                   part=cfg.part, timeout_s=cfg.rtl_timeout_s)


def vendor_figures(hls_model, project_dir: Path) -> VendorReport | None:
    """Vendor C synthesis when a vendor tool is on PATH, else None."""
    return vendor_synthesis(hls_model, project_dir) if vendor_tool() else None


def latency_text(rtl: RTLReport | None, vendor: VendorReport | None, cfg: FirmwareConfig) -> str:
    """The latency line of the report, with its source."""
    parts = []
    if rtl is not None:
        parts.append(f"{rtl.latency_cycles} cycles = {rtl.latency_ns:.1f} ns at {1e3 / rtl.clock_period_ns:.0f} MHz, "
                     f"II {rtl.initiation_interval} (da4ml pipeline stages x clock period; timing closure not checked "
                     "by yosys)")
    if vendor is not None:
        parts.append(f"{vendor.best_latency_cycles}-{vendor.worst_latency_cycles} cycles, II {vendor.interval_min} "
                     f"at an estimated {vendor.estimated_clock_ns:.2f} ns ({vendor.source})")
    return "; ".join(parts) or _not_available(cfg)


def resources_text(rtl: RTLReport | None, vendor: VendorReport | None, cfg: FirmwareConfig) -> str:
    """The resources line of the report, with its source."""
    part = cfg.fpga_part
    parts = []
    if rtl is not None:
        r = rtl.resources
        lut = r.lut + r.lut_as_memory
        parts.append(f"LUT {lut:,} ({100 * lut / part.lut:.2f} %), FF {r.ff:,} ({100 * r.ff / part.ff:.2f} %), DSP "
                     f"{r.dsp} ({100 * r.dsp / part.dsp:.2f} %), BRAM36 {r.bram36:g} of the {part.name} ({r.source})")
    if vendor is not None:
        parts.append(f"LUT {vendor.lut:,}, FF {vendor.ff:,}, DSP {vendor.dsp}, BRAM_18K {vendor.bram_18k} "
                     f"({vendor.source})")
    return "; ".join(parts) or _not_available(cfg)


def _not_available(cfg: FirmwareConfig) -> str:
    rtl = "the RTL path is switched off (firmware.rtl: false)" if not cfg.rtl else "the RTL path did not run"
    return f"not available: {rtl}, and C synthesis needs Vivado/Vitis HLS (none of {', '.join(VENDOR_TOOLS)} on PATH)"
