"""The fault report: per-fault outcomes classed harmless / degrading / catastrophic, and what they add up to.

``fault_report.json`` (``l1ad-faults/1``) holds the campaign's settings, the fault-free working point, the class
shares with their intervals, the share of faults that break the rate budget (what the leaderboard shows), a
sensitivity map per layer, parameter and bit position, and the worst faults; ``faults.csv`` holds every fault.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from l1ad.benchmark.statistics import clopper_pearson
from l1ad.config import FaultsConfig
from l1ad.config.base import StrictModel
from l1ad.files import read_json_model
from l1ad.firmware.faults.campaign import CampaignResult
from l1ad.firmware.faults.ranking import RankingScore
from l1ad.firmware.faults.sites import FaultSites

FAULT_REPORT = "fault_report.json"
FAULT_TABLE = "faults.csv"
SCHEMA = "l1ad-faults/1"
CLASSES = ("harmless", "degrading", "catastrophic")
SOURCE = ("bit-exact emulation of the firmware network (l1ad FixedPointNetwork) with one weight or bias bit flipped "
          "per fault, on the evaluation's network inputs; the fast path recomputes only what a flip changes and equals "
          "the naive flip-then-predict loop fault for fault (tested; checked by scripts/bench_faults.py)")
PARAMETER_NOTE = ("every weight and bias bit counts, zeros included: hls4ml folds constant-zero weights into logic, so "
                  "for a pruned model some sites are bits the chip does not hold")


def sample_size(population: int, margin: float, confidence: float) -> int:
    """Faults to sample so a share's interval half-width is at most ``margin`` at ``confidence`` (worst case, share
    0.5; normal approximation with the finite-population correction, sampling without replacement)."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    n0 = z * z * 0.25 / margin**2
    return min(population, math.ceil(n0 / (1 + (n0 - 1) / population)))


class ClassShare(StrictModel):
    name: str
    n_faults: int = Field(ge=0)
    share: float = Field(ge=0, le=1)
    share_lo: float = Field(ge=0, le=1)
    share_hi: float = Field(ge=0, le=1)


class Sensitivity(StrictModel):
    """The faults of one parameter array at one bit position."""

    layer: str
    parameter: str
    bit_position: int = Field(description="0 = the most significant (sign) bit")
    n_faults: int
    catastrophic: int
    degrading: int
    max_rate_factor: float
    mean_abs_score_change: float = Field(description="over the measured background events, averaged over the faults")


class WorstFault(StrictModel):
    site: int
    layer: str
    parameter: str
    element: int
    bit_position: int
    bit_value: float = Field(description="the flipped bit's value in the parameter's units (negative: sign bit)")
    fault_class: str
    background_accepted: int
    rate_factor: float
    rate_khz: float | None
    efficiency_change: dict[str, float]


class NominalPoint(StrictModel):
    """The fault-free network at the campaign's working point."""

    working_point: str
    label: str
    threshold: float = Field(description="set on the emulator's background test scores (the firmware report's)")
    background_events: int
    background_accepted: int
    rate_khz: float | None
    fpr: float
    efficiencies: dict[str, float]
    signal_events: dict[str, int]


class ProtectionPoint(StrictModel):
    """Triplicating the top bits of a ranking: what it removes and what it costs."""

    ranking: str
    bits: int
    share_of_bits: float
    catastrophic_removed: float = Field(description="share of the campaign's catastrophic faults among those bits")
    added_lut: int
    added_ff: int
    added_lut_percent: float = Field(description="of the FPGA part")
    added_ff_percent: float


PROTECTION_COST = ("triple modular redundancy of a weight or bias bit held in a register: 2 more flip-flops and one "
                   "LUT as majority voter per protected bit (a model, not synthesized); hls4ml folds constant weights "
                   "into logic, so this is the cost for weights in configuration registers")
PROTECTED_SHARES = (0.01, 0.02, 0.05, 0.1, 0.2)


