import json
import shutil
import sqlite3

import pandas as pd
import pytest
from conftest import tree_snapshot

pytestmark = pytest.mark.slow


def test_every_stage_left_its_outputs(tiny_run):
    p = tiny_run.paths
    manifest = json.loads((p.dataset / "dataset.json").read_text())
    assert {f"{name}.h5" for name in manifest["samples"]} == {f.name for f in p.dataset.glob("*.h5")}
    assert (p.dataset / "CARD.md").is_file()
    assert (p.model / "weights.h5").is_file()
    for name in ("scores.h5", "metrics.csv", "metrics.json", "efficiency_vs_rate.png", "scores.png"):
        assert (p.evaluation / name).stat().st_size > 0
    assert (p.firmware / "firmware.json").is_file()
    assert (p.root / "leaderboards" / "board.json").is_file() and (p.root / "leaderboards" / "LEADERBOARD.md").is_file()


def test_mlflow_runs_for_each_stage(tiny_run):
    db = tiny_run.paths.root / "mlflow.db"
    with sqlite3.connect(db) as con:
        stages = {r[0] for r in con.execute("select value from tags where key = 'l1ad.stage'")}
        metric_keys = {r[0] for r in con.execute("select key from metrics")}
    assert {"data", "train", "evaluate", "firmware"} <= stages
    assert "loss" in metric_keys and any(k.startswith("eff.ttbar.") for k in metric_keys)
    assert "pure_eff.ttbar.rate_300khz" in metric_keys and "unique_bkg_fpr.rate_300khz" in metric_keys
    assert any(k.startswith("decision_mismatch.background_test") for k in metric_keys)
    assert list((tiny_run.paths.root / "mlartifacts").rglob("metrics.csv"))


def test_metrics_table_is_consistent(tiny_run, tiny_config):
    table = pd.read_csv(tiny_run.paths.evaluation / "metrics.csv")
    assert set(table.signal) == set(tiny_config.dataset.signals)
    assert {"rate_300khz", "fpr_1e-05"} <= set(table.working_point)
    assert set(zip(table.working_point, table.label, strict=True)) >= {("rate_300khz", "300 kHz"),
                                                                       ("fpr_1e-05", "FPR 1e-5 (ADC2021)")}
    assert (table.efficiency_lo <= table.efficiency).all() and (table.efficiency <= table.efficiency_hi).all()
    # beyond the menu: a subset of what the model accepts, and the menu decides the same whatever the working point
    assert (table.n_signal_pure <= table.n_signal_accepted).all()
    assert (table.n_background_unique <= table.n_background_accepted).all()
    assert (table.groupby("signal").menu_efficiency.nunique() == 1).all() and table.menu_rate_khz.nunique() == 1
    adc = table[table.working_point == "fpr_1e-05"]
    assert not adc.measurable.any()  # 4000 background events cannot measure FPR 1e-5
    # efficiency grows with rate for each signal
    for _, group in table.groupby("signal"):
        assert group.sort_values("rate_khz").efficiency.is_monotonic_increasing


def test_leaderboard_entry_matches_metrics(tiny_run, tiny_config):
    board = json.loads((tiny_run.paths.root / "leaderboards" / "board.json").read_text())
    assert board["schema"] == "l1ad-leaderboard/3" and len(board["entries"]) == 1
    entry = board["entries"][0]
    table = pd.read_csv(tiny_run.paths.evaluation / "metrics.csv")
    lead = table[table.working_point == "rate_300khz"].set_index("signal")
    for signal, result in entry["signals"].items():
        assert result["efficiency"] == pytest.approx(lead.loc[signal, "efficiency"])
        assert result["pure_efficiency"] == pytest.approx(lead.loc[signal, "pure_efficiency"])
        assert result["pure_efficiency"] <= result["efficiency"]
    assert entry["unique_rate_khz"] == pytest.approx(lead.unique_rate_khz.iloc[0])
    assert entry["unique_rate_khz"] <= entry["background_rate_khz"]
    metrics = json.loads((tiny_run.paths.evaluation / "metrics.json").read_text())
    assert metrics["schema"] == "l1ad-metrics/2" and entry["menu"] == [s["name"] for s in metrics["menu"]["seeds"]]
    assert entry["firmware_decision_mismatch"] == 0.0
    for result in entry["signals"].values():  # bit-exact firmware: the firmware-exact efficiency is the Keras one
        assert result["firmware_efficiency"] == result["efficiency"]
    firmware = json.loads((tiny_run.paths.firmware / "firmware.json").read_text())
    if firmware["rtl"] is not None:
        assert entry["firmware"]["latency_cycles"] == firmware["rtl"]["latency_cycles"]
        assert entry["firmware"]["bit_exact"].endswith("identical") and "yosys" in entry["firmware"]["source"]
    else:
        assert entry["firmware"] is None
    assert entry["provenance"]["config_digest"] == tiny_config.digest()
    md = (tiny_run.paths.root / "leaderboards" / "LEADERBOARD.md").read_text()
    assert f"{entry['signals']['ttbar']['efficiency']:.3f}" in md


