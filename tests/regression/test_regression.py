"""Regression: the fixed-seed tiny run must reproduce the reference metrics stored beside this file.

Tolerances are stated per quantity (prefix) in reference.json. To accept a deliberate change, regenerate the reference with
``L1AD_UPDATE_REFERENCE=1 tox -e regression`` and commit it with an explanation.
"""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.regression
REFERENCE = Path(__file__).with_name("reference.json")
# Used only when a reference is first written; afterwards reference.json is the one place tolerances are stated.
DEFAULT_TOLERANCES = {
    "dataset.mean_met_gev": ["rel", 0.02],
    "dataset.mean_n_jets": ["abs", 0.05],
    "dataset.mean_n_egamma": ["abs", 0.05],
    "training.best_val_loss": ["rel", 0.10],
    "auc": ["abs", 0.02],
    "efficiency": ["abs", 0.05],
    "firmware.max_decision_mismatch": ["abs", 1e-3],
}


def measure(run) -> dict:
    from l1ad.benchmark.datasets.dataset import load_dataset
    from l1ad.models.neural import AutoencoderDetector

    bg = load_dataset(run.paths.dataset).background("test").particles
    history = AutoencoderDetector.load(run.paths.model).history
    table = pd.read_csv(run.paths.evaluation / "metrics.csv")
    fw = json.loads((run.paths.firmware / "firmware.json").read_text())
    values = {
        "dataset.mean_met_gev": float(bg[:, 0, 0].mean()),
        "dataset.mean_n_jets": float((bg[:, 9:, 0] > 0).sum(1).mean()),
        "dataset.mean_n_egamma": float((bg[:, 1:5, 0] > 0).sum(1).mean()),
        "training.best_val_loss": float(min(history["val_loss"])),
        "firmware.max_decision_mismatch": max(max(a["decision_mismatch"].values()) for a in fw["agreement"]),
    }
    for row in table.itertuples():
        values[f"auc.{row.signal}"] = float(row.roc_auc)
        if row.measurable:
            values[f"efficiency.{row.signal}.{row.label}"] = float(row.efficiency)  # keyed by label: reference unchanged
    return values


def test_tiny_run_matches_reference(tiny_run):
    measured = measure(tiny_run)
    if os.environ.get("L1AD_UPDATE_REFERENCE") == "1":
        tolerances = json.loads(REFERENCE.read_text())["tolerances"] if REFERENCE.is_file() else DEFAULT_TOLERANCES
        REFERENCE.write_text(json.dumps({"tolerances": tolerances, "values": measured}, indent=2, sort_keys=True) + "\n")
        pytest.skip("reference updated")
    stored = json.loads(REFERENCE.read_text())
    reference, tolerances = stored["values"], stored["tolerances"]
    assert set(reference) == set(measured), "the set of measured quantities changed"
    failures = []
    for key, ref in reference.items():
        kind, tol = next(v for k, v in tolerances.items() if key == k or key.startswith(k + "."))
        allowed = tol * abs(ref) if kind == "rel" else tol
        if not np.isclose(measured[key], ref, rtol=0, atol=allowed):
            failures.append(f"{key}: measured {measured[key]:.4g}, reference {ref:.4g} (tolerance {kind} {tol})")
    assert not failures, "regression:\n" + "\n".join(failures)
