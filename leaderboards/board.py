"""The leaderboard: machine-readable entries (``board.json``) and a rendered Markdown table (``LEADERBOARD.md``).

One entry per (model, submitter, dataset, dataset version); submitting again replaces that entry. Entries are ranked
per dataset by the mean signal efficiency at the leaderboard's trigger rate. Every number carries its source. Beside
each efficiency is the pure efficiency (accepted by the model and by no seed of the reference L1 menu), and each entry
records the model's unique rate beyond that menu.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from l1ad.benchmark.evaluation.drift import ModelDrift
from l1ad.benchmark.evaluation.report import MetricsReport
from l1ad.config.base import SAFE_NAME, StrictModel
from l1ad.errors import StageOutputError
from l1ad.files import locked, read_json_model, write_text_atomic
from l1ad.firmware.faults.report import FaultReport
from l1ad.firmware.report import FirmwareReport
from l1ad.markup import markdown_cell

BOARD_FILE = "board.json"
LOCK_FILE = ".board.lock"
MARKDOWN_FILE = "LEADERBOARD.md"
SCHEMA = "l1ad-leaderboard/3"
# A board of an older schema (l1ad-leaderboard/1 has no pure efficiencies, /2 no firmware figures) holds results that
# cannot be converted.
REGENERATE = ("regenerate it: move it away, then run 'l1ad evaluate' and 'l1ad leaderboard' again for each model on it "
              "('l1ad run' does both)")


class SignalResult(StrictModel):
    efficiency: float = Field(ge=0, le=1)
    efficiency_lo: float = Field(ge=0, le=1)
    efficiency_hi: float = Field(ge=0, le=1)
    efficiency_bootstrap_std: float | None
    roc_auc: float = Field(ge=0, le=1)
    measurable: bool
    pure_efficiency: float = Field(ge=0, le=1, description="fraction accepted by the model and rejected by the menu")
    pure_efficiency_lo: float = Field(ge=0, le=1)
    pure_efficiency_hi: float = Field(ge=0, le=1)
    menu_efficiency: float = Field(ge=0, le=1, description="fraction the reference menu accepts (any seed)")
    firmware_efficiency: float | None = Field(
        None, ge=0, le=1, description="firmware-exact: decisions and threshold from the bit-exact emulator's scores")


class FirmwareFigures(StrictModel):
    """Latency and resources of the model's firmware, with their source (the firmware report's)."""

    latency_cycles: int = Field(ge=0)
    latency_ns: float = Field(ge=0)
    initiation_interval: int = Field(ge=1)
    lut: int = Field(ge=0)
    ff: int = Field(ge=0)
    dsp: int = Field(ge=0)
    bram36: float = Field(ge=0)
    part: str
    lut_percent: float = Field(ge=0)
    source: str = Field(description="e.g. yosys synth_xilinx cell counts; latency from da4ml pipeline stages")
    bit_exact: str = Field(description="RTL simulation against the emulator, e.g. '10000/10000 identical'")


class FaultFigures(StrictModel):
    """The model's single-bit fault campaign (the fault report's), as the board shows it."""

    campaign: Literal["exhaustive", "sampled"]
    n_faults: int = Field(ge=0)
    n_sites: int = Field(ge=0)
    rate_budget_broken: float = Field(ge=0, le=1, description="share of single-bit faults after which the rate more "
                                      "than doubles or exceeds the rate budget")
    rate_budget_broken_lo: float = Field(ge=0, le=1)
    rate_budget_broken_hi: float = Field(ge=0, le=1)
    rule: str = Field(description="the rate-budget rule")


class DriftFigures(StrictModel):
    """The trigger rate at the model's own threshold on one domain-shifted variant ('l1ad robustness', drift)."""

    variant: str
    pileup_mu: float
    tune: str | None
    rate_khz: float
    rate_lo_khz: float
    rate_hi_khz: float
    rate_ratio: float | None = Field(description="the variant's rate / the nominal rate")


class EntryProvenance(StrictModel):
    l1ad_version: str
    git_commit: str | None
    config: str
    config_digest: str
    seed: int
    n_background_test: int
    efficiency_source: str
    date: str


