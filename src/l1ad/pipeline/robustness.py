"""Jet taggers (``l1ad train -c TAGGER``) and the tagger robustness study (``l1ad robustness``).

Output directory (the robustness config's ``output_dir``, default ``runs/jets``)::

    jets/                    the jets dataset (generated if absent)
    taggers/<name>/          tagger.json + weights, one directory per tagger config
    robustness/              robustness.json (RobustnessReport), robustness.md, roc_<rejection>.png,
                             embedding_<tagger>.png

Every tagger is trained on the nominal domain (contrastive pre-training may also read the alternative domain's
training jets without their labels: MACK pairs) and measured on both domains' test jets.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from l1ad.benchmark.datasets.build import cached_dataset, dataset_digest
from l1ad.benchmark.datasets.dataset import Dataset
from l1ad.benchmark.datasets.jets import RESIMULATED, load_jets
from l1ad.benchmark.evaluation.drift import markdown_table as drift_table
from l1ad.benchmark.evaluation.drift import plot_drift
from l1ad.benchmark.evaluation.tagging import (
    REPORT_FILE,
    TABLE_FILE,
    DatasetRef,
    RobustnessReport,
    TaggerResult,
    domain_result,
    markdown_table,
    plot_embedding,
    plot_roc,
    rejection_drop,
    roc_curve,
    target_check,
)
from l1ad.benchmark.jets import JET_CLASSES, JetSample
from l1ad.benchmark.jets.pairing import ViewPairs, match_domains, resimulation_pairs
from l1ad.config import JetsDatasetConfig, dataset_definition, load_config
from l1ad.config.robustness import RobustnessConfig, TaggerConfig, load_tagger_config
from l1ad.errors import L1adError, MissingStageOutput
from l1ad.files import write_json_model, write_text_atomic
from l1ad.models.taggers import SUPERVISED, ContrastiveTagger, JetTagger, read_tagger_card
from l1ad.pipeline.context import RunContext
from l1ad.pipeline.drift import check_drift, drift
from l1ad.pipeline.stages import generate_jets
from l1ad.pipeline.tracking import flatten_params
from l1ad.progress import progress_bar

NOMINAL, ALTERNATIVE = "nominal", "alternative"
JETS = "jets"


def jets_context(output_dir: str, *, seed: int = 42, name: str = "robustness", tracking: str | None = None,
                 execution=None) -> RunContext:
    """A run context for the jets output directory (its MLflow store, log and where generation runs)."""
    cfg = load_config("default", output_dir=output_dir).model_copy(update={"name": name, "seed": seed})
    return RunContext.create(cfg, tracking=tracking, execution=execution)


def jets_config(size: str) -> JetsDatasetConfig:
    return dataset_definition(JETS).resolve(size)


def open_jets(ctx: RunContext, size: str, *, generate: bool) -> Dataset:
    """The jets dataset of ``size`` in ``<output>/jets``, generated first if absent and ``generate``."""
    cfg = jets_config(size)
    directory = ctx.paths.root / cfg.name
    existing = cached_dataset(directory, dataset_digest(cfg, ctx.cfg.seed), name=cfg.name, size=cfg.size)
    if existing is not None:
        return existing
    if not generate:
        raise MissingStageOutput(directory / "dataset.json", f"jets dataset ({size})",
                                 f"l1ad data generate --dataset jets --size {size} -o {ctx.paths.root}")
    return generate_jets(ctx, cfg)


def jet_sample(dataset: Dataset, domain: str, split: str) -> JetSample:
    return load_jets(dataset.directory / f"jets_{domain}_{split}.h5")


def tagger_dir(ctx: RunContext, config: TaggerConfig) -> Path:
    return ctx.paths.root / "taggers" / config.name


def config_digest(config: TaggerConfig) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:12]


def contrastive_pairs(ctx: RunContext, dataset: Dataset, config: TaggerConfig, nominal: JetSample) -> ViewPairs:
    """The positive pairs the config names: augmented views of nominal training jets, re-simulated copies, and
    nominal jets with their EMD-matched alternative-domain training jets (labels unread)."""
    cfg = config.contrastive
    sources = {}
    pt = nominal.kinematics[:, 0]
    if "augmentation" in cfg.pairs:
        sources["augmentation"] = (nominal.constituents, pt, nominal.constituents, pt)
    if "resimulation" in cfg.pairs:
        resim = load_jets(dataset.directory / f"{RESIMULATED}.h5")
        sources["resimulation"] = resimulation_pairs(resim, np.random.default_rng(config.seed))
    if "domain_match" in cfg.pairs:
        alternative = jet_sample(dataset, ALTERNATIVE, "train")
        n = min(cfg.match.jets, len(nominal.labels))
        started = time.time()
        with progress_bar(n, f"EMD matching {config.name}", "jet") as bar:
            partner, distance = match_domains(nominal, alternative, cfg.match, progress=bar.update)
        ctx.log(f"{config.name}: {n} nominal jets matched to alternative-domain jets, median EMD "
                f"{np.median(distance):.3f} [{time.time() - started:.0f} s]")
        sources["domain_match"] = (nominal.constituents[:n], pt[:n], alternative.constituents[partner],
                                   alternative.kinematics[partner, 0])
    return ViewPairs.join(sources)


def train_tagger(ctx: RunContext, dataset: Dataset, config: TaggerConfig) -> JetTagger:
    """Train one tagger on the nominal domain into ``<output>/taggers/<name>``, tracked in MLflow."""
    import mlflow

    train, validation = jet_sample(dataset, NOMINAL, "train"), jet_sample(dataset, NOMINAL, "validation")
    started = time.time()
    with ctx.stage_run(f"tagger-{config.name}", of_model=False) as run:
        mlflow.log_params(flatten_params({"tagger": config.model_dump(), "dataset.digest": dataset.digest}))
        if config.contrastive is not None:
            tagger = ContrastiveTagger(config)
            pairs = contrastive_pairs(ctx, dataset, config, train)
            mlflow.log_params({f"pairs.{k}": v for k, v in pairs.counts.items()})
            tagger.pretrain(pairs, n_constituents=train.constituents.shape[1])
        else:
            tagger = JetTagger(config)
        tagger.fit(tagger.inputs_of(train), train.labels, validation=(tagger.inputs_of(validation), validation.labels))
        tagger.provenance = {"dataset": dataset.name, "dataset_version": dataset.version,
                             "dataset_digest": dataset.digest, "config_digest": config_digest(config),
                             "mlflow_run_id": run.info.run_id}
        for key, values in tagger.history.items():
            for epoch, value in enumerate(values):
                mlflow.log_metric(key, value, step=epoch)
        accuracy = {h: tagger.score(tagger.inputs_of(validation), validation.labels, h) for h in tagger.heads}
        mlflow.log_metrics({f"validation_accuracy.{h}": value for h, value in accuracy.items()})
        directory = tagger.save(tagger_dir(ctx, config))
        mlflow.log_artifacts(str(directory), artifact_path="tagger")
    accuracies = ", ".join(f"{tagger.label(h)} {value:.3f}" for h, value in accuracy.items())
    ctx.log(f"tagger {config.name}: validation accuracy {accuracies} -> {directory} [{time.time() - started:.0f} s]")
    return tagger


def trained_tagger(ctx: RunContext, dataset: Dataset, config: TaggerConfig) -> JetTagger:
    """The tagger of ``config`` already trained on this dataset with this config, else trained now."""
    directory = tagger_dir(ctx, config)
    if directory.is_dir():
        try:
            provenance = read_tagger_card(directory).provenance
        except L1adError:
            provenance = {}
        if (provenance.get("dataset_digest"), provenance.get("config_digest")) == (dataset.digest,
                                                                                    config_digest(config)):
            ctx.log(f"tagger {config.name}: reusing {directory} (same dataset and config)")
            return JetTagger.load(directory)
    return train_tagger(ctx, dataset, config)


def robustness(ctx: RunContext, config: RobustnessConfig) -> RobustnessReport:
    """Train (or reuse) every tagger of the config and measure it on both domains, and measure the anomaly triggers'
    rate drift if the config asks; write the report, tables and plots to ``<output>/robustness``."""
    import mlflow

    configs = [load_tagger_config(name) for name in config.taggers]  # every config is valid before any training
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise L1adError(f"robustness config {config.name!r} names a tagger twice: {names}")
    if config.drift is not None:
        check_drift(config.drift)  # a missing run or a wrong variant is found before the taggers train
    directory = ctx.paths.root / "robustness"
    dataset, results, targets = None, [], []
    if configs:
        dataset = open_jets(ctx, config.size, generate=True)
        results = _tagger_results(ctx, dataset, configs, config, directory)
        for rejection in config.rejections:
            for result in results:
                reference = next((s for s in results if s.kind == "supervised" and s.inputs == result.inputs), None)
                if result.kind == "contrastive" and reference is not None:
                    targets.append(target_check(result, reference, rejection.id))
    drifts = [] if config.drift is None else drift(config.drift, tracking=None if _local(ctx) else ctx.tracking_uri,
                                                   log=ctx.log)
    report = RobustnessReport(
        config=config.name,
        dataset=None if dataset is None else DatasetRef(
            name=dataset.name, version=dataset.version, size=dataset.manifest.size, digest=dataset.digest,
            directory=str(dataset.directory)),
        nominal=NOMINAL, alternative=ALTERNATIVE, confidence_level=config.confidence_level,
        bootstrap_samples=config.bootstrap_samples, rejections=config.rejections,
        headline=config.rejections[config.headline].id, taggers=results, targets=targets, drift=drifts)
    directory.mkdir(parents=True, exist_ok=True)
    write_json_model(directory / REPORT_FILE, report)
    text = (markdown_table(report) if results else "") + ("\n" + drift_table(drifts) if drifts else "")
    write_text_atomic(directory / TABLE_FILE, text)
    if drifts:
        plot_drift(drifts, directory / "rate_drift.png")
    with ctx.stage_run("robustness", of_model=False):
        mlflow.log_params({"config": config.name, "taggers": ",".join(names),
                           "dataset.digest": dataset.digest if dataset else "none"})
        for t in results:
            key = t.label.replace(" ", "_").replace("(", "").replace(")", "")
            for r in config.rejections:
                for domain in (NOMINAL, ALTERNATIVE):
                    value = t.domains[domain].rejections[r.id].rejection.value
                    if value is not None:
                        mlflow.log_metric(f"rejection.{r.id}.{domain}.{key}", value)
                if t.drops[r.id].value is not None:
                    mlflow.log_metric(f"drop.{r.id}.{key}", t.drops[r.id].value)
        for d in drifts:
            for v in d.variants:
                mlflow.log_metric(f"drift_rate_khz.{d.model}.{v.variant}", v.rate_khz)
        mlflow.log_artifacts(str(directory), artifact_path="robustness")
    ctx.log(text)
    ctx.log(f"robustness -> {directory}")
    return report


def _local(ctx: RunContext) -> bool:
    """Whether the tracking store is the default one inside the output directory (variants then get their own)."""
    from l1ad.pipeline.tracking import default_store

    return ctx.tracking_uri == default_store(ctx.paths.root)


def _tagger_results(ctx: RunContext, dataset: Dataset, configs: list[TaggerConfig], config: RobustnessConfig,
                    directory: Path) -> list[TaggerResult]:
    test = {domain: jet_sample(dataset, domain, "test") for domain in (NOMINAL, ALTERNATIVE)}
    rng = np.random.default_rng(config.seed)
    results, curves, embeddings = [], {r.id: {} for r in config.rejections}, {}
    for tagger_config in configs:
        tagger = trained_tagger(ctx, dataset, tagger_config)
        for head in tagger.heads:
            probabilities = {d: tagger.predict_proba(tagger.inputs_of(s), head) for d, s in test.items()}
            results.append(_tagger_result(tagger, head, probabilities, test, config, rng,
                                          tagger_dir(ctx, tagger_config)))
            for r in config.rejections:
                curves[r.id][tagger.label(head)] = {d: roc_curve(p, test[d].labels, r, JET_CLASSES)
                                                    for d, p in probabilities.items()}
        if isinstance(tagger, ContrastiveTagger):
            embeddings[tagger.name] = {d: (tagger.embed(tagger.inputs_of(s)[: config.embedding_jets]),
                                           s.labels[: config.embedding_jets]) for d, s in test.items()}
    directory.mkdir(parents=True, exist_ok=True)
    for r in config.rejections:
        plot_roc(curves[r.id], r, directory / f"roc_{r.id}.png")
    for name, embedded in embeddings.items():
        plot_embedding(embedded, JET_CLASSES, f"{name} representation", directory / f"embedding_{name}.png")
    return results


def _tagger_result(tagger: JetTagger, head: str, probabilities: dict[str, np.ndarray], test: dict[str, JetSample],
                   config: RobustnessConfig, rng: np.random.Generator, directory: Path) -> TaggerResult:
    options = {"confidence_level": config.confidence_level, "bootstrap_samples": config.bootstrap_samples, "rng": rng}
    domains = {d: domain_result(d, p, test[d].labels, config.rejections, JET_CLASSES, **options)
               for d, p in probabilities.items()}
    drops = {r.id: rejection_drop((probabilities[NOMINAL], test[NOMINAL].labels),
                                  (probabilities[ALTERNATIVE], test[ALTERNATIVE].labels), r, JET_CLASSES, **options)
             for r in config.rejections}
    contrastive = tagger.config.contrastive
    return TaggerResult(
        label=tagger.label(head), tagger=tagger.name, head=head,
        kind="supervised" if head == SUPERVISED else "contrastive", inputs=tagger.config.inputs,
        description=tagger.config.description, pairs=list(contrastive.pairs) if contrastive else [],
        loss=contrastive.loss if contrastive else None, domains=domains, drops=drops,
        model_dir=str(directory))
