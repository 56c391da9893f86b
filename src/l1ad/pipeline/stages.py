"""The pipeline stages as functions: data -> train -> evaluate -> firmware -> leaderboard.

Each stage takes the :class:`~l1ad.pipeline.context.RunContext` and the typed result of the stage before it, writes
its own files, logs one MLflow run, and returns its typed result. A command run alone gets those inputs from disk
with the ``open_*`` functions, which read exactly what the earlier stage wrote (validated) and nothing else.
"""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from l1ad import __version__
from l1ad.benchmark.datasets.build import build_dataset
from l1ad.benchmark.datasets.dataset import Dataset, load_dataset
from l1ad.benchmark.datasets.jets import build_jets_dataset
from l1ad.benchmark.datasets.manifest import MANIFEST
from l1ad.benchmark.evaluation.drift import ModelDrift
from l1ad.benchmark.evaluation.report import (
    BACKGROUND_TEST,
    NETWORK_INPUTS,
    Evaluation,
    MetricsReport,
    evaluate_scores,
    read_evaluation,
    read_metrics,
    write_evaluation,
)
from l1ad.benchmark.trigger.menu import menu_decisions
from l1ad.config import JetsDatasetConfig
from l1ad.errors import ConfigError, MissingStageOutput, NotConvertibleError, StageOutputError
from l1ad.files import read_json_model, write_json_model
from l1ad.firmware.faults.report import FaultReport
from l1ad.firmware.hls import check_agreement, not_convertible_report
from l1ad.firmware.report import FIRMWARE_REPORT, FirmwareReport, read_firmware_report
from l1ad.leaderboards.board import Entry, EntryProvenance, entry_from_reports, submit
from l1ad.models.base import Detector
from l1ad.models.io import META, read_card
from l1ad.models.registry import load_detector, new_detector
from l1ad.pipeline.context import RunContext
from l1ad.pipeline.tracking import flatten_params, metric_key


# -- data ---------------------------------------------------------------------------------------------------------
def generate_data(ctx: RunContext, *, force: bool = False) -> Dataset:
    """Generate the config's dataset into ``<output>/dataset`` (or reuse it if it is already there, same digest).

    Parameters
    ----------
    ctx
        The run.
    force
        Regenerate even if the directory holds this dataset, and replace another dataset held there.

    Returns
    -------
    Dataset

    Raises
    ------
    DataFileError
        If the directory holds another dataset (unless ``force``).
    L1adError
        If generation fails (a rejected Pythia setting, a lost Dask worker, ...).
    """
    import mlflow

    started = time.time()
    with ctx.stage_run("data"):
        dataset = build_dataset(ctx.cfg.dataset, ctx.cfg.seed, ctx.paths.dataset, force=force, execution=ctx.execution)
        _log_dataset(ctx, dataset, ctx.cfg.dataset.model_dump(), "n_events")
        mlflow.log_artifacts(str(ctx.paths.dataset / "card"), artifact_path="card")
    ctx.log(f"dataset {dataset.name} v{dataset.version} ({dataset.digest}) in {ctx.paths.dataset} "
            f"[{time.time() - started:.0f} s]")
    return dataset


def generate_jets(ctx: RunContext, cfg: JetsDatasetConfig, *, force: bool = False) -> Dataset:
    """Generate a boosted-jets standard dataset (for taggers) into ``<output>/<dataset name>``."""
    directory = ctx.paths.root / cfg.name
    started = time.time()
    with ctx.stage_run("data-jets"):
        dataset = build_jets_dataset(cfg, ctx.cfg.seed, directory, force=force, execution=ctx.execution)
        _log_dataset(ctx, dataset, cfg.model_dump(), "n_jets")
    ctx.log(f"dataset {dataset.name} v{dataset.version} ({dataset.digest}) in {directory} "
            f"[{time.time() - started:.0f} s]")
    return dataset


