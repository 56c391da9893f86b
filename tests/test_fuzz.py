"""Fuzzing every loader: whatever malformed input it gets, it ends in one L1adError line, never another exception,
and quickly (hypothesis' per-example deadline)."""

from __future__ import annotations

import json
import string
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from conftest import example_board
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l1ad.errors import L1adError

FUZZ = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
REPO = Path(__file__).parents[1]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=20,
)


def _mutations(document: dict) -> st.SearchStrategy:
    """A real document with one key replaced by junk, deleted, or the whole thing replaced."""
    keys = sorted(document)
    replace = st.tuples(st.sampled_from(keys), json_values).map(lambda kv: {**document, kv[0]: kv[1]})
    delete = st.sampled_from(keys).map(lambda k: {key: v for key, v in document.items() if key != k})
    return st.one_of(replace, delete, json_values)


def _expect_one_line_error_or_success(call) -> None:
    try:
        call()
    except L1adError as exc:
        assert "\n" not in str(exc) and str(exc)


# -- JSON stage files ---------------------------------------------------------------------------------------------
BOARD = example_board()


@FUZZ
@given(document=_mutations(BOARD))
def test_board_loader(tmp_path, document):
    from l1ad.leaderboards.board import read_board

    (tmp_path / "board.json").write_text(json.dumps(document))
    _expect_one_line_error_or_success(lambda: read_board(tmp_path))


ENTRY = BOARD["entries"][0]


@FUZZ
@given(entry=_mutations(ENTRY))
def test_board_entry_loader(tmp_path, entry):
    from l1ad.leaderboards.board import read_board

    (tmp_path / "board.json").write_text(json.dumps({"schema": "l1ad-leaderboard/3", "entries": [entry]}))
    _expect_one_line_error_or_success(lambda: read_board(tmp_path))


@FUZZ
@given(document=json_values, raw=st.binary(max_size=64))
def test_stage_output_loaders(tmp_path, document, raw):
    from l1ad.benchmark.datasets.dataset import read_manifest
    from l1ad.benchmark.evaluation.report import read_metrics
    from l1ad.firmware.report import read_firmware_report

    for read, name in ((read_metrics, "metrics.json"), (read_firmware_report, "firmware.json"),
                       (read_manifest, "dataset.json")):
        (tmp_path / name).write_text(json.dumps(document))
        _expect_one_line_error_or_success(lambda read=read: read(tmp_path))
        (tmp_path / name).write_bytes(raw)
        _expect_one_line_error_or_success(lambda read=read: read(tmp_path))


# -- configs ----------------------------------------------------------------------------------------------------
TINY = yaml.safe_load((REPO / "src" / "l1ad" / "configs" / "tiny.yaml").read_text())


@FUZZ
@given(config=_mutations(TINY), text=st.text(alphabet=string.printable, max_size=80))
def test_config_loader(tmp_path, config, text):
    from l1ad.config import load_config

    (tmp_path / "a.yaml").write_text(yaml.safe_dump(config) if isinstance(config, dict) else json.dumps(config))
    _expect_one_line_error_or_success(lambda: load_config(tmp_path / "a.yaml"))
    (tmp_path / "b.yaml").write_text(text)
    _expect_one_line_error_or_success(lambda: load_config(tmp_path / "b.yaml"))


# -- HDF5 sample files ------------------------------------------------------------------------------------------
DTYPES = ["f4", "f8", "i4", "u2", "c8", "S3", "?"]


@FUZZ
@given(
    shape=st.lists(st.integers(0, 20), min_size=0, max_size=4),
    dtype=st.sampled_from(DTYPES),
    names=st.one_of(st.none(), st.lists(st.sampled_from(["Pt", "Eta", "Phi", "Class", "x"]), min_size=0, max_size=5)),
    extra=st.sampled_from(["none", "regions", "group", "evtid"]),
    seed=st.integers(0, 2**16),
)
def test_sample_file_loader(tmp_path, shape, dtype, names, extra, seed):
    from l1ad.benchmark.datasets.samples import load_sample

    rng = np.random.default_rng(seed)
    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as f:
        values = rng.normal(size=shape) * 50
        f.create_dataset("Particles", data=values.astype(dtype) if dtype != "S3" else values.astype("S3"))
        if names is not None:
            f.create_dataset("Particles_Names", data=np.array(names, dtype="S"))
        if extra == "regions":
            f.create_dataset("Regions", data=rng.integers(-5, 5, size=(3, 18, 14)))
        elif extra == "group":
            f.create_group("Regions")
        elif extra == "evtid":
            f.create_dataset("EvtId", data=rng.normal(size=3))
    _expect_one_line_error_or_success(lambda: load_sample(path))


@FUZZ
@given(raw=st.binary(max_size=256))
def test_sample_file_loader_on_random_bytes(tmp_path, raw):
    from l1ad.benchmark.datasets.samples import load_sample

    (tmp_path / "r.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + raw)
    _expect_one_line_error_or_success(lambda: load_sample(tmp_path / "r.h5"))


# -- model directories -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A real saved scikit-learn model (quick to fit) to mutate; TensorFlow is imported here, once, because a mutated
    card naming a network rebuilds it (the time limit is per example, not for a first import)."""
    import tensorflow  # noqa: F401

    from l1ad.config import ModelConfig
    from l1ad.models import new_detector

    rng = np.random.default_rng(0)
    x = np.zeros((400, 19, 4), dtype=np.float32)
    x[:, :, 0] = rng.exponential(10, size=(400, 19))
    directory = tmp_path_factory.mktemp("model") / "gmm"
    new_detector(ModelConfig(name="gmm", params={"n_components": 2}), seed=1).fit(x).save(directory)
    return directory


@settings(FUZZ, deadline=10000)
@given(data=st.data())
def test_model_directory_loader(tmp_path, model_dir, data):
    import shutil

    from l1ad.models.registry import load_detector

    target = tmp_path / "m"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(model_dir, target)
    for name in ("model.json", "preprocessing.json"):
        document = json.loads((model_dir / name).read_text())
        (target / name).write_text(json.dumps(data.draw(_mutations(document), label=name)))
    _expect_one_line_error_or_success(lambda: load_detector(target))
