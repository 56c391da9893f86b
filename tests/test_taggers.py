"""Jet taggers and the robustness study: contrastive losses, augmentations, pairing, metrics, taggers, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from l1ad.benchmark.jets.augment import augment, collinear_split, present, rotate, smear, translate
from l1ad.config.robustness import DomainMatch, JetAugmentations, Rejection, VicregWeights


def _jets(n=200, n_slots=32, seed=0):
    """Constituent arrays in the dataset's layout: pT fractions ordered by pT, zero padding, some jets full."""
    rng = np.random.default_rng(seed)
    c = np.zeros((n, n_slots, 3), np.float32)
    for i, k in enumerate(rng.integers(3, n_slots + 10, size=n)):
        k = min(k, n_slots)
        pt = np.sort(rng.exponential(size=k))[::-1]
        c[i, :k, 0] = pt / pt.sum()
        c[i, :k, 1:] = rng.normal(0, 0.2, size=(k, 2))
    return c


# -- losses ---------------------------------------------------------------------------------------------------------
def test_nt_xent_known_value():
    from l1ad.models.contrastive import nt_xent

    z = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    # every row: partner at cosine 1, the two others at 0 -> -log(e / (e + 2)) at temperature 1
    assert float(nt_xent(z, z, 1.0)) == pytest.approx(math.log(1 + 2 / math.e), rel=1e-6)
    # at temperature 0.5 and with the partner orthogonal (rows swapped), the loss is higher than aligned
    assert float(nt_xent(z, z[::-1].copy(), 0.5)) > float(nt_xent(z, z, 0.5))


def test_vicreg_known_values():
    from l1ad.models.contrastive import vicreg, vicreg_terms

    weights = VicregWeights()
    # a dimension without variance costs 1 - sqrt(1e-4) = 0.99 per branch (mean over 2 dimensions: 0.495)
    z = np.array([[1.0, 0.0], [-1.0, 0.0]], np.float32)
    invariance, variance, covariance = (float(t) for t in vicreg_terms(z, z))
    assert (invariance, covariance) == (0.0, 0.0) and variance == pytest.approx(0.99, rel=1e-5)
    assert float(vicreg(z, z, weights)) == pytest.approx(25 * 0.99, rel=1e-5)
    # fully correlated dimensions: covariance [[2, 2], [2, 2]] -> 2 x 2^2 / 2 = 4 per branch; invariance 0.1^2 / 2
    z1 = np.array([[1.0, 1.0], [-1.0, -1.0]], np.float32)
    z2 = z1 + np.array([0.1, 0.0], np.float32)
    invariance, variance, covariance = (float(t) for t in vicreg_terms(z1, z2))
    assert invariance == pytest.approx(0.005, rel=1e-5) and variance == 0.0 and covariance == pytest.approx(8.0)
    assert float(vicreg(z1, z2, weights)) == pytest.approx(25 * 0.005 + 8.0, rel=1e-5)


# -- augmentations --------------------------------------------------------------------------------------------------
def test_augmentations_keep_pt_sum_count_and_padding():
    c, rng = _jets(), np.random.default_rng(1)
    pt_sum, count = c[..., 0].sum(axis=1), present(c).sum(axis=1)
    for view in (rotate(c, rng), translate(c, rng, 0.3), smear(c, np.full(len(c), 600.0), rng, 0.1)):
        assert np.array_equal(view[..., 0], c[..., 0])  # pT untouched, so its sum and the count are too
        assert np.all(view[~present(c)] == 0) and not np.allclose(view[..., 1:], c[..., 1:])
    r = rotate(c, rng)
    assert np.allclose(np.hypot(r[..., 1], r[..., 2]), np.hypot(c[..., 1], c[..., 2]), atol=1e-6)  # about the axis
    split = collinear_split(c, rng, 0.5)
    assert np.allclose(split[..., 0].sum(axis=1), pt_sum, atol=1e-6)
    added = present(split).sum(axis=1) - count
    full = count == c.shape[1]
    assert full.any() and np.all(added[full] == 0) and added[~full].sum() > 0
    assert np.all(present(split).sum(axis=1) <= c.shape[1]) and np.all(split[~present(split)] == 0)
    assert np.all(np.diff(split[..., 0], axis=1) <= 0)  # still ordered by pT
    view = augment(c, np.full(len(c), 600.0), rng, JetAugmentations())
    assert np.allclose(view[..., 0].sum(axis=1), pt_sum, atol=1e-6) and np.all(present(view).sum(axis=1) >= count)


