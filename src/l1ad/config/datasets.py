"""Dataset configuration: what a generated dataset holds (processes, sizes, pile-up, trigger emulation settings).

Standard datasets are named and versioned YAML files in ``src/l1ad/configs/datasets``; ``dataset_definition(name)``
reads one and ``.resolve(size)`` turns it into the :class:`DatasetConfig` (or :class:`JetsDatasetConfig`) that the
data stage generates from.
"""

from __future__ import annotations

import math
from importlib import resources
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from l1ad.config.base import SAFE_NAME, StrictModel
from l1ad.config.processes import JET_DOMAINS, PROCESSES
from l1ad.errors import ConfigError, describe_validation_error


class EtaAcceptance(StrictModel):
    """|eta| acceptance of each trigger-object class: where a reconstruction's eta is decoded to."""

    egamma: float = Field(gt=0)
    muon: float = Field(gt=0)
    jet: float = Field(gt=0)


class JetResolutionBin(StrictModel):
    """The calibrated Level-1 jet response in one |eta| bin, at particle-level pT points."""

    abs_eta_lo: float = Field(ge=0)
    abs_eta_hi: float = Field(gt=0)
    gen_pt_gev: list[float] = Field(min_length=1, max_length=64, description="particle-level pT points (GeV), "
                                    "increasing")
    response: list[float] = Field(description="median calibrated L1 pT / particle-level pT at each point")
    width: list[float] = Field(description="half the central 68 % interval of that ratio at each point")

    @model_validator(mode="after")
    def _consistent(self) -> JetResolutionBin:
        if self.abs_eta_hi <= self.abs_eta_lo:
            raise ValueError("abs_eta_hi must exceed abs_eta_lo")
        points = self.gen_pt_gev
        if points[0] <= 0 or any(b <= a for a, b in zip(points[:-1], points[1:], strict=True)):
            raise ValueError("gen_pt_gev must be positive and increase strictly")
        for name in ("response", "width"):
            values = getattr(self, name)
            if len(values) != len(points):
                raise ValueError(f"{name} needs one value per pT point ({len(points)}), got {len(values)}")
            if not all(math.isfinite(v) and v > 0 for v in values):
                raise ValueError(f"{name} values must be positive and finite")
        return self


class JetResolution(StrictModel):
    """The stated resolution of calibrated Level-1 jets (approximate): a Gaussian in L1 pT / particle-level pT with
    the median and half the central 68 % interval measured per |eta| bin and particle-level pT, linear between the pT
    points and constant beyond them. It folds particle-level jets into what Level-1 would count
    (``Truth_GenJetCountSmeared``); the emulation never uses it."""

    bins: list[JetResolutionBin] = Field(min_length=1, max_length=32)
    method: str = Field("", max_length=2000, description="how it was measured")


class JetCalibration(StrictModel):
    """Level-1 jet energy calibration (approximate): a multiplicative correction of the pile-up-subtracted jet pT, as
    CMS's Level-1 jet calibration look-up tables. Per |eta| bin (of the jet's seed tower) the factor is piecewise linear
    in the uncalibrated jet pT between ``pt_points_gev`` and constant below the first and above the last point; jets
    beyond the last |eta| edge use the last bin. The shipped default is fitted to particle-level jets by
    ``scripts/fit_jet_calibration.py`` (``method`` says how)."""

    abs_eta_edges: list[float] = Field(min_length=2, max_length=33, description="|eta| bin edges, from 0, increasing")
    pt_points_gev: list[float] = Field(min_length=1, max_length=64, description="uncalibrated jet pT points (GeV), "
                                       "increasing")
    factors: list[list[float]] = Field(description="per |eta| bin, the correction factor at each pT point")
    method: str = Field("", max_length=2000, description="how the factors were obtained")
    resolution: JetResolution | None = Field(None, description="the calibrated jets' stated resolution, measured on "
                                             "an independent sample (None: not stated)")

    @model_validator(mode="after")
    def _consistent(self) -> JetCalibration:
        edges, points = self.abs_eta_edges, self.pt_points_gev
        if edges[0] != 0:
            raise ValueError(f"abs_eta_edges must start at 0, got {edges[0]:g}")
        if any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=True)):
            raise ValueError("abs_eta_edges must increase strictly")
        if points[0] <= 0 or any(b <= a for a, b in zip(points[:-1], points[1:], strict=True)):
            raise ValueError("pt_points_gev must be positive and increase strictly")
        if len(self.factors) != len(edges) - 1:
            raise ValueError(f"factors needs one row per |eta| bin ({len(edges) - 1}), got {len(self.factors)}")
        for i, row in enumerate(self.factors):
            if len(row) != len(points):
                raise ValueError(f"factors row {i} needs one factor per pT point ({len(points)}), got {len(row)}")
            bad = [f for f in row if not (math.isfinite(f) and f > 0)]
            if bad:
                raise ValueError(f"factors row {i}: correction factors must be positive and finite, got {bad[0]:g}")
        return self


