"""Level-1 jet energy calibration: applying the correction table, matching Level-1 jets to particle-level jets and
measuring the response from which the table is fitted.

The table (:class:`~l1ad.config.JetCalibration`) is a look-up in the jet's |eta| bin, piecewise linear in the
uncalibrated pT. It is fitted by numerical inversion, as CMS fits its Level-1 jet calibration: in bins of
particle-level pT (so resolution does not bias the binning), the median response R = L1 pT / particle-level pT and the
median uncalibrated L1 pT x are measured; the correction at x is 1 / R, smoothed by a fit in ln x.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ad.benchmark.generation.genjets import GenJets
from l1ad.benchmark.generation.particles import gather_ranges
from l1ad.benchmark.kinematics import delta_r
from l1ad.benchmark.trigger.layout import N_EGAMMA, N_MUONS
from l1ad.config import JetCalibration, JetResolution, JetResolutionBin

_JET = 1 + N_EGAMMA + N_MUONS  # first jet row of the (19, 4) trigger-object layout

MATCH_DR = 0.3  # a particle-level jet and its Level-1 jet (the window's seed-tower centre) at most this far apart
ISOLATION_DR = 0.8  # the window's full width (9 towers of 0.087): no other particle-level jet this close
ISOLATION_MIN_PT_GEV = 10.0  # ... above this pT


def jet_correction(calibration: JetCalibration, pt: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    """The correction factor for jets of uncalibrated ``pt`` at ``abs_eta`` (same shape): linear between the pT
    points of the jet's |eta| bin, constant beyond them; beyond the last |eta| edge, the last bin."""
    pt, abs_eta = np.asarray(pt, dtype=np.float64), np.asarray(abs_eta, dtype=np.float64)
    edges = np.asarray(calibration.abs_eta_edges)
    which = np.clip(np.searchsorted(edges, abs_eta, side="right") - 1, 0, len(edges) - 2)
    factor = np.ones(np.broadcast_shapes(pt.shape, abs_eta.shape))
    pt, which = np.broadcast_to(pt, factor.shape), np.broadcast_to(which, factor.shape)
    for b, row in enumerate(calibration.factors):
        inside = which == b
        factor[inside] = np.interp(pt[inside], calibration.pt_points_gev, row)
    return factor


@dataclass(frozen=True)
class MatchedJets:
    """Particle-level jets matched to Level-1 jets, one row each: particle-level pT and eta, Level-1 pT and eta."""

    gen_pt: np.ndarray
    gen_eta: np.ndarray
    l1_pt: np.ndarray
    l1_eta: np.ndarray
    n_candidates: int  # isolated particle-level jets offered for matching (matched or not)

    @property
    def response(self) -> np.ndarray:
        return self.l1_pt / self.gen_pt

    def __len__(self) -> int:
        return len(self.gen_pt)

    @staticmethod
    def concatenate(parts: list[MatchedJets]) -> MatchedJets:
        return MatchedJets(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("gen_pt", "gen_eta", "l1_pt",
                                                                                       "l1_eta")),
                           sum(p.n_candidates for p in parts))


def match_jets(particles: np.ndarray, gen: GenJets, *, min_gen_pt: float, max_abs_eta: float,
               max_dr: float = MATCH_DR) -> MatchedJets:
    """Match every isolated particle-level jet (pT > ``min_gen_pt``, |eta| <= ``max_abs_eta``; no other jet of
    ``gen`` above ISOLATION_MIN_PT_GEV within ISOLATION_DR) to the nearest Level-1 jet of its event within ``max_dr``.

    ``gen.interaction`` indexes the events of ``particles`` (the crossings' own hard interactions). Isolation keeps
    two particle-level jets from sharing one Level-1 jet (their matches would be less than 2 ``max_dr`` apart).
    """
    if len(gen) == 0:
        empty = np.zeros(0, np.float32)
        return MatchedJets(empty, empty, empty, empty, 0)
    event = gen.interaction
    offsets = np.concatenate(([0], np.cumsum(np.bincount(event, minlength=len(particles)))))
    other, jet = gather_ranges(offsets, event)  # every (jet, jet of the same event) pair
    close = ((other != jet) & (gen.pt[other] > ISOLATION_MIN_PT_GEV)
             & (delta_r(gen.eta[jet], gen.phi[jet], gen.eta[other], gen.phi[other]) < ISOLATION_DR))
    isolated = np.bincount(jet, weights=close, minlength=len(gen)) == 0
    candidate = np.flatnonzero(isolated & (gen.pt > min_gen_pt) & (np.abs(gen.eta) <= max_abs_eta))
    jets = particles[event[candidate], _JET:]  # (n, 10, 4)
    dr = delta_r(gen.eta[candidate, None], gen.phi[candidate, None], jets[..., 1], jets[..., 2])
    dr = np.where(jets[..., 0] > 0, dr, np.inf)
    nearest = np.argmin(dr, axis=1)
    rows = np.arange(len(candidate))
    ok = dr[rows, nearest] < max_dr
    which, slot = candidate[ok], nearest[ok]
    return MatchedJets(gen.pt[which], gen.eta[which], jets[rows[ok], slot, 0], jets[rows[ok], slot, 1],
                       len(candidate))


