import json

import h5py
import numpy as np
import pytest
from conftest import tree_snapshot

from l1ad.benchmark.datasets.dataset import Dataset, load_dataset
from l1ad.benchmark.datasets.samples import Sample, load_sample, write_sample
from l1ad.errors import L1adError


def _particles(n=5, seed=0):
    p = np.random.default_rng(seed).uniform(1, 50, size=(n, 19, 4)).astype(np.float32)
    p[:, 4:, :] = 0
    return p


def test_roundtrip_keeps_arrays_and_metadata(tmp_path):
    regions = np.arange(5 * 18 * 14, dtype=np.uint16).reshape(5, 18, 14)
    sample = Sample("bg", _particles(), regions, {"label": "background", "seeds": [1, 2]})
    write_sample(tmp_path / "s.h5", sample)
    back = load_sample(tmp_path / "s.h5")
    assert back.name == "bg" and back.metadata["label"] == "background" and back.metadata["seeds"] == [1, 2]
    assert np.array_equal(back.particles, sample.particles) and np.array_equal(back.regions, regions)
    assert not list(tmp_path.glob("*.tmp"))


def test_public_adc2021_file_layout_loads(tmp_path):
    """A file with exactly the keys of the public ADC2021 release (no Regions, extra EvtId, float64)."""
    path = tmp_path / "BlackBox_13TeV_PU20.h5"
    with h5py.File(path, "w") as f:
        f["Particles"] = _particles(7).astype(np.float64)
        f["Particles_Names"] = np.array([b"Pt", b"Eta", b"Phi", b"Class"])
        f["Particles_Classes"] = np.array([b"MET_class_1", b"Four_Ele_class_2", b"Four_Mu_class_3", b"Ten_Jet_class_4"])
        f["EvtId"] = np.arange(7)
    sample = load_dataset(path)
    assert isinstance(sample, Sample)
    assert sample.name == "BlackBox_13TeV_PU20" and sample.particles.shape == (7, 19, 4) and sample.regions is None
    assert sample.particles.dtype == np.float32


def _h5(path, **datasets):
    """A file with the given datasets, and ADC2021's Particles_Names unless the caller gives its own."""
    datasets.setdefault("Particles_Names", np.array([b"Pt", b"Eta", b"Phi", b"Class"]))
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            f[k] = v
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p, "no such data file"),
        (lambda p: (p.write_bytes(b""), p)[1], "file is empty"),
        (lambda p: (p.write_bytes(b"this is not hdf5 at all" * 100), p)[1], "not a readable HDF5 file"),
        (lambda p: _h5(p, Other=np.zeros(3)), "missing dataset 'Particles' (keys: Other, Particles_Names)"),
        (lambda p: _h5(p, Particles=np.zeros((4, 19, 3))), "has shape (4, 19, 3), expected (N, 19, 4)"),
        (lambda p: _h5(p, Particles=np.zeros((0, 19, 4))), "holds no events"),
        (lambda p: _h5(p, Particles=np.where(np.arange(4)[:, None, None] == 2, np.nan, np.zeros((4, 19, 4)))),
         "NaN or Inf values in 1 events"),
        (lambda p: _h5(p, Particles=np.zeros((4, 19, 4)), Regions=np.zeros((4, 14, 18))), "'Regions' has shape"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, make, expected):
    path = make(tmp_path / "bad.h5")
    with pytest.raises(L1adError) as err:
        load_sample(path)
    assert expected in str(err.value) and "bad.h5" in str(err.value) and "\n" not in str(err.value)


def test_truncated_file(tmp_path):
    good = tmp_path / "good.h5"
    write_sample(good, Sample("x", _particles(2000)))
    data = good.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(L1adError, match="cut.h5: (not a readable HDF5 file|file is truncated or corrupt)"):
        load_sample(tmp_path / "cut.h5")


def test_directory_without_manifest(tmp_path):
    with pytest.raises(L1adError, match="not a dataset directory"):
        load_dataset(tmp_path)