def default_jet_calibration() -> JetCalibration:
    """The fitted calibration shipped in ``l1ad/configs/emulation/jet_calibration.yaml`` (written by
    ``scripts/fit_jet_calibration.py --write``)."""
    raw = yaml.safe_load(resources.files("l1ad.configs").joinpath(*JET_CALIBRATION_FILE.split("/")).read_text())
    try:
        return JetCalibration.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{JET_CALIBRATION_FILE}: {describe_validation_error(exc)}") from None


JET_CALIBRATION_FILE = "emulation/jet_calibration.yaml"


class EmulationConfig(StrictModel):
    """Level-1 trigger-object emulation (approximate CMS Phase-1 values; see the dataset card)."""

    tower_threshold_gev: float = Field(0.5, ge=0)
    tower_lsb_gev: float = Field(0.5, gt=0)
    em_stochastic: float = Field(0.2, ge=0, description="EM energy resolution a/sqrt(E)")
    em_constant: float = Field(0.02, ge=0)
    had_stochastic: float = Field(1.0, ge=0, description="hadronic energy resolution a/sqrt(E)")
    had_constant: float = Field(0.05, ge=0)
    hadron_em_probability: float = Field(
        0.6, ge=0, le=1, description="chance a hadron starts showering in the EM layer (CMS ECAL ~1.1 interaction "
        "lengths); it then leaves a fraction of its ET there, uniform up to hadron_em_fraction_max")
    hadron_em_fraction_max: float = Field(0.7, ge=0, le=1)
    tower_noise_gev: float = Field(0.15, ge=0, description="Gaussian electronics noise per tower, in ET")
    jet_seed_gev: float = Field(4.0, ge=0)
    jet_min_pt_gev: float = Field(20.0, ge=0)
    jet_max_eta: float = Field(4.0, gt=0)
    jet_calibration: JetCalibration | None = Field(
        default_factory=default_jet_calibration, description="applied to the pile-up-subtracted jet pT before "
        "jet_min_pt_gev and HT; None: uncalibrated (unit response of the tower sums)")
    egamma_seed_gev: float = Field(2.0, ge=0)
    egamma_min_pt_gev: float = Field(5.0, ge=0)
    egamma_max_eta: float = Field(3.0, gt=0)
    egamma_max_h_over_e: float = Field(0.25, ge=0)
    egamma_max_rel_iso: float = Field(0.5, ge=0)
    muon_min_pt_gev: float = Field(3.0, ge=0)
    muon_min_true_pt_gev: float = Field(3.5, ge=0, description="softer muons range out before the muon stations")
    muon_max_eta: float = Field(2.4, gt=0)
    muon_pt_resolution: float = Field(0.15, ge=0, description="core Gaussian width of the relative 1/pT error")
    muon_tail_fraction: float = Field(0.05, ge=0, le=1, description="muons measured with the tail width instead")
    muon_tail_resolution: float = Field(0.4, ge=0, description="tail Gaussian width of the relative 1/pT error")
    muon_max_pt_gev: float = Field(255.0, gt=0, description="the muon trigger's pT saturates here")
    met_max_eta: float = Field(5.0, gt=0)
    met_tower_threshold_gev: float = Field(0.0, ge=0, description="towers below this never enter MET")
    met_threshold_per_rho: float = Field(12.0, ge=0, description="MET tower threshold rises by this times rho, the "
                                         "event's mean tower ET over |eta| < 1.5 (a pile-up estimate)")

    @property
    def eta_acceptance(self) -> EtaAcceptance:
        return EtaAcceptance(egamma=self.egamma_max_eta, muon=self.muon_max_eta, jet=self.jet_max_eta)


class SampleSizes(StrictModel):
    train: int = Field(gt=0)
    validation: int = Field(gt=0)
    test: int = Field(gt=0)


class BlindSizes(StrictModel):
    """A blind test sample: background and signal events mixed and shuffled; labels are written elsewhere."""

    background: int = Field(0, ge=0)
    per_signal: int = Field(0, ge=0)


class LeptonTrigger(StrictModel):
    """The ADC2021 pre-selection, applied to every sample after emulation: leading e/gamma or muon above a threshold."""

    min_pt_gev: float = Field(23.0, gt=0, description="leading e/gamma or muon pT must exceed this (GeV)")
    max_attempts_per_event: int = Field(
        2000, gt=0, description="give up on a process whose selection efficiency is below 1/max_attempts_per_event"
    )


