"""``l1ad distill``: a student from a saved teacher, trained, evaluated as any model, and compared with its teacher.

The student is saved, evaluated and (with ``firmware``) converted exactly like a trained model of the run, under its
own label: ``<output>/models/<label>``, ``evaluation/<label>``, ``firmware/<label>``; the teacher comparison goes to
``<output>/distill/<label>/`` (:mod:`l1ad.distill.report`). The teacher's test scores are computed here from the
saved teacher (it may come from another output directory), on the very events the student's evaluation reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from l1ad.benchmark.datasets.dataset import Dataset
from l1ad.benchmark.evaluation.comparison import write_comparison
from l1ad.benchmark.evaluation.report import BACKGROUND_TEST, Evaluation
from l1ad.config.distill import StudentConfig
from l1ad.distill.agreement import agreement
from l1ad.distill.fit import fit_student, teacher_target
from l1ad.distill.report import PLOT_FILE, DistillationReport, plot_student_vs_teacher, write_report
from l1ad.distill.sweep import NetworkCost, SweepReport, keras_cost, sweep_configs, sweep_row, write_sweep
from l1ad.errors import ConfigError, L1adError, ModelFileError
from l1ad.firmware.report import FirmwareReport, read_firmware_report
from l1ad.models.base import Detector
from l1ad.models.io import META
from l1ad.models.registry import load_detector
from l1ad.pipeline.bench import bench_note
from l1ad.pipeline.context import RunContext
from l1ad.pipeline.stages import evaluate, firmware
from l1ad.pipeline.tracking import flatten_params, metric_key


def open_teacher(ctx: RunContext, path_or_name: str) -> tuple[Detector, Path]:
    """A saved teacher: a model directory, or the label of a model trained into this run's output directory."""
    path = Path(path_or_name)
    if not path.is_dir() and len(path.parts) == 1:
        path = ctx.paths.root / "models" / path_or_name
    if not (path / META).is_file():
        raise ModelFileError(f"teacher {path_or_name!r}: not a saved model (no {path / META}); give a model "
                             f"directory or the label of a model trained into {ctx.paths.root / 'models'}")
    return load_detector(path), path


def student_context(ctx: RunContext, config: StudentConfig) -> RunContext:
    """The run with the student as its model (its training settings and seed), so the ordinary stages apply."""
    return ctx.for_model(config.student, config.training, config.seed)


@dataclass(frozen=True)
class Distilled:
    """What ``distill`` made: the saved student, its evaluation, the comparison with the teacher and its firmware."""

    student: Detector
    evaluation: Evaluation
    report: DistillationReport
    firmware: FirmwareReport | None


