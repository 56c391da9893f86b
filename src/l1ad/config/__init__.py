"""Configuration schemas: run configs, dataset definitions and the catalogues of names they may use.

The bottom layer of the suite: it imports no pipeline stage, and every stage reads its settings from these typed,
validated objects. ``load_config`` reads a shipped config by name (``default``, ``tiny``) or a YAML file by path.
"""

from l1ad.config.datasets import (
    BlindSizes,
    DatasetConfig,
    DatasetDefinition,
    DatasetSize,
    EmulationConfig,
    EtaAcceptance,
    JetCalibration,
    JetResolution,
    JetResolutionBin,
    JetsDatasetConfig,
    JetsDatasetDefinition,
    JetSplitSizes,
    LeptonTrigger,
    ResimulationSizes,
    SampleSizes,
    dataset_definition,
    shipped_datasets,
)
from l1ad.config.models import MODELS, ModelSpec
from l1ad.config.run import (
    EvaluationConfig,
    FaultsConfig,
    FirmwareConfig,
    LeaderboardConfig,
    ModelConfig,
    PruningConfig,
    QuantizationConfig,
    RunConfig,
    TrainingConfig,
    load_config,
    shipped_configs,
)

__all__ = [
    "MODELS", "BlindSizes", "DatasetConfig", "DatasetDefinition", "DatasetSize", "EmulationConfig", "EtaAcceptance", "EvaluationConfig",
    "FaultsConfig", "FirmwareConfig", "JetCalibration", "JetResolution", "JetResolutionBin", "JetSplitSizes", "JetsDatasetConfig", "JetsDatasetDefinition", "LeaderboardConfig", "LeptonTrigger",
    "ModelConfig", "ModelSpec", "PruningConfig", "QuantizationConfig", "ResimulationSizes", "RunConfig", "SampleSizes",
    "TrainingConfig", "dataset_definition", "load_config", "shipped_configs", "shipped_datasets",
]
