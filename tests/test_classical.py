import numpy as np
import pytest

from l1ad.config import ModelConfig
from l1ad.errors import L1adError
from l1ad.models.classical import ClassicalDetector
from l1ad.models.registry import load_detector

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tiny_dataset):
    return tiny_dataset.background("train").particles, tiny_dataset.background("test").particles, \
        tiny_dataset.sample("ttbar").particles


@pytest.mark.parametrize("name", ["isolation_forest", "gmm"])
def test_fit_score_save_load(tmp_path, data, name):
    train, test, signal = data
    det = ClassicalDetector(ModelConfig(name=name), seed=3).fit(train[:2000])
    bg, sig = det.score_samples(test), det.score_samples(signal)
    assert np.median(sig) > np.median(bg)  # ttbar is more anomalous than zero bias
    det.save(tmp_path / "m")
    back = load_detector(tmp_path / "m")
    assert isinstance(back, ClassicalDetector)
    assert np.array_equal(back.score_samples(test), bg)


def test_seed_makes_the_forest_reproducible(data):
    train, test, _ = data
    a = ClassicalDetector(ModelConfig(name="isolation_forest"), seed=1).fit(train[:1000]).score_samples(test[:100])
    b = ClassicalDetector(ModelConfig(name="isolation_forest"), seed=1).fit(train[:1000]).score_samples(test[:100])
    c = ClassicalDetector(ModelConfig(name="isolation_forest"), seed=2).fit(train[:1000]).score_samples(test[:100])
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_hostile_estimator_file_is_refused_unexecuted(tmp_path, data):
    import os

    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    det = ClassicalDetector(ModelConfig(name="gmm"), seed=3).fit(data[0][:500])
    det.save(tmp_path / "m")
    marker = tmp_path / "pwned"
    skops.io.dump(FunctionTransformer(func=os.system, kw_args={"command": f"touch {marker}"}),
                  tmp_path / "m" / "estimator.skops")
    with pytest.raises(L1adError, match="refused, it holds types outside the allow-list"):
        load_detector(tmp_path / "m")
    assert not marker.exists()


def test_unknown_param_rejected():
    with pytest.raises(ValueError, match="model 'gmm' has no parameter 'n_trees' \\(accepted: n_components, reg_covar\\)"):
        ModelConfig(name="gmm", params={"n_trees": 3})