def distill(ctx: RunContext, dataset: Dataset, teacher: Detector, teacher_dir: Path, config: StudentConfig, *,
            with_firmware: bool = False) -> Distilled:
    """Train the student of ``config`` on ``teacher``'s targets, save, evaluate (and convert) it, and write the
    teacher-student comparison at the run's leaderboard rate.

    Raises
    ------
    ConfigError
        If the teacher was trained on another dataset, or the student reads other inputs than the teacher.
    """
    import mlflow

    trained_on = teacher.provenance.get("dataset_digest")
    if trained_on != dataset.digest:
        raise ConfigError(f"teacher {teacher.model_config.run_label!r} in {teacher_dir} was trained on dataset "
                          f"{trained_on}, not on {dataset.digest} in {dataset.directory}: a student learns on its "
                          "teacher's training data")
    run = student_context(ctx, config)
    label = config.student.run_label
    started = time.time()
    with run.stage_run("distill") as mlflow_run:
        mlflow.log_params(flatten_params({"student": config.model_dump(exclude={"sweep"}),
                                          "teacher": teacher.model_config.run_label, "teacher_dir": str(teacher_dir),
                                          "dataset.digest": dataset.digest}))
        student, data = fit_student(teacher, config, dataset)
        student.provenance = {
            "dataset": dataset.name, "dataset_version": dataset.version, "dataset_digest": dataset.digest,
            "config_digest": run.cfg.digest(), "mlflow_run_id": mlflow_run.info.run_id,
            "teacher": {"label": teacher.model_config.run_label, "model_dir": str(teacher_dir),
                        "score": teacher.model_config.run_label + ": " + _score_text(teacher),
                        "target": config.target.model_dump()}}
        for key, values in student.history.items():
            for epoch, value in enumerate(values):
                mlflow.log_metric(key, value, step=epoch)
        student.save(run.paths.model)
        mlflow.log_artifacts(str(run.paths.model), artifact_path="model")
    history = student.history
    augmented = len(data.train) - data.n_background - data.n_exposure
    ctx.log(f"distilled {label} from {teacher.model_config.run_label}: {data.n_background} background events "
            f"+ {augmented} augmented + {data.n_exposure} exposure, {len(history['loss'])} epochs, best validation loss "
            f"{min(history['val_loss']):.4g} ({data.saturated:.2%} of targets saturated) -> {run.paths.model} "
            f"[{time.time() - started:.0f} s]")
    evaluation = evaluate(run, dataset, student)
    report = compare_with_teacher(run, dataset, teacher, teacher_dir, config, evaluation, data)
    return Distilled(student, evaluation, report, firmware(run, student, evaluation) if with_firmware else None)


def network_cost(detector: Detector, firmware_report: FirmwareReport | None) -> NetworkCost:
    """A Keras detector's parameters and estimated bit operations, with the synthesized LUTs and latency of its
    firmware report where the RTL path ran."""
    parameters, bops = keras_cost(detector.keras_model, detector.model_config.quantization)
    rtl = firmware_report.rtl if firmware_report is not None else None
    if rtl is None:
        return NetworkCost(parameters=parameters, bit_operations=bops)
    return NetworkCost(parameters=parameters, bit_operations=bops, lut=rtl.resources.lut + rtl.resources.lut_as_memory,
                       lut_percent=rtl.resources.percent_of_part.get("lut"), latency_ns=rtl.latency_ns, part=rtl.part)


def teacher_cost(teacher: Detector, teacher_dir: Path) -> NetworkCost | None:
    """The teacher's cost, if it is a Keras network; its LUTs from ``firmware/<label>`` beside its model directory
    (``<output>/models/<label>``) where that holds an RTL report."""
    if getattr(teacher, "keras_model", None) is None:
        return None
    try:
        report = read_firmware_report(teacher_dir.parent.parent / "firmware" / teacher_dir.name)
    except L1adError:
        report = None
    return network_cost(teacher, report)


def distill_sweep(ctx: RunContext, dataset: Dataset, teacher: Detector, teacher_dir: Path, config: StudentConfig, *,
                  with_firmware: bool = False) -> SweepReport:
    """Every student of ``config.sweep`` distilled (as :func:`distill`), compared in ``<output>/distill/sweep_<name>``:
    the sweep table and plot of kept efficiency against cost, and the students' bench comparison."""
    if config.sweep is None:
        raise ConfigError(f"student config {config.name!r} has no sweep: add sweep.encoder_units and "
                          "sweep.weight_bits")
    variants = sweep_configs(config)
    rows, metrics, notes = [], [], {}
    for number, variant in enumerate(variants, start=1):
        ctx.log(f"sweep {config.name}: student {number} of {len(variants)}, {variant.student.run_label}")
        made = distill(ctx, dataset, teacher, teacher_dir, variant, with_firmware=with_firmware)
        rows.append(sweep_row(variant, made.report, network_cost(made.student, made.firmware)))
        metrics.append(made.evaluation.report)
        notes[variant.student.run_label] = bench_note(variant.student)
    last = made.report  # every student is compared at the same rate
    rate = f"{last.rate_khz:g} kHz" if last.rate_khz is not None else f"FPR {last.agreement.fpr:.1e}"
    report = SweepReport(config=config.name, teacher=teacher.model_config.run_label,
                         teacher_cost=teacher_cost(teacher, teacher_dir), rate=rate, rows=rows)
    directory = ctx.paths.root / "distill" / f"sweep_{config.name}"
    write_sweep(directory, report)
    write_comparison(metrics, directory, notes=notes)
    ctx.log(f"sweep {config.name}: {len(rows)} students -> {directory / 'sweep.md'}")
    return report


