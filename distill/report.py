"""The distillation report: which teacher, which target, and how well the student agrees with it at the trigger rate.

Files of ``<output>/distill/<student label>/``:

* ``distillation.json``      the :class:`DistillationReport` (schema ``l1ad-distillation/1``)
* ``student_vs_teacher.png`` the student's score against the teacher's target, background and signals (2-D histograms),
  with both thresholds for the report's rate

The student's own efficiencies, rates and firmware are in its ordinary evaluation and firmware directories.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from l1ad.benchmark.datasets.manifest import DatasetRef
from l1ad.benchmark.plotting import hep_pyplot
from l1ad.config.base import StrictModel
from l1ad.config.distill import AugmentationConfig, ExposureConfig, TargetConfig
from l1ad.distill.agreement import Agreement
from l1ad.files import read_json_model, write_json_model

REPORT_FILE = "distillation.json"
PLOT_FILE = "student_vs_teacher.png"


class DistillationReport(StrictModel):
    schema_: Literal["l1ad-distillation/1"] = Field("l1ad-distillation/1", alias="schema")
    student: str = Field(description="the student's run label")
    teacher: str = Field(description="the teacher's run label")
    teacher_model: str = Field(description="the teacher's model directory")
    teacher_score: str = Field(description="what the teacher's score is")
    dataset: DatasetRef
    target: TargetConfig
    augmentation: AugmentationConfig
    exposure: ExposureConfig | None = Field(None, description="events from another dataset, if any")
    exposure_events: int = Field(0, ge=0, description="of the training events, exposure events")
    training_events: int = Field(ge=1, description="training events the student saw (background and its copies)")
    background_events: int = Field(ge=1, description="of them, training background events before augmentation")
    saturated_fraction: float = Field(ge=0, le=1, description="training targets at an end of the target's range")
    rate_khz: float | None = Field(description="the trigger rate of the agreement (zero-bias background)")
    agreement: Agreement = Field(description="on the test samples: scores, decisions and kept efficiencies")

    model_config = StrictModel.model_config | {"populate_by_name": True, "ser_json_inf_nan": "constants"}


def write_report(directory: Path, report: DistillationReport) -> Path:
    path = Path(directory) / REPORT_FILE
    write_json_model(path, report)
    return path


def read_report(directory: Path) -> DistillationReport:
    return read_json_model(Path(directory) / REPORT_FILE, DistillationReport, "distillation report",
                           missing="l1ad distill", schema="l1ad-distillation/1", regenerate="run 'l1ad distill' again")


def plot_student_vs_teacher(teacher: dict[str, np.ndarray], student: dict[str, np.ndarray], background: str,
                            report: DistillationReport, path: Path) -> None:
    """Two 2-D histograms (log colour scale): the background, and every signal together; dashed lines at both
    thresholds, so the quadrants are the decisions (both, teacher only, student only, neither)."""
    plt, _ = hep_pyplot()
    from matplotlib.colors import LogNorm

    signals = [name for name in teacher if name != background]
    panels = [(background, teacher[background], student[background])]
    if signals:
        panels.append(("signals (" + ", ".join(signals) + ")", np.concatenate([teacher[s] for s in signals]),
                       np.concatenate([student[s] for s in signals])))
    every_t = np.concatenate([p[1] for p in panels])
    every_s = np.concatenate([p[2] for p in panels])
    bins = (np.linspace(*np.quantile(every_t, [0.0005, 0.9995]), 80),
            np.linspace(*np.quantile(every_s, [0.0005, 0.9995]), 80))
    fig, axes = plt.subplots(1, len(panels), figsize=(10 * len(panels), 9), squeeze=False)
    a = report.agreement
    rate = f"{report.rate_khz:g} kHz" if report.rate_khz is not None else f"FPR {a.fpr:.1e}"
    for ax, (name, t, s) in zip(axes[0], panels, strict=True):
        t = np.clip(t, bins[0][0], bins[0][-1])
        s = np.clip(s, bins[1][0], bins[1][-1])
        _, _, _, image = ax.hist2d(t, s, bins=bins, norm=LogNorm(), cmap="viridis")
        fig.colorbar(image, ax=ax, label="events")
        ax.axvline(a.teacher_threshold, color="red", linestyle="--", linewidth=1.5, label=f"teacher threshold ({rate})")
        ax.axhline(a.student_threshold, color="orange", linestyle="--", linewidth=1.5,
                   label=f"student threshold ({rate})")
        ax.set_xlabel(f"teacher target ({report.target.transform} x {report.target.scale:g} of {report.teacher})")
        ax.set_ylabel(f"student score ({report.student})")
        ax.set_title(name, fontsize=16)
        ax.legend(loc="upper left", fontsize=12)
    fig.suptitle(f"l1ad-bench simulation: {report.student} vs {report.teacher}; Pearson {a.pearson:.3f}, Spearman "
                 f"{a.spearman:.3f} on the background (values beyond the axes drawn at their edges)", fontsize=16)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
