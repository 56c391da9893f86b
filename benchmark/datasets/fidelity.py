"""Zero-bias fidelity: is the background tail, where every trigger threshold sits, real?

Checks a trigger physicist makes on a zero-bias sample, measured on its stored objects and per-crossing truth:

* the reference Level-1 menu's rates, beside the particle-level rate of the same seeds on the same crossings
  (:mod:`l1ad.benchmark.generation.particle_level`) and CMS's published scale;
* how many distinct interactions make each quantity's tail above its 10 kHz threshold (a tail made of a few reused
  interactions is an artefact);
* rates versus the number of pile-up interactions;
* jet multiplicity and MET against particle level.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l1ad.benchmark.datasets.samples import Sample
from l1ad.benchmark.generation.genjets import HT_MAX_ETA, MIN_PT_GEV
from l1ad.benchmark.generation.particle_level import EGAMMA_MAX_ETA, MUON_MAX_ETA
from l1ad.benchmark.generation.pileup import CrossingTruth
from l1ad.benchmark.statistics import clopper_pearson
from l1ad.benchmark.trigger.layout import N_EGAMMA, N_MUONS
from l1ad.benchmark.trigger.menu import DEFAULT_COLLISION_RATE_MHZ, menu_decisions, menu_rates
from l1ad.config.menu import MenuConfig, Seed

TAIL_RATE_KHZ = 10.0
MIN_DISTINCT_INTERACTIONS = 20
CMS_REFERENCE = ("CMS Run 2/3 (JINST 15 (2020) P10017): each unprescaled single-object seed O(1-20) kHz at pile-up "
                 "~50-60, the whole Level-1 accept budget ~100 kHz; per-seed values of its figures are not read off "
                 "here, so only this scale is compared")

_EG, _MU, _JET = 1, 1 + N_EGAMMA, 1 + N_EGAMMA + N_MUONS


@dataclass(frozen=True)
class Tail:
    quantity: str
    threshold_gev: float
    n_above: int
    n_distinct: int  # distinct hardest interactions among the crossings above the threshold


def _khz(k: int, n: int) -> tuple[float, float, float]:
    lo, hi = clopper_pearson(k, n)
    to_khz = DEFAULT_COLLISION_RATE_MHZ * 1e3
    return k / n * to_khz, lo * to_khz, hi * to_khz


def tail_quantities(particles: np.ndarray) -> dict[str, np.ndarray]:
    """Per-crossing quantities whose tails the menu and the anomaly thresholds live in."""
    jets = particles[:, _JET:, 0]
    central = np.abs(particles[:, _JET:, 1]) < HT_MAX_ETA
    return {"leading e/gamma pT": particles[:, _EG, 0], "leading muon pT": particles[:, _MU, 0],
            "leading jet pT": particles[:, _JET, 0], "MET": particles[:, 0, 0],
            "HT (jets > 30 GeV, |eta| < 2.5)": np.where(central & (jets > MIN_PT_GEV), jets, 0).sum(axis=1)}


def tails(sample: Sample, rate_khz: float = TAIL_RATE_KHZ) -> list[Tail]:
    """For each tail quantity: the threshold giving ``rate_khz``, and how many distinct interactions are above it (the
    crossing's hardest interaction stands for the one that made the tail: an approximation)."""
    n = len(sample)
    k = max(1, int(round(rate_khz / (DEFAULT_COLLISION_RATE_MHZ * 1e3) * n)))
    out = []
    for name, values in tail_quantities(sample.particles).items():
        threshold = float(np.sort(values)[::-1][min(k, n - 1)])
        above = values > threshold
        out.append(Tail(name, threshold, int(above.sum()), len(np.unique(sample.truth.hardest_id[above]))))
    return out


def particle_level_fires(truth: CrossingTruth, seed: Seed, jet_max_eta: float) -> tuple[np.ndarray, str] | None:
    """The particle-level decision of a single-object, HT or MET seed on the same crossings, and what it counts; None
    where the truth has no particle-level counterpart (multi-object seeds, other acceptances or HT jet thresholds)."""
    threshold = seed.thresholds_gev[0]
    if len(seed.thresholds_gev) > 1:
        return None
    eta = seed.max_eta
    if seed.kind == "muon" and (eta is None or eta >= MUON_MAX_ETA):
        return truth.genmuon_leading_pt > threshold, f"leading generator muon, |eta| < {MUON_MAX_ETA:g}"
    if seed.kind == "egamma" and eta == EGAMMA_MAX_ETA:
        return (truth.genegamma_leading_pt > threshold,
                f"leading generator photon or electron (any origin, no isolation), |eta| < {EGAMMA_MAX_ETA:g}")
    if seed.kind == "jet" and (eta is None or eta >= jet_max_eta):
        return truth.genjet_leading_pt > threshold, f"leading generator jet, |eta| < {jet_max_eta:g}"
    if seed.kind == "ht" and eta == HT_MAX_ETA and seed.ht_jet_min_pt_gev == MIN_PT_GEV:
        return (truth.genjet_ht > threshold,
                f"HT of generator jets above {MIN_PT_GEV:g} GeV, |eta| < {HT_MAX_ETA:g}")
    if seed.kind == "met":
        return (np.hypot(truth.genmet_x, truth.genmet_y) > threshold,
                "MET of the calorimeter particles in the MET acceptance (a perfect calorimeter)")
    return None


def menu_table(sample: Sample, menu: MenuConfig, jet_max_eta: float) -> list[str]:
    """Markdown rows: each seed's emulated rate with its interval and, where defined, the particle-level rate."""
    n = len(sample)
    rows = ["| seed | crossings accepted | rate [kHz] (68 % CL) | particle level, same crossings [kHz] |",
            "|---|---|---|---|"]
    seeds = {seed.name: seed for seed in menu.seeds}
    definitions = []
    for r in menu_rates(sample.particles, menu, DEFAULT_COLLISION_RATE_MHZ):
        level = "—"
        particle = particle_level_fires(sample.truth, seeds[r.seed], jet_max_eta) if r.seed in seeds else None
        if particle is not None:
            k = int(particle[0].sum())
            rate, lo, hi = _khz(k, n)
            level = f"{rate:.2f} [{lo:.2f}, {hi:.2f}] ({k})"
            definitions.append(f"`{r.seed}`: {particle[1]}")
        name = "**whole menu**" if r.seed == "menu" else f"`{r.seed}`"
        rows.append(f"| {name} | {r.n_accepted} | {r.rate_khz:.2f} [{r.rate_interval_khz[0]:.2f}, "
                    f"{r.rate_interval_khz[1]:.2f}] | {level} |")
    rows += ["", "Particle level (every interaction of the crossing on its own, no detector): " + "; ".join(definitions)
             + ". Generator jets are anti-kT 0.4, clustered with FastJet (M. Cacciari, G. P. Salam, G. Soyez, EPJC 72 "
             "(2012) 1896). Fakes (jets taken for e/gamma) and resolution have no particle-level counterpart, so the "
             "e/gamma and MET seeds are expected above it.",
             f"Reference: {CMS_REFERENCE}."]
    return rows


def comparison_lines(sample: Sample, *, calibrated: bool, resolution_stated: bool) -> list[str]:
    """Jet multiplicity, MET resolution and the leading-jet response, emulated against particle level; ``calibrated``
    says whether the emulation calibrated its jets, ``resolution_stated`` whether it states their resolution (which
    the particle-level count above threshold is folded with)."""
    p, truth = sample.particles, sample.truth
    l1_jets = (p[:, _JET:, 0] > MIN_PT_GEV).sum(axis=1).mean()
    plain, smeared = truth.genjet_count.mean(), truth.genjet_count_smeared.mean()
    met_x = p[:, 0, 0] * np.cos(p[:, 0, 2])
    met_y = p[:, 0, 0] * np.sin(p[:, 0, 2])
    gen_width = float(np.std(np.concatenate([truth.genmet_x, truth.genmet_y])))
    l1_width = float(np.std(np.concatenate([met_x, met_y])))
    difference = float(np.std(np.concatenate([met_x - truth.genmet_x, met_y - truth.genmet_y])))
    folded = (f"{smeared:.3f} with the stated jet resolution folded in (ratio {l1_jets / max(smeared, 1e-9):.2f}), "
              if resolution_stated else "no jet resolution is stated to fold in, ")
    return [
        f"- Jets above {MIN_PT_GEV:g} GeV per crossing: {l1_jets:.3f} emulated against {plain:.3f} at particle level "
        f"(ratio {l1_jets / max(plain, 1e-9):.2f}), {folded}target within a factor 1.5; crossings with one: "
        f"{(p[:, _JET, 0] > MIN_PT_GEV).mean():.3f} emulated against {(truth.genjet_count > 0).mean():.3f}. Level-1 "
        "jets made of several pile-up interactions together have no particle-level jet (each interaction is "
        "clustered on its own).",
        f"- MET per-component width (standard deviation of MET_x and MET_y): {l1_width:.1f} GeV emulated against "
        f"{gen_width:.1f} GeV at particle level (ratio {l1_width / max(gen_width, 1e-9):.2f}, target within a factor "
        f"1.5); the per-crossing difference, emulated minus particle level, has a width of {difference:.1f} GeV: the "
        "pile-up-dependent tower thresholds drop the soft deposits a perfect calorimeter sums, so the two differ by "
        "more than resolution.",
        f"- Leading-jet response (median emulated / particle-level leading jet pT, crossings with a particle-level "
        f"leading jet above 60 GeV): {_response(p[:, _JET, 0], truth.genjet_leading_pt)}; "
        + ("jets calibrated (see Jet energy calibration)." if calibrated else "no jet energy calibration is applied."),
    ]


def _response(l1: np.ndarray, particle: np.ndarray) -> str:
    hard = particle > 60
    if hard.sum() < 10:
        return f"not measured ({int(hard.sum())} crossings)"
    ratio = l1[hard] / particle[hard]
    return f"{np.median(ratio):.3f} ({int(hard.sum())} crossings)"


def plot_rates_vs_pileup(sample: Sample, menu: MenuConfig, path: Path) -> Path:
    """Each seed's rate in bins of the number of pile-up interactions, with 68 % Clopper-Pearson error bars."""
    from l1ad.benchmark.plotting import hep_pyplot

    plt, _ = hep_pyplot()
    n_pileup = sample.truth.n_pileup.astype(np.int64)
    edges = np.unique(np.quantile(n_pileup, np.linspace(0, 1, 7)).round())
    fig, ax = plt.subplots(figsize=(11, 8))
    for name, fired in menu_decisions(sample.particles, menu).items():
        centres, rates, errors = [], [], [[], []]
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            inside = (n_pileup >= lo) & (n_pileup < hi if hi < edges[-1] else n_pileup <= hi)
            if inside.sum() == 0:
                continue
            rate, r_lo, r_hi = _khz(int(fired[inside].sum()), int(inside.sum()))
            centres.append(n_pileup[inside].mean())
            rates.append(rate)
            errors[0].append(rate - r_lo)
            errors[1].append(r_hi - rate)
        ax.errorbar(centres, rates, yerr=errors, marker="o", capsize=3, label=name,
                    linewidth=3 if name == "menu" else 1.5)
    ax.set_xlabel("pile-up interactions in the crossing")
    ax.set_ylabel("rate [kHz] (68 % CL)")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.legend(fontsize=11, ncol=2)
    fig.savefig(path, dpi=70, bbox_inches="tight")
    plt.close(fig)
    return path