def _log_dataset(ctx: RunContext, dataset: Dataset, config: dict, count: str) -> None:
    import mlflow

    mlflow.log_params(flatten_params({"dataset": config, "seed": ctx.cfg.seed}))
    mlflow.log_metrics({f"{count}.{k}": v.n_events for k, v in dataset.manifest.samples.items()})
    mlflow.log_metric("generation_seconds", dataset.manifest.generation_seconds)
    mlflow.log_artifact(str(dataset.directory / "dataset.json"))
    mlflow.log_artifact(str(dataset.directory / "CARD.md"))


def open_dataset(ctx: RunContext) -> Dataset:
    """The run's dataset as the data stage wrote it."""
    if not (ctx.paths.dataset / MANIFEST).is_file():
        raise MissingStageOutput(ctx.paths.dataset / MANIFEST, "dataset", "l1ad data generate")
    dataset = load_dataset(ctx.paths.dataset)
    if not isinstance(dataset, Dataset) or dataset.manifest.kind != "events":
        raise StageOutputError(f"{ctx.paths.dataset}: not a trigger-object dataset; run 'l1ad data generate' first")
    return dataset


# -- train --------------------------------------------------------------------------------------------------------
def train(ctx: RunContext, dataset: Dataset) -> Detector:
    """Fit the config's model on the dataset's training background and save it into ``<output>/models/<label>``.

    Parameters
    ----------
    ctx
        The run (model, training settings, seed).
    dataset
        The data stage's result; early stopping watches its validation background.

    Returns
    -------
    Detector
        The fitted detector, with the dataset's identity in its provenance.
    """
    import mlflow

    cfg = ctx.cfg
    detector = new_detector(cfg.model, cfg.training, seed=cfg.seed, acceptance=dataset.emulation.eta_acceptance)
    started = time.time()
    with ctx.stage_run("train") as run:
        mlflow.log_params(flatten_params({"model": cfg.model.model_dump(), "training": cfg.training.model_dump(),
                                          "seed": cfg.seed, "dataset.digest": dataset.digest}))
        detector.fit(detector.inputs_of(dataset.background("train")),
                     detector.inputs_of(dataset.background("validation")))
        detector.provenance = {"dataset": dataset.name, "dataset_version": dataset.version,
                               "dataset_digest": dataset.digest, "config_digest": cfg.digest(),
                               "mlflow_run_id": run.info.run_id}
        _log_history(detector.history)
        detector.save(ctx.paths.model)
        mlflow.log_artifacts(str(ctx.paths.model), artifact_path="model")
    history = detector.history
    summary = (f"{len(history['loss'])} epochs, best validation loss {min(history['val_loss']):.4f}"
               if "val_loss" in history else "fitted")
    ctx.log(f"trained {cfg.model.run_label}: {summary} -> {ctx.paths.model} [{time.time() - started:.0f} s]")
    return detector


def _log_history(history: dict[str, list[float]]) -> None:
    """Per-epoch series as MLflow steps; values recorded once (e.g. the final weight sparsity) as plain metrics."""
    import mlflow

    epochs = max((len(v) for v in history.values()), default=0)
    for key, values in history.items():
        if len(values) == epochs and epochs > 1:
            for epoch, value in enumerate(values):
                mlflow.log_metric(key, value, step=epoch)
        else:
            mlflow.log_metric(key, values[-1])


def open_detector(ctx: RunContext) -> Detector:
    """The run's trained model as the train stage saved it."""
    return load_detector(ctx.paths.model)


def trained_model_context(ctx: RunContext, label: str) -> RunContext:
    """The run with the model trained into ``<output>/models/<label>`` as its model (a bench model, a distilled
    student), with the architecture, training and seed its model card records, so the later stages apply to it.

    Raises
    ------
    ModelFileError
        If there is no model of that label (one line naming the directory).
    """
    card = read_card(ctx.paths.root / "models" / label)
    return ctx.for_model(card.model, card.training, card.seed)


