"""Module boundaries: dependencies run one way (import-linter), and the modules Dask workers import load alone.

Dask workers unpickle generation tasks by importing their modules in a fresh interpreter, so those must import on
their own; they run from the repository root, where users type ``python -c`` too, so a source folder there that
shadows the installed namespace fails here as well.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import l1ad

ROOT = Path(__file__).parents[1]
WORKER_MODULES = ["l1ad.benchmark.datasets.build", "l1ad.benchmark.datasets.jets", "l1ad.cli", "l1ad.pipeline.stages"]


@pytest.mark.parametrize("module", WORKER_MODULES)
def test_module_imports_alone(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr.strip().splitlines()[-1]


def _lint_imports(package_parent: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), str(ROOT / "pyproject.toml"), "--no-cache"], capture_output=True,
                          text=True, timeout=300, cwd=package_parent, env={"PYTHONPATH": str(package_parent)})


def test_layers_contract_is_kept_and_a_reversed_import_breaks_it(tmp_path):
    installed = Path(l1ad.__file__).parent
    clean = tmp_path / "clean"
    shutil.copytree(installed, clean / "l1ad", ignore=shutil.ignore_patterns("__pycache__"))
    kept = _lint_imports(clean)
    assert kept.returncode == 0, kept.stdout[-2000:]
    assert "0 broken" in kept.stdout

    reversed_ = tmp_path / "reversed"
    shutil.copytree(clean, reversed_)
    # the data stage reaching up into the model stage: exactly what the contract forbids
    (reversed_ / "l1ad" / "benchmark" / "shortcut.py").write_text("from l1ad.models.base import Detector\n")
    broken = _lint_imports(reversed_)
    assert broken.returncode != 0
    assert "l1ad.benchmark is not allowed to import l1ad.models" in broken.stdout