def _submit(ctx, board_dir):
    from l1ad.pipeline import stages

    return stages.leaderboard(ctx, stages.open_metrics(ctx), stages.open_firmware_report(ctx), board_dir)


def test_resubmitting_replaces_the_entry(tiny_run, tmp_path):
    from l1ad.leaderboards.board import read_board

    _submit(tiny_run, tmp_path)
    _submit(tiny_run, tmp_path)
    assert len(read_board(tmp_path)) == 1


def test_resubmitting_the_same_result_keeps_the_board_and_renders_a_stale_table_again(tiny_run, tmp_path):
    _submit(tiny_run, tmp_path)
    board, table = (tmp_path / "board.json").read_bytes(), (tmp_path / "LEADERBOARD.md").read_text()
    _submit(tiny_run, tmp_path)  # same results, another date or commit: nothing rewritten
    assert (tmp_path / "board.json").read_bytes() == board and (tmp_path / "LEADERBOARD.md").read_text() == table
    (tmp_path / "LEADERBOARD.md").write_text("| rendered by an older version |\n")
    _submit(tiny_run, tmp_path)
    assert (tmp_path / "LEADERBOARD.md").read_text() == table and (tmp_path / "board.json").read_bytes() == board


def test_fault_share_column_shows_an_interval_only_for_sampled_campaigns(tiny_run, tmp_path):
    from l1ad.leaderboards.board import FaultFigures, read_board, render_markdown

    _submit(tiny_run, tmp_path)
    entry = read_board(tmp_path)[0]
    figures = {"n_sites": 1000, "rate_budget_broken": 0.0123, "rule": "rate x 2 or > 100 kHz"}
    exhaustive = FaultFigures(campaign="exhaustive", n_faults=1000, rate_budget_broken_lo=0.0123,
                              rate_budget_broken_hi=0.0123, **figures)
    sampled = FaultFigures(campaign="sampled", n_faults=400, rate_budget_broken_lo=0.007, rate_budget_broken_hi=0.02,
                           **figures)
    assert "| 1.23% of 1,000 (exhaustive) |" in render_markdown([entry.model_copy(update={"faults": exhaustive})])
    assert "| 1.23% [0.70%, 2.00%] (400 sampled) |" in render_markdown([entry.model_copy(update={"faults": sampled})])


def test_corrupt_leaderboard_is_not_overwritten(tiny_run, tmp_path):
    from l1ad.errors import L1adError

    (tmp_path / "board.json").write_text("{broken")
    with pytest.raises(L1adError, match="corrupt leaderboard"):
        _submit(tiny_run, tmp_path)
    assert (tmp_path / "board.json").read_text() == "{broken"


def test_stages_run_alone_from_the_cli(tiny_run, run_cli, tmp_path):
    """Each stage reads the previous stage's files: re-run evaluate and leaderboard on the existing outputs."""
    root = tiny_run.paths.root
    code, out, err = run_cli("evaluate", "-c", "tiny", "-o", root)
    assert code == 0, err
    assert "ttbar: efficiency" in out
    code, out, err = run_cli("leaderboard", "-c", "tiny", "-o", root, "--board", tmp_path / "board")
    assert code == 0, err
    assert (tmp_path / "board" / "LEADERBOARD.md").is_file()


def test_stage_without_its_input_fails_cleanly(tmp_path, run_cli):
    (tmp_path / "dataset").mkdir()
    code, _, err = run_cli("train", "-c", "tiny", "-o", tmp_path)
    assert code == 2 and "dataset.json: no dataset; run 'l1ad data generate' first" in err and err.count("\n") == 1


