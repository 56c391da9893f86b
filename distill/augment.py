"""Augmented copies of training events for a student: whole-event phi rotations and slot shuffling within a class.

The teacher scores every augmented event (the distillation stage does that), so the student's target is always the
teacher's score of the very event it is shown: augmentation widens what the student sees, it does not assume the
teacher is symmetric.
"""

from __future__ import annotations

import numpy as np

from l1ad.benchmark.trigger.layout import N_EGAMMA, N_JETS, N_MUONS, N_REGION_PHI
from l1ad.benchmark.trigger.shifts import rotate_objects
from l1ad.config.distill import AugmentationConfig

# Slot ranges of each object class in the (N, 19, 4) layout: row 0 MET, then e/gamma, muons, jets
_CLASS_SLOTS = ((1, 1 + N_EGAMMA), (1 + N_EGAMMA, 1 + N_EGAMMA + N_MUONS),
                (1 + N_EGAMMA + N_MUONS, 1 + N_EGAMMA + N_MUONS + N_JETS))


def shuffle_objects(particles: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The slots of each object class permuted at random per event (padded slots move like the others)."""
    out = np.array(particles, copy=True)
    rows = np.arange(len(out))[:, None]
    for start, stop in _CLASS_SLOTS:
        order = np.argsort(rng.random((len(out), stop - start)), axis=1) + start
        out[:, start:stop] = out[rows, order]
    return out


def rotate_regions(regions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Calorimeter regions (N, 18, 14) rolled by a random whole number of iphi rows per event (the phi symmetry of
    the detector, on the regions' own grid)."""
    shifts = rng.integers(N_REGION_PHI, size=len(regions))
    rows = (np.arange(N_REGION_PHI)[None, :] - shifts[:, None]) % N_REGION_PHI
    return np.asarray(regions)[np.arange(len(regions))[:, None], rows]


def augmented_copies(events: np.ndarray, config: AugmentationConfig, *, regions: bool,
                     rng: np.random.Generator) -> np.ndarray:
    """``config.copies`` augmented copies of ``events`` stacked (empty when there are none)."""
    copies = []
    for _ in range(config.copies):
        x = events
        if config.phi_rotation:
            x = rotate_regions(x, rng) if regions else rotate_objects(x, rng)
        if config.shuffle and not regions:  # the config refuses shuffling for region students
            x = shuffle_objects(x, rng)
        copies.append(np.array(x, copy=True) if x is events else x)
    return np.concatenate(copies) if copies else events[:0]
