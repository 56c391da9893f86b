"""Level-1 trigger emulation: particles -> calorimeter towers -> trigger objects in the ADC2021 layout.

What a Level-1 trigger sees, approximately as in CMS Phase-1 (values are configurable and written to the dataset card):

* towers: 72 in phi; in eta the CMS-like edges (0.087 wide up to |eta| = 1.74, wider in the endcap up to 3.0, 12 forward
  towers up to 5.0); EM and hadronic ET per tower, smeared with a/sqrt(E) (+) c resolution, Gaussian noise, a zero-suppression
  threshold and a 0.5 GeV least significant bit;
* jets: a sliding window of constant eta-phi area (9 towers in phi, about 0.78 in eta: 9 barrel towers, fewer of the
  wider endcap and forward towers) around a local-maximum seed tower; pile-up subtracted with the median of the seven
  other 9-tower blocks of the window's eta rings (robust to other jets; the CMS Phase-1 "chunky donut", used before,
  kept pile-up jets alive at pile-up 60 here); then a jet energy calibration (pT- and |eta|-dependent factors fitted to
  particle-level jets, :mod:`.calibration`) before the minimum-pT cut;
* e/gamma: local-maximum EM tower, 3x3 EM cluster, hadronic-over-EM and relative isolation cuts;
* muons: generator muons (decays in flight included) with the muon trigger's coarse 1/pT resolution and its
  tails, |eta| < 2.4;
* MET: negative vector sum of the ET of towers above a pile-up dependent threshold;
* CICADA regions: 4x4-tower sums over the 18 (phi) x 14 (eta) central regions, integer GeV.

Everything runs on a whole chunk of events at once with numpy (no Python loop per event or particle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ad.benchmark.generation.pileup import Crossings
from l1ad.benchmark.geometry import CENTRAL_TOWERS_PER_SIDE, ETA_CENTERS, ETA_EDGES, N_ETA, N_PHI, PHI_CENTERS
from l1ad.benchmark.kinematics import wrap_phi
from l1ad.benchmark.trigger.calibration import jet_correction
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
    window = boxes.jet_window()
    pileup = boxes.ring_pileup(window)
    particles[:, 1 : 1 + N_EGAMMA] = _egamma(em, had, boxes, window, pileup, cfg)
    particles[:, 1 + N_EGAMMA : 1 + N_EGAMMA + N_MUONS] = _muons(crossings, cfg, rng)
    particles[:, 1 + N_EGAMMA + N_MUONS :] = _jets(total, window, pileup, cfg)
    return TriggerObjects(particles=particles, regions=_regions(total))


def _towers(crossings: Crossings, cfg: EmulationConfig, rng):
    n = crossings.n_events
    cells = N_ETA * N_PHI * 2
    event, cell, pt = _share_hadron_showers(crossings, cfg, rng)
    deposited = np.bincount(event * cells + cell, weights=pt, minlength=n * cells).astype(np.float32).reshape(
        n, N_ETA, N_PHI, 2)
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


def _share_hadron_showers(crossings: Crossings, cfg: EmulationConfig, rng):
    """Hadrons that start showering in the EM layer (probability ``hadron_em_probability``) leave a fraction of their
    ET there, uniform in [0, ``hadron_em_fraction_max``]; the rest stays in the hadronic layer. This is what lets jets fake e/gamma (a pi+- that
    deposits most of its energy early passes H/E) and isolation then decides. Drawn afresh for every crossing."""
    event, cell, pt = crossings.deposit_event, crossings.deposit_cell, crossings.deposit_pt
    early = np.flatnonzero((cell & 1).astype(bool) & (rng.random(len(cell)) < cfg.hadron_em_probability))
    fraction = cfg.hadron_em_fraction_max * rng.random(len(early), dtype=np.float32)
    in_hadronic = pt.copy()
    in_hadronic[early] *= 1 - fraction
    return (np.concatenate((event, event[early])), np.concatenate((cell, cell[early] - 1)),
            np.concatenate((in_hadronic, pt[early] * fraction)))


def _jet_window_rows(half_extent: float = 4.5 * 0.087) -> tuple[np.ndarray, np.ndarray]:
    """Per eta ring, how many rings below and above the jet window reaches: as close as possible to ``half_extent`` in
    eta on each side of the ring's centre (4 barrel rings; fewer where the towers are wider)."""
    lo, hi = np.zeros(N_ETA, dtype=np.int64), np.zeros(N_ETA, dtype=np.int64)
    for i in range(N_ETA):
        for side, out in ((-1, lo), (1, hi)):
            reach = [abs(abs(ETA_EDGES[np.clip(i + (k + 1 if side > 0 else -k), 0, N_ETA)] - ETA_CENTERS[i]) - half_extent)
                     for k in range(_BoxSums.PAD + 1)]
            out[i] = side * int(np.argmin(reach))
    return lo, hi


