"""Trigger-rate drift of anomaly triggers on domain-shifted zero-bias variants (``l1ad robustness``, drift)."""

from __future__ import annotations

import numpy as np
import pytest

from l1ad.benchmark.evaluation.drift import rate_ratio_interval, variant_drift
from l1ad.benchmark.statistics import clopper_pearson


def test_rate_ratio_and_its_exact_interval_by_hand():
    ratio, (lo, hi) = rate_ratio_interval(10, 1000, 5, 2000, 0.6827)
    assert ratio == pytest.approx((10 / 1000) / (5 / 2000))  # 4
    p_lo, p_hi = clopper_pearson(10, 15, 0.6827)
    assert lo == pytest.approx(p_lo / (1 - p_lo) * 2) and hi == pytest.approx(p_hi / (1 - p_hi) * 2)
    assert lo < ratio < hi
    ratio, (lo, hi) = rate_ratio_interval(0, 1000, 5, 1000, 0.6827)
    assert ratio == 0 and lo == 0 and 0 < hi < 1
    assert rate_ratio_interval(5, 1000, 0, 1000, 0.6827) == (None, (0.0, None))


def test_variant_drift_counts_above_the_nominal_threshold():
    background = np.arange(1000, dtype=float)  # 10 above 989.5
    signal = {"ttbar": np.array([0.0, 995.0, 999.0, 2000.0]), "other": np.ones(3)}
    d = variant_drift("zb_mu70", "abc", 70.0, None, background, signal, threshold=989.5, nominal_accepted=5,
                      nominal_background=1000, nominal_efficiencies={"ttbar": (0.5, (0.4, 0.6))},
                      collision_rate_mhz=28.61, confidence_level=0.6827)
    assert (d.n_background, d.n_accepted) == (1000, 10) and d.rate_khz == pytest.approx(10 / 1000 * 28610)
    assert d.rate_ratio == pytest.approx(2.0)
    assert [e.signal for e in d.efficiencies] == ["ttbar"]  # no nominal efficiency for 'other'
    assert d.efficiencies[0].shifted == pytest.approx(0.75) and d.efficiencies[0].change == pytest.approx(0.25)


@pytest.mark.slow
def test_drift_from_the_command_line(tiny_run, tmp_path, run_cli):
    from l1ad.benchmark.datasets.dataset import load_dataset
    from l1ad.benchmark.evaluation.drift import ModelDrift
    from l1ad.benchmark.evaluation.report import read_metrics
    from l1ad.benchmark.evaluation.tagging import RobustnessReport
    from l1ad.models.registry import load_detector

    run = tiny_run.paths.root
    config = tmp_path / "drift.yaml"
    config.write_text(f"name: drift_tiny\ndrift: {{run: '{run}', variants: [zb_mu70], size: tiny}}\n")
    code, stdout, err = run_cli("-q", "robustness", "-c", config, "-o", tmp_path / "out")
    assert code == 0, err
    report = RobustnessReport.model_validate_json((tmp_path / "out" / "robustness" / "robustness.json").read_text())
    assert report.taggers == [] and report.dataset is None and [d.model for d in report.drift] == ["dense_ae"]
    drift = ModelDrift.model_validate_json((run / "drift" / "dense_ae" / "drift.json").read_text())
    assert drift == report.drift[0]
    # the threshold is the evaluation's; the count on the variant is the model's own scores above it
    metrics = read_metrics(run / "evaluation" / "dense_ae")
    row = next(r for r in metrics.rows if r.working_point == metrics.headline)
    assert drift.threshold == row.threshold and drift.nominal_n_accepted == row.n_background_accepted
    variant = load_dataset(run / "variants" / "zb_mu70" / "dataset")
    assert variant.manifest.config["pileup_mu"] == 70 and variant.digest == drift.variants[0].digest
    detector = load_detector(run / "models" / "dense_ae")
    scores = detector.score_samples(detector.inputs_of(variant.sample("background_test")))
    assert drift.variants[0].n_accepted == int((scores > row.threshold).sum()) and drift.variants[0].n_background == 4000
    assert {e.signal for e in drift.variants[0].efficiencies} == {"ttbar", "htautau", "zll", "ato4l"}
    assert (tmp_path / "out" / "robustness" / "rate_drift.png").stat().st_size > 0
    assert "| dense_ae |" in (tmp_path / "out" / "robustness" / "robustness.md").read_text()
    # the leaderboard entry shows the drift at its threshold
    code, _, err = run_cli("-q", "leaderboard", "-c", "tiny", "-o", run, "--board", tmp_path / "board")
    assert code == 0, err
    import json

    entry = json.loads((tmp_path / "board" / "board.json").read_text())["entries"][0]
    assert [d["variant"] for d in entry["rate_drift"]] == ["zb_mu70"]
    assert entry["rate_drift"][0]["rate_khz"] == pytest.approx(drift.variants[0].rate_khz)
    assert "zb_mu70 " in (tmp_path / "board" / "LEADERBOARD.md").read_text()
    # not a variant of zb: one line, nothing generated
    config.write_text(f"name: drift_tiny\ndrift: {{run: '{run}', variants: [zb_exposure], size: tiny}}\n")
    code, _, err = run_cli("robustness", "-c", config, "-o", tmp_path / "out")
    assert code == 2 and "'zb_exposure' is not a variant of 'zb'" in err and err.count("\n") == 1
    assert not (run / "variants" / "zb_exposure").exists()
    config.write_text(f"name: drift_tiny\ndrift: {{run: '{tmp_path / 'nothing'}', variants: [zb_mu70]}}\n"
                      "taggers: [deepsets]\nsize: tiny\n")
    code, _, err = run_cli("robustness", "-c", config, "-o", tmp_path / "out2")
    assert code == 2 and "no zero-bias run; run 'l1ad run -o" in err and err.count("\n") == 1
    assert not (tmp_path / "out2" / "jets").exists() and not (tmp_path / "out2" / "taggers").exists()  # checked first
