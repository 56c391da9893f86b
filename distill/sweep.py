"""The size sweep of a student config: every hidden-layer list of its ``sweep`` with every weight width, and what each
student keeps of its teacher's efficiency against what it costs in firmware.

The cost is the firmware report's where the RTL path ran (yosys LUTs of the synthesized netlist, da4ml pipeline
latency); the parameter count and an estimate of the bit operations (multiplications x weight bits x input bits, the
measure of Baskin et al. without the accumulations) are given for every student and labelled as estimates.

Files of ``<output>/distill/sweep_<config name>/``: ``sweep.json`` (the :class:`SweepReport`, schema
``l1ad-distill-sweep/1``), ``sweep.csv`` (one row per student and signal), ``sweep.md`` (the table) and ``sweep.png``
(kept efficiency versus LUTs, or versus bit operations where not every student was synthesized); the students'
ordinary bench comparison (``results.md``, ``results.png``) sits beside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from l1ad.benchmark.plotting import hep_pyplot
from l1ad.config.base import StrictModel
from l1ad.config.distill import StudentConfig
from l1ad.distill.agreement import MaybeNaN
from l1ad.distill.report import DistillationReport
from l1ad.files import read_json_model, replacing, write_json_model, write_text_atomic

SWEEP_FILE = "sweep.json"
BOPS_SOURCE = "estimated: multiplications x weight bits x input bits"


def sweep_configs(config: StudentConfig) -> list[StudentConfig]:
    """One student config per (hidden layers, weight bits) of ``config.sweep``, labelled ``<label>_<units>_w<bits>``
    (e.g. ``cicada_v1_16_w8``), each otherwise ``config``'s."""
    if config.sweep is None:
        return [config]
    variants = []
    for units in config.sweep.encoder_units:
        for bits in config.sweep.weight_bits:
            q = config.student.quantization
            quantization = None if q is None else q.model_copy(update={
                "weight_bits": bits, "weight_integer_bits": min(q.weight_integer_bits, bits - 1)})
            label = f"{config.student.run_label}_{'x'.join(map(str, units))}_w{bits}"
            student = config.student.model_copy(update={"encoder_units": list(units), "quantization": quantization,
                                                         "label": label})
            variants.append(config.model_copy(update={"student": student, "sweep": None}))
    return variants


class NetworkCost(StrictModel):
    """What a network costs: counted from the Keras model, and from synthesis where the RTL path ran."""

    parameters: int = Field(ge=0)
    bit_operations: int = Field(ge=0, description=BOPS_SOURCE)
    lut: int | None = Field(None, description="yosys synth_xilinx logic and memory LUTs (None: not synthesized)")
    lut_percent: float | None = Field(None, description="of the FPGA part")
    latency_ns: float | None = Field(None, description="da4ml pipeline stages x clock period (None: no RTL)")
    part: str | None = None


def keras_cost(model, quantization) -> tuple[int, int]:
    """(parameters, estimated bit operations) of a Keras model of Dense/Conv2D layers: the first layer multiplies
    the quantized inputs, the later ones the activations; a float model (``quantization`` None) counts 32 bits."""
    bops, first = 0, True
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        per_output = int(np.prod(tuple(int(d) for d in kernel.shape)[:-1]))  # multiplications per output value
        outputs = int(np.prod([d for d in layer.output_shape[1:] if d is not None]))
        if quantization is None:
            weight, value = 32, 32
        else:
            weight = quantization.weight_bits
            value = quantization.input_bits if first else quantization.activation_bits
        bops += per_output * outputs * weight * value
        first = False
    return int(model.count_params()), int(bops)


class SweepRow(StrictModel):
    """One student of the sweep: its size, its cost and what it keeps of each signal at the report's rate."""

    student: str
    encoder_units: list[int]
    weight_bits: int | None
    cost: NetworkCost
    kept: dict[str, MaybeNaN] = Field(description="signal -> student efficiency / teacher efficiency")
    kept_interval: dict[str, tuple[MaybeNaN, MaybeNaN]]
    student_efficiency: dict[str, float]
    teacher_efficiency: dict[str, float]

    model_config = StrictModel.model_config | {"ser_json_inf_nan": "constants"}


def sweep_row(config: StudentConfig, report: DistillationReport, cost: NetworkCost) -> SweepRow:
    q = config.student.quantization
    signals = report.agreement.signals
    return SweepRow(student=report.student, encoder_units=list(config.student.encoder_units),
                    weight_bits=None if q is None else q.weight_bits, cost=cost,
                    kept={s: k.kept for s, k in signals.items()},
                    kept_interval={s: k.kept_interval for s, k in signals.items()},
                    student_efficiency={s: k.student for s, k in signals.items()},
                    teacher_efficiency={s: k.teacher for s, k in signals.items()})