# -- evaluate -----------------------------------------------------------------------------------------------------
def evaluate(ctx: RunContext, dataset: Dataset, detector: Detector, *, other_dataset: bool = False) -> Evaluation:
    """Score the test samples, compute efficiencies at every working point and write ``<output>/evaluation/<label>``.

    Beside each efficiency goes the pure efficiency (accepted and not by the config's reference menu, decided on the
    samples' stored trigger objects) and, on the background, the unique rate beyond the menu. For a detector with a
    trigger network, the network inputs of every test event are kept too: the firmware stage emulates the firmware on
    exactly those values.

    Parameters
    ----------
    ctx
        The run (working points, confidence level, bootstrap).
    dataset, detector
        The data and train stages' results.
    other_dataset
        Evaluate even if the model was trained on another dataset (the result is then kept off the leaderboard).

    Returns
    -------
    Evaluation
        The metrics report, the scores and the network inputs.

    Raises
    ------
    ConfigError
        If the model was trained on another dataset (digest) and ``other_dataset`` is not set.
    DivergedModelError
        If the model returns NaN or Inf scores.
    """
    import mlflow

    cfg = ctx.cfg
    trained_on = detector.provenance.get("dataset_digest")
    if trained_on != dataset.digest and not other_dataset:
        raise ConfigError(f"model {cfg.model.run_label!r} in {ctx.paths.model} was trained on dataset {trained_on}, "
                          f"not on {dataset.digest} in {dataset.directory}; retrain it ('l1ad train') or pass "
                          "--other-dataset (the result is then kept off the leaderboard)")
    samples = [BACKGROUND_TEST, *dataset.signal_names]
    with ctx.stage_run("evaluate"):
        events, menu_accepts = {}, {}
        for name in samples:  # each sample read once; of it only the model inputs and menu decisions are kept
            sample = dataset.sample(name)
            events[name] = detector.inputs_of(sample)
            menu_accepts[name] = menu_decisions(sample.particles, cfg.evaluation.menu)["menu"]
        scores = {name: detector.score_samples(x) for name, x in events.items()}
        try:
            detector.trigger_network()
            network_inputs = {name: detector.network_inputs(x) for name, x in events.items()}
        except NotConvertibleError:
            network_inputs = None
        report = evaluate_scores(scores, dataset.signal_names, cfg.evaluation, model=cfg.model.run_label,
                                 dataset=dataset.ref, menu_accepts=menu_accepts, seed=cfg.seed, trained_on=trained_on)
        evaluation = Evaluation(report=report, scores=scores, network_inputs=network_inputs)
        write_evaluation(ctx.paths.evaluation, evaluation, cfg.evaluation, dataset.signal_names)
        # the menu as its seed names: its full definition is in metrics.json and would not fit an MLflow param
        mlflow.log_params(flatten_params({"evaluation": cfg.evaluation.model_dump(exclude={"menu"}),
                                          "evaluation.menu": " ".join(s.name for s in cfg.evaluation.menu.seeds),
                                          "dataset.digest": dataset.digest}))
        for row in report.rows:
            key = metric_key(row.signal, row.working_point)
            mlflow.log_metrics({f"eff.{key}": row.efficiency, f"eff_lo.{key}": row.efficiency_lo,
                                f"eff_hi.{key}": row.efficiency_hi, f"pure_eff.{key}": row.pure_efficiency,
                                f"pure_eff_lo.{key}": row.pure_efficiency_lo, f"pure_eff_hi.{key}": row.pure_efficiency_hi,
                                f"auc.{row.signal}": row.roc_auc})
        for wp in dict.fromkeys(r.working_point for r in report.rows):
            row = report.at(wp)[0]  # the background, and so the unique rate, is the same in every signal's row
            mlflow.log_metric(f"unique_bkg_fpr.{metric_key(wp)}", row.unique_background_fpr)
        mlflow.log_metric("menu_bkg_fpr", report.rows[0].menu_background_fpr)
        mlflow.log_artifacts(str(ctx.paths.evaluation), artifact_path="evaluation")
    for row in report.at(report.headline):
        ctx.log(f"  {row.signal:>10}: efficiency {row.efficiency:.3f} [{row.efficiency_lo:.3f}, {row.efficiency_hi:.3f}], "
                f"pure {row.pure_efficiency:.3f} [{row.pure_efficiency_lo:.3f}, {row.pure_efficiency_hi:.3f}] "
                f"(menu {row.menu_efficiency:.3f}) at {row.label}, AUC {row.roc_auc:.3f}"
                f"{'' if row.measurable else ' (' + row.note + ')'}")
    head = report.at(report.headline)[0]
    unique = (f"{head.unique_rate_khz:.3g} kHz [{head.unique_rate_lo_khz:.3g}, {head.unique_rate_hi_khz:.3g}]"
              if head.unique_rate_khz is not None else
              f"FPR {head.unique_background_fpr:.2e} [{head.unique_background_fpr_lo:.2e}, {head.unique_background_fpr_hi:.2e}]")
    ctx.log(f"  unique beyond the reference menu at {head.label}: {unique} ({head.n_background_unique} of "
            f"{head.n_background} background events)")
    ctx.log(f"evaluation -> {ctx.paths.evaluation}")
    return evaluation