def test_cli_inspect_bad_file_exits_nonzero(tmp_path, run_cli):
    (tmp_path / "bad.h5").write_text("garbage")
    code, _, err = run_cli("data", "inspect", tmp_path / "bad.h5")
    assert code == 2 and err.startswith("l1ad: error:") and err.count("\n") == 1


@pytest.mark.slow
def test_generated_dataset_layout(tiny_dataset, tiny_config):
    assert isinstance(tiny_dataset, Dataset)
    assert set(tiny_dataset.signal_names) == set(tiny_config.dataset.signals)
    bg = tiny_dataset.background("test")
    p = bg.particles
    assert p.shape == (tiny_config.dataset.background.test, 19, 4)
    assert np.all(p[:, 0, 3] == 1) and np.all(p[:, 0, 1] == 0)
    for rows, cls in ((slice(1, 5), 2), (slice(5, 9), 3), (slice(9, 19), 4)):
        block = p[:, rows]
        present = block[:, :, 0] > 0
        assert np.all(block[present][:, 3] == cls)
        assert np.all(block[~present] == 0)  # padding is all-zero
        assert np.all(np.diff(block[:, :, 0], axis=1) <= 0)  # pT-ordered within the class
    assert np.all(np.abs(p[:, 9:, 1]) <= 4.0) and np.all(np.abs(p[:, 1:5, 1]) <= 3.0) and np.all(np.abs(p[:, 5:9, 1]) <= 2.4)
    assert bg.regions.shape == (len(p), 18, 14)
    assert bg.metadata["label"] == "background" and bg.metadata["seed"] == tiny_config.seed
    # zero bias with pile-up 60 has jets; ttbar has many more and more muons
    tt = tiny_dataset.sample("ttbar").particles
    assert (tt[:, 9:, 0] > 0).sum(1).mean() > (p[:, 9:, 0] > 0).sum(1).mean()
    assert (tt[:, 5:9, 0] > 0).mean() > (p[:, 5:9, 0] > 0).mean()


def _small(tiny_config, **blind):
    from l1ad.config import BlindSizes
    from l1ad.config.datasets import PileupPools

    return tiny_config.dataset.model_copy(update={
        "pileup_pools": PileupPools(train=60, validation=30, test=60, blind=30, signal=30), "shard_size": 150, "signals": {"htautau": 60, "zll": 40},
        "background": tiny_config.dataset.background.model_copy(update={"train": 200, "validation": 50, "test": 300}),
        "blind": BlindSizes(**blind)})


@pytest.mark.slow
def test_generation_is_deterministic_and_cached(tmp_path, tiny_config):
    from l1ad.benchmark.datasets.build import build_dataset

    small = _small(tiny_config)
    a = build_dataset(small, 3, tmp_path / "a")
    build_dataset(small, 3, tmp_path / "b")
    for entry in a.manifest.samples.values():  # same seed: byte-identical files, per-crossing truth included
        assert (tmp_path / "a" / entry.file).read_bytes() == (tmp_path / "b" / entry.file).read_bytes()
    assert a.background("test").truth is not None and np.all(a.sample("zll").truth.hardest_source == 3)
    pileup = a.manifest.pileup
    assert set(pileup.pools) == {"train", "validation", "test", "signal"}  # no blind sample here: no blind pool
    assert pileup.stitching.hard_fraction == pytest.approx(0.0022, rel=0.1)  # Pythia: 0.17 mb / 78.6 mb
    assert pileup.pools["test"].reuse_factor == pytest.approx(300 * 60 * (1 - pileup.stitching.hard_fraction) / 60)
    before = tree_snapshot(tmp_path / "a")
    again = build_dataset(small, 3, tmp_path / "a")  # cached: nothing rewritten
    assert tree_snapshot(tmp_path / "a") == before and again.digest == a.digest
    c = build_dataset(small, 4, tmp_path / "c")
    assert not np.array_equal(c.background("test").particles, a.background("test").particles)
    card = (tmp_path / "a" / "CARD.md").read_text()
    assert all(f"| `{name}` | " in card for name in a.manifest.samples)
    assert "## Reference Level-1 menu and the background tails" in card and "| `SingleMu22` |" in card
    assert "| leading jet pT |" in card and "reuse factor" in card
    assert (tmp_path / "a" / "card" / "rates_vs_pileup.png").stat().st_size > 0
    # The card reads only the samples it plots: without the training splits it is written all the same.
    from l1ad.benchmark.datasets.card import write_card

    (tmp_path / "a" / "background_train.h5").unlink()
    (tmp_path / "a" / "background_validation.h5").unlink()
    assert write_card(a).is_file()
    assert all((tmp_path / "a" / "card" / f).stat().st_size > 0 for f in ("multiplicities.png", "spectra.png", "regions.png"))