def protection_points(table: pd.DataFrame, rankings: dict[str, np.ndarray], part) -> list[ProtectionPoint]:
    """For the oracle (the campaign's own order) and each ranking: the catastrophic faults removed by protecting its
    top 1, 2, 5, 10, 20 % of bits, and the added LUTs and FFs (PROTECTION_COST) as counts and % of ``part``."""
    harmful = table.fault_class.to_numpy() == "catastrophic"
    total = max(int(harmful.sum()), 1)
    orders = {"oracle": np.argsort(~harmful, kind="stable")}
    orders |= {name: np.argsort(-score, kind="stable") for name, score in rankings.items()}
    points = []
    for name, order in orders.items():
        for share in PROTECTED_SHARES:
            bits = max(1, round(share * len(table)))
            removed = int(harmful[order[:bits]].sum())
            points.append(ProtectionPoint(ranking=name, bits=bits, share_of_bits=bits / len(table),
                                          catastrophic_removed=removed / total, added_lut=bits, added_ff=2 * bits,
                                          added_lut_percent=100 * bits / part.lut, added_ff_percent=200 * bits / part.ff))
    return points


class Timing(StrictModel):
    seconds: float = Field(description="compute time of the campaign's shards (a resumed campaign counts each once)")
    faults_per_second: float
    events_per_second: float = Field(description="fault x event evaluations per second")
    pairs_run: int = Field(description="(fault, event) pairs sent through the rest of the network by the fast path")


class FaultReport(StrictModel):
    """The contents of ``fault_report.json``."""

    schema_: Literal["l1ad-faults/1"] = Field(SCHEMA, alias="schema")
    model: str
    campaign: Literal["exhaustive", "sampled"]
    source: str = SOURCE
    note: str = PARAMETER_NOTE
    network_file: str
    n_sites: int = Field(description="every weight and bias bit of the network")
    n_faults: int = Field(description="faults evaluated (all sites, or the sample)")
    sampling: str | None = Field(None, description="how the sample was drawn and sized")
    settings: FaultsConfig
    nominal: NominalPoint
    shares: list[ClassShare] = Field(description="share of faults per class (interval: exact for an exhaustive "
                                                 "campaign, Clopper-Pearson at the sampling confidence otherwise)")
    rate_budget_broken: ClassShare = Field(description="faults whose rate at the nominal threshold exceeds "
                                                       "catastrophic_rate_factor x nominal or rate_budget_khz")
    sensitivity: list[Sensitivity]
    worst: list[WorstFault] = Field(description="the faults with the largest rate blow-up (then efficiency loss)")
    timing: Timing
    rankings: list[RankingScore] = Field(default_factory=list, description="each ranking scored against this "
                                         "campaign's catastrophic faults")
    ranking_note: str = Field("", description="how the rankings were computed, or why there are none")
    hessian_trace: float | None = None
    hessian_top_eigenvalues: list[float] = Field(default_factory=list)
    protection: list[ProtectionPoint] = Field(default_factory=list)
    protection_cost: str = PROTECTION_COST
    table_file: str = FAULT_TABLE

    model_config = StrictModel.model_config | {"populate_by_name": True}


def read_fault_report(directory: Path) -> FaultReport:
    return read_json_model(Path(directory) / FAULT_REPORT, FaultReport, "fault report", missing="l1ad faults",
                           schema=SCHEMA, regenerate="re-run 'l1ad faults' to rewrite it")