def open_evaluation(ctx: RunContext) -> Evaluation:
    """The run's evaluation (report, scores, network inputs) as the evaluate stage wrote it."""
    return read_evaluation(ctx.paths.evaluation)


def open_metrics(ctx: RunContext) -> MetricsReport:
    """The run's metrics report alone."""
    return read_metrics(ctx.paths.evaluation)


# -- firmware -----------------------------------------------------------------------------------------------------
def firmware(ctx: RunContext, detector: Detector, evaluation: Evaluation) -> FirmwareReport:
    """hls4ml project and bit-accurate C++ emulation of the detector's trigger network on the evaluation's network
    inputs; the agreement with Keras goes to ``<output>/firmware/<label>/firmware.json``.

    Parameters
    ----------
    ctx
        The run (hls4ml settings).
    detector, evaluation
        The train and evaluate stages' results.

    Returns
    -------
    FirmwareReport
        Status "not_convertible" with the reason for a detector without a trigger network.

    Raises
    ------
    MissingStageOutput
        If the evaluation holds no network inputs (it was written before they were kept: run 'l1ad evaluate').
    L1adError
        If hls4ml conversion or compilation fails.
    """
    import mlflow

    cfg = ctx.cfg
    directory = ctx.paths.firmware
    directory.mkdir(parents=True, exist_ok=True)
    try:
        detector.trigger_network()
    except NotConvertibleError as reason:
        report = not_convertible_report(cfg.model.run_label, reason)
        write_json_model(directory / FIRMWARE_REPORT, report)
        ctx.log(f"firmware: {report.source}")
        return report
    if evaluation.network_inputs is None:
        raise MissingStageOutput(ctx.paths.evaluation / NETWORK_INPUTS, "network inputs", "l1ad evaluate")
    started = time.time()
    with ctx.stage_run("firmware"):
        report = check_agreement(detector, evaluation.network_inputs, evaluation.scores, evaluation.report,
                                 cfg.evaluation, cfg.firmware, directory, model=cfg.model.run_label)
        write_json_model(directory / FIRMWARE_REPORT, report)
        mlflow.log_params(flatten_params({"firmware": cfg.firmware.model_dump()}))
        for a in report.agreement:
            for wp, fraction in a.decision_mismatch.items():
                mlflow.log_metric(f"decision_mismatch.{metric_key(a.sample, wp)}", fraction)
            mlflow.log_metric(f"max_abs_score_difference.{a.sample}", a.max_abs_score_difference)
        emulation = report.emulation
        identical, compared = emulation.identical_outputs()
        mlflow.log_metrics({"emulator_identical_output_fraction": identical / max(compared, 1),
                            "emulator_events_per_second": emulation.events_per_second})
        for wp in emulation.working_points:
            mlflow.log_metric(f"fw_eff.{metric_key(wp.signal, wp.working_point)}", wp.efficiency)
        mlflow.log_artifact(str(directory / FIRMWARE_REPORT))
        mlflow.log_artifact(str(directory / emulation.network_file))
    headline = evaluation.report.headline
    mismatched, total = report.decision_mismatch(headline)
    label = evaluation.report.at(headline)[0].label
    ctx.log(f"firmware: {mismatched} of {total} test events change their trigger decision at {label} "
            f"(Keras vs hls4ml C++ model)")
    emu_mismatched, _ = emulation.decision_mismatch(headline)
    ctx.log(f"firmware: emulator vs hls4ml C++: {identical} of {compared} events with every output bit-identical, "
            f"{emu_mismatched} decisions differ at {label} ({emulation.events_per_second:,.0f} events/s); "
            f"score in {emulation.score}")
    for wp in emulation.working_points:
        if wp.working_point == headline:
            ctx.log(f"  {wp.signal:>10}: firmware-exact efficiency {wp.efficiency:.3f} [{wp.efficiency_lo:.3f}, "
                    f"{wp.efficiency_hi:.3f}] (Keras {wp.keras_efficiency:.3f}) at {wp.label}")
    ctx.log(f"firmware -> {directory} [{time.time() - started:.0f} s]")
    return report


