"""``l1ad firmware report``: the firmware reports of one or many models side by side, as a table and plots.

Per model: where the score is computed, the three bit-exactness checks (Keras vs hls4ml C++, emulator vs hls4ml C++,
RTL vs emulator), latency in cycles and ns with the initiation interval, and LUT, FF, DSP and BRAM as counts and as a
percentage of the configured part, each with its source. Written to ``report.md`` and ``report.csv``, with a resource
bar plot (% of the part) and latency against LUTs.
"""

from __future__ import annotations

from pathlib import Path

from l1ad.benchmark.plotting import hep_pyplot
from l1ad.config.parts import FpgaPart
from l1ad.files import replacing, write_text_atomic
from l1ad.firmware.report import FirmwareReport
from l1ad.markup import markdown_cell


def summary_rows(reports: list[FirmwareReport], part: FpgaPart) -> list[dict]:
    """One flat row per report (``None`` where a figure is not available)."""
    rows = []
    for report in reports:
        row = {"model": report.model, "status": report.status, "score": None, "keras_vs_hls4ml": None,
               "emulator_vs_hls4ml": None, "rtl_vs_emulator": None, "latency_cycles": None, "latency_ns": None,
               "initiation_interval": None, "lut": None, "ff": None, "dsp": None, "bram36": None,
               "latency_source": report.latency, "resources_source": report.resources}
        if report.emulation is not None:
            emulation = report.emulation
            identical, compared = emulation.identical_outputs()
            row["score"] = emulation.score.split(":")[0]
            row["emulator_vs_hls4ml"] = f"{identical}/{compared} identical"
            if report.headline is not None:
                changed, total = report.decision_mismatch(report.headline)
                row["keras_vs_hls4ml"] = f"{changed}/{total} decisions differ"
        if report.rtl is not None:
            rtl, r = report.rtl, report.rtl.resources
            a = rtl.agreement
            row.update(rtl_vs_emulator=f"{a.events - a.mismatching_events}/{a.events} identical",
                       latency_cycles=rtl.latency_cycles, latency_ns=rtl.latency_ns,
                       initiation_interval=rtl.initiation_interval, lut=r.lut + r.lut_as_memory, ff=r.ff, dsp=r.dsp,
                       bram36=r.bram36, latency_source="da4ml pipeline stages x clock period (timing not checked)",
                       resources_source=r.source)
        elif report.vendor is not None:
            v = report.vendor
            row.update(latency_cycles=v.worst_latency_cycles, latency_ns=v.worst_latency_cycles * v.target_clock_ns,
                       initiation_interval=v.interval_min, lut=v.lut, ff=v.ff, dsp=v.dsp, bram36=v.bram_18k / 2,
                       latency_source=v.source, resources_source=v.source)
        for key, total in (("lut", part.lut), ("ff", part.ff), ("dsp", part.dsp), ("bram36", part.bram36)):
            row[f"{key}_percent"] = None if row[key] is None else 100 * row[key] / total
        rows.append(row)
    return rows


def markdown(rows: list[dict], part: FpgaPart) -> str:
    def fmt(value, spec=""):
        return "n/a" if value is None else markdown_cell(format(value, spec))

    lines = [
        f"Firmware of each model; resources as counts and % of the {part.name}. Sources: latency = da4ml pipeline "
        "stages x clock period (yosys does not check timing closure), resources = yosys synth_xilinx cell counts, "
        "unless a row says vendor report; bit-exactness: Keras vs hls4ml C++ (trigger decisions at the headline "
        "rate), emulator vs hls4ml C++ (all outputs, every test event), RTL (Verilator) vs emulator.",
        "",
        "| model | score in | Keras vs C++ | emulator vs C++ | RTL vs emulator | latency [cycles] | latency [ns] | II | "
        "LUT | FF | DSP | BRAM36 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    def count(r, key):
        return "n/a" if r[key] is None else f"{r[key]:,.0f} ({r[key + '_percent']:.2f} %)"

    for r in rows:
        lines.append(
            f"| {markdown_cell(r['model'])} | {fmt(r['score'])} | {fmt(r['keras_vs_hls4ml'])} | "
            f"{fmt(r['emulator_vs_hls4ml'])} | {fmt(r['rtl_vs_emulator'])} | {fmt(r['latency_cycles'])} | "
            f"{fmt(r['latency_ns'], '.1f')} | {fmt(r['initiation_interval'])} | {count(r, 'lut')} | {count(r, 'ff')} | "
            f"{count(r, 'dsp')} | {count(r, 'bram36')} |")
    missing = [r for r in rows if r["lut"] is None]
    if missing:
        lines += ["", *(f"- {markdown_cell(r['model'])}: {markdown_cell(r['resources_source'])}" for r in missing)]
    return "\n".join(lines) + "\n"


def write_summary(reports: list[FirmwareReport], part: FpgaPart, directory: Path) -> list[dict]:
    """Write ``report.md``, ``report.csv``, ``resources.png`` and ``latency_vs_lut.png`` into ``directory``."""
    import pandas as pd

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rows = summary_rows(reports, part)
    with replacing(directory / "report.csv") as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    write_text_atomic(directory / "report.md", markdown(rows, part))
    _plots([r for r in rows if r["lut"] is not None], part, directory)
    return rows


def _plots(rows: list[dict], part: FpgaPart, directory: Path) -> None:
    plt, mplhep = hep_pyplot()
    import numpy as np

    fig, ax = plt.subplots(figsize=(10, 6))
    keys = ("lut", "ff", "dsp", "bram36")
    width = 0.8 / len(keys)
    x = np.arange(len(rows))
    for i, key in enumerate(keys):
        ax.bar(x + (i - 1.5) * width, [r[f"{key}_percent"] for r in rows], width, label=key.upper())
    ax.set_xticks(x, [r["model"] for r in rows], rotation=30, ha="right", fontsize=12)
    ax.set_ylabel(f"% of {part.name}")
    ax.legend(fontsize=12)
    ax.set_title("yosys synth_xilinx" if rows else "no synthesized model", fontsize=14)
    fig.tight_layout()
    with replacing(directory / "resources.png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 6))
    for r in rows:
        ax.scatter(r["lut"], r["latency_ns"])
        ax.annotate(r["model"], (r["lut"], r["latency_ns"]), fontsize=11, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("LUT (yosys)")
    ax.set_ylabel("latency [ns]")
    ax.set_title("latency vs LUT" if rows else "no synthesized model", fontsize=14)
    fig.tight_layout()
    with replacing(directory / "latency_vs_lut.png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