def compare_with_teacher(run: RunContext, dataset: Dataset, teacher: Detector, teacher_dir: Path,
                         config: StudentConfig, evaluation: Evaluation, data) -> DistillationReport:
    """Agreement on the test samples at the leaderboard rate, written with its plot to ``<output>/distill/<label>``."""
    import mlflow

    cfg = run.cfg.evaluation
    target = teacher_target(config.target)
    zero_bias = dataset.ref.zero_bias
    fpr = cfg.leaderboard_rate_khz / (cfg.collision_rate_mhz * 1e3) if zero_bias else cfg.leaderboard_fpr
    teacher_scores = {name: target.transform_scores(teacher.score_samples(teacher.inputs_of(dataset.sample(name))))
                      for name in evaluation.scores}
    student_scores = evaluation.scores
    signals = [name for name in student_scores if name != BACKGROUND_TEST]
    result = agreement(teacher_scores[BACKGROUND_TEST], student_scores[BACKGROUND_TEST],
                       {s: (teacher_scores[s], student_scores[s]) for s in signals}, fpr,
                       confidence_level=cfg.confidence_level, bootstrap_samples=cfg.bootstrap_samples,
                       seed=run.cfg.seed)
    label = run.cfg.model.run_label
    report = DistillationReport(
        student=label, teacher=teacher.model_config.run_label, teacher_model=str(teacher_dir),
        teacher_score=_score_text(teacher), dataset=dataset.ref, target=config.target,
        augmentation=config.augmentation, exposure=config.exposure, exposure_events=data.n_exposure,
        training_events=len(data.train), background_events=data.n_background,
        saturated_fraction=data.saturated, rate_khz=cfg.leaderboard_rate_khz if zero_bias else None,
        agreement=result)
    directory = run.paths.root / "distill" / label
    directory.mkdir(parents=True, exist_ok=True)
    write_report(directory, report)
    plot_student_vs_teacher(teacher_scores, student_scores, BACKGROUND_TEST, report, directory / PLOT_FILE)
    with run.stage_run("distill-agreement"):
        mlflow.log_metrics({"pearson": result.pearson, "spearman": result.spearman,
                            "background_decision_agreement": result.background.agreement})
        for name, kept in result.signals.items():
            key = metric_key(name)
            mlflow.log_metrics({f"teacher_eff.{key}": kept.teacher, f"student_eff.{key}": kept.student,
                                f"kept.{key}": kept.kept})
        mlflow.log_artifacts(str(directory), artifact_path="distill")
    rate = f"{report.rate_khz:g} kHz" if report.rate_khz is not None else f"FPR {fpr:.1e}"
    run.log(f"teacher vs student on {BACKGROUND_TEST}: Pearson {result.pearson:.3f}, Spearman {result.spearman:.3f}; "
            f"decisions at {rate} agree on {result.background.agreement:.4%} of events")
    for name, kept in result.signals.items():
        lo, hi = kept.kept_interval
        run.log(f"  {name:>10}: teacher {kept.teacher:.3f}, student {kept.student:.3f} "
                f"[{kept.student_interval[0]:.3f}, {kept.student_interval[1]:.3f}]: kept {kept.kept:.3f} "
                f"[{lo:.3f}, {hi:.3f}] at {rate}")
    run.log(f"distill -> {directory}")
    return report


def _score_text(detector: Detector) -> str:
    return getattr(detector, "score_description", None) or type(detector).__name__