class PileupPools(StrictModel):
    """Soft pile-up interactions generated for each pool. Every split has a pool of its own (signals share one, the blind
    sample has one), so no pile-up interaction is shared between train, validation, test and blind."""

    train: int = Field(4000, gt=0)
    validation: int = Field(1000, gt=0)
    test: int = Field(4000, gt=0)
    blind: int = Field(1000, gt=0)
    signal: int = Field(1000, gt=0)


class DecayVolume(StrictModel):
    """Long-lived hadrons (pi+-, K+-, K0L, K0S, Lambda, ...) decay in flight inside this cylinder around the beam (the
    tracker volume in front of the CMS calorimeter); beyond it they reach the calorimeter undecayed."""

    radius_mm: float = Field(1290.0, gt=0)
    half_length_mm: float = Field(3000.0, gt=0)


PILEUP_PROCESSES = ("minbias", "pileup_hard")  # what pile-up is made of; not selectable as signal or background


def _check_process(name: str, what: str) -> None:
    if name not in PROCESSES or name in PILEUP_PROCESSES:
        known = ", ".join(sorted(p for p in PROCESSES if p not in PILEUP_PROCESSES))
        raise ValueError(f"unknown {what} process {name!r}; known: {known}")


class DatasetConfig(StrictModel):
    name: str = Field("zb", pattern=SAFE_NAME)
    version: str = "0.1"
    size: str = Field("custom", description="the named size this config was resolved from")
    sqrt_s_tev: float = Field(13.6, gt=0)
    pileup_mu: float = Field(60.0, ge=0)
    pileup_pools: PileupPools = PileupPools()
    pileup_stitch_pthat_gev: float | None = Field(
        30.0, gt=0, description="pile-up interactions above this pT-hat are generated fresh (hard QCD, never reused); "
        "the pools hold only interactions below it. None: pools of all inelastic interactions, reused")
    decays_in_flight: DecayVolume | None = Field(DecayVolume(), description="None: pi/K never decay (c tau > 10 mm "
                                                 "stable)")
    tune: str | None = Field(None, description="a Pythia tune variation applied to every interaction, by name "
                             "(l1ad.config.processes.JET_DOMAINS: 'alternative'); None: Pythia's default (Monash)")
    background: SampleSizes
    signals: dict[str, int] = Field(min_length=1, description="signal process name -> number of events")
    background_cocktail: dict[str, float] | None = Field(
        None, description="hard processes making up the background and their shares; none: zero bias (pile-up only)"
    )
    trigger: LeptonTrigger | None = Field(None, description="pre-selection every sample must pass; none: unbiased")
    blind: BlindSizes = BlindSizes()
    emulation: EmulationConfig = EmulationConfig()
    chunk_size: int = Field(100, gt=0, description="events emulated together in one vectorized pass")
    shard_size: int = Field(
        5000, gt=0, description="events per generation task; fixed so results do not depend on the number of workers"
    )

    @field_validator("tune")
    @classmethod
    def _known_tune(cls, tune: str | None) -> str | None:
        if tune is not None and tune not in JET_DOMAINS:
            raise ValueError(f"unknown tune {tune!r}; tunes: {', '.join(JET_DOMAINS)}")
        return tune

    @field_validator("signals")
    @classmethod
    def _known_signals(cls, signals: dict[str, int]) -> dict[str, int]:
        for name, count in signals.items():
            _check_process(name, "signal")
            if count <= 0:
                raise ValueError(f"signal {name!r} needs a positive number of events, got {count}")
        return signals

    @field_validator("background_cocktail")
    @classmethod
    def _known_cocktail(cls, cocktail: dict[str, float] | None) -> dict[str, float] | None:
        if cocktail is None:
            return None
        if not cocktail:
            raise ValueError("an empty background cocktail; leave it out for zero bias")
        for name, share in cocktail.items():
            _check_process(name, "background")
            if share <= 0:
                raise ValueError(f"background share of {name!r} must be positive, got {share}")
        total = sum(cocktail.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"background shares must add up to 1, they add up to {total:g}")
        return cocktail

    @model_validator(mode="after")
    def _trigger_needs_hard_processes(self) -> DatasetConfig:
        if self.trigger is not None and self.background_cocktail is None:
            raise ValueError("a trigger pre-selection needs a background_cocktail of hard processes to select from")
        return self

    @property
    def zero_bias(self) -> bool:
        """Background events are unbiased bunch crossings, so accepted fraction x collision rate is a trigger rate."""
        return self.background_cocktail is None and self.trigger is None


class DatasetSize(StrictModel):
    pileup_pools: PileupPools
    background: SampleSizes
    signal_events: int = Field(gt=0, description="events per signal")
    blind: BlindSizes = BlindSizes()