class Entry(StrictModel):
    """One leaderboard row: a model's efficiencies at the board's trigger rate on one dataset version."""

    model: str
    submitter: str
    dataset: str
    dataset_version: str
    dataset_digest: str
    rate_khz: float = Field(gt=0)
    collision_rate_mhz: float = Field(gt=0)
    background_rate_khz: float
    background_rate_lo_khz: float
    background_rate_hi_khz: float
    unique_rate_khz: float = Field(description="background rate the model accepts and the reference menu rejects, "
                                   "at rate_khz")
    unique_rate_lo_khz: float
    unique_rate_hi_khz: float
    menu_rate_khz: float = Field(description="the reference menu's own background rate")
    menu: list[Annotated[str, Field(pattern=SAFE_NAME)]] = Field(
        min_length=1, description="seed names of the reference menu the pure efficiencies are counted beyond")
    signals: dict[str, SignalResult] = Field(min_length=1)
    firmware_decision_mismatch: float | None = Field(description="fraction of background+signal test events, at rate_khz")
    firmware_source: str
    firmware: FirmwareFigures | None = Field(None, description="latency and resources; None if not synthesized")
    faults: FaultFigures | None = Field(None, description="single-bit fault robustness; None if 'l1ad faults' did "
                                        "not run on this model's firmware")
    rate_drift: list[DriftFigures] = Field(default_factory=list, description="rate at the same threshold on "
                                           "domain-shifted variants; empty if the drift study did not run")
    provenance: EntryProvenance

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.model, self.submitter, self.dataset, self.dataset_version)

    @property
    def mean_efficiency(self) -> float:
        return sum(s.efficiency for s in self.signals.values()) / len(self.signals)


class Board(StrictModel):
    """The contents of ``board.json``."""

    schema_: Literal["l1ad-leaderboard/3"] = Field(SCHEMA, alias="schema")
    entries: list[Entry]

    model_config = StrictModel.model_config | {"populate_by_name": True}


def entry_from_reports(metrics: MetricsReport, firmware: FirmwareReport | None, *, submitter: str,
                       provenance: EntryProvenance, faults: FaultReport | None = None,
                       drift: ModelDrift | None = None) -> Entry:
    """The leaderboard entry of an evaluated model at its headline working point (a trigger rate); ``faults``: its
    fault report, if a campaign ran on this firmware; ``drift``: its rate drift at this threshold, if measured.

    Raises
    ------
    StageOutputError
        If the metrics are not at a trigger rate (a pre-selected dataset, ranked by FPR, has no place on the board), or
        the model was trained on another dataset than it was evaluated on.
    """
    rows = metrics.at(metrics.headline)
    first = rows[0]
    if metrics.trained_on != metrics.dataset.digest:
        raise StageOutputError(f"model {metrics.model!r} was trained on dataset {metrics.trained_on} and evaluated on "
                               f"{metrics.dataset.digest}: such a result does not go on the leaderboard")
    if not metrics.dataset.zero_bias or first.rate_khz is None:
        raise StageOutputError(f"model {metrics.model!r}: the leaderboard ranks at a trigger rate, and dataset "
                               f"{metrics.dataset.name!r} is not zero bias")
    mismatch = firmware.decision_mismatch(metrics.headline) if firmware is not None else None
    fw_eff = ({wp.signal: wp.efficiency for wp in firmware.emulation.working_points
               if wp.working_point == metrics.headline}
              if firmware is not None and firmware.emulation is not None else {})
    return Entry(
        model=metrics.model, submitter=submitter, dataset=metrics.dataset.name,
        dataset_version=metrics.dataset.version, dataset_digest=metrics.dataset.digest, rate_khz=first.rate_khz,
        collision_rate_mhz=first.collision_rate_mhz, background_rate_khz=first.background_rate_khz,
        background_rate_lo_khz=first.background_rate_lo_khz, background_rate_hi_khz=first.background_rate_hi_khz,
        unique_rate_khz=first.unique_rate_khz, unique_rate_lo_khz=first.unique_rate_lo_khz,
        unique_rate_hi_khz=first.unique_rate_hi_khz, menu_rate_khz=first.menu_rate_khz,
        menu=[seed.name for seed in metrics.menu.seeds],
        signals={r.signal: SignalResult(efficiency=r.efficiency, efficiency_lo=r.efficiency_lo,
                                        efficiency_hi=r.efficiency_hi,
                                        efficiency_bootstrap_std=r.efficiency_bootstrap_std, roc_auc=r.roc_auc,
                                        measurable=r.measurable, pure_efficiency=r.pure_efficiency,
                                        pure_efficiency_lo=r.pure_efficiency_lo,
                                        pure_efficiency_hi=r.pure_efficiency_hi, menu_efficiency=r.menu_efficiency,
                                        firmware_efficiency=fw_eff.get(r.signal))
                 for r in rows},
        firmware_decision_mismatch=mismatch[0] / mismatch[1] if mismatch and mismatch[1] else None,
        firmware_source=firmware.source if firmware is not None else "not run",
        firmware=_firmware_figures(firmware), provenance=provenance,
        faults=None if faults is None else FaultFigures(
            campaign=faults.campaign, n_faults=faults.n_faults, n_sites=faults.n_sites,
            rate_budget_broken=faults.rate_budget_broken.share, rate_budget_broken_lo=faults.rate_budget_broken.share_lo,
            rate_budget_broken_hi=faults.rate_budget_broken.share_hi,
            rule=f"rate x {faults.settings.catastrophic_rate_factor:g} or > {faults.settings.rate_budget_khz:g} kHz"),
        rate_drift=[] if drift is None else [
            DriftFigures(variant=v.variant, pileup_mu=v.pileup_mu, tune=v.tune, rate_khz=v.rate_khz,
                         rate_lo_khz=v.rate_interval_khz[0], rate_hi_khz=v.rate_interval_khz[1],
                         rate_ratio=v.rate_ratio) for v in drift.variants],
    )


