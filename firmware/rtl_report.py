"""``rtl.json``: the typed report of the open-source RTL path (schema ``l1ad-rtl/1``), and the files around it.

The RTL path (:mod:`l1ad.firmware.rtl`, run in its own environment because da4ml needs numpy >= 2) rebuilds the
portable network file with da4ml, writes Verilog, simulates it with Verilator against the bit-exact emulator and
synthesizes it with yosys. This module holds what both environments share: the report, the part look-up, the test-vector
file and the error type. It imports only numpy, pydantic and the config base, so the main environment (which runs
:mod:`l1ad.firmware.rtl_runner`) and the RTL environment read and write the same files.

Every figure says where it comes from: resources are yosys ``synth_xilinx`` cell counts (``source``), da4ml's own
estimate is kept apart and labelled as an estimate, latency is pipeline stages x clock period (yosys does no timing, so
whether the design closes timing at that clock is not checked; ``notes`` says so).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from l1ad.config.base import StrictModel
from l1ad.config.parts import DEFAULT_CLOCK_MHZ, FpgaPart, find_part, known_parts
from l1ad.errors import L1adError

RTL_REPORT = "rtl.json"
SCHEMA = "l1ad-rtl/1"
VECTORS_FILE = "vectors.npz"
DEFAULT_CLOCK_PERIOD_NS = 1000.0 / DEFAULT_CLOCK_MHZ
SYNTHESIS_SOURCE = "yosys synth_xilinx (family xcup)"
ESTIMATE_SOURCE = "da4ml estimate (not a synthesis result)"


class RTLError(L1adError):
    """The RTL path failed: an unsupported layer, a missing RTL environment, or a failed tool (the message names the
    model and the layer or tool)."""


def part(name: str) -> FpgaPart:
    """The part named by its full name (``xcvu13p-flga2577-2-e``) or alias (``VU13P``, any case)."""
    found = find_part(name)
    if found is None:
        raise RTLError(f"unknown FPGA part {name!r}; known parts: {known_parts()}")
    return found


class Resources(StrictModel):
    """Cell counts of the synthesized netlist (yosys ``stat`` after ``synth_xilinx``) and their share of the part."""

    source: Literal["yosys synth_xilinx (family xcup)"] = SYNTHESIS_SOURCE
    command: str = Field(description="the yosys script that produced the counts")
    lut: int = Field(ge=0, description="logic LUTs: LUT1 .. LUT6")
    lut_as_memory: int = Field(ge=0, description="LUTs used as shift registers or distributed RAM (SRL*, RAM*)")
    ff: int = Field(ge=0, description="flip-flops: FDRE, FDSE, FDCE, FDPE")
    carry4: int = Field(ge=0, description="CARRY4 cells (yosys 0.70 maps carry chains to CARRY4 even for xcup)")
    carry8: int = Field(ge=0, description="CARRY8 cells")
    dsp: int = Field(ge=0, description="DSP48E2")
    bram36: float = Field(ge=0, description="RAMB36E2 + RAMB18E2 / 2")
    cells: dict[str, int] = Field(description="every cell type yosys reports, with its count")
    percent_of_part: dict[str, float] = Field(description="lut (logic + memory), ff, dsp, bram36 as % of the part")


class Estimate(StrictModel):
    """da4ml's own cost model, kept for comparison; never a synthesis result."""

    source: Literal["da4ml estimate (not a synthesis result)"] = ESTIMATE_SOURCE
    lut: float = Field(ge=0)
    ff: int = Field(ge=0, description="pipeline register bits")


class Agreement(StrictModel):
    """The Verilator simulation of the RTL against the bit-exact emulator on the same fixed-point inputs."""

    source: str = Field(description="what was compared with what")
    events: int = Field(ge=0)
    values_per_event: int = Field(ge=0, description="network outputs (and score parts) compared per event")
    identical_fraction: float = Field(ge=0, le=1, description="fraction of events whose every compared value is "
                                                              "identical")
    mismatching_events: int = Field(ge=0)
    score_compared: bool
    first_mismatch: str | None = None
    emulators_agree: bool | None = Field(None, description="whether the RTL environment's emulator computes the "
                                         "expected values stored with the test vectors (None: none were stored)")