class _BoxSums:
    """Sums of tower ET over rectangles placed relative to every tower (zero beyond the eta edges, wrapping in phi)."""

    PAD = 7  # the farthest a window reaches from the central tower

    def __init__(self, towers: np.ndarray):
        padded = _pad_grid(towers, self.PAD)
        self.c = np.pad(np.cumsum(np.cumsum(padded, axis=1), axis=2), ((0, 0), (1, 0), (1, 0)))

    def __call__(self, eta_lo, eta_hi, phi_lo: int, phi_hi: int) -> np.ndarray:
        """Sum over towers (i + eta_lo .. i + eta_hi, j + phi_lo .. j + phi_hi) for every tower (i, j); the eta offsets
        may be per-ring arrays."""
        p, c = self.PAD, self.c
        rings = np.arange(N_ETA)
        i0, i1 = p + rings + eta_lo, p + rings + eta_hi + 1
        j0, j1 = p + phi_lo, p + phi_hi + 1
        return (c[:, i1, j1 : j1 + N_PHI] - c[:, i0, j1 : j1 + N_PHI]
                - c[:, i1, j0 : j0 + N_PHI] + c[:, i0, j0 : j0 + N_PHI])

    def window(self, half: int) -> np.ndarray:
        return self(-half, half, -half, half)

    def jet_window(self) -> np.ndarray:
        return self(_JET_LO, _JET_HI, -4, 4)

    @staticmethod
    def ring_pileup(window: np.ndarray) -> np.ndarray:
        """Pile-up inside every jet window: the median of the sums of the seven other windows along the same eta rings
        (the 63 remaining towers of the ring band, in blocks of 9 phi towers). The median ignores up to three blocks
        holding jets, so a back-to-back jet or a second jet at the same eta does not eat into the jet's energy."""
        return median_of_seven([np.roll(window, -9 * k, axis=2) for k in range(1, 8)])


# A median-of-7 selection network (13 compare-exchanges; checked on every 0/1 input, which by the 0-1 principle proves
# it for all inputs): the 4th smallest ends in slot 3. Elementwise min/max over whole arrays is ~4x faster than
# np.median's partition along a stacked axis, and gives the very same values.
_MEDIAN_OF_7 = ((0, 5), (0, 3), (1, 6), (2, 4), (0, 1), (3, 5), (2, 6), (2, 3), (3, 6), (4, 5), (1, 4), (1, 3), (3, 4))


def median_of_seven(arrays: list[np.ndarray]) -> np.ndarray:
    """Elementwise median of seven same-shape arrays (equal to ``np.median(np.stack(arrays), axis=0)``)."""
    if len(arrays) != 7:
        raise ValueError(f"median_of_seven needs 7 arrays, got {len(arrays)}")
    p = list(arrays)
    for a, b in _MEDIAN_OF_7:
        p[a], p[b] = np.minimum(p[a], p[b]), np.maximum(p[a], p[b])
    return p[3]


_JET_LO, _JET_HI = _jet_window_rows()
_JET_RINGS = _JET_HI - _JET_LO + 1  # eta rings per jet window


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