def _firmware_figures(firmware: FirmwareReport | None) -> FirmwareFigures | None:
    """The RTL path's figures of a firmware report (the ones the board ranks by), if it ran."""
    if firmware is None or firmware.rtl is None or firmware.firmware is None:
        return None
    rtl, r = firmware.rtl, firmware.rtl.resources
    lut = r.lut + r.lut_as_memory
    a = rtl.agreement
    return FirmwareFigures(latency_cycles=rtl.latency_cycles, latency_ns=rtl.latency_ns,
                           initiation_interval=rtl.initiation_interval, lut=lut, ff=r.ff, dsp=r.dsp, bram36=r.bram36,
                           part=rtl.part, lut_percent=100 * lut / firmware.firmware.fpga_part.lut,
                           source=f"{r.source}; latency = da4ml pipeline stages x {rtl.clock_period_ns:.4g} ns "
                                  "(timing closure not checked)",
                           bit_exact=f"{a.events - a.mismatching_events}/{a.events} identical")


def read_board(directory: str | Path) -> list[Entry]:
    path = Path(directory) / BOARD_FILE
    if not path.is_file():
        return []
    try:
        return read_json_model(path, Board, "leaderboard", schema=SCHEMA, regenerate=REGENERATE).entries
    except StageOutputError as exc:
        raise StageOutputError(f"{exc}; not overwriting it") from None


def submit(directory: str | Path, entry: Entry) -> list[Entry]:
    """Add or replace ``entry`` and rewrite both files atomically, under an inter-process lock.

    An entry whose results equal the one already on the board (only the date or commit of its provenance differ) is
    not rewritten, so re-running the same job leaves the board byte-identical (the Markdown table is rendered again
    only if it is missing or differs from what this version renders).
    """
    directory = Path(directory)
    with locked(directory / LOCK_FILE):
        existing = read_board(directory)
        old = next((e for e in existing if e.key == entry.key), None)
        if old is not None and _same_result(old, entry):
            markdown, path = render_markdown(existing), directory / MARKDOWN_FILE
            if not path.is_file() or path.read_text() != markdown:  # missing, or rendered by an older version
                write_text_atomic(path, markdown)
            return existing
        entries = [e for e in existing if e.key != entry.key] + [entry]
        entries.sort(key=lambda e: (e.dataset, e.dataset_version, -e.mean_efficiency, e.model))
        write_text_atomic(directory / BOARD_FILE,
                          json.dumps(Board(entries=entries).model_dump(by_alias=True), indent=2))
        write_text_atomic(directory / MARKDOWN_FILE, render_markdown(entries))
    return entries


def _same_result(a: Entry, b: Entry) -> bool:
    """Equal apart from when and at which commit the result was produced."""
    volatile = {"provenance": {"date", "git_commit"}}
    return a.model_dump(exclude=volatile) == b.model_dump(exclude=volatile)


def _drift_cell(e: Entry) -> str:
    if not e.rate_drift:
        return "n/a"
    return "; ".join(f"{markdown_cell(d.variant)} {d.rate_khz:.1f} [{d.rate_lo_khz:.1f}, {d.rate_hi_khz:.1f}]"
                     + ("" if d.rate_ratio is None else f" (x{d.rate_ratio:.2f})") for d in e.rate_drift)