class SweepReport(StrictModel):
    """The contents of ``sweep.json``."""

    schema_: Literal["l1ad-distill-sweep/1"] = Field("l1ad-distill-sweep/1", alias="schema")
    config: str = Field(description="the student config swept")
    teacher: str
    teacher_cost: NetworkCost | None = Field(None, description="the teacher's, where it is a Keras network")
    rate: str = Field(description="the trigger rate (or background accept fraction) of every kept efficiency")
    rows: list[SweepRow] = Field(min_length=1)

    model_config = StrictModel.model_config | {"populate_by_name": True, "ser_json_inf_nan": "constants"}


def read_sweep(directory: Path) -> SweepReport:
    return read_json_model(Path(directory) / SWEEP_FILE, SweepReport, "distillation sweep", missing="l1ad distill "
                           "--sweep", schema="l1ad-distill-sweep/1", regenerate="run 'l1ad distill --sweep' again")


def sweep_table(rows: list[SweepRow]) -> pd.DataFrame:
    """One row per student and signal."""
    records = []
    for row in rows:
        for signal, kept in row.kept.items():
            lo, hi = row.kept_interval[signal]
            records.append({"student": row.student, "hidden": "x".join(map(str, row.encoder_units)),
                            "weight_bits": row.weight_bits, "parameters": row.cost.parameters,
                            "bit_operations": row.cost.bit_operations, "lut": row.cost.lut,
                            "lut_percent": row.cost.lut_percent, "latency_ns": row.cost.latency_ns,
                            "signal": signal, "teacher_efficiency": row.teacher_efficiency[signal],
                            "student_efficiency": row.student_efficiency[signal], "kept": kept, "kept_low": lo,
                            "kept_high": hi})
    return pd.DataFrame.from_records(records)


def sweep_markdown(report: SweepReport) -> str:
    rows, teacher, rate, teacher_cost = report.rows, report.teacher, report.rate, report.teacher_cost
    signals = list(rows[0].kept)
    lines = [f"Efficiency kept (student / teacher `{teacher}`, each at its own threshold for {rate}; 68 % paired "
             "bootstrap intervals) against cost. LUTs: yosys synth_xilinx of the da4ml RTL; latency: da4ml pipeline "
             f"stages x clock period; bit operations: {BOPS_SOURCE}.", "",
             "| student | hidden | weight bits | parameters | bit operations | LUTs | latency (ns) | "
             + " | ".join(f"kept {s}" for s in signals) + " |",
             "|" + "---|" * (7 + len(signals))]

    def cells(cost: NetworkCost) -> str:
        lut = "not synthesized" if cost.lut is None else f"{cost.lut:,}" + (
            f" ({cost.lut_percent:.2f} % of {cost.part})" if cost.lut_percent is not None else "")
        latency = "-" if cost.latency_ns is None else f"{cost.latency_ns:.1f}"
        return f"{cost.parameters:,} | {cost.bit_operations:,} | {lut} | {latency}"

    for row in rows:
        kept = " | ".join(f"{row.kept[s]:.3f} [{row.kept_interval[s][0]:.3f}, {row.kept_interval[s][1]:.3f}]"
                          for s in signals)
        lines.append(f"| {row.student} | {'x'.join(map(str, row.encoder_units))} | {row.weight_bits or 'float'} | "
                     f"{cells(row.cost)} | {kept} |")
    if teacher_cost is not None:
        lines.append(f"| teacher `{teacher}` | | | {cells(teacher_cost)} | " + " | ".join("1" for _ in signals) + " |")
    return "\n".join(lines) + "\n"


def plot_sweep(rows: list[SweepRow], path: Path, teacher: str, rate: str) -> None:
    """Kept efficiency per signal against LUTs (all students synthesized) or estimated bit operations."""
    plt, _ = hep_pyplot()
    synthesized = all(r.cost.lut is not None for r in rows)
    fig, ax = plt.subplots(figsize=(10, 7))
    for signal in rows[0].kept:
        x = np.array([r.cost.lut if synthesized else r.cost.bit_operations for r in rows], dtype=float)
        y = np.array([r.kept[signal] for r in rows])
        err = np.array([[r.kept[signal] - r.kept_interval[signal][0], r.kept_interval[signal][1] - r.kept[signal]]
                        for r in rows]).T
        ax.errorbar(x, y, yerr=err, marker="o", ls="none", capsize=3, label=signal)
    ax.axhline(0.9, color="grey", ls="--", lw=1, label="90 % kept")
    ax.set_xscale("log")
    ax.set_xlabel("LUTs (yosys synth_xilinx)" if synthesized else "bit operations (estimated)", fontsize=18)
    ax.set_ylabel("efficiency kept (student / teacher)", fontsize=18)
    ax.set_title(f"students of {teacher} at {rate}", fontsize=16)
    ax.legend(fontsize=13, ncols=2, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_sweep(directory: Path, report: SweepReport) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_json_model(directory / SWEEP_FILE, report)
    with replacing(directory / "sweep.csv") as tmp:
        sweep_table(report.rows).to_csv(tmp, index=False)
    write_text_atomic(directory / "sweep.md", sweep_markdown(report))
    plot_sweep(report.rows, directory / "sweep.png", report.teacher, report.rate)
    return directory
