"""Calorimeter trigger-tower geometry (CMS-like, approximate: the CMS Phase-1 Level-1 calorimeter trigger towers).

72 towers in phi; in |eta| 20 towers of 0.087 up to 1.74, 8 wider endcap towers up to 3.0 and 12 forward towers up to
5.0 on each side: 80 eta rings. The grid is mirror-symmetric in eta, so ring ``i`` mirrors to ``N_ETA - 1 - i``.
"""

from __future__ import annotations

import numpy as np

MAX_CALORIMETER_ETA = 5.0
N_PHI = 72
_SIDE_EDGES = np.concatenate(
    (
        np.round(np.arange(21) * 0.087, 3),
        [1.830, 1.930, 2.043, 2.172, 2.322, 2.500, 2.650, 3.000],
        np.linspace(3.0, MAX_CALORIMETER_ETA, 13)[1:],
    )
)
ETA_EDGES = np.concatenate((-_SIDE_EDGES[::-1], _SIDE_EDGES[1:]))
N_ETA = len(ETA_EDGES) - 1
ETA_CENTERS = 0.5 * (ETA_EDGES[1:] + ETA_EDGES[:-1])
PHI_CENTERS = -np.pi + (np.arange(N_PHI) + 0.5) * (2 * np.pi / N_PHI)
CENTRAL_TOWERS_PER_SIDE = 28  # |eta| < 3.0: the 14 x 4 towers CICADA reads


def tower_index(eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ieta, iphi) of the tower each particle hits, as int16."""
    ieta = np.clip(np.searchsorted(ETA_EDGES, eta, side="right") - 1, 0, N_ETA - 1)
    iphi = np.clip(((phi + np.pi) / (2 * np.pi / N_PHI)).astype(np.int64), 0, N_PHI - 1)
    return ieta.astype(np.int16), iphi.astype(np.int16)
