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


def tree_snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
