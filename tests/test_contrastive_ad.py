"""The contrastive anomaly detector on trigger objects and the pile-up-like shifts of its views."""

from __future__ import annotations

import json

import numpy as np
import pytest

from l1ad.benchmark.trigger.shifts import JET_SLOTS, pileup_shift


def _events(n=500, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 19, 4), np.float32)
    x[:, 0, 0] = rng.exponential(20, n)
    x[:, 0, 2] = rng.uniform(-np.pi, np.pi, n)
    for i in range(n):
        k = rng.integers(0, 11)
        pt = np.sort(rng.exponential(40, k) + 20)[::-1]
        x[i, JET_SLOTS][:k, 0], x[i, JET_SLOTS][:k, 1], x[i, JET_SLOTS][:k, 2] = pt, rng.normal(0, 2, k), 0.5
        x[i, JET_SLOTS][:k, 3] = 4
    return x


def test_pileup_shift_scales_met_and_jets_and_drops_only_soft_jets():
    x = _events()
    y = pileup_shift(x, np.random.default_rng(1), met_scale=0.2, jet_scale=0.1, soft_jet_gev=40, soft_jet_drop=0.5)
    assert y.shape == x.shape and np.array_equal(y[:, 1:JET_SLOTS.start], x[:, 1:JET_SLOTS.start])  # leptons untouched
    assert np.array_equal(y[:, 0, 1:], x[:, 0, 1:]) and np.std(np.log(y[:, 0, 0] / x[:, 0, 0])) == pytest.approx(
        0.2, rel=0.15)
    jets_x, jets_y = x[:, JET_SLOTS, 0], y[:, JET_SLOTS, 0]
    assert np.all(np.diff(jets_y, axis=1) <= 0)  # still pT-ordered, padding at the end
    n_x, n_y = (jets_x > 0).sum(axis=1), (jets_y > 0).sum(axis=1)
    assert np.all(n_y <= n_x) and (n_y < n_x).any()
    soft = ((jets_x > 0) & (jets_x < 40)).sum(axis=1)
    assert np.all(n_x - n_y <= soft)  # only soft jets go
    assert np.all(y[:, JET_SLOTS][jets_y == 0] == 0)  # a removed jet is an empty slot


def test_contrastive_detector_trains_scores_saves_and_loads(tmp_path):
    from l1ad.config import ModelConfig, TrainingConfig
    from l1ad.errors import ModelFileError
    from l1ad.models.registry import load_detector, new_detector

    x = _events(2000)
    detector = new_detector(ModelConfig(name="contrastive_ad", encoder_units=[16], latent_dim=4),
                            TrainingConfig(epochs=3, batch_size=256, learning_rate=1e-3), seed=3)
    detector.fit(x[:1500], x[1500:])
    assert len(detector.history["loss"]) == 3 and np.isfinite(detector.history["val_loss"]).all()
    scores = detector.score_samples(x)
    # the score is the squared standardised latent distance: about latent_dim on average over the training events
    assert scores[:1500].mean() == pytest.approx(4.0, rel=1e-3)
    assert detector.firmware_score() is None and detector.trigger_network() is detector.keras_model
    loaded = load_detector(detector.save(tmp_path / "cad"))
    assert np.array_equal(loaded.score_samples(x), scores)
    (tmp_path / "cad" / "latent.json").write_text(json.dumps({"mean": [0.0] * 4, "std": [0.0] * 4}))
    with pytest.raises(ModelFileError, match="latent.json: expected 4 finite means and positive spreads"):
        load_detector(tmp_path / "cad")
