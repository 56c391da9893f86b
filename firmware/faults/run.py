"""One model's fault campaign from the firmware stage's outputs to the written fault report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from l1ad.benchmark.datasets.parallel import Execution
from l1ad.benchmark.evaluation.report import BACKGROUND_TEST
from l1ad.config import FaultsConfig
from l1ad.config.parts import find_part
from l1ad.errors import L1adError
from l1ad.files import replacing, write_json_model
from l1ad.firmware.faults.campaign import FaultCampaign, ScoreFunction
from l1ad.firmware.faults.ranking import rank_sites, score_ranking
from l1ad.firmware.faults.report import (
    FAULT_REPORT,
    FAULT_TABLE,
    FaultReport,
    NominalPoint,
    build_report,
    fault_table,
    plot_fault_report,
    protection_points,
    sample_size,
)
from l1ad.firmware.faults.shards import run_in_shards
from l1ad.firmware.network import FixedNetwork
from l1ad.firmware.report import FirmwareReport
from l1ad.progress import progress_bar


class FaultCampaignError(L1adError):
    """A model cannot go through a fault campaign (the message says why)."""


def nominal_working_point(firmware: FirmwareReport) -> tuple[str, str, float, bool]:
    """(working point id, label, threshold, zero bias) of the firmware report's headline working point: the
    threshold set on the emulator's background scores."""
    if firmware.status != "emulated" or firmware.emulation is None:
        raise FaultCampaignError(f"model {firmware.model!r} has no fixed-point network to fault: {firmware.source}")
    rows = [w for w in firmware.emulation.working_points if w.working_point == firmware.headline]
    if not rows:
        raise FaultCampaignError(f"{firmware.model}: the firmware report has no working point {firmware.headline!r}; "
                                 "re-run 'l1ad firmware'")
    return rows[0].working_point, rows[0].label, rows[0].threshold, rows[0].background_rate_khz is not None


def run_fault_campaign(network: FixedNetwork, firmware: FirmwareReport, inputs: dict[str, np.ndarray],
                       cfg: FaultsConfig, directory: Path, *, campaign: str, seed: int, collision_rate_mhz: float,
                       score_function: ScoreFunction | None = None, execution: Execution | None = None,
                       log: Callable[[str], None] = print) -> FaultReport:
    """Run the campaign and write ``fault_report.json``, ``faults.csv`` and the plots into ``directory``.

    Parameters
    ----------
    network, firmware
        The firmware stage's network (``network.json``) and report (the nominal threshold).
    inputs
        The evaluation's network inputs per sample; the background set is the first ``cfg.background_events``.
    campaign
        "exhaustive" (every site) or "sampled" (sized by ``cfg.margin`` and ``cfg.confidence``, drawn with ``seed``).
    score_function
        The software score for a network without a firmware score layer.
    execution
        Dask workers to run the shards on (None: in this process).
    """
    working_point, label, threshold, zero_bias = nominal_working_point(firmware)
    samples = {BACKGROUND_TEST: inputs[BACKGROUND_TEST][:cfg.background_events],
               **{name: x for name, x in inputs.items() if name != BACKGROUND_TEST}}
    fault_campaign = FaultCampaign(network, samples, threshold, score_function,
                                   score_events={BACKGROUND_TEST: cfg.score_events})
    n_sites = fault_campaign.sites.n_sites
    sampling = None
    if campaign == "exhaustive":
        sites = np.arange(n_sites)
    else:
        n = sample_size(n_sites, cfg.margin, cfg.confidence)
        sites = np.sort(np.random.default_rng(seed).choice(n_sites, size=n, replace=False))
        sampling = (f"{n} of {n_sites} sites drawn without replacement (seed {seed}): sized for a share's interval "
                    f"half-width <= {cfg.margin:g} at {cfg.confidence:g} confidence (worst case 0.5, finite "
                    "population); intervals are Clopper-Pearson at that confidence")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with progress_bar(len(sites), f"faults {network.model}", "fault",
                      bar_format="{l_bar}{bar}| {n:.0f}/{total} [{elapsed}<{remaining}]") as bar:
        result = run_in_shards(fault_campaign, sites, directory, cfg.shard_faults, progress=bar.update, log=log,
                               execution=execution)
    table = fault_table(result, fault_campaign.sites, background=BACKGROUND_TEST,
                        collision_rate_mhz=collision_rate_mhz if zero_bias else None, cfg=cfg)
    b = result.samples.index(BACKGROUND_TEST)
    n_bkg, accepted = int(result.n_events[b]), int(result.nominal_accepted[b])
    nominal = NominalPoint(
        working_point=working_point, label=label, threshold=threshold, background_events=n_bkg,
        background_accepted=accepted, rate_khz=accepted / n_bkg * collision_rate_mhz * 1e3 if zero_bias else None,
        fpr=accepted / n_bkg,
        efficiencies={s: int(result.nominal_accepted[i]) / max(int(result.n_events[i]), 1)
                      for i, s in enumerate(result.samples) if s != BACKGROUND_TEST},
        signal_events={s: int(result.n_events[i]) for i, s in enumerate(result.samples) if s != BACKGROUND_TEST})
    background = samples[BACKGROUND_TEST][:cfg.ranking_events]
    ranked: dict = {}
    try:
        scores, hessian = rank_sites(network, fault_campaign.sites, result.sites, background, seed=seed)
    except ValueError as reason:
        ranked["ranking_note"] = f"no rankings: {reason}"
    else:
        harmful = table.fault_class.to_numpy() == "catastrophic"
        for name, score in scores.items():
            table[f"rank_score_{name}"] = score
        part = find_part(firmware.firmware.part) if firmware.firmware is not None else None
        ranked = dict(
            rankings=[score_ranking(name, score, harmful) for name, score in scores.items()],
            ranking_note=(f"float surrogate of the firmware network (fixed-point weights as values) and its mean score "
                          f"over the first {len(background)} background events"),
            hessian_trace=hessian["hessian_trace"], hessian_top_eigenvalues=hessian["hessian_top_eigenvalues"],
            protection=protection_points(table, scores, part) if part is not None else [])
    report = build_report(table, result, model=network.model, campaign=campaign, n_sites=n_sites, sampling=sampling,
                          cfg=cfg, nominal=nominal, seconds=result.seconds,
                          network_file=firmware.emulation.network_file, **ranked)
    with replacing(directory / FAULT_TABLE) as tmp:
        table.to_csv(tmp, index=False)
    write_json_model(directory / FAULT_REPORT, report)
    plot_fault_report(table, report, directory)
    return report