def render_markdown(entries: list[Entry]) -> str:
    lines = [
        "# l1ad-bench leaderboard",
        "",
        "Signal efficiency at a fixed trigger rate on the background test sample (higher is better). Efficiencies are "
        "measured on simulated test samples; intervals are Clopper-Pearson at 68.3 % CL, and a working point marked * "
        "has too little background above threshold to pin down the rate. The pure efficiency counts only the signal "
        "events no seed of the reference L1 menu accepts, and the unique rate is the background rate the model adds "
        "beyond that menu (both on this emulation's trigger objects). Firmware mismatch is the fraction of test events "
        "whose trigger decision differs between the Keras model and the hls4ml bit-accurate C++ model; the firmware-exact "
        "efficiency (fw) takes decisions and threshold from the bit-exact fixed-point emulator; latency and LUTs are "
        "from the open-source RTL path (da4ml pipeline stages x clock period, yosys synth_xilinx cell counts; timing "
        "closure is not checked). Faults over budget: the share of single-bit weight and bias flips after which the "
        "rate at the same threshold more than doubles or exceeds the Level-1 budget ('l1ad faults'; n/a: not run). "
        "Rate drift: the rate at the same threshold on domain-shifted zero-bias variants (other pile-up, another "
        "tune), with its ratio to the nominal rate ('l1ad robustness'; n/a: not run).",
        "",
    ]
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        groups.setdefault((e.dataset, e.dataset_version), []).append(e)
    for (dataset, version), group in groups.items():
        signals = sorted({s for e in group for s in e.signals})
        first = group[0]
        lines += [
            f"## Dataset {markdown_cell(dataset)} v{markdown_cell(version)} at {first.rate_khz:g} kHz "
            f"(collision rate {first.collision_rate_mhz:g} MHz)",
            "",
            *_menu_lines(group),
            "",
            "| # | model | submitter | "
            + " | ".join(f"{markdown_cell(s)} eff. | {markdown_cell(s)} pure eff." for s in signals)
            + " | mean AUC | achieved rate [kHz] | unique rate [kHz] | firmware mismatch | latency [ns] | LUT | DSP"
            + " | faults over budget | rate drift [kHz] | config |",
            "|---|---|---|" + "---|---|" * len(signals) + "---|---|---|---|---|---|---|---|---|---|",
        ]
        for rank, e in enumerate(group, 1):
            cells = []
            for s in signals:
                r = e.signals.get(s)
                if r is None:
                    cells += ["n/a", "n/a"]
                    continue
                star = "" if r.measurable else "*"
                fw_eff = "" if r.firmware_efficiency is None else f" (fw {r.firmware_efficiency:.3f})"
                cells += [f"{r.efficiency:.3f} [{r.efficiency_lo:.3f}, {r.efficiency_hi:.3f}]{star}{fw_eff}",
                          f"{r.pure_efficiency:.3f} [{r.pure_efficiency_lo:.3f}, {r.pure_efficiency_hi:.3f}]{star}"]
            auc = sum(r.roc_auc for r in e.signals.values()) / len(e.signals)
            fw = "n/a" if e.firmware_decision_mismatch is None else f"{e.firmware_decision_mismatch:.2e}"
            rate = f"{e.background_rate_khz:.2f} [{e.background_rate_lo_khz:.2f}, {e.background_rate_hi_khz:.2f}]"
            unique = f"{e.unique_rate_khz:.2f} [{e.unique_rate_lo_khz:.2f}, {e.unique_rate_hi_khz:.2f}]"
            f = e.firmware
            latency = "n/a" if f is None else f"{f.latency_ns:.1f}"
            lut = "n/a" if f is None else f"{f.lut:,} ({f.lut_percent:.2f} %)"
            dsp = "n/a" if f is None else str(f.dsp)
            q = e.faults
            if q is None:
                faults = "n/a"
            elif q.campaign == "exhaustive":  # every fault counted: the share is exact
                faults = f"{q.rate_budget_broken:.2%} of {q.n_faults:,} (exhaustive)"
            else:
                faults = (f"{q.rate_budget_broken:.2%} [{q.rate_budget_broken_lo:.2%}, {q.rate_budget_broken_hi:.2%}] "
                          f"({q.n_faults:,} sampled)")
            lines.append(
                f"| {rank} | {markdown_cell(e.model)} | {markdown_cell(e.submitter)} | " + " | ".join(cells)
                + f" | {auc:.3f} | {rate} | {unique} | {fw} | {latency} | {lut} | {dsp} | {faults} | {_drift_cell(e)}"
                + f" | {markdown_cell(e.provenance.config_digest)} |"
            )
        lines.append("")
    if not entries:
        lines.append("No entries yet.")
    return "\n".join(lines) + "\n"


def _menu_lines(group: list[Entry]) -> list[str]:
    """Which reference menu the pure efficiencies are counted beyond: one line, or a list item per menu when the
    entries of a dataset were evaluated against different menus."""
    menus: dict[tuple[str, ...], list[Entry]] = {}
    for e in group:
        menus.setdefault(tuple(e.menu), []).append(e)

    def describe(menu: tuple[str, ...], users: list[Entry]) -> str:
        return f"{', '.join(markdown_cell(seed) for seed in menu)} (its own rate {users[0].menu_rate_khz:.2f} kHz)"

    if len(menus) == 1:
        return [f"Reference menu: {describe(*next(iter(menus.items())))}."]
    return [f"- Reference menu of {', '.join(markdown_cell(e.model) for e in users)}: {describe(menu, users)}."
            for menu, users in menus.items()]