def firmware_summary(ctx: RunContext, *, bench: bool = False) -> Path:
    """``l1ad firmware report``: the firmware reports of the run's model (or of every bench model that has one) side
    by side in ``<output>/firmware/report.{md,csv}`` with resource and latency plots; returns the Markdown file.

    Raises
    ------
    MissingStageOutput
        If no model has a firmware report yet (names the command that writes one).
    """
    from l1ad.firmware.summary import write_summary

    contexts = [ctx.for_model(model) for model in ctx.cfg.bench] if bench else [ctx]
    reports = [read_firmware_report(c.paths.firmware) for c in contexts if (c.paths.firmware / FIRMWARE_REPORT).is_file()]
    if not reports:
        raise MissingStageOutput(contexts[0].paths.firmware / FIRMWARE_REPORT, "firmware report",
                                 "l1ad bench --firmware" if bench else "l1ad firmware")
    directory = ctx.paths.root / "firmware"
    write_summary(reports, ctx.cfg.firmware.fpga_part, directory)
    skipped = len(contexts) - len(reports)
    ctx.log(f"firmware report: {len(reports)} models{f' ({skipped} without a firmware report)' if skipped else ''} "
            f"-> {directory / 'report.md'}")
    return directory / "report.md"


# -- faults -------------------------------------------------------------------------------------------------------
def faults(ctx: RunContext, *, campaign: str | None = None, models: list[str] | None = None) -> list[FaultReport]:
    """``l1ad faults``: a single-bit fault campaign on the firmware network of the run's model (or of the named bench
    models), written to ``<output>/faults/<label>/`` and logged to MLflow.

    Raises
    ------
    MissingStageOutput
        If the model has no firmware report or evaluation yet (names the command that writes it).
    FaultCampaignError
        If the model has no fixed-point network (says why).
    """
    import mlflow

    from l1ad.firmware.faults.report import FAULT_REPORT, FAULT_TABLE
    from l1ad.firmware.faults.run import nominal_working_point, run_fault_campaign
    from l1ad.firmware.network import read_network

    contexts = [ctx]
    if models:
        known = {m.run_label: m for m in ctx.cfg.bench}
        trained = ctx.paths.root / "models"
        unknown = [m for m in models if m not in known and not (trained / m / META).is_file()]
        if unknown:
            raise ConfigError(f"no bench model {unknown[0]!r} in config {ctx.cfg.name!r} and none trained into "
                              f"{trained}; bench models: {', '.join(known)}")
        contexts = [ctx.for_model(known[m]) if m in known else trained_model_context(ctx, m) for m in models]
    reports = []
    for stage in contexts:
        cfg, label = stage.cfg, stage.cfg.model.run_label
        chosen = campaign or cfg.faults.campaign
        firmware_report = open_firmware_report(stage)
        if firmware_report is None:
            raise MissingStageOutput(stage.paths.firmware / FIRMWARE_REPORT, "firmware report", "l1ad firmware")
        nominal_working_point(firmware_report)  # a model without a fixed-point network: one line, before any work
        evaluation = open_evaluation(stage)
        if evaluation.network_inputs is None:
            raise MissingStageOutput(stage.paths.evaluation / NETWORK_INPUTS, "network inputs", "l1ad evaluate")
        network = read_network(stage.paths.firmware / firmware_report.emulation.network_file)
        score_function = None
        if network.score is None:  # the score is computed in software from the firmware's outputs
            score_function = open_detector(stage).output_score()
        with stage.stage_run("faults"):
            report = run_fault_campaign(network, firmware_report, evaluation.network_inputs, cfg.faults,
                                        stage.paths.faults, campaign=chosen, seed=cfg.seed,
                                        collision_rate_mhz=cfg.evaluation.collision_rate_mhz,
                                        score_function=score_function, log=stage.log, execution=stage.execution)
            mlflow.log_params(flatten_params({"faults": cfg.faults.model_dump(), "faults.campaign_run": chosen}))
            mlflow.log_metrics({f"faults.share.{s.name}": s.share for s in report.shares}
                               | {"faults.rate_budget_broken": report.rate_budget_broken.share,
                                  "faults.n_faults": report.n_faults, "faults.seconds": report.timing.seconds})
            for name in (FAULT_REPORT, FAULT_TABLE, "sensitivity.png", "rate_blowup.png", "ranking_quality.png"):
                if (stage.paths.faults / name).is_file():  # no ranking plot for a network without a surrogate
                    mlflow.log_artifact(str(stage.paths.faults / name), artifact_path="faults")
            mlflow.log_metrics({f"faults.ranking_area.{r.name}": r.normalized_area for r in report.rankings})
        shares = ", ".join(f"{s.name} {s.share:.2%} [{s.share_lo:.2%}, {s.share_hi:.2%}]" for s in report.shares)
        stage.log(f"faults: {label}: {report.n_faults} of {report.n_sites} single-bit faults ({report.campaign}) at "
                  f"{report.nominal.label}: {shares}")
        budget = report.rate_budget_broken
        stage.log(f"faults: {budget.share:.2%} [{budget.share_lo:.2%}, {budget.share_hi:.2%}] break the rate budget "
                  f"(rate x {cfg.faults.catastrophic_rate_factor:g} or > {cfg.faults.rate_budget_khz:g} kHz); "
                  f"{report.timing.faults_per_second:,.0f} faults/s -> {stage.paths.faults}")
        reports.append(report)
    return reports