@pytest.mark.slow
def test_dask_workers_give_the_same_dataset(tmp_path, tiny_config):
    """Shards run on a real two-worker LocalCluster and merge to exactly the in-process result."""
    from l1ad.benchmark.datasets.build import build_dataset
    from l1ad.benchmark.datasets.parallel import Execution

    small = _small(tiny_config)
    local = build_dataset(small, 5, tmp_path / "local", execution=Execution(workers=0))
    dask = build_dataset(small, 5, tmp_path / "dask", execution=Execution(workers=2))
    assert dask.manifest.execution.workers == 2
    assert len(dask.background("test")) == 300  # two shards of 150
    for name in local.manifest.samples:
        assert np.array_equal(local.sample(name).particles, dask.sample(name).particles)
        assert np.array_equal(local.sample(name).regions, dask.sample(name).regions)


@pytest.mark.slow
def test_blind_sample_keeps_labels_apart(tmp_path, tiny_config):
    import h5py

    from l1ad.benchmark.datasets.build import blind_labels_path, build_dataset

    data = build_dataset(_small(tiny_config, background=300, per_signal=100), 6, tmp_path / "d")
    blind = data.sample("blind")
    assert len(blind) == 500 and list(blind.event_ids) == list(range(500))
    with h5py.File(blind.path) as f:
        assert set(f) == {"Particles", "Particles_Names", "Particles_Classes", "Regions", "EvtId"}
    assert "blind" not in data.signal_names
    labels_file = blind_labels_path(tmp_path / "d")
    assert labels_file.parent != blind.path.parent and not list((tmp_path / "d").rglob("*label*"))
    with h5py.File(labels_file) as f:
        truth, names = f["truth"][...], json.loads(f.attrs["truth_names"])
    assert names == ["background", "htautau", "zll"]
    assert np.bincount(truth).tolist() == [300, 100, 100]
    assert 0 < np.flatnonzero(truth == 0).mean() / 500 < 1 and truth[:100].tolist() != sorted(truth[:100].tolist())
    # the labels belong to these events: Z -> ll events carry leptons far more often than zero bias
    leptons = (blind.particles[:, 1:9, 0] > 20).any(axis=1)
    assert leptons[truth == 2].mean() > leptons[truth == 0].mean() + 0.3


@pytest.mark.slow
def test_standard_dataset_loads_by_name(tiny_dataset, tmp_path):
    import shutil

    shutil.copytree(tiny_dataset.directory, tmp_path / "some-run" / "dataset")
    found = load_dataset("zb", size="tiny", search=tmp_path)
    assert isinstance(found, Dataset) and found.directory == tmp_path / "some-run" / "dataset"
    with pytest.raises(L1adError, match=r"'zb' \(default\) is not generated under .*l1ad data generate --dataset zb"):
        load_dataset("zb", search=tmp_path)


@pytest.mark.slow
def test_a_different_dataset_is_not_overwritten(tiny_dataset, tiny_config, tmp_path):
    import shutil

    from l1ad.benchmark.datasets.build import build_dataset

    directory = tmp_path / "dataset"
    shutil.copytree(tiny_dataset.directory, directory)
    before = tree_snapshot(directory)
    other = tiny_config.dataset.model_copy(update={"name": "other"})
    with pytest.raises(L1adError, match="holds dataset 'zb' \\(tiny\\), not 'other' \\(tiny\\); .* --force"):
        build_dataset(other, 7, directory)
    assert tree_snapshot(directory) == before