def fault_table(result: CampaignResult, sites: FaultSites, *, background: str, collision_rate_mhz: float | None,
                cfg: FaultsConfig) -> pd.DataFrame:
    """One row per fault: where it is, what it does (rate, efficiencies, score change) and its class."""
    table = sites.table(result.sites)
    b = result.samples.index(background)
    n_bkg, nominal_bkg = int(result.n_events[b]), int(result.nominal_accepted[b])
    accepted = result.accepted[:, b]
    table["background_accepted"] = accepted
    table["rate_factor"] = accepted / nominal_bkg if nominal_bkg else np.where(accepted > 0, np.inf, 1.0)
    rate = accepted / n_bkg * collision_rate_mhz * 1e3 if collision_rate_mhz else None
    table["rate_khz"] = rate if rate is not None else np.nan
    catastrophic = table.rate_factor.to_numpy() > cfg.catastrophic_rate_factor
    if rate is not None:
        catastrophic |= rate > cfg.rate_budget_khz
    budget = catastrophic.copy()
    degrading = np.abs(table.rate_factor.to_numpy() - 1) > cfg.degrading_rate_change
    for s, name in enumerate(result.samples):
        if name == background:
            continue
        nominal = result.nominal_accepted[s] / max(result.n_events[s], 1)
        efficiency = result.accepted[:, s] / max(result.n_events[s], 1)
        table[f"efficiency_{name}"] = efficiency
        table[f"efficiency_change_{name}"] = efficiency - nominal
        # a lost fraction of a tiny efficiency is a handful of events: catastrophic needs a material loss too
        catastrophic |= ((efficiency < (1 - cfg.catastrophic_efficiency_loss) * nominal)
                         & (nominal - efficiency > cfg.degrading_efficiency_change))
        degrading |= np.abs(efficiency - nominal) > cfg.degrading_efficiency_change
    measured = int(result.score_events[b])
    table["score_changed_fraction"] = result.score_changed[:, b] / measured if measured else np.nan
    table["mean_abs_score_change"] = result.abs_score_change_sum[:, b] / measured if measured else np.nan
    table["max_abs_score_change"] = result.max_abs_score_change[:, b] if measured else np.nan
    table["fault_class"] = np.where(catastrophic, "catastrophic", np.where(degrading, "degrading", "harmless"))
    table["breaks_rate_budget"] = budget
    return table


def _share(name: str, k: int, n: int, interval: bool, confidence: float) -> ClassShare:
    share = k / n if n else 0.0
    lo, hi = clopper_pearson(k, n, confidence) if interval and n else (share, share)
    return ClassShare(name=name, n_faults=k, share=share, share_lo=lo, share_hi=hi)


def build_report(table: pd.DataFrame, result: CampaignResult, *, model: str, campaign: str, n_sites: int,
                 sampling: str | None, cfg: FaultsConfig, nominal: NominalPoint, seconds: float,
                 network_file: str, n_worst: int = 20, **rankings) -> FaultReport:
    """The report of a campaign's table; ``rankings``: the ranking fields (rankings, ranking_note, hessian_trace,
    hessian_top_eigenvalues, protection)."""
    n = len(table)
    sampled = campaign == "sampled"
    shares = [_share(c, int((table.fault_class == c).sum()), n, sampled, cfg.confidence) for c in CLASSES]
    budget = _share("breaks the rate budget", int(table.breaks_rate_budget.sum()), n, sampled, cfg.confidence)
    sensitivity = []
    for (layer, parameter, position), group in table.groupby(["layer", "parameter", "bit_position"], sort=False):
        sensitivity.append(Sensitivity(
            layer=layer, parameter=parameter, bit_position=int(position), n_faults=len(group),
            catastrophic=int((group.fault_class == "catastrophic").sum()),
            degrading=int((group.fault_class == "degrading").sum()),
            max_rate_factor=float(group.rate_factor.max()),
            mean_abs_score_change=float(group.mean_abs_score_change.mean())))
    signals = [c.removeprefix("efficiency_change_") for c in table.columns if c.startswith("efficiency_change_")]
    loss = -table[[f"efficiency_change_{s}" for s in signals]].min(axis=1) if signals else 0.0
    order = table.assign(_loss=loss).sort_values(["rate_factor", "_loss"], ascending=False).head(n_worst)
    worst = [WorstFault(site=int(r.site), layer=r.layer, parameter=r.parameter, element=int(r.element),
                        bit_position=int(r.bit_position), bit_value=float(r.bit_value), fault_class=r.fault_class,
                        background_accepted=int(r.background_accepted), rate_factor=float(r.rate_factor),
                        rate_khz=None if np.isnan(r.rate_khz) else float(r.rate_khz),
                        efficiency_change={s: float(getattr(r, f"efficiency_change_{s}")) for s in signals})
             for r in order.itertuples()]
    evaluations = int(result.n_events.sum()) * n
    timing = Timing(seconds=seconds, faults_per_second=n / max(seconds, 1e-9),
                    events_per_second=evaluations / max(seconds, 1e-9), pairs_run=result.pairs_run)
    return FaultReport(model=model, campaign=campaign, network_file=network_file, n_sites=n_sites, n_faults=n,
                       sampling=sampling, settings=cfg, nominal=nominal, shares=shares, rate_budget_broken=budget,
                       sensitivity=sensitivity, worst=worst, timing=timing, **rankings)