def current_fault_report(ctx: RunContext, firmware_report: FirmwareReport | None) -> FaultReport | None:
    """The model's fault report if 'l1ad faults' ran on its current firmware (same network file and threshold)."""
    from l1ad.firmware.faults.report import FAULT_REPORT, read_fault_report
    from l1ad.firmware.faults.run import FaultCampaignError, nominal_working_point

    if firmware_report is None or not (ctx.paths.faults / FAULT_REPORT).is_file():
        return None
    try:
        _, _, threshold, _ = nominal_working_point(firmware_report)
    except FaultCampaignError:
        return None
    report = read_fault_report(ctx.paths.faults)
    if report.nominal.threshold != threshold or report.model != firmware_report.model:
        ctx.log(f"leaderboard: {ctx.paths.faults / FAULT_REPORT} is of an earlier firmware build; re-run 'l1ad faults'")
        return None
    return report


def current_drift_report(ctx: RunContext, metrics: MetricsReport) -> ModelDrift | None:
    """The model's rate-drift report if 'l1ad robustness' measured it at the threshold of this evaluation."""
    from l1ad.benchmark.evaluation.drift import DRIFT_FILE

    path = ctx.paths.drift / DRIFT_FILE
    if not path.is_file():
        return None
    report = read_json_model(path, ModelDrift, "drift report")
    head = metrics.at(metrics.headline)[0]
    if (report.threshold, report.dataset_digest, report.model) != (head.threshold, metrics.dataset.digest,
                                                                   metrics.model):
        ctx.log(f"leaderboard: {path} is of an earlier evaluation; re-run 'l1ad robustness'")
        return None
    return report