def _jets(total, window: np.ndarray, pileup: np.ndarray, cfg: EmulationConfig) -> np.ndarray:
    """Jets at the seed towers: pile-up-subtracted window ET, calibrated (if the config has a calibration), then the
    minimum-pT cut and the LSB."""
    seeds = _local_maxima(total, 4, cfg.jet_seed_gev, cfg.tower_lsb_gev)
    event, ieta, iphi = np.nonzero(seeds & (np.abs(ETA_CENTERS)[None, :, None] <= cfg.jet_max_eta))
    et = window[event, ieta, iphi] - pileup[event, ieta, iphi]
    if cfg.jet_calibration is not None:
        et = et * jet_correction(cfg.jet_calibration, et, np.abs(ETA_CENTERS[ieta]))
    keep = et >= cfg.jet_min_pt_gev
    pt = np.floor(et[keep] / cfg.tower_lsb_gev) * cfg.tower_lsb_gev
    return _rank_into_slots(event[keep], pt, ETA_CENTERS[ieta[keep]], PHI_CENTERS[iphi[keep]], len(total), N_JETS,
                            CLASS_JET)


def _egamma(em, had, boxes: _BoxSums, window: np.ndarray, pileup: np.ndarray, cfg: EmulationConfig) -> np.ndarray:
    cluster_em = _window_sum(em, 1)
    cluster_had = _window_sum(had, 1)
    # isolation: the jet window minus the 3x3 core, less the pile-up expected over that area
    isolation = window - boxes.window(1) - pileup * (1 - 9 / (9 * _JET_RINGS))[None, :, None]
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
    """Generator muons measured by the muon trigger: 1/pT smeared by a double Gaussian (a core, and a wide tail for a
    fraction of muons: scattering, decays in flight, wrong station combinations), so soft muons are sometimes
    measured hard, as in real L1 single-muon rates; pT saturates at ``muon_max_pt_gev``."""
    n_mu = len(crossings.muon_pt)
    reach = crossings.muon_pt >= cfg.muon_min_true_pt_gev  # softer muons range out before the muon stations
    width = np.where(rng.random(n_mu) < cfg.muon_tail_fraction, cfg.muon_tail_resolution, cfg.muon_pt_resolution)
    inverse = np.abs(1 + width * rng.standard_normal(n_mu)) / crossings.muon_pt
    pt = np.minimum(1 / np.maximum(inverse, 1e-6), cfg.muon_max_pt_gev)
    pt = np.floor(pt / cfg.tower_lsb_gev) * cfg.tower_lsb_gev
    eta = crossings.muon_eta + 0.01 * rng.standard_normal(n_mu)
    phi = crossings.muon_phi + 0.01 * rng.standard_normal(n_mu)
    phi = wrap_phi(phi)
    ok = reach & (pt >= cfg.muon_min_pt_gev) & (np.abs(eta) <= cfg.muon_max_eta)
    return _rank_into_slots(crossings.muon_event[ok], pt[ok], eta[ok], phi[ok], crossings.n_events, N_MUONS, CLASS_MUON)


def _met(total, cfg: EmulationConfig) -> np.ndarray:
    """Missing ET with pile-up mitigation: only towers above a pile-up dependent threshold enter the sum (as CMS's Run-3
    ETMHF does). The threshold is ``met_tower_threshold_gev`` plus ``met_threshold_per_rho`` times the event's pile-up
    density rho, the mean tower ET over |eta| < 1.5, so it rises with pile-up."""
    central = np.abs(ETA_CENTERS) < 1.5
    rho = total[:, central].mean(axis=(1, 2))
    threshold = cfg.met_tower_threshold_gev + cfg.met_threshold_per_rho * rho
    inside = (np.abs(ETA_CENTERS) <= cfg.met_max_eta)[None, :, None]
    et = np.where(inside & (total > threshold[:, None, None]), total, 0.0)
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
