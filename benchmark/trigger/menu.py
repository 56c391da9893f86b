"""Trigger decisions of a Level-1 menu (:class:`l1ad.config.menu.MenuConfig`) on emulated trigger objects, and the
rates they give on zero-bias background."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ad.benchmark.statistics import clopper_pearson
from l1ad.benchmark.trigger.layout import N_EGAMMA, N_JETS, N_MUONS
from l1ad.config.menu import MenuConfig, Seed

DEFAULT_COLLISION_RATE_MHZ = 28.61  # effective LHC filled-bunch crossing rate

_SLOTS = {"egamma": slice(1, 1 + N_EGAMMA), "muon": slice(1 + N_EGAMMA, 1 + N_EGAMMA + N_MUONS),
          "jet": slice(1 + N_EGAMMA + N_MUONS, 1 + N_EGAMMA + N_MUONS + N_JETS)}


def seed_fires(particles: np.ndarray, seed: Seed) -> np.ndarray:
    """Per event (N, 19, 4 trigger objects): does ``seed`` accept it?"""
    if seed.kind == "met":
        return particles[:, 0, 0] > seed.thresholds_gev[0]
    objects = particles[:, _SLOTS["jet" if seed.kind == "ht" else seed.kind]]
    pt = objects[:, :, 0]
    inside = np.abs(objects[:, :, 1]) <= seed.max_eta if seed.max_eta is not None else np.ones(pt.shape, dtype=bool)
    if seed.kind == "ht":
        ht = np.where(inside & (pt > seed.ht_jet_min_pt_gev), pt, 0.0).sum(axis=1)
        return ht > seed.thresholds_gev[0]
    # leading objects in acceptance, pT-ordered: the k-th must pass the k-th threshold
    ordered = -np.sort(-np.where(inside, pt, 0.0), axis=1)
    return np.all(ordered[:, : len(seed.thresholds_gev)] > np.asarray(seed.thresholds_gev), axis=1)


def menu_decisions(particles: np.ndarray, menu: MenuConfig) -> dict[str, np.ndarray]:
    """Seed name -> per-event decision, and ``"menu"``: accepted by any seed."""
    decisions = {seed.name: seed_fires(particles, seed) for seed in menu.seeds}
    decisions["menu"] = np.logical_or.reduce(list(decisions.values()))
    return decisions


@dataclass(frozen=True)
class SeedRate:
    seed: str
    n_accepted: int
    n_events: int
    rate_khz: float
    rate_interval_khz: tuple[float, float]


def menu_rates(particles: np.ndarray, menu: MenuConfig, collision_rate_mhz: float,
               confidence_level: float = 0.6827) -> list[SeedRate]:
    """Rate of each seed and of the whole menu on zero-bias events: accepted fraction x collision rate, with a
    Clopper-Pearson interval."""
    to_khz = collision_rate_mhz * 1e3
    rates = []
    for name, fired in menu_decisions(particles, menu).items():
        k, n = int(fired.sum()), len(fired)
        lo, hi = clopper_pearson(k, n, confidence_level)
        rates.append(SeedRate(name, k, n, k / n * to_khz, (lo * to_khz, hi * to_khz)))
    return rates
