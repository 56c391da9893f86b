"""JetCLR's physics augmentations of jet constituents, for contrastive views (arXiv:2108.04253).

Constituents are (pT / jet pT, eta - jet eta, phi - jet phi) rows ordered by pT, padded with zero rows (pT = 0), as in
:class:`~l1ad.benchmark.jets.JetSample`. Every augmentation leaves padding rows at zero and keeps the pT sum; all but
the collinear split keep the constituent count (the split adds one constituent per split, into empty slots only).
"""

from __future__ import annotations

import numpy as np

from l1ad.config.robustness import JetAugmentations


def present(constituents: np.ndarray) -> np.ndarray:
    """Which rows are constituents (pT > 0), (N, C) bool."""
    return constituents[..., 0] > 0


def rotate(constituents: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotate every jet's constituents about its axis in the (eta, phi) plane by one uniform angle per jet."""
    angle = rng.uniform(0, 2 * np.pi, size=(len(constituents), 1))
    c, s = np.cos(angle), np.sin(angle)
    out = constituents.copy()
    eta, phi = constituents[..., 1], constituents[..., 2]
    out[..., 1], out[..., 2] = c * eta - s * phi, s * eta + c * phi
    return _zero_padding(out, constituents)


def translate(constituents: np.ndarray, rng: np.random.Generator, width: float) -> np.ndarray:
    """Shift all constituents of a jet by one Gaussian (eta, phi) offset of ``width``."""
    out = constituents.copy()
    out[..., 1:] += rng.normal(0, width, size=(len(constituents), 1, 2)).astype(constituents.dtype)
    return _zero_padding(out, constituents)


# The soft-smearing width is capped at the jet radius: generator-level constituents go down to 1e-13 GeV, whose
# 0.1 GeV / pT width would throw them (and the network's inputs) arbitrarily far.
MAX_SMEARING = 0.8


def smear(constituents: np.ndarray, jet_pt: np.ndarray, rng: np.random.Generator, scale_gev: float) -> np.ndarray:
    """Soft smearing: each constituent's (eta, phi) moves by a Gaussian of width ``scale_gev`` / pT (pT in GeV, at
    most ``MAX_SMEARING``), so soft constituents move most and the hard ones, which a collinear- and infrared-safe
    observable sees, hardly."""
    out = constituents.copy()
    pt = constituents[..., 0] * np.asarray(jet_pt, dtype=np.float64)[:, None]
    width = np.where(pt > 0, np.minimum(scale_gev / np.maximum(pt, 1e-12), MAX_SMEARING), 0.0)
    out[..., 1:] += (rng.normal(size=(*pt.shape, 2)) * width[..., None]).astype(constituents.dtype)
    return _zero_padding(out, constituents)


def collinear_split(constituents: np.ndarray, rng: np.random.Generator, fraction: float) -> np.ndarray:
    """Split each constituent with probability ``fraction`` into two at the same (eta, phi) with pT fractions z and
    1 - z (z uniform), as far as the jet has empty slots (leading constituents first); re-ordered by pT."""
    mask = present(constituents)
    n_present = mask.sum(axis=1, keepdims=True)
    chosen = mask & (rng.random(mask.shape) < fraction)
    rank = np.cumsum(chosen, axis=1)  # 1 for the first chosen constituent of a jet, 2 for the second, ...
    chosen &= rank <= constituents.shape[1] - n_present
    z = rng.uniform(0, 1, size=mask.shape).astype(constituents.dtype)
    out = constituents.copy()
    rows, cols = np.nonzero(chosen)
    slots = (n_present[:, 0][rows] + rank[rows, cols] - 1)
    out[rows, slots] = constituents[rows, cols]
    out[rows, slots, 0] = constituents[rows, cols, 0] * (1 - z[rows, cols])
    out[rows, cols, 0] = constituents[rows, cols, 0] * z[rows, cols]
    order = np.argsort(-out[..., 0], axis=1, kind="stable")
    return np.take_along_axis(out, order[..., None], axis=1)


def augment(constituents: np.ndarray, jet_pt: np.ndarray, rng: np.random.Generator,
            settings: JetAugmentations) -> np.ndarray:
    """One augmented view: collinear splits, then soft smearing, rotation and translation, as the settings say."""
    out = constituents
    if settings.collinear_fraction > 0:
        out = collinear_split(out, rng, settings.collinear_fraction)
    if settings.smearing_gev > 0:
        out = smear(out, jet_pt, rng, settings.smearing_gev)
    if settings.rotation:
        out = rotate(out, rng)
    if settings.translation > 0:
        out = translate(out, rng, settings.translation)
    return out


def _zero_padding(out: np.ndarray, original: np.ndarray) -> np.ndarray:
    out[~present(original)] = 0
    return out
