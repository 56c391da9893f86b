"""The detector contract (l1ad.models.base) and the typed files stages hand each other."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from l1ad.config import MODELS, EmulationConfig, ModelConfig
from l1ad.errors import DivergedModelError, L1adError, NotConvertibleError, StageOutputError
from l1ad.models import Detector, new_detector
from l1ad.models.builders import BUILDERS

SCHEMAS_DIR = Path(__file__).parents[1] / "schemas"


def _events(n: int, seed: int) -> np.ndarray:
    """Trigger objects (n, 19, 4) with positive pT and angles in range: enough for a classical model to fit."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 19, 4), dtype=np.float32)
    x[:, :, 0] = rng.exponential(10.0, size=(n, 19))
    x[:, :, 1] = rng.uniform(-2.4, 2.4, size=(n, 19))
    x[:, :, 2] = rng.uniform(-np.pi, np.pi, size=(n, 19))
    return x


@pytest.fixture(scope="module")
def gmm():
    return new_detector(ModelConfig(name="gmm", params={"n_components": 2}), seed=1).fit(_events(2000, 0))


def test_every_catalogued_model_has_a_builder_and_a_detector_honouring_the_contract():
    assert set(BUILDERS) == set(MODELS)
    for name in MODELS:
        assert isinstance(new_detector(ModelConfig(name=name)), Detector), name


def test_threshold_from_a_rate_and_the_trigger_decision(gmm):
    background = _events(20000, 1)
    gmm.set_threshold(background, fpr=0.01)
    accepted = gmm.predict(background)
    assert accepted.dtype == bool and accepted.mean() == pytest.approx(0.01, abs=1e-3)
    assert np.array_equal(accepted, gmm.decision_function(background) > 0)
    gmm.set_threshold(background, rate_khz=286.1, collision_rate_mhz=28.61)  # the same fraction, as a rate
    assert gmm.predict(background).mean() == pytest.approx(0.01, abs=1e-3)
    with pytest.raises(L1adError, match="exactly one of rate_khz and fpr"):
        gmm.set_threshold(background)
    with pytest.raises(L1adError, match=r"must lie in \(0, 1\)"):
        gmm.set_threshold(background, rate_khz=50e3)


def test_decision_needs_a_threshold():
    fresh = new_detector(ModelConfig(name="gmm", params={"n_components": 2}), seed=1).fit(_events(500, 0))
    with pytest.raises(L1adError, match="no threshold"):
        fresh.predict(_events(10, 1))


def test_classical_models_say_why_they_have_no_firmware(gmm):
    with pytest.raises(NotConvertibleError, match="scikit-learn"):
        gmm.trigger_network()
    with pytest.raises(NotConvertibleError):
        gmm.network_inputs(_events(3, 0))


def test_nan_scores_of_a_diverged_model_are_a_clear_error(gmm, tmp_path):
    gmm.save(tmp_path / "m")
    from l1ad.models.registry import load_detector

    broken = load_detector(tmp_path / "m")
    broken.estimator.means_ = np.full_like(broken.estimator.means_, np.nan)
    with pytest.raises(DivergedModelError, match="'gmm': 5 of 5 anomaly scores are NaN or Inf"):
        broken.score_samples(_events(5, 2))


def test_acceptance_of_the_training_dataset_travels_with_the_model(tmp_path):
    """Reconstructed eta is decoded to the training dataset's acceptance, not the emulation's default."""
    from l1ad.models.neural import AutoencoderDetector

    narrow = EmulationConfig(egamma_max_eta=2.5, muon_max_eta=2.1, jet_max_eta=3.0).eta_acceptance
    detector = AutoencoderDetector(ModelConfig(name="dense_ae"), acceptance=narrow)
    eta = detector.angle_scales.reshape(19, 3)[:, 1]
    assert eta[0] == 0 and set(eta[1:5]) == {2.5} and set(eta[5:9]) == {2.1} and set(eta[9:]) == {3.0}
    assert AutoencoderDetector(ModelConfig(name="dense_ae")).angle_scales.reshape(19, 3)[9, 1] == 4.0
    assert AutoencoderDetector(ModelConfig(name="dense_ae", params={"angles": "linear"})).angle_scales is None


def test_committed_json_schemas_are_current():
    from l1ad.pipeline.schemas import SCHEMAS, schema_text

    for name, model in SCHEMAS.items():
        path = SCHEMAS_DIR / name
        assert path.is_file(), f"{path} missing: run 'python -m l1ad.pipeline.schemas schemas'"
        assert path.read_text() == schema_text(model), f"{path} is stale: run 'python -m l1ad.pipeline.schemas schemas'"


@pytest.mark.parametrize(("reader", "file", "what"), [
    ("l1ad.benchmark.evaluation.report:read_metrics", "metrics.json", "metrics"),
    ("l1ad.firmware.report:read_firmware_report", "firmware.json", "firmware report"),
    ("l1ad.benchmark.datasets.dataset:read_manifest", "dataset.json", "dataset manifest"),
])
def test_stage_files_are_validated_on_read_with_one_line_naming_the_file(tmp_path, reader, file, what):
    import importlib

    module, function = reader.split(":")
    read = getattr(importlib.import_module(module), function)
    (tmp_path / file).write_text("{not json")
    with pytest.raises(StageOutputError, match=f"{file}: corrupt {what}") as corrupt:
        read(tmp_path)
    (tmp_path / file).write_text(json.dumps({"schema": "something/9"}))
    with pytest.raises(StageOutputError, match=f"{file}: invalid {what}") as invalid:
        read(tmp_path)
    for exc in (corrupt.value, invalid.value):
        assert "\n" not in str(exc)


def test_score_histogram_bins_keep_negative_scores():
    from l1ad.benchmark.evaluation.plots import score_bins

    scores = np.concatenate((np.linspace(-40, -5, 100), np.linspace(0, 3, 100)))  # a GMM's -log L is often negative
    bins = score_bins(scores)
    assert bins[0] == -40 and bins[-1] > 0
    assert score_bins(np.linspace(1, 2, 50))[0] == 0  # non-negative scores: the axis starts at zero
