import json

import h5py
import numpy as np
import pytest

from l1ad.benchmark.jets import FEATURE_NAMES, JET_CLASSES
from l1ad.errors import L1adError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def jets_dir(tmp_path_factory):
    from l1ad.benchmark.datasets.jets import build_jets_dataset
    from l1ad.config import dataset_definition

    cfg = dataset_definition("jets").resolve("tiny").model_copy(update={"shard_size": 25})
    return build_jets_dataset(cfg, 11, tmp_path_factory.mktemp("jets")).directory


def test_files_splits_and_classes(jets_dir):
    from l1ad.benchmark.datasets.jets import load_jets

    manifest = json.loads((jets_dir / "dataset.json").read_text())
    assert manifest["kind"] == "jets" and manifest["features"] == list(FEATURE_NAMES)
    for domain in ("nominal", "alternative"):
        for split, n in (("train", 40), ("validation", 20), ("test", 20)):
            jets = load_jets(jets_dir / f"jets_{domain}_{split}.h5")
            assert jets.domain == domain
            assert np.bincount(jets.labels).tolist() == [n] * len(JET_CLASSES)  # 40 train = two shards of 25 + 15
            assert jets.constituents.shape == (n * 5, 32, 3) and jets.features.shape == (n * 5, 16)
            assert np.all((jets.kinematics[:, 0] >= 500) & (jets.kinematics[:, 0] <= 1000))
    resim = load_jets(jets_dir / "resimulated.h5")
    assert resim.constituents.shape[:2] == (25, 3)
    assert not np.array_equal(resim.constituents[:, 0], resim.constituents[:, 1])  # copies differ
    assert (jets_dir / "CARD.md").is_file() and (jets_dir / "card" / "features.png").stat().st_size > 0


def test_splits_are_different_events(jets_dir):
    from l1ad.benchmark.datasets.jets import load_jets

    train = load_jets(jets_dir / "jets_nominal_train.h5").kinematics[:, 0]
    test = load_jets(jets_dir / "jets_nominal_test.h5").kinematics[:, 0]
    assert not np.intersect1d(train, test).size


def test_bad_jets_file(tmp_path, jets_dir):
    from l1ad.benchmark.datasets.jets import load_jets

    with h5py.File(jets_dir / "jets_nominal_test.h5") as src, h5py.File(tmp_path / "bad.h5", "w") as dst:
        for key in ("Constituents", "Labels", "Kinematics"):
            dst[key] = src[key][...]
        dst["Features"] = np.full((len(src["Labels"]), 16), np.nan, dtype=np.float32)
    with pytest.raises(L1adError, match="bad.h5: 'Features' has NaN or Inf"):
        load_jets(tmp_path / "bad.h5")
    (tmp_path / "junk.h5").write_text("junk")
    with pytest.raises(L1adError, match="not a readable HDF5 file"):
        load_jets(tmp_path / "junk.h5")


def test_cli_generates_and_inspects_jets(tmp_path, run_cli):
    code, _, err = run_cli("data", "generate", "--dataset", "jets", "--size", "tiny", "-c", "tiny", "-o", tmp_path,
                           "--workers", "0")
    assert code == 0, err
    code, out, _ = run_cli("data", "inspect", tmp_path / "jets")
    assert code == 0 and "jets_alternative_test" in out and "q:20" in out
    code, _, err = run_cli("train", "-c", "tiny", "--dataset", "jets", "-o", tmp_path)
    assert code == 2 and "boosted jets for taggers, not trigger objects" in err


def test_jets_builder_never_overwrites_another_dataset(tmp_path, tiny_dataset):
    """A directory holding another dataset (here the zb run's) is refused before any generation, as for zb and adc."""
    import shutil

    from l1ad.benchmark.datasets.jets import build_jets_dataset
    from l1ad.config import dataset_definition

    target = tmp_path / "taken"
    shutil.copytree(tiny_dataset.directory, target)
    before = sorted(p.name for p in target.iterdir())
    with pytest.raises(L1adError, match="holds dataset 'zb' .* not 'jets' .* --force"):
        build_jets_dataset(dataset_definition("jets").resolve("tiny"), 1, target)
    assert sorted(p.name for p in target.iterdir()) == before
