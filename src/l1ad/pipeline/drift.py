"""Trigger-rate drift of a zero-bias run's anomaly-detection models on domain-shifted variants of its dataset.

Variants are shipped datasets with ``variant_of`` naming the run's dataset (``zb_mu50``, ``zb_mu70``, ``zb_tune``),
generated into ``<run>/variants/<name>/dataset`` if absent. Each model keeps the threshold of its own evaluation
(``evaluation/<label>/metrics.json``, headline working point); its drift goes to ``<run>/drift/<label>/drift.json``,
where the leaderboard stage finds it.
"""

from __future__ import annotations

from pathlib import Path

from l1ad.benchmark.datasets.dataset import Dataset, load_dataset
from l1ad.benchmark.evaluation.drift import DRIFT_FILE, ModelDrift, variant_drift
from l1ad.benchmark.evaluation.report import BACKGROUND_TEST, MetricsReport, read_metrics
from l1ad.config import dataset_definition, load_config
from l1ad.config.robustness import DriftConfig
from l1ad.errors import ConfigError, L1adError, MissingStageOutput
from l1ad.files import write_json_model
from l1ad.models.registry import load_detector
from l1ad.pipeline.context import RunContext
from l1ad.pipeline.stages import generate_data


def open_variant(run: Path, name: str, size: str, nominal: Dataset, *, tracking: str | None, log) -> Dataset:
    """The variant dataset ``name`` (checked by :func:`check_drift`) of ``size`` in ``<run>/variants/<name>``,
    generated first if absent."""
    cfg = load_config("default", output_dir=str(run / "variants" / name), dataset=name, size=size)
    if cfg.dataset.emulation != nominal.emulation:
        raise ConfigError(f"variant {name!r} emulates the trigger differently from {nominal.directory}: a rate drift "
                          "would mix the domain shift with an emulation change")
    ctx = RunContext.create(cfg, tracking=tracking, log=log)
    return generate_data(ctx)  # reuses the dataset when it is already there


def evaluated_models(run: Path, dataset: Dataset) -> list[str]:
    """Labels of the models of ``run`` evaluated on its own dataset (trained on it too)."""
    labels = []
    for metrics_file in sorted((run / "evaluation").glob("*/metrics.json")):
        try:
            report = read_metrics(metrics_file.parent)
        except L1adError:
            continue
        if report.dataset.digest == dataset.digest and report.trained_on == dataset.digest \
                and (run / "models" / report.model).is_dir():
            labels.append(report.model)
    return labels


def check_drift(config: DriftConfig) -> tuple[Dataset, list[str]]:
    """The run's zero-bias dataset and the labels of the models to measure, after checking that the run, its models
    and the variants are usable: every problem is found before anything is generated or trained."""
    run = Path(config.run)
    if not (run / "dataset" / "dataset.json").is_file():
        raise MissingStageOutput(run / "dataset" / "dataset.json", "zero-bias run",
                                 f"l1ad run -o {run}")
    nominal = load_dataset(run / "dataset")
    if not nominal.zero_bias:
        raise ConfigError(f"{run}: dataset {nominal.name!r} is not zero bias; rate drift needs trigger rates")
    labels = config.models or evaluated_models(run, nominal)
    if not labels:
        raise MissingStageOutput(run / "evaluation", "evaluated model", f"l1ad run -o {run}")
    for label in labels:
        if not (run / "evaluation" / label / "metrics.json").is_file():
            raise MissingStageOutput(run / "evaluation" / label / "metrics.json", f"evaluation of {label!r}",
                                     f"l1ad evaluate -o {run} --model {label}")
    for name in config.variants:
        if getattr(dataset_definition(name), "variant_of", None) != nominal.name:
            raise ConfigError(f"dataset {name!r} is not a variant of {nominal.name!r} (the run's dataset); variants "
                              "of it name it in 'variant_of'")
    return nominal, labels


def drift(config: DriftConfig, *, tracking: str | None = None, log=print) -> list[ModelDrift]:
    """Every model's drift (see the module docstring), written per model and returned."""
    run = Path(config.run)
    nominal, labels = check_drift(config)
    variants = {name: open_variant(run, name, config.size, nominal, tracking=tracking, log=log)
                for name in config.variants}
    results = []
    for label in labels:
        model_dir, evaluation_dir = run / "models" / label, run / "evaluation" / label
        metrics = read_metrics(evaluation_dir)
        detector = load_detector(model_dir)
        results.append(_model_drift(label, run, nominal, metrics, detector, variants))
        directory = run / "drift" / label
        directory.mkdir(parents=True, exist_ok=True)
        write_json_model(directory / DRIFT_FILE, results[-1])
        summary = ", ".join(f"{v.variant} {v.rate_khz:.1f} kHz" for v in results[-1].variants)
        log(f"drift {label}: nominal {results[-1].nominal_rate_khz:.1f} kHz; {summary} -> {directory / DRIFT_FILE}")
    return results


def _model_drift(label: str, run: Path, nominal: Dataset, metrics: MetricsReport, detector,
                 variants: dict[str, Dataset]) -> ModelDrift:
    rows = [r for r in metrics.rows if r.working_point == metrics.headline]
    if not rows or rows[0].collision_rate_mhz is None:
        raise L1adError(f"{run / 'evaluation' / label}: no rate working point {metrics.headline!r} to hold fixed")
    row = rows[0]
    nominal_efficiencies = {r.signal: (r.efficiency, (r.efficiency_lo, r.efficiency_hi)) for r in rows}
    shifted = []
    for name, variant in variants.items():
        background = detector.score_samples(detector.inputs_of(variant.sample(BACKGROUND_TEST)))
        signals = {s: detector.score_samples(detector.inputs_of(variant.sample(s)))
                   for s in nominal_efficiencies if s in variant.manifest.samples}
        shifted.append(variant_drift(
            name, variant.digest, variant.manifest.config["pileup_mu"], variant.manifest.config.get("tune"),
            background, signals, threshold=row.threshold, nominal_accepted=row.n_background_accepted,
            nominal_background=row.n_background, nominal_efficiencies=nominal_efficiencies,
            collision_rate_mhz=row.collision_rate_mhz, confidence_level=row.confidence_level))
    return ModelDrift(
        model=label, run=str(run), dataset=nominal.name, dataset_digest=nominal.digest,
        pileup_mu=nominal.manifest.config["pileup_mu"], working_point=metrics.headline, threshold=row.threshold,
        collision_rate_mhz=row.collision_rate_mhz, confidence_level=row.confidence_level,
        nominal_n_background=row.n_background, nominal_n_accepted=row.n_background_accepted,
        nominal_rate_khz=row.background_rate_khz, nominal_rate_interval_khz=(row.background_rate_lo_khz,
                                                                            row.background_rate_hi_khz),
        variants=shifted)
