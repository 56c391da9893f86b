"""Shared fixtures: one real tiny run of the whole chain, reused by the integration and regression tests."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def tiny_config(tmp_path_factory):
    from l1ad.config import load_config

    return load_config("tiny", output_dir=str(tmp_path_factory.mktemp("tiny_run")))


@pytest.fixture(scope="session")
def tiny_run(tiny_config):
    """The whole chain on the shipped tiny config (real Pythia, QKeras, hls4ml, MLflow), run once per session."""
    from l1ad.pipeline.context import RunContext
    from l1ad.pipeline.stages import run_all

    ctx = RunContext.create(tiny_config, log=lambda *_: None)
    run_all(ctx)
    return ctx


@pytest.fixture(scope="session")
def tiny_dataset(tiny_run):
    from l1ad.benchmark.datasets.dataset import load_dataset

    return load_dataset(tiny_run.paths.dataset)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def run_cli(capsys):
    """Run ``l1ad`` in-process; returns (exit code, stdout, stderr)."""
    from l1ad.cli import main

    def run(*args: str):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def example_board() -> dict:
    """A ``board.json`` document of the current schema with one entry, from a small evaluation of made-up scores.

    The committed ``leaderboards/board.json`` is a published result, rewritten by the main job (and of an older schema
    until it is), so tests that need a valid board start from this one instead.
    """
    import json

    import numpy as np

    from l1ad.benchmark.datasets.manifest import DatasetRef
    from l1ad.benchmark.evaluation.report import evaluate_scores
    from l1ad.benchmark.trigger.menu import menu_decisions
    from l1ad.config import EvaluationConfig
    from l1ad.leaderboards.board import Board, EntryProvenance, entry_from_reports

    rng = np.random.default_rng(11)
    scores = {"background_test": rng.normal(0, 1, 5000), "ttbar": rng.normal(2, 1, 400), "zll": rng.normal(1, 1, 400)}
    menu_accepts = {}
    for name, s in scores.items():  # a 30 GeV muon (SingleMu22) in every tenth event
        particles = np.zeros((len(s), 19, 4), dtype=np.float32)
        particles[::10, 5] = (30, 0.0, 0.0, 3)
        menu_accepts[name] = menu_decisions(particles, EvaluationConfig().menu)["menu"]
    cfg = EvaluationConfig(rates_khz=[100.0], leaderboard_rate_khz=300.0, bootstrap_samples=20)
    dataset = DatasetRef(name="zb", version="0.2", digest="970afda7669b", zero_bias=True)
    report = evaluate_scores(scores, ["ttbar", "zll"], cfg, model="dense_ae", dataset=dataset,
                             menu_accepts=menu_accepts, trained_on=dataset.digest)
    provenance = EntryProvenance(l1ad_version="0.1.0", git_commit="cc303f1", config="default",
                                 config_digest="fc4715524410", seed=42, n_background_test=5000,
                                 efficiency_source=report.source, date="2026-12-01")
    entry = entry_from_reports(report, None, submitter="l1ad-bench baseline", provenance=provenance)
    return json.loads(json.dumps(Board(entries=[entry]).model_dump(by_alias=True)))


def tree_snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