def test_smearing_moves_soft_constituents_more():
    from l1ad.benchmark.jets.augment import MAX_SMEARING

    c = np.zeros((4000, 3, 3), np.float32)
    c[:, :, 0] = 0.99, 0.01 - 1e-15, 1e-15  # 990 GeV, 10 GeV and 1e-12 GeV in a 1 TeV jet
    moved = smear(c, np.full(len(c), 1000.0), np.random.default_rng(2), 0.1)[..., 1] - c[..., 1]
    assert np.std(moved[:, 0]) == pytest.approx(0.1 / 990, rel=0.05)
    assert np.std(moved[:, 1]) == pytest.approx(0.1 / 10, rel=0.05)
    assert np.std(moved[:, 2]) == pytest.approx(MAX_SMEARING, rel=0.05)  # capped: not 1e11


# -- pairing --------------------------------------------------------------------------------------------------------
def test_resimulation_pairs_join_two_copies_of_one_event():
    from l1ad.benchmark.jets import ResimulatedJets
    from l1ad.benchmark.jets.pairing import resimulation_pairs

    n_jets, n_copies = 50, 4
    c = np.zeros((n_jets, n_copies, 8, 3), np.float32)
    c[..., 0, 0] = 1.0
    c[..., 0, 1] = np.arange(n_jets)[:, None]  # the event, in eta
    c[..., 0, 2] = np.arange(n_copies)[None, :]  # the copy, in phi
    kinematics = np.zeros((n_jets, n_copies, 4))
    kinematics[..., 0] = 1000 * np.arange(n_jets)[:, None] + np.arange(n_copies)[None, :]  # each copy its own pT
    resim = ResimulatedJets(c, np.zeros((n_jets, n_copies, 16), np.float32), kinematics, np.zeros(n_jets, np.int8),
                            "nominal")
    first, first_pt, second, second_pt = resimulation_pairs(resim, np.random.default_rng(3))
    assert np.array_equal(first_pt, 1000 * np.arange(n_jets) + first[:, 0, 2])  # the copy's own jet pT
    assert np.array_equal(second_pt, 1000 * np.arange(n_jets) + second[:, 0, 2])
    assert np.array_equal(first[:, 0, 1], second[:, 0, 1]) and np.array_equal(first[:, 0, 1], np.arange(n_jets))
    assert np.all(first[:, 0, 2] != second[:, 0, 2])


def test_emd_known_values():
    from l1ad.benchmark.jets.pairing import emd

    def jet(*particles):
        rows = np.zeros((4, 3))
        rows[: len(particles)] = particles
        return rows

    a, b = jet((1.0, 0.0, 0.0)), jet((1.0, 0.3, 0.4))
    assert emd(a, b) == pytest.approx(0.5)  # one particle moved by Delta R = 0.5
    two = jet((0.5, 0.0, 0.0), (0.5, 0.0, 1.0))
    assert emd(two, a) == pytest.approx(0.5) and emd(a, two) == pytest.approx(0.5)  # half the pT moves by 1
    real = _jets(1)[0]
    assert emd(real, real) == pytest.approx(0.0, abs=1e-9)


def test_domain_matching_finds_the_same_jet():
    from l1ad.benchmark.jets import JetSample
    from l1ad.benchmark.jets.pairing import match_domains

    c = _jets(60)
    features = np.column_stack([c[..., 0].max(axis=1), present(c).sum(axis=1), c[..., 1].std(axis=1),
                                *np.random.default_rng(4).normal(size=(13, 60))]).astype(np.float32)
    nominal = JetSample(c, features, np.zeros(60, np.int8), np.zeros((60, 4), np.float32), "nominal")
    order = np.random.default_rng(5).permutation(60)
    alternative = JetSample(c[order], features[order], np.zeros(60, np.int8), np.zeros((60, 4), np.float32),
                            "alternative")
    partner, distance = match_domains(nominal, alternative, DomainMatch(jets=20, neighbours=3, emd_constituents=8))
    assert len(partner) == 20 and np.array_equal(order[partner], np.arange(20)) and np.allclose(distance, 0, atol=1e-9)


