"""A Level-1 trigger menu: the single- and double-object seeds whose rates tell whether a zero-bias sample's tails
are real (every anomaly threshold sits in those tails), and against which an anomaly trigger's "pure" acceptance
is counted.

The default is a reference menu named after seeds of the CMS Run-3 menu (L1_SingleMu22, L1_SingleEG36er2p5,
L1_SingleJet180, L1_HTT360er, L1_ETMHF90, and double-muon and double-e/gamma seeds); thresholds are those names'
values applied to the emulated objects, so the rates are this emulation's, not CMS's.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from l1ad.config.base import SAFE_NAME, StrictModel


class Seed(StrictModel):
    """Accept an event with objects of one kind above the thresholds (one threshold per object, leading first), or
    with HT / MET above a single threshold."""

    name: str = Field(pattern=SAFE_NAME)
    kind: Literal["muon", "egamma", "jet", "ht", "met"]
    thresholds_gev: list[float] = Field(min_length=1, max_length=4, description="per object, leading first (GeV)")
    max_eta: float | None = Field(None, gt=0, description="|eta| acceptance of the objects counted")
    ht_jet_min_pt_gev: float = Field(30.0, ge=0, description="jets summed into HT (kind ht only)")

    @model_validator(mode="after")
    def _one_threshold_for_sums(self) -> Seed:
        if self.kind in ("ht", "met") and len(self.thresholds_gev) != 1:
            raise ValueError(f"seed {self.name!r}: a {self.kind} seed has one threshold")
        if self.thresholds_gev != sorted(self.thresholds_gev, reverse=True):
            raise ValueError(f"seed {self.name!r}: thresholds go leading object first (descending)")
        return self


def _reference_seeds() -> list[Seed]:
    return [
        Seed(name="SingleMu22", kind="muon", thresholds_gev=[22.0]),
        Seed(name="SingleEG36er2p5", kind="egamma", thresholds_gev=[36.0], max_eta=2.5),
        Seed(name="SingleJet180", kind="jet", thresholds_gev=[180.0]),
        Seed(name="HTT360er", kind="ht", thresholds_gev=[360.0], max_eta=2.5),
        Seed(name="ETM90", kind="met", thresholds_gev=[90.0]),
        Seed(name="DoubleMu15_7", kind="muon", thresholds_gev=[15.0, 7.0]),
        Seed(name="DoubleEG25_12er2p5", kind="egamma", thresholds_gev=[25.0, 12.0], max_eta=2.5),
    ]


class MenuConfig(StrictModel):
    seeds: list[Seed] = Field(default_factory=_reference_seeds, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _distinct_names(self) -> MenuConfig:
        names = [s.name for s in self.seeds]
        if len(set(names)) != len(names):
            raise ValueError("menu seeds need distinct names")
        return self
