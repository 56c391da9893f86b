"""Every module must import on its own in a fresh interpreter: Dask workers unpickle tasks that way, and an import
cycle that a long-lived process hides kills them. They run from the repository root, where users type
``python -c`` too, so a source folder there that shadows the installed namespace fails here."""

import subprocess
import sys
from pathlib import Path

import pytest

MODULES = [
    "l1ad.config", "l1ad.cli", "l1ad.pipeline", "l1ad.tracking",
    "l1ad.benchmark", "l1ad.benchmark.generation", "l1ad.benchmark.emulation", "l1ad.benchmark.build",
    "l1ad.benchmark.dataset", "l1ad.benchmark.metrics", "l1ad.benchmark.jets", "l1ad.benchmark.jet_dataset",
    "l1ad.models", "l1ad.models.classical", "l1ad.firmware.hls", "l1ad.leaderboards.board", "l1ad.distill",
]


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stderr.strip().splitlines()[-1]
