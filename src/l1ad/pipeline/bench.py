"""``l1ad bench``: train (resumably), evaluate and compare the config's bench models on one dataset."""

from __future__ import annotations

from pathlib import Path

from l1ad.benchmark.datasets.dataset import Dataset
from l1ad.benchmark.evaluation.comparison import write_comparison
from l1ad.benchmark.evaluation.report import MetricsReport, read_metrics
from l1ad.config import MODELS, ModelConfig
from l1ad.errors import ConfigError, L1adError
from l1ad.models.io import read_card
from l1ad.pipeline import stages
from l1ad.pipeline.context import RunContext


def trained_model_is_current(ctx: RunContext, dataset: Dataset) -> bool:
    """True when the model directory holds this config's model (architecture, training, seed) trained on this
    dataset, so a resumed bench need not train it again."""
    try:
        card = read_card(ctx.paths.model)
    except L1adError:
        return False
    cfg = ctx.cfg
    return (card.model == cfg.model and card.training == cfg.training and card.seed == cfg.seed
            and card.provenance.dataset_digest == dataset.digest)


def current_metrics(ctx: RunContext, dataset: Dataset) -> MetricsReport | None:
    """This model's metrics if it was evaluated on ``dataset`` at the config's headline, with the model still
    current; else None."""
    if not trained_model_is_current(ctx, dataset):
        return None
    try:
        report = read_metrics(ctx.paths.evaluation)
    except L1adError:  # unreadable or older metrics: evaluated again when benched by name
        return None
    current = report.dataset.digest == dataset.digest and report.at(report.headline)
    return report if current else None


def bench(ctx: RunContext, models: list[str] | None = None, *, retrain: bool = False, firmware: bool = False) -> Path:
    """Train (unless already trained), evaluate and compare the config's bench models on one dataset.

    Models not named in ``models`` but evaluated earlier on the same dataset (and still current) stay in the
    comparison. Returns the directory of the comparison files.
    """
    chosen = ctx.cfg.bench
    if models:
        known = {m.run_label: m for m in chosen}
        unknown = [m for m in models if m not in known]
        if unknown:
            raise ConfigError(f"no bench model {unknown[0]!r} in config {ctx.cfg.name!r}; known: {', '.join(known)}")
        chosen = [known[m] for m in models]
    dataset = stages.generate_data(ctx)
    reports: dict[str, MetricsReport] = {}
    for model in ctx.cfg.bench:
        stage = ctx.for_model(model)
        if model not in chosen:  # evaluated by an earlier bench on this dataset: keep it in the comparison
            earlier = current_metrics(stage, dataset)
            if earlier is not None:
                reports[model.run_label] = earlier
            continue
        if not retrain and trained_model_is_current(stage, dataset):
            ctx.log(f"bench: {model.run_label} already trained for this dataset and config; not retraining")
            detector = stages.open_detector(stage)
        else:
            detector = stages.train(stage, dataset)
        evaluation = stages.evaluate(stage, dataset, detector)
        reports[model.run_label] = evaluation.report
        if firmware:
            stages.firmware(stage, detector, evaluation)
    directory = ctx.paths.root / "bench"
    notes = {model.run_label: bench_note(model) for model in ctx.cfg.bench if model.run_label in reports}
    write_comparison(list(reports.values()), directory, notes=notes)
    n_earlier = len(reports) - len(chosen)
    ctx.log(f"bench: {len(reports)} models compared{f' ({n_earlier} from earlier runs)' if n_earlier else ''} "
            f"-> {directory / 'results.md'}")
    return directory


def bench_note(model: ModelConfig) -> str:
    """What a bench row is: precision and score."""
    spec = MODELS[model.name]
    if spec.family != "keras":
        return "scikit-learn"
    precision = "float" if model.quantization is None else (
        f"QKeras {model.quantization.weight_bits}-bit weights, {model.quantization.activation_bits}-bit activations")
    score = spec.score(model)
    if score == "mse" and spec.angles(model) is not None:
        score += f" ({spec.angles(model)} eta, phi)"
    return f"{precision}; score {score}"
