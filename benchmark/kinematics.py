"""Four-vector helpers shared by generation, trigger emulation and jets: one definition of each."""

from __future__ import annotations

import numpy as np


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Azimuthal angles (or differences) wrapped into [-pi, pi); keeps the input's float dtype."""
    return (phi + np.pi) % (2 * np.pi) - np.pi


def delta_r(eta1, phi1, eta2, phi2) -> np.ndarray:
    """Angular distance sqrt(d eta^2 + d phi^2), with d phi wrapped."""
    return np.hypot(eta1 - eta2, wrap_phi(phi1 - phi2))


def eta_phi(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pseudorapidity and azimuth of momenta; particles along the beam (pT = 0) get an infinite |eta|, so they fail
    every acceptance cut."""
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(pz / np.where(pt > 0, pt, 1.0)), np.copysign(np.inf, pz))
    return eta, np.arctan2(py, px)


def invariant_mass(px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray) -> np.ndarray:
    """sqrt(E^2 - p^2), clipped at zero against rounding."""
    return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))
