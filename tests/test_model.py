import json
import pickle

import numpy as np
import pytest

from l1ad.errors import L1adError
from l1ad.models.neural import AutoencoderDetector

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tiny_run):
    return AutoencoderDetector.load(tiny_run.paths.model)


def test_saved_model_reproduces_scores(tiny_run, tiny_dataset, trained):
    from l1ad.benchmark.evaluation.report import read_arrays

    stored = read_arrays(tiny_run.paths.evaluation / "scores.h5", "scores")
    again = trained.score_samples(tiny_dataset.background("test").particles)
    assert np.array_equal(again, stored["background_test"])


def test_model_directory_format(tiny_run):
    files = {p.name for p in tiny_run.paths.model.iterdir()}
    assert files == {"model.json", "weights.h5", "preprocessing.json"}
    meta = json.loads((tiny_run.paths.model / "model.json").read_text())
    assert meta["format"] == "l1ad-model/2"
    assert meta["provenance"]["dataset_digest"] == json.loads((tiny_run.paths.dataset / "dataset.json").read_text())["digest"]
    assert len(meta["history"]["loss"]) >= 1 and "val_loss" in meta["history"]


def test_training_learns_and_anomalies_score_higher(tiny_dataset, trained):
    history = trained.history["loss"]
    assert history[-1] < history[0]
    bg = trained.score_samples(tiny_dataset.background("test").particles)
    tt = trained.score_samples(tiny_dataset.sample("ttbar").particles)
    assert np.median(tt) > np.median(bg)


def test_inputs_are_quantized_like_the_firmware(tiny_dataset, trained):
    x = trained.network_inputs(tiny_dataset.background("validation").particles[:200])
    lsb = 2.0 ** -(trained.model_config.quantization.input_bits - 1 - trained.model_config.quantization.input_integer_bits)
    assert np.allclose(np.round(x / lsb) * lsb, x)
    assert np.all(x.reshape(-1, 19, 3)[tiny_dataset.background("validation").particles[:200, :, 0] == 0] == 0)


def _copy_model(src, dst):
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda d: (d / "weights.h5").write_bytes(b"\x00" * 64), "not an HDF5 weights file"),
        (lambda d: (d / "model.json").write_text("{not json"), "corrupt model metadata"),
        (lambda d: (d / "preprocessing.json").unlink(), "missing preprocessing file"),
        (lambda d: _edit_meta(d, lambda m: m.update(format="keras-pickle")), "unsupported model format"),
        (lambda d: _edit_meta(d, lambda m: m["model"].update(name="evil")), "unknown model 'evil'"),
        (lambda d: _edit_meta(d, lambda m: m["model"].update(latent_dim=5)), "weights do not match the model"),
    ],
)
def test_tampered_model_refused(tmp_path, tiny_run, tamper, expected):
    model_dir = _copy_model(tiny_run.paths.model, tmp_path / "m")
    tamper(model_dir)
    with pytest.raises(L1adError) as err:
        AutoencoderDetector.load(model_dir)
    assert expected in str(err.value) and "\n" not in str(err.value)


def _edit_meta(directory, change):
    meta = json.loads((directory / "model.json").read_text())
    change(meta)
    (directory / "model.json").write_text(json.dumps(meta))


class _Exploit:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(_Exploit.target),))


def test_pickle_payload_in_place_of_weights_is_never_executed(tmp_path, tiny_run):
    model_dir = _copy_model(tiny_run.paths.model, tmp_path / "m")
    _Exploit.target = str(tmp_path / "pwned")
    (model_dir / "weights.h5").write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(L1adError, match="not an HDF5 weights file"):
        AutoencoderDetector.load(model_dir)
    assert not (tmp_path / "pwned").exists()


def test_fit_rejects_bad_input(tiny_config):
    det = AutoencoderDetector(tiny_config.model, tiny_config.training)
    with pytest.raises(L1adError, match=r"shape \(N, 19, 4\), got \(10, 57\)"):
        det.fit(np.zeros((10, 57), dtype=np.float32))
    bad = np.zeros((10, 19, 4), dtype=np.float32)
    bad[3, 2, 0] = np.inf
    with pytest.raises(L1adError, match="NaN or Inf"):
        det.fit(bad)
    with pytest.raises(L1adError, match="not fitted"):
        det.score_samples(np.zeros((2, 19, 4), dtype=np.float32))