class Timings(StrictModel):
    """Wall-clock seconds of each step on this machine."""

    trace_s: float = Field(ge=0, description="da4ml tracing and pipelining")
    verilator_s: float = Field(ge=0, description="writing the Verilog and compiling it with Verilator")
    simulate_s: float = Field(ge=0, description="Verilator simulation of the test vectors")
    yosys_s: float = Field(ge=0, description="yosys synthesis")


class RTLReport(StrictModel):
    """The contents of ``rtl.json``."""

    schema_: Literal["l1ad-rtl/1"] = Field(SCHEMA, alias="schema")
    model: str
    top: str = Field(description="the Verilog top module")
    part: str
    clock_period_ns: float = Field(gt=0)
    latency_cutoff: float = Field(description="da4ml's delay budget per pipeline stage (adder levels)")
    pipeline_stages: int = Field(ge=0, description="from da4ml's metadata.json")
    latency_cycles: int = Field(ge=0)
    latency_ns: float = Field(ge=0, description="latency_cycles x clock_period_ns; timing closure not checked")
    initiation_interval: int = Field(ge=1, description="clock cycles between events (1: fully pipelined)")
    in_firmware: str = Field(description="what the RTL computes, and what (if anything) is left to software")
    resources: Resources
    estimate: Estimate
    agreement: Agreement
    timings: Timings
    tools: dict[str, str] = Field(description="versions of da4ml, Verilator, yosys, numpy")
    settings: dict[str, str | int | float] = Field(description="the options the RTL was built with")
    verilog: list[str] = Field(description="the Verilog files synthesized, relative to the report's directory")
    notes: list[str]

    model_config = StrictModel.model_config | {"populate_by_name": True}


def read_rtl_report(directory: Path) -> RTLReport:
    """The validated ``rtl.json`` of an RTL directory (one-line error naming the file)."""
    from l1ad.files import read_json_model

    return read_json_model(Path(directory) / RTL_REPORT, RTLReport, "RTL report", schema=SCHEMA,
                           regenerate="run the RTL path again", error=RTLError)


# -- test vectors -------------------------------------------------------------------------------------------------------
def write_vectors(path: Path, inputs: np.ndarray, outputs: np.ndarray, score: np.ndarray | None) -> None:
    """The test vectors: the network inputs (events x values, float64) and what the emulator computes for them."""
    arrays = {"inputs": np.asarray(inputs, dtype=np.float64), "outputs": np.asarray(outputs, dtype=np.float64)}
    if score is not None:
        arrays["score"] = np.asarray(score, dtype=np.float64)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp.npz")
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_vectors(path: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(inputs, expected outputs or None, expected score or None), checked; one-line error naming the file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise RTLError(f"{path}: no such test-vector file") from None
    except (OSError, ValueError, EOFError) as exc:
        raise RTLError(f"{path}: not a test-vector file ({' '.join(str(exc).split())[:200]})") from None
    unknown = set(arrays) - {"inputs", "outputs", "score"}
    if "inputs" not in arrays or unknown:
        raise RTLError(f"{path}: a test-vector file holds 'inputs' and optionally 'outputs', 'score' "
                       f"(found {sorted(arrays)})")
    inputs = arrays["inputs"]
    if inputs.ndim < 2 or inputs.dtype.kind != "f" or not np.isfinite(inputs).all():
        raise RTLError(f"{path}: 'inputs' must be a finite float array of shape (events, ...), got {inputs.dtype} "
                       f"{inputs.shape}")
    n = len(inputs)
    for key in ("outputs", "score"):
        if key in arrays and (len(arrays[key]) != n or arrays[key].dtype.kind != "f"):
            raise RTLError(f"{path}: {key!r} must be a float array with one row per event ({n}), got "
                           f"{arrays[key].dtype} {arrays[key].shape}")
    return inputs, arrays.get("outputs"), arrays.get("score")


# -- writing a directory atomically --------------------------------------------------------------------------------------
def temporary_sibling(directory: Path, what: str = "tmp") -> Path:
    """A new, empty, uniquely named directory beside ``directory`` (same file system, so it can be renamed into place)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f".{directory.name}.{what}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    return tmp


def move_into_place(tmp: Path, directory: Path) -> None:
    """Replace ``directory`` by the finished ``tmp`` (an existing ``directory`` is removed only after the swap)."""
    tmp, directory = Path(tmp), Path(directory)
    old = None
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        os.replace(directory, old)
    os.replace(tmp, directory)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