def plot_fault_report(table: pd.DataFrame, report: FaultReport, directory: Path) -> list[Path]:
    """``sensitivity.png`` (share of catastrophic faults per parameter array and bit position) and
    ``rate_blowup.png`` (distribution of the rate factor)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    arrays = list(dict.fromkeys(zip(table.layer, table.parameter, strict=True)))
    width = int(table.width.max())
    grid = np.full((len(arrays), width), np.nan)
    for s in report.sensitivity:
        grid[arrays.index((s.layer, s.parameter)), s.bit_position] = s.catastrophic / s.n_faults
    fig, ax = plt.subplots(figsize=(max(6.5, 2.5 + 0.5 * width), 1.5 + 0.4 * len(arrays)))
    image = ax.imshow(grid, aspect="auto", cmap="magma_r", vmin=0, vmax=max(np.nanmax(grid), 1e-3))
    ax.set_xticks(range(width), [str(b) for b in range(width)])
    ax.set_yticks(range(len(arrays)), [f"{layer} {parameter}" for layer, parameter in arrays])
    ax.set_xlabel("bit position (0 = sign / most significant)")
    ax.set_title(f"{report.model}: share of single-bit faults that are catastrophic", fontsize=10)
    fig.colorbar(image, ax=ax, label="catastrophic share")
    fig.tight_layout()
    paths = [directory / "sensitivity.png"]
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)
    factors = table.rate_factor.to_numpy(dtype=float)
    finite = factors[np.isfinite(factors)]
    fig, ax = plt.subplots(figsize=(6, 4))
    low = max(finite[finite > 0].min(initial=1.0), 1e-3)
    bins = np.logspace(np.log10(low) - 0.1, np.log10(max(finite.max(initial=1.0), 1.0)) + 0.1, 50)
    ax.hist(np.clip(finite, bins[0], None), bins=bins, color="tab:blue")
    ax.axvline(1.0, color="k", lw=1, label="fault-free")
    ax.axvline(report.settings.catastrophic_rate_factor, color="tab:red", ls="--", label="catastrophic")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("background rate at the nominal threshold / fault-free rate")
    ax.set_ylabel("faults")
    ax.set_title(f"{report.model}: {report.campaign} single-bit campaign, {report.n_faults} faults")
    ax.legend()
    fig.tight_layout()
    paths.append(directory / "rate_blowup.png")
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)
    if report.rankings:
        fig, ax = plt.subplots(figsize=(6, 4))
        n = report.n_faults
        k = np.arange(1, n + 1)
        total = max(sum(s.n_faults for s in report.shares if s.name == "catastrophic"), 1)
        ax.plot(k / n, np.minimum(k, total) / total, color="k", label="oracle (the campaign's order)")
        ax.plot([0, 1], [0, 1], color="grey", ls=":", label="random")
        for r in report.rankings:
            ax.plot(np.array(r.curve_k) / n, r.curve_caught, label=f"{r.name} (area {r.normalized_area:.2f})")
        ax.set_xlabel("share of bits, most sensitive first by the ranking")
        ax.set_ylabel("share of catastrophic faults caught")
        ax.set_title(f"{report.model}: bit rankings against the {report.campaign} campaign", fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(directory / "ranking_quality.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths
