"""Jet-tagger and robustness configs: supervised and contrastive taggers of the ``jets`` dataset, and the robustness
study (``l1ad robustness``) that trains them on the nominal domain and measures them on both.

One YAML file per tagger (shipped ones in ``src/l1ad/configs/taggers``) validated into :class:`TaggerConfig`, one per
study (``src/l1ad/configs/robustness``) into :class:`RobustnessConfig`; both are addressed by name or path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from l1ad.config.base import SAFE_NAME, StrictModel
from l1ad.config.reading import load_named_config, shipped_names
from l1ad.config.run import MAX_LAYER_UNITS

TAGGERS_FOLDER = "taggers"
ROBUSTNESS_FOLDER = "robustness"

Units = list[Annotated[int, Field(gt=0, le=MAX_LAYER_UNITS)]]


class TaggerNetwork(StrictModel):
    """The classifier network. ``dense``: on the 16 standardised high-level features, hls4ml-jet style; ``deepsets``:
    a per-constituent network summed over the constituents (Deep Sets / particle-flow network), then dense layers."""

    kind: Literal["dense", "deepsets"]
    hidden_units: Units = Field(default_factory=lambda: [64, 32, 32], min_length=1, max_length=16,
                                description="dense: the hidden layers; deepsets: the per-constituent layers")
    pooled_units: Units = Field(default_factory=lambda: [64, 32], min_length=1, max_length=16,
                                description="deepsets only: the layers after the sum over constituents; the last one "
                                "is the representation a contrastive encoder learns")
    weight_bits: int | None = Field(None, ge=2, le=32, description="QKeras weights and biases of this many bits (the "
                                    "hls4ml jet reference: 6); null: float")
    activation_bits: int | None = Field(None, ge=2, le=32, description="quantized ReLU bits; null: float ReLU")

    @model_validator(mode="after")
    def _quantization(self) -> TaggerNetwork:
        if self.kind == "deepsets" and (self.weight_bits or self.activation_bits):
            raise ValueError("quantization is for the dense network on high-level features; deepsets is float")
        return self


class TaggerTraining(StrictModel):
    epochs: int = Field(60, gt=0, le=10_000)
    batch_size: int = Field(256, gt=0, le=1_000_000)
    learning_rate: float = Field(1e-3, gt=0, le=10)
    early_stopping_patience: int = Field(8, ge=1, le=10_000)


class JetAugmentations(StrictModel):
    """JetCLR's augmentations of a view (l1ad.benchmark.jets.augment); 0 turns a width off."""

    rotation: bool = Field(True, description="rotate the constituents about the jet axis by a uniform angle")
    translation: float = Field(0.1, ge=0, le=1, description="shift all constituents by one Gaussian (eta, phi) "
                               "offset of this width")
    smearing_gev: float = Field(0.1, ge=0, le=10, description="soft smearing: each constituent's (eta, phi) moves by "
                                "a Gaussian of width this / pT[GeV] (JetCLR: 0.1 GeV)")
    collinear_fraction: float = Field(0.1, ge=0, le=1, description="share of constituents split collinearly into "
                                      "two (pT fractions z, 1 - z with z uniform), as far as empty slots allow")


class DomainMatch(StrictModel):
    """MACK-style pairs: each nominal jet with the alternative-domain jet nearest in energy mover's distance, searched
    among its nearest neighbours in standardised substructure features (the EMD of every pair would cost 10^8 LPs)."""

    jets: int = Field(4000, ge=1, le=10_000_000, description="nominal training jets that get a partner")
    neighbours: int = Field(3, ge=1, le=64, description="feature-space candidates whose EMD is computed")
    emd_constituents: int = Field(12, ge=1, le=256, description="leading constituents the EMD uses")


class VicregWeights(StrictModel):
    invariance: float = Field(25.0, ge=0)
    variance: float = Field(25.0, ge=0)
    covariance: float = Field(1.0, ge=0)


PairSource = Literal["augmentation", "resimulation", "domain_match"]


class ContrastiveConfig(StrictModel):
    """Contrastive pre-training of the deepsets encoder, then a linear probe and a fine-tuned head on the labels."""

    loss: Literal["ntxent", "vicreg"]
    temperature: float = Field(0.1, gt=0, le=10, description="NT-Xent temperature")
    vicreg: VicregWeights = VicregWeights()
    pairs: list[PairSource] = Field(min_length=1, description="where positive pairs come from: two augmented views "
                                    "of a nominal jet (JetCLR), two re-hadronisations of one parton-level event (RS3L), "
                                    "a nominal jet and its EMD-matched alternative-domain jet (MACK); views of every "
                                    "source are augmented")
    augmentations: JetAugmentations = JetAugmentations()
    match: DomainMatch = DomainMatch()
    projector_units: Units = Field(default_factory=lambda: [64, 32], min_length=1, max_length=8)
    epochs: int = Field(80, gt=0, le=10_000, description="pre-training epochs (no early stopping: the loss has no "
                        "validation meaning for the task)")
    batch_size: int = Field(256, ge=2, le=1_000_000)
    learning_rate: float = Field(1e-3, gt=0, le=10)
    fine_tune_learning_rate: float = Field(1e-3, gt=0, le=10, description="measured on the default jets: 3e-4 "
                                           "(with 40 pre-training epochs) kept less top rejection, 20-25 against "
                                           "26-31")

    @model_validator(mode="after")
    def _distinct_pairs(self) -> ContrastiveConfig:
        if len(set(self.pairs)) != len(self.pairs):
            raise ValueError(f"pairs lists a source twice: {self.pairs}")
        return self


class TaggerConfig(StrictModel):
    name: str = Field(pattern=SAFE_NAME)
    description: str = ""
    seed: int = Field(42, ge=0, lt=2**31)
    network: TaggerNetwork
    training: TaggerTraining = TaggerTraining()
    contrastive: ContrastiveConfig | None = None

    @model_validator(mode="after")
    def _encoder(self) -> TaggerConfig:
        if self.contrastive is not None and self.network.kind != "deepsets":
            raise ValueError("a contrastive tagger pre-trains a constituent encoder: network.kind must be deepsets")
        return self

    @property
    def inputs(self) -> str:
        return "features" if self.network.kind == "dense" else "constituents"


class Rejection(StrictModel):
    """Background rejection 1 / FPR at a fixed signal efficiency, one class against a set of others."""

    signal: str = Field(pattern=SAFE_NAME)
    background: list[Annotated[str, Field(pattern=SAFE_NAME)]] = Field(min_length=1)
    efficiency: float = Field(0.5, gt=0, lt=1)

    @property
    def id(self) -> str:
        return f"{self.signal}_vs_{''.join(self.background)}_at_{self.efficiency:g}"


class DriftConfig(StrictModel):
    """Trigger-rate drift: the anomaly-detection models of a zero-bias run, at the thresholds its evaluation set, on
    domain-shifted variants of its dataset (generated into ``<run>/variants/<name>`` if absent)."""

    run: str = Field("runs/default", description="output directory of a run on a zero-bias dataset (the main job's)")
    models: list[Annotated[str, Field(pattern=SAFE_NAME)]] | None = Field(
        None, description="model labels in <run>/models; default: every model evaluated there on the run's dataset")
    variants: list[Annotated[str, Field(pattern=SAFE_NAME)]] = Field(
        default_factory=lambda: ["zb_control", "zb_mu50", "zb_mu70", "zb_tune"], min_length=1,
        description="shipped variant datasets (variant_of the run's dataset)")
    size: Literal["tiny", "default", "large"] = "default"


class RobustnessConfig(StrictModel):
    name: str = Field(pattern=SAFE_NAME)
    output_dir: str = "runs/jets"
    seed: int = Field(42, ge=0, lt=2**31, description="the jets dataset's generation seed and the bootstrap seed")
    size: Literal["tiny", "default", "large"] = "default"
    taggers: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list, description="shipped tagger "
                                                                "names or paths to tagger configs")
    drift: DriftConfig | None = Field(None, description="anomaly-trigger rate drift; None: taggers only")
    rejections: list[Rejection] = Field(default_factory=lambda: [
        Rejection(signal="t", background=["q", "g"]), Rejection(signal="W", background=["q", "g"])], min_length=1)
    headline: int = Field(0, ge=0, description="index into rejections of the issue's target figure (top vs q/g); "
                          "the target is checked for every rejection")
    confidence_level: float = Field(0.6827, gt=0, lt=1)
    bootstrap_samples: int = Field(200, ge=0, le=10_000, description="bootstrap replicas for AUC intervals")
    embedding_jets: int = Field(2000, ge=10, le=100_000, description="test jets per domain in the embedding plot")

    @model_validator(mode="after")
    def _headline(self) -> RobustnessConfig:
        if not self.taggers and self.drift is None:
            raise ValueError("nothing to do: give taggers, drift or both")
        if self.headline >= len(self.rejections):
            raise ValueError(f"headline {self.headline} is not an index into the {len(self.rejections)} rejections")
        return self


def shipped_taggers() -> list[str]:
    return shipped_names(TAGGERS_FOLDER)


def load_tagger_config(name_or_path: str | Path) -> TaggerConfig:
    return load_named_config(TAGGERS_FOLDER, "tagger", name_or_path, TaggerConfig)


def load_robustness_config(name_or_path: str | Path) -> RobustnessConfig:
    return load_named_config(ROBUSTNESS_FOLDER, "robustness", name_or_path, RobustnessConfig)


def is_tagger_config(name_or_path: str) -> bool:
    """Whether ``l1ad train -c`` names a tagger: a shipped tagger, or a YAML file whose top level says ``network:``
    (run configs say ``model:``)."""
    if name_or_path in shipped_taggers():
        return True
    path = Path(name_or_path)
    if not path.is_file() or path.stat().st_size > 1_000_000:
        return False
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return any(line.startswith("network:") for line in text.splitlines())