def test_failed_command_loses_nothing(tiny_run, run_cli, tmp_path):
    root = tiny_run.paths.root
    before = tree_snapshot(root / "models")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: tiny\noutput_dir: x\ndataset: {}\n")
    code, _, err = run_cli("train", "-c", bad, "-o", root)
    assert code == 2 and "dataset.background: missing required key" in err
    assert tree_snapshot(root / "models") == before


def test_bench_resumes_and_compares(tiny_run, run_cli, tmp_path):
    """The bench reuses the run's trained dense_ae, trains the others it is asked for and tabulates them together."""
    root = tmp_path / "run"
    shutil.copytree(tiny_run.paths.root / "dataset", root / "dataset")
    shutil.copytree(tiny_run.paths.model, root / "models" / "dense_ae")
    trained = tree_snapshot(root / "models" / "dense_ae")
    code, out, err = run_cli("bench", "-c", "tiny", "-o", root, "--models", "dense_ae,gmm", "--workers", "0")
    assert code == 0, err
    assert "dense_ae already trained" in out and "trained gmm" in out
    assert tree_snapshot(root / "models" / "dense_ae") == trained
    results = pd.read_csv(root / "bench" / "results.csv")
    assert set(results.model) == {"dense_ae", "gmm"}
    first = pd.read_csv(tiny_run.paths.evaluation / "metrics.csv")
    assert results[results.model == "dense_ae"].efficiency.tolist() == first.efficiency.tolist()
    table = (root / "bench" / "results.md").read_text()
    assert "| dense_ae |" in table and "| gmm |" in table and (root / "bench" / "results.png").stat().st_size > 0

    # Benching one model again keeps the other, still current, model in the comparison.
    code, out, err = run_cli("bench", "-c", "tiny", "-o", root, "--models", "gmm", "--workers", "0")
    assert code == 0, err
    assert "2 models compared (1 from earlier runs)" in out
    again = pd.read_csv(root / "bench" / "results.csv")
    assert set(again.model) == {"dense_ae", "gmm"}
    assert again[again.model == "dense_ae"].efficiency.tolist() == first.efficiency.tolist()

    code, _, err = run_cli("bench", "-c", "tiny", "-o", root, "--models", "nope")
    assert code == 2 and "no bench model 'nope'" in err and err.count("\n") == 1


def test_pruned_training_runs_through_the_train_stage(tiny_run, tmp_path):
    """Per-epoch history and the once-recorded final sparsity both reach MLflow (they used to be zipped together)."""
    from l1ad.config import PruningConfig
    from l1ad.pipeline import stages
    from l1ad.pipeline.context import RunContext

    cfg = tiny_run.cfg.model_copy(update={
        "output_dir": str(tmp_path), "training": tiny_run.cfg.training.model_copy(update={
            "epochs": 3, "pruning": PruningConfig(final_sparsity=0.5, ramp_fraction=0.5)})})
    ctx = RunContext.create(cfg, log=lambda *_: None)
    detector = stages.train(ctx, stages.open_dataset(tiny_run))
    assert ctx.tracking_uri.endswith(f"{tmp_path}/mlflow.db")  # not the store of the run before, in this process
    assert len(detector.history["loss"]) > 1 and len(detector.history["weight_sparsity"]) == 1
    with sqlite3.connect(tmp_path / "mlflow.db") as con:
        keys = {r[0] for r in con.execute("select key from metrics")}
    assert {"loss", "weight_sparsity"} <= keys


def test_leaderboard_stage_has_its_mlflow_run(tiny_run):
    with sqlite3.connect(tiny_run.paths.root / "mlflow.db") as con:
        stages = {r[0] for r in con.execute("select value from tags where key = 'l1ad.stage'")}
    assert "leaderboard" in stages


def test_commands_print_no_tensorflow_start_up_noise(tiny_run):
    """On a CPU-only machine TensorFlow's C++ logs 'Unable to register cuDNN factory' lines at import."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([str(Path(sys.executable).with_name("l1ad")), "evaluate", "-c", "tiny", "-o",
                             str(tiny_run.paths.root)], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Unable to register" not in result.stderr and "cuda_dnn" not in result.stderr
