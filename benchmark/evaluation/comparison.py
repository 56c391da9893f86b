"""Side-by-side results of several models on one dataset: the table ``l1ad bench`` writes, and its plot.

Files written into one directory:

* ``results.csv`` / ``results.json``  every model's metrics table stacked (one row per model, signal, working point)
* ``results.md``   the headline working point: efficiency [68 % interval] and ROC AUC per model and signal
* ``results.png``  the same as grouped bars with their intervals
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from l1ad.benchmark.evaluation.report import MetricsReport
from l1ad.benchmark.plotting import hep_pyplot
from l1ad.errors import StageOutputError
from l1ad.files import replacing, write_text_atomic


def write_comparison(reports: list[MetricsReport], directory: Path, *, notes: dict[str, str]) -> pd.DataFrame:
    """Stack the models' metrics and write the comparison files at their common headline working point; returns
    the stacked table."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    headlines = {r.headline for r in reports}
    if len(headlines) != 1:
        raise StageOutputError(f"bench: the models were evaluated at different headline working points "
                               f"({', '.join(sorted(headlines))}); evaluate them with one config")
    headline = headlines.pop()
    results = pd.concat([r.table() for r in reports], ignore_index=True)
    with replacing(directory / "results.csv") as tmp:
        results.to_csv(tmp, index=False)
    write_text_atomic(directory / "results.json", results.to_json(orient="records", indent=2))
    head = results[results.working_point == headline]
    label = str(head.label.iloc[0])
    write_text_atomic(directory / "results.md", headline_markdown(head, label, notes))
    _plot(head, label, directory / "results.png")
    return results


def headline_markdown(head: pd.DataFrame, headline: str, notes: dict[str, str]) -> str:
    signals = list(dict.fromkeys(head.signal))
    first = head.iloc[0]
    lines = [
        f"Signal efficiency at {headline} on `{first.dataset}` v{first.dataset_version} (`{first.dataset_digest}`), "
        f"{int(first.n_background)} background test events; [68 % Clopper-Pearson interval], AUC below. "
        "Measured on the test samples; `*` marks a working point with too little background above threshold.",
        "",
        "| model | " + " | ".join(signals) + " | notes |",
        "|---|" + "---|" * len(signals) + "---|",
    ]
    for model, rows in head.groupby("model", sort=False):
        by_signal = rows.set_index("signal")
        cells = []
        for s in signals:
            r = by_signal.loc[s]
            star = "" if r.measurable else "*"
            cells.append(f"{r.efficiency:.3f}{star} [{r.efficiency_lo:.3f}, {r.efficiency_hi:.3f}]<br>AUC {r.roc_auc:.3f}")
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {notes.get(model, '')} |")
    best = head.loc[head.groupby("signal", sort=False).efficiency.idxmax()]
    lines += ["", "Best per signal: " + ", ".join(f"{r.signal}: {r.model}" for r in best.itertuples()), ""]
    return "\n".join(lines)


def _plot(head: pd.DataFrame, headline: str, path: Path) -> None:
    plt, hep = hep_pyplot()
    signals = list(dict.fromkeys(head.signal))
    models = list(dict.fromkeys(head.model))
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(max(10, 2.5 * len(signals)), 7))
    for i, model in enumerate(models):
        rows = head[head.model == model].set_index("signal").loc[signals]
        x = np.arange(len(signals)) + (i - (len(models) - 1) / 2) * width
        err = np.vstack((rows.efficiency - rows.efficiency_lo, rows.efficiency_hi - rows.efficiency))
        ax.bar(x, rows.efficiency, width, yerr=err, capsize=3, label=model)
    ax.set_xticks(np.arange(len(signals)), signals)
    ax.set_ylabel(f"Signal efficiency at {headline}")
    ax.set_ylim(0, min(1.3, max(0.05, 1.3 * head.efficiency_hi.max())))
    ax.legend(fontsize=12, ncol=2)
    hep.label.exp_text("l1ad-bench", "simulation", ax=ax, loc=0, fontsize=16)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
