"""Level-1 trigger emulation: particles -> calorimeter towers -> trigger objects in the ADC2021 layout.

What a Level-1 trigger sees, approximately as in CMS Phase-1 (values are configurable and written to the dataset card):

* towers: 72 in phi; in eta the CMS-like edges (0.087 wide up to |eta| = 1.74, wider in the endcap up to 3.0, 12 forward
  towers up to 5.0); EM and hadronic ET per tower, smeared with a/sqrt(E) (+) c resolution, Gaussian noise, a zero-suppression
  threshold and a 0.5 GeV least significant bit;
* jets: 9x9-tower sliding window around a local-maximum seed tower, pile-up subtracted with the "chunky donut"
  (the three lowest of the four 3x9 strips around the window);
* e/gamma: local-maximum EM tower, 3x3 EM cluster, hadronic-over-EM and relative isolation cuts;
* muons: generator muons with the muon trigger's coarse pT resolution, |eta| < 2.4;
* MET: negative vector sum of tower ET;
* CICADA regions: 4x4-tower sums over the 18 (phi) x 14 (eta) central regions, integer GeV.

Everything runs on a whole chunk of events at once with numpy (no Python loop per event or particle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ad.benchmark.generation.pileup import Crossings
from l1ad.benchmark.geometry import CENTRAL_TOWERS_PER_SIDE, ETA_CENTERS, N_ETA, N_PHI, PHI_CENTERS
from l1ad.benchmark.kinematics import wrap_phi
from l1ad.benchmark.trigger.layout import (
    CLASS_EGAMMA,
    CLASS_JET,
    CLASS_MET,
    CLASS_MUON,
    N_EGAMMA,
    N_JETS,
    N_MUONS,
    N_OBJECTS,
    N_REGION_ETA,
    N_REGION_PHI,
)
from l1ad.config import EmulationConfig


@dataclass(frozen=True)
class TriggerObjects:
    particles: np.ndarray  # (n, 19, 4) float32: pT [GeV], eta, phi, class
    regions: np.ndarray  # (n, 18, 14) uint16: region ET in GeV (phi, eta)


def emulate(crossings: Crossings, cfg: EmulationConfig, rng: np.random.Generator) -> TriggerObjects:
    """Trigger objects and calorimeter regions for each bunch crossing."""
    n = crossings.n_events
    em, had = _towers(crossings, cfg, rng)
    total = em + had

    particles = np.zeros((n, N_OBJECTS, 4), dtype=np.float32)
    particles[:, 0, :] = _met(total, cfg)
    boxes = _BoxSums(total)
    pileup = boxes.donut_pileup()
    particles[:, 1 : 1 + N_EGAMMA] = _egamma(em, had, boxes, pileup, cfg)
    particles[:, 1 + N_EGAMMA : 1 + N_EGAMMA + N_MUONS] = _muons(crossings, cfg, rng)
    particles[:, 1 + N_EGAMMA + N_MUONS :] = _jets(total, boxes, pileup, cfg)
    return TriggerObjects(particles=particles, regions=_regions(total))


def _towers(crossings: Crossings, cfg: EmulationConfig, rng):
    n = crossings.n_events
    cells = N_ETA * N_PHI * 2
    deposited = np.bincount(crossings.deposit_event * cells + crossings.deposit_cell, weights=crossings.deposit_pt,
                            minlength=n * cells).astype(np.float32).reshape(n, N_ETA, N_PHI, 2)
    cosh = np.cosh(ETA_CENTERS).astype(np.float32)[None, :, None]
    towers = []
    for layer, stochastic, constant in ((0, cfg.em_stochastic, cfg.em_constant), (1, cfg.had_stochastic, cfg.had_constant)):
        et = np.ascontiguousarray(deposited[..., layer])
        # Energy resolution in E = ET cosh(eta), expressed back in ET; noise on every tower, smearing where ET > 0.
        et += cfg.tower_noise_gev * rng.standard_normal(et.shape, dtype=np.float32)
        hit = np.nonzero(et > cfg.tower_noise_gev)
        e_hit = et[hit]
        sigma = np.sqrt(stochastic**2 * e_hit / cosh[0, hit[1], 0] + (constant * e_hit) ** 2)
        et[hit] = e_hit + sigma * rng.standard_normal(len(e_hit), dtype=np.float32)
        towers.append(np.maximum(et, 0.0))
    em, had = towers
    suppressed = (em + had) < cfg.tower_threshold_gev
    em[suppressed] = 0.0
    had[suppressed] = 0.0
    lsb = cfg.tower_lsb_gev
    return np.floor(em / lsb) * lsb, np.floor(had / lsb) * lsb  # float32 is exact for these multiples of the LSB


class _BoxSums:
    """Sums of tower ET over rectangles placed relative to every tower (zero beyond the eta edges, wrapping in phi)."""

    PAD = 7  # the farthest a donut strip reaches from the central tower

    def __init__(self, towers: np.ndarray):
        padded = _pad_grid(towers, self.PAD)
        self.c = np.pad(np.cumsum(np.cumsum(padded, axis=1), axis=2), ((0, 0), (1, 0), (1, 0)))

    def __call__(self, eta_lo: int, eta_hi: int, phi_lo: int, phi_hi: int) -> np.ndarray:
        """Sum over towers (i + eta_lo .. i + eta_hi, j + phi_lo .. j + phi_hi) for every tower (i, j)."""
        p, c = self.PAD, self.c
        i0, i1 = p + eta_lo, p + eta_hi + 1
        j0, j1 = p + phi_lo, p + phi_hi + 1
        return (c[:, i1 : i1 + N_ETA, j1 : j1 + N_PHI] - c[:, i0 : i0 + N_ETA, j1 : j1 + N_PHI]
                - c[:, i1 : i1 + N_ETA, j0 : j0 + N_PHI] + c[:, i0 : i0 + N_ETA, j0 : j0 + N_PHI])

    def window(self, half: int) -> np.ndarray:
        return self(-half, half, -half, half)

    def donut_pileup(self) -> np.ndarray:
        """CMS Phase-1 "chunky donut": of the four 3x9 strips around the 9x9 window, the three lowest summed
        (81 towers, the window's area) estimate the pile-up inside the window."""
        strips = np.stack((self(5, 7, -4, 4), self(-7, -5, -4, 4), self(-4, 4, 5, 7), self(-4, 4, -7, -5)))
        return strips.sum(axis=0) - strips.max(axis=0)


def _local_maxima(towers: np.ndarray, half: int, seed_threshold: float, lsb: float) -> np.ndarray:
    # Towers are whole multiples of the LSB: an integer key (ET in LSBs, then the tower's position) is exact and breaks
    # ties between equal towers deterministically.
    key = np.rint(towers / lsb).astype(np.int32) * (N_ETA * N_PHI) + np.arange(N_ETA * N_PHI, dtype=np.int32).reshape(
        1, N_ETA, N_PHI)
    return (key == _window_max(key, half)) & (towers > seed_threshold)


def _window_max(key: np.ndarray, half: int) -> np.ndarray:
    """Maximum of non-negative ``key`` over the (2 half + 1)^2 towers around each tower (zero beyond the eta edges,
    wrapping in phi). Separable, and each axis by doubling: widths 1, 2, 4, ... so 9 towers take 4 maxima, not 8."""
    padded = _pad_grid(key, half)
    for axis, n in ((1, N_ETA), (2, N_PHI)):
        padded = _sliding_max(padded, axis, 2 * half + 1, n)
    return padded


def _window_sum(towers: np.ndarray, half: int) -> np.ndarray:
    """Sum of ``towers`` over the (2 half + 1)^2 towers around each tower, like :class:`_BoxSums`, for one small window
    (direct shifted sums beat two cumulative sums there; both are exact for towers in whole LSBs of a power of two)."""
    padded = _pad_grid(towers, half)
    w = 2 * half + 1
    rows = sum(padded[:, k : k + N_ETA] for k in range(w))
    return sum(rows[:, :, k : k + N_PHI] for k in range(w))


def _pad_grid(grid: np.ndarray, half: int) -> np.ndarray:
    """``half`` towers of zeros beyond the eta edges and of wrap-around in phi."""
    padded = np.pad(grid, ((0, 0), (half, half), (0, 0)))
    return np.concatenate((padded[:, :, -half:], padded, padded[:, :, :half]), axis=2)


def _sliding_max(x: np.ndarray, axis: int, width: int, n_out: int) -> np.ndarray:
    def take(a, start, stop):
        return a[:, start:stop] if axis == 1 else a[:, :, start:stop]

    out, covered = x, 1
    while 2 * covered <= width:  # out[i] = max of x[i .. i + covered - 1]
        out = np.maximum(take(out, 0, out.shape[axis] - covered), take(out, covered, out.shape[axis]))
        covered *= 2
    if covered < width:  # the remainder: one more maximum with the window that ends at i + width - 1
        out = np.maximum(take(out, 0, n_out), take(out, width - covered, width - covered + n_out))
    return take(out, 0, n_out)


def _top_objects(mask: np.ndarray, pt: np.ndarray, k: int, object_class: int) -> np.ndarray:
    """The k highest-pT tower-located objects per event, as (n, k, 4) rows of pT, eta, phi, class (zero padded)."""
    event, ieta, iphi = np.nonzero(mask)
    values = pt[event, ieta, iphi]
    return _rank_into_slots(event, values, ETA_CENTERS[ieta], PHI_CENTERS[iphi], mask.shape[0], k, object_class)


def _rank_into_slots(event, pt, eta, phi, n, k, object_class) -> np.ndarray:
    out = np.zeros((n, k, 4), dtype=np.float32)
    if len(event) == 0:
        return out
    order = np.lexsort((-pt, event))
    event, pt, eta, phi = event[order], pt[order], eta[order], phi[order]
    rank = np.arange(len(event)) - np.searchsorted(event, event, side="left")
    keep = rank < k
    out[event[keep], rank[keep]] = np.stack(
        (pt[keep], eta[keep], phi[keep], np.full(keep.sum(), object_class)), axis=1
    )
    return out


def _jets(total, boxes: _BoxSums, pileup: np.ndarray, cfg: EmulationConfig) -> np.ndarray:
    et = boxes.window(4) - pileup
    seeds = _local_maxima(total, 4, cfg.jet_seed_gev, cfg.tower_lsb_gev)
    accept = seeds & (et >= cfg.jet_min_pt_gev) & (np.abs(ETA_CENTERS)[None, :, None] <= cfg.jet_max_eta)
    return _top_objects(accept, np.floor(et / cfg.tower_lsb_gev) * cfg.tower_lsb_gev, N_JETS, CLASS_JET)


def _egamma(em, had, boxes: _BoxSums, pileup: np.ndarray, cfg: EmulationConfig) -> np.ndarray:
    cluster_em = _window_sum(em, 1)
    cluster_had = _window_sum(had, 1)
    # isolation: 9x9 minus the 3x3 core, less the donut's pile-up density over those 72 towers
    isolation = boxes.window(4) - boxes.window(1) - pileup * (72 / 81)
    safe_em = np.maximum(cluster_em, 1e-9)
    accept = (
        _local_maxima(em, 1, cfg.egamma_seed_gev, cfg.tower_lsb_gev)
        & (cluster_em >= cfg.egamma_min_pt_gev)
        & (cluster_had / safe_em <= cfg.egamma_max_h_over_e)
        & (isolation / safe_em <= cfg.egamma_max_rel_iso)
        & (np.abs(ETA_CENTERS)[None, :, None] <= cfg.egamma_max_eta)
    )
    return _top_objects(accept, cluster_em, N_EGAMMA, CLASS_EGAMMA)


def _muons(crossings: Crossings, cfg: EmulationConfig, rng) -> np.ndarray:
    n_mu = len(crossings.muon_pt)
    pt = crossings.muon_pt * (1 + cfg.muon_pt_resolution * rng.standard_normal(n_mu))
    pt = np.floor(np.maximum(pt, 0) / cfg.tower_lsb_gev) * cfg.tower_lsb_gev
    eta = crossings.muon_eta + 0.01 * rng.standard_normal(n_mu)
    phi = crossings.muon_phi + 0.01 * rng.standard_normal(n_mu)
    phi = wrap_phi(phi)
    ok = (pt >= cfg.muon_min_pt_gev) & (np.abs(eta) <= cfg.muon_max_eta)
    return _rank_into_slots(crossings.muon_event[ok], pt[ok], eta[ok], phi[ok], crossings.n_events, N_MUONS, CLASS_MUON)


def _met(total, cfg: EmulationConfig) -> np.ndarray:
    inside = (np.abs(ETA_CENTERS) <= cfg.met_max_eta)[None, :, None]
    et = np.where(inside, total, 0.0)
    sx = -(et * np.cos(PHI_CENTERS)[None, None, :]).sum(axis=(1, 2))
    sy = -(et * np.sin(PHI_CENTERS)[None, None, :]).sum(axis=(1, 2))
    met = np.floor(np.hypot(sx, sy) / cfg.tower_lsb_gev) * cfg.tower_lsb_gev
    return np.stack((met, np.zeros_like(met), np.arctan2(sy, sx), np.full_like(met, CLASS_MET)), axis=1)


def _regions(total: np.ndarray) -> np.ndarray:
    first = N_ETA // 2 - CENTRAL_TOWERS_PER_SIDE
    central = total[:, first : first + 2 * CENTRAL_TOWERS_PER_SIDE, :]
    n = len(total)
    sums = central.reshape(n, N_REGION_ETA, 4, N_REGION_PHI, 4).sum(axis=(2, 4))
    return np.clip(np.floor(sums), 0, 1023).astype(np.uint16).transpose(0, 2, 1)
