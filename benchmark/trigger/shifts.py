"""Transformations of trigger-object events (N, 19, 4) that keep their physics: whole-event phi rotations, and the
pile-up-like nuisances a change of running conditions brings (MET and jet energy scale, soft jets coming and going).

Used as augmentations: of training copies for distilled students (rotation) and of the two views a contrastive
anomaly detector learns to map together (all of them), so its latent space is insensitive to what pile-up changes.
"""

from __future__ import annotations

import numpy as np

from l1ad.benchmark.trigger.layout import N_EGAMMA, N_JETS, N_MUONS

JET_SLOTS = slice(1 + N_EGAMMA + N_MUONS, 1 + N_EGAMMA + N_MUONS + N_JETS)


def rotate_objects(particles: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every present object of an event (MET included) turned by the same uniform angle in phi, wrapped to
    [-pi, pi); padded slots stay all zero."""
    out = np.array(particles, copy=True)
    angle = rng.uniform(-np.pi, np.pi, size=(len(out), 1)).astype(out.dtype)
    phi = np.mod(out[:, :, 2] + angle + np.pi, 2 * np.pi) - np.pi
    out[:, :, 2] = np.where(out[:, :, 0] > 0, phi, out[:, :, 2])
    return out


def pileup_shift(particles: np.ndarray, rng: np.random.Generator, *, met_scale: float, jet_scale: float,
                 soft_jet_gev: float, soft_jet_drop: float) -> np.ndarray:
    """A pile-up-like variation of each event: MET pT times a log-normal factor of width ``met_scale``, all jet pT
    times one log-normal factor of width ``jet_scale``, and each jet below ``soft_jet_gev`` (before scaling) removed with probability
    ``soft_jet_drop`` (the remaining jets move up, keeping the slots pT-ordered)."""
    out = np.array(particles, copy=True)
    n = len(out)
    out[:, 0, 0] *= np.exp(rng.normal(0, met_scale, size=n)).astype(out.dtype)
    jets = out[:, JET_SLOTS]
    drop = (jets[..., 0] > 0) & (jets[..., 0] < soft_jet_gev) & (rng.random(jets.shape[:2]) < soft_jet_drop)
    jets[..., 0] *= np.exp(rng.normal(0, jet_scale, size=(n, 1))).astype(out.dtype)
    jets[drop] = 0
    order = np.argsort(-jets[..., 0], axis=1, kind="stable")
    out[:, JET_SLOTS] = np.take_along_axis(jets, order[..., None], axis=1)
    return out