def open_firmware_report(ctx: RunContext) -> FirmwareReport | None:
    """The run's firmware report, or None if the firmware stage has not run."""
    if not (ctx.paths.firmware / FIRMWARE_REPORT).is_file():
        return None
    return read_firmware_report(ctx.paths.firmware)


# -- leaderboard --------------------------------------------------------------------------------------------------
def leaderboard(ctx: RunContext, metrics: MetricsReport, firmware_report: FirmwareReport | None,
                board_dir: str | Path | None = None) -> list[Entry]:
    """Add the model's entry at its headline trigger rate to the leaderboard (``board.json`` + ``LEADERBOARD.md``).

    A pre-selected (not zero-bias) dataset has no trigger rate to rank at, so its results are not entered.

    Parameters
    ----------
    ctx
        The run (submitter, board directory).
    metrics, firmware_report
        The evaluate stage's report and the firmware stage's (None if it did not run).
    board_dir
        Overrides the config's board directory.

    Returns
    -------
    list of Entry
        The board after the submission.

    Raises
    ------
    StageOutputError
        If the existing ``board.json`` is corrupt (it is not overwritten).
    """
    import mlflow

    cfg = ctx.cfg
    if not metrics.dataset.zero_bias:
        ctx.log(f"leaderboard: skipped; it ranks at a trigger rate, which needs a zero-bias dataset, and "
                f"{metrics.dataset.name!r} is pre-selected (its metrics have FPR working points)")
        return []
    head = metrics.at(metrics.headline)[0]
    provenance = EntryProvenance(
        l1ad_version=__version__, git_commit=_git_commit(), config=cfg.name, config_digest=cfg.digest(), seed=cfg.seed,
        n_background_test=head.n_background, efficiency_source=metrics.source,
        date=datetime.now(UTC).date().isoformat(),
    )
    entry = entry_from_reports(metrics, firmware_report, submitter=cfg.leaderboard.submitter, provenance=provenance,
                               faults=current_fault_report(ctx, firmware_report),
                               drift=current_drift_report(ctx, metrics))
    directory = Path(board_dir or cfg.leaderboard.directory or ctx.paths.root / "leaderboards")
    with ctx.stage_run("leaderboard"):
        entries = submit(directory, entry)
        mlflow.log_metrics({"entries": len(entries), "mean_efficiency": entry.mean_efficiency})
        mlflow.log_artifacts(str(directory), artifact_path="leaderboard")
    ctx.log(f"leaderboard: {len(entries)} {'entry' if len(entries) == 1 else 'entries'} -> {directory}")
    return entries


def run_all(ctx: RunContext, board_dir: str | Path | None = None) -> list[Entry]:
    """Every stage in order, each handing its result to the next."""
    dataset = generate_data(ctx)
    detector = train(ctx, dataset)
    evaluation = evaluate(ctx, dataset, detector)
    report = firmware(ctx, detector, evaluation)
    return leaderboard(ctx, evaluation.report, report, board_dir)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None