class DatasetDefinition(StrictModel):
    """A standard, named dataset shipped in ``src/l1ad/configs/datasets``; ``resolve(size)`` gives its config."""

    name: str
    version: str
    description: str
    sqrt_s_tev: float = Field(13.6, gt=0)
    pileup_mu: float = Field(60.0, ge=0)
    pileup_stitch_pthat_gev: float | None = Field(30.0, gt=0)
    decays_in_flight: DecayVolume | None = DecayVolume()
    tune: str | None = None
    variant_of: str | None = Field(None, description="the standard dataset this is a domain-shifted variant of "
                                   "(same emulation; other pile-up or tune)")
    signals: list[str] = Field(min_length=1)
    background_cocktail: dict[str, float] | None = None
    trigger: LeptonTrigger | None = None
    emulation: EmulationConfig = EmulationConfig()
    shard_size: int = Field(5000, gt=0, description="events per generation task")
    sizes: dict[str, DatasetSize]

    def resolve(self, size: str) -> DatasetConfig:
        if size not in self.sizes:
            raise ConfigError(f"dataset {self.name!r} has no size {size!r}; sizes: {', '.join(self.sizes)}")
        chosen = self.sizes[size]
        return DatasetConfig(
            name=self.name, version=self.version, size=size, sqrt_s_tev=self.sqrt_s_tev, pileup_mu=self.pileup_mu,
            pileup_pools=chosen.pileup_pools, pileup_stitch_pthat_gev=self.pileup_stitch_pthat_gev,
            decays_in_flight=self.decays_in_flight, tune=self.tune, background=chosen.background,
            signals={s: chosen.signal_events for s in self.signals}, background_cocktail=self.background_cocktail,
            trigger=self.trigger, blind=chosen.blind, emulation=self.emulation, shard_size=self.shard_size,
        )


class JetSplitSizes(StrictModel):
    """Jets per class in each split."""

    train: int = Field(gt=0)
    validation: int = Field(gt=0)
    test: int = Field(gt=0)


class ResimulationSizes(StrictModel):
    jets_per_class: int = Field(0, ge=0, description="hard-process events re-hadronised, per class (0: none)")
    copies: int = Field(4, ge=2)


class JetsDatasetConfig(StrictModel):
    """Boosted jets for taggers (q, g, W, Z, t) in two simulation domains, plus re-simulated copies."""

    name: str = Field("jets", pattern=SAFE_NAME)
    version: str = "0.1"
    size: str = "custom"
    sqrt_s_tev: float = Field(13.6, gt=0)
    pt_min_gev: float = Field(500.0, gt=0)
    pt_max_gev: float = Field(1000.0, gt=0)
    n_constituents: int = Field(32, gt=0)
    domains: list[str] = Field(default_factory=lambda: ["nominal", "alternative"], min_length=1)
    per_class: JetSplitSizes
    resimulation: ResimulationSizes = ResimulationSizes()
    shard_size: int = Field(500, gt=0, description="jets per generation task")

    @field_validator("domains")
    @classmethod
    def _known_domains(cls, domains: list[str]) -> list[str]:
        unknown = [d for d in domains if d not in JET_DOMAINS]
        if unknown:
            raise ValueError(f"unknown domain {unknown[0]!r}; known: {', '.join(JET_DOMAINS)}")
        return domains


class JetsDatasetSize(StrictModel):
    per_class: JetSplitSizes
    resimulation: ResimulationSizes = ResimulationSizes()


class JetsDatasetDefinition(StrictModel):
    kind: Literal["jets"]
    name: str
    version: str
    description: str
    sqrt_s_tev: float = Field(13.6, gt=0)
    pt_min_gev: float = Field(500.0, gt=0)
    pt_max_gev: float = Field(1000.0, gt=0)
    n_constituents: int = Field(32, gt=0)
    domains: list[str] = Field(default_factory=lambda: ["nominal", "alternative"])
    sizes: dict[str, JetsDatasetSize]

    def resolve(self, size: str) -> JetsDatasetConfig:
        if size not in self.sizes:
            raise ConfigError(f"dataset {self.name!r} has no size {size!r}; sizes: {', '.join(self.sizes)}")
        fields = self.model_dump(exclude={"kind", "description", "sizes"})
        return JetsDatasetConfig(**fields, size=size, **self.sizes[size].model_dump())


def shipped_datasets() -> list[str]:
    folder = resources.files("l1ad.configs").joinpath("datasets")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def dataset_definition(name: str) -> DatasetDefinition | JetsDatasetDefinition:
    """A shipped standard dataset: trigger objects (``DatasetDefinition``) or boosted jets (``kind: jets``)."""
    if name not in shipped_datasets():
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(shipped_datasets())}")
    raw = yaml.safe_load(resources.files("l1ad.configs").joinpath("datasets", f"{name}.yaml").read_text())
    model = JetsDatasetDefinition if raw.get("kind") == "jets" else DatasetDefinition
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"dataset definition {name!r}: {describe_validation_error(exc)}") from None