def median_interval(values: np.ndarray) -> tuple[float, float, float]:
    """The median and its distribution-free 68 % interval (the order statistics n/2 -+ sqrt(n)/2, from the binomial
    distribution of the number of values below the true median)."""
    v = np.sort(values)
    n = len(v)
    half = 0.5 * np.sqrt(n)
    lo, hi = int(np.floor(n / 2 - half)), int(np.ceil(n / 2 + half))
    return float(np.median(v)), float(v[max(lo, 0)]), float(v[min(hi, n - 1)])


@dataclass(frozen=True)
class ResponseBin:
    abs_eta_lo: float
    abs_eta_hi: float
    gen_pt_lo: float
    gen_pt_hi: float
    n: int
    median_l1_pt: float  # uncalibrated L1 pT, median: where the correction 1 / response applies
    response: float  # median L1 / particle-level pT
    response_lo: float  # 68 % interval of the median
    response_hi: float


def response_bins(matched: MatchedJets, abs_eta_edges, gen_pt_edges, min_jets: int) -> list[ResponseBin]:
    """Median response in bins of Level-1 |eta| (the calibration's bins) and particle-level pT, for bins holding at
    least ``min_jets`` matched jets."""
    out = []
    abs_eta = np.abs(matched.l1_eta)
    for e_lo, e_hi in zip(abs_eta_edges[:-1], abs_eta_edges[1:], strict=True):
        in_eta = (abs_eta >= e_lo) & (abs_eta < e_hi)
        for p_lo, p_hi in zip(gen_pt_edges[:-1], gen_pt_edges[1:], strict=True):
            inside = in_eta & (matched.gen_pt >= p_lo) & (matched.gen_pt < p_hi)
            if inside.sum() < min_jets:
                continue
            r, r_lo, r_hi = median_interval(matched.response[inside])
            out.append(ResponseBin(float(e_lo), float(e_hi), float(p_lo), float(p_hi), int(inside.sum()),
                                   float(np.median(matched.l1_pt[inside])), r, r_lo, r_hi))
    return out


def fit_calibration(bins: list[ResponseBin], abs_eta_edges, pt_points, method: str, degree: int = 3) -> JetCalibration:
    """The correction table from measured response bins by numerical inversion: per |eta| bin, the points (median L1
    pT x, 1 / median response) are fitted with a polynomial of ``degree`` in ln x (least squares, each point weighted by
    the inverse width of its 68 % interval), which is evaluated at ``pt_points`` and held constant beyond the first and
    last measured x. Every |eta| bin needs more measured points than ``degree``."""
    factors = []
    for e_lo, e_hi in zip(abs_eta_edges[:-1], abs_eta_edges[1:], strict=True):
        measured = [b for b in bins if b.abs_eta_lo == e_lo and b.abs_eta_hi == e_hi and b.response > 0]
        if len(measured) <= degree:
            raise ValueError(f"{len(measured)} measured response bins in |eta| {e_lo:g}-{e_hi:g}, {degree + 1} needed: "
                             "generate more events")
        x = np.log([b.median_l1_pt for b in measured])
        correction = np.array([1 / b.response for b in measured])
        # the interval of 1 / R from that of R; never narrower than 0.1 % (a bin with many equal responses)
        width = np.maximum([(1 / b.response_lo - 1 / b.response_hi) / 2 for b in measured], 1e-3)
        coefficients = np.polyfit(x, correction, degree, w=1 / width)
        at = np.clip(np.log(pt_points), x.min(), x.max())
        factors.append([round(float(f), 4) for f in np.polyval(coefficients, at)])
    return JetCalibration(abs_eta_edges=[float(e) for e in abs_eta_edges], pt_points_gev=[float(p) for p in pt_points],
                          factors=factors, method=method)


def measure_resolution(matched: MatchedJets, abs_eta_edges, gen_pt_edges, min_jets: int, method: str) -> JetResolution:
    """The stated resolution of (calibrated) matched jets: per Level-1 |eta| bin and particle-level pT bin holding at
    least ``min_jets`` jets, the median response and half its central 68 % interval (16th to 84th percentile), at the
    bin's median particle-level pT."""
    rows = []
    abs_eta = np.abs(matched.l1_eta)
    for e_lo, e_hi in zip(abs_eta_edges[:-1], abs_eta_edges[1:], strict=True):
        points, response, width = [], [], []
        for p_lo, p_hi in zip(gen_pt_edges[:-1], gen_pt_edges[1:], strict=True):
            inside = (abs_eta >= e_lo) & (abs_eta < e_hi) & (matched.gen_pt >= p_lo) & (matched.gen_pt < p_hi)
            if inside.sum() < min_jets:
                continue
            q16, q50, q84 = np.percentile(matched.response[inside], [15.87, 50.0, 84.13])
            points.append(round(float(np.median(matched.gen_pt[inside])), 2))
            response.append(round(float(q50), 4))
            width.append(round(float(max(q84 - q16, 1e-3) / 2), 4))
        if points:
            rows.append(JetResolutionBin(abs_eta_lo=float(e_lo), abs_eta_hi=float(e_hi), gen_pt_gev=points,
                                         response=response, width=width))
    if not rows:
        raise ValueError(f"no (|eta|, pT) bin holds {min_jets} matched jets: generate more events")
    return JetResolution(bins=rows, method=method)