# -- metrics --------------------------------------------------------------------------------------------------------
def _probabilities(d_top: list[float], d_qcd: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Jets whose top-vs-q/g discriminant p_t / (p_t + p_q + p_g) is the given value (the rest on W)."""
    rows, labels = [], []
    for label, values in ((4, d_top), (0, d_qcd)):
        for d in values:
            rows.append([0.5 * (1 - d), 0.5 * (1 - d), 0.0, 0.0, d])
            labels.append(label)
    return np.array(rows), np.array(labels)


def test_rejection_at_fixed_efficiency_by_hand():
    from l1ad.benchmark.evaluation.tagging import rejection_at

    p, y = _probabilities([0.9, 0.8, 0.7, 0.6], [0.95, 0.75, 0.5, 0.4, 0.3, 0.3, 0.2, 0.1, 0.1, 0.05])
    r = rejection_at(p, y, Rejection(signal="t", background=["q", "g"], efficiency=0.5), ("q", "g", "W", "Z", "t"),
                     0.6827)
    # 2 of 4 top jets kept: threshold 0.8; of 10 q/g jets only 0.95 passes -> rejection 10
    assert r.threshold == pytest.approx(0.8) and (r.n_signal, r.n_background, r.n_background_accepted) == (4, 10, 1)
    assert r.rejection.value == pytest.approx(10.0)
    from l1ad.benchmark.statistics import clopper_pearson

    lo, hi = clopper_pearson(1, 10, 0.6827)
    assert r.rejection.interval == pytest.approx((1 / hi, 1 / lo))
    none = rejection_at(*_probabilities([0.9, 0.8], [0.1, 0.2]), Rejection(signal="t", background=["q", "g"]),
                        ("q", "g", "W", "Z", "t"), 0.6827)
    assert none.rejection.value is None and none.rejection.interval[1] is None and none.rejection.interval[0] > 1


def test_auc_accuracy_and_drop_by_hand():
    from sklearn.metrics import roc_auc_score

    from l1ad.benchmark.evaluation.tagging import accuracy, auc_one_vs_rest, rejection_drop

    rng = np.random.default_rng(6)
    p = rng.dirichlet(np.ones(5), size=300)
    y = rng.integers(0, 5, size=300)
    for k in range(5):
        assert auc_one_vs_rest(p, y, k) == pytest.approx(roc_auc_score(y == k, p[:, k]))
    p_t, y_t = _probabilities([0.9, 0.6], [0.7, 0.5])
    assert auc_one_vs_rest(p_t, y_t, 4) == pytest.approx(0.75)  # 3 of 4 (top, q) pairs ordered
    assert accuracy(p_t, y_t, 0.6827).value == pytest.approx(0.5)  # the q jets' argmax is q only below d = 1/3
    nominal = _probabilities([0.9, 0.8, 0.7, 0.6], [0.95] + [0.1] * 9)  # rejection 10
    alternative = _probabilities([0.9, 0.8, 0.7, 0.6], [0.95, 0.85] + [0.1] * 8)  # rejection 5
    drop = rejection_drop(nominal, alternative, Rejection(signal="t", background=["q", "g"]),
                          ("q", "g", "W", "Z", "t"), confidence_level=0.6827, bootstrap_samples=50,
                          rng=np.random.default_rng(7))
    assert drop.value == pytest.approx(0.5)


def test_target_check():
    from l1ad.benchmark.evaluation.tagging import Measured, target_check

    def result(label, kind, r_nominal, drop):
        from l1ad.benchmark.evaluation.tagging import DomainResult, RejectionResult, TaggerResult

        rej = RejectionResult(id="t", rejection=Measured(value=r_nominal, interval=(1.0, 2.0)), threshold=0.5,
                              n_signal=10, n_background=10, n_background_accepted=1)
        domain = DomainResult(domain="nominal", n_jets=20, accuracy=Measured(value=0.5, interval=(0.4, 0.6)), auc={},
                              rejections={"t": rej})
        return TaggerResult(label=label, tagger=label, head="x", kind=kind, inputs="constituents", description="",
                            pairs=[], loss=None, domains={"nominal": domain},
                            drops={"t": Measured(value=drop, interval=(0.0, 1.0))}, model_dir="")

    supervised = result("s", "supervised", 20.0, 0.4)
    met = target_check(result("c", "contrastive", 19.0, 0.1), supervised, "t")
    assert met.met and met.drop_ratio == pytest.approx(0.25) and met.nominal_loss == pytest.approx(0.05)
    assert not target_check(result("c", "contrastive", 15.0, 0.1), supervised, "t").met  # 25 % nominal loss
    assert not target_check(result("c", "contrastive", 20.0, 0.3), supervised, "t").met  # ratio 0.75


# -- taggers (real TensorFlow / QKeras on small data) ---------------------------------------------------------------
def _labelled(n=300, seed=8):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, size=n)
    c = _jets(n, n_slots=16, seed=seed)
    c[..., 1] += 0.05 * y[:, None] * present(c)  # a class-dependent shift to learn
    features = rng.normal(size=(n, 16)).astype(np.float32) + y[:, None]
    from l1ad.benchmark.jets import JetSample

    return JetSample(c, features, y.astype(np.int8), np.full((n, 4), 700.0, np.float32), "nominal")


def test_dense_tagger_learns_saves_and_loads(tmp_path):
    from l1ad.config.robustness import load_tagger_config
    from l1ad.models.taggers import JetTagger

    jets = _labelled()
    cfg = load_tagger_config("dense_hls4ml")
    tagger = JetTagger(cfg.model_validate({**cfg.model_dump(), "training": {"epochs": 40}})).fit(jets.features,
                                                                                                 jets.labels)
    p = tagger.predict_proba(jets.features)
    assert p.shape == (300, 5) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    assert tagger.score(jets.features, jets.labels) > 0.5  # chance is 0.2
    loaded = JetTagger.load(tagger.save(tmp_path / "dense"))
    assert np.array_equal(loaded.predict_proba(jets.features), p)
    assert type(loaded.networks["supervised"].layers[1]).__name__ == "QDense"


def test_contrastive_tagger_heads_save_and_load(tmp_path):
    from l1ad.benchmark.jets.pairing import ViewPairs
    from l1ad.config.robustness import load_tagger_config
    from l1ad.models.taggers import ContrastiveTagger, JetTagger

    jets = _labelled()
    cfg = load_tagger_config("mack")
    cfg = cfg.model_validate({**cfg.model_dump(), "training": {"epochs": 5},
                              "contrastive": {**cfg.contrastive.model_dump(), "epochs": 3, "batch_size": 64}})
    pt = jets.kinematics[:, 0]
    pairs = ViewPairs.join({"augmentation": (jets.constituents, pt, jets.constituents, pt)})
    tagger = ContrastiveTagger(cfg).pretrain(pairs, n_constituents=16)
    assert len(tagger.history["contrastive_loss"]) == 3 and np.isfinite(tagger.history["contrastive_loss"]).all()
    with pytest.raises(Exception, match="no 'probe' head"):
        tagger.predict_proba(jets.constituents, "probe")
    tagger.fit(jets.constituents, jets.labels, validation=(jets.constituents, jets.labels))
    loaded = JetTagger.load(tagger.save(tmp_path / "mack"))
    assert isinstance(loaded, ContrastiveTagger) and loaded.heads == ("probe", "fine_tune")
    for head in loaded.heads:
        assert np.allclose(loaded.predict_proba(jets.constituents, head), tagger.predict_proba(jets.constituents, head))
    assert np.array_equal(loaded.embed(jets.constituents), tagger.embed(jets.constituents))
    assert loaded.embed(jets.constituents).shape == (300, cfg.network.pooled_units[-1])


def test_tagger_bad_input_and_files(tmp_path):
    from l1ad.config.robustness import load_tagger_config
    from l1ad.errors import DataFileError, ModelFileError
    from l1ad.models.taggers import JetTagger

    jets = _labelled(100)
    cfg = load_tagger_config("dense_float")
    tagger = JetTagger(cfg.model_validate({**cfg.model_dump(), "training": {"epochs": 2}}))
    with pytest.raises(DataFileError, match="expected 100 class indices"):
        tagger.fit(jets.features, np.full(100, 7))
    tagger.fit(jets.features, jets.labels)
    with pytest.raises(DataFileError, match=r"expected high-level features of shape \(N, 16\)"):
        tagger.predict_proba(jets.constituents)
    bad = jets.features.copy()
    bad[3, 2] = np.nan
    with pytest.raises(DataFileError, match="NaN or Inf"):
        tagger.predict_proba(bad)
    directory = tagger.save(tmp_path / "t")
    card = json.loads((directory / "tagger.json").read_text())
    (directory / "tagger.json").write_text(json.dumps({**card, "feature_std": [0.0] * 16}))
    with pytest.raises(ModelFileError, match="invalid feature standardisation"):
        JetTagger.load(directory)
    (directory / "tagger.json").write_text(json.dumps({**card, "format": "pickle"}))
    with pytest.raises(ModelFileError, match="unsupported tagger format 'pickle'"):
        JetTagger.load(directory)
    (directory / "tagger.json").write_text(json.dumps(card))
    (directory / "supervised.h5").write_text("not hdf5")
    with pytest.raises(ModelFileError, match="not an HDF5 weights file"):
        JetTagger.load(directory)


def test_configs_validate(tmp_path):
    from l1ad.config.robustness import (
        is_tagger_config,
        load_robustness_config,
        load_tagger_config,
        shipped_taggers,
    )
    from l1ad.errors import ConfigError

    for name in shipped_taggers():
        assert load_tagger_config(name).name == name and is_tagger_config(name)
    assert not is_tagger_config("default") and not is_tagger_config("tiny")
    assert load_robustness_config("robustness").rejections[0].id == "t_vs_qg_at_0.5"
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nnetwork: {kind: dense}\ncontrastive: {loss: ntxent, pairs: [augmentation]}\n")
    assert is_tagger_config(str(path))
    with pytest.raises(ConfigError, match="bad.yaml: .*network.kind must be deepsets"):
        load_tagger_config(path)
    path.write_text("name: x\nnetwork: {kind: deepsets}\ncontrastive: {loss: barlow, pairs: [augmentation]}\n")
    with pytest.raises(ConfigError, match="contrastive.loss"):
        load_tagger_config(path)
    with pytest.raises(ConfigError, match="not a shipped tagger"):
        load_tagger_config("simclr_nope")


# -- the study from the command line (real Pythia, fastjet, TensorFlow, MLflow; tiny sizes) -------------------------
@pytest.mark.slow
def test_robustness_cli_end_to_end(tmp_path, run_cli):
    out = tmp_path / "jets"
    code, _, err = run_cli("train", "-c", "jetclr", "-o", out, "--size", "tiny")
    assert code == 2 and err.count("\n") == 1 and "l1ad data generate --dataset jets --size tiny" in err
    code, stdout, err = run_cli("-q", "robustness", "-c", "robustness_tiny", "-o", out)
    assert code == 0, err
    from l1ad.benchmark.evaluation.tagging import RobustnessReport

    report = RobustnessReport.model_validate_json((out / "robustness" / "robustness.json").read_text())
    labels = [t.label for t in report.taggers]
    assert labels == ["dense_hls4ml", "deepsets", "jetclr (probe)", "jetclr (fine-tune)"]
    for t in report.taggers:
        for domain in ("nominal", "alternative"):
            d = t.domains[domain]
            assert d.n_jets == 100 and 0 <= d.accuracy.value <= 1 and set(d.auc) == {"q", "g", "W", "Z", "t"}
    assert [(c.rejection, c.contrastive, c.supervised) for c in report.targets] == [
        (r, f"jetclr ({head})", "deepsets") for r in ("t_vs_qg_at_0.5", "W_vs_qg_at_0.5") for head in ("probe", "fine-tune")]
    files = {p.name for p in (out / "robustness").iterdir()}
    assert {"robustness.md", "roc_t_vs_qg_at_0.5.png", "roc_W_vs_qg_at_0.5.png", "embedding_jetclr.png"} <= files
    assert "| jetclr (fine-tune) |" in stdout
    # a second tagger trained on its own reuses the dataset; the study then reuses every tagger
    code, _, err = run_cli("-q", "train", "-c", "dense_float", "-o", out, "--size", "tiny")
    assert code == 0, err and (out / "taggers" / "dense_float" / "tagger.json").is_file()
    code, stdout, _ = run_cli("robustness", "-c", "robustness_tiny", "-o", out)
    assert code == 0 and stdout.count("reusing") == 3
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{out / 'mlflow.db'}")
    runs = mlflow.search_runs(search_all_experiments=True)
    assert {"tagger-jetclr", "tagger-dense_float", "robustness"} <= set(runs["tags.mlflow.runName"])
    code, _, err = run_cli("robustness", "-c", "nope", "-o", out)
    assert code == 2 and "not a shipped robustness" in err and err.count("\n") == 1
