"""The pipeline: data -> train -> evaluate -> firmware -> leaderboard, each stage reading the previous one from disk.

Run output directory (``output_dir`` of the config)::

    dataset/                  dataset.json, CARD.md + card/*.png, one HDF5 file per sample (ADC2021 layout)
    dataset_blind_labels/     the blind sample's labels, kept apart from its features
    models/<model>/           (<model>: the model's label, default its name) model.json, weights.h5, preprocessing.json   (format l1ad-model/2)
    evaluation/<model>/       scores.h5, metrics.csv, metrics.json, efficiency_vs_rate.png, scores.png
    firmware/<model>/         hls4ml_prj/ (the hls4ml project), firmware.json (agreement report)
    bench/                    results.csv/.json/.md/.png: the bench models side by side ('l1ad bench')
    mlflow.db, mlartifacts/   the default MLflow store (unless a tracking URI is given)
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from l1ad import __version__
from l1ad.config import RunConfig
from l1ad.errors import L1adError
from l1ad.tracking import flatten_params, stage_run, tracking_uri


@dataclass(frozen=True)
class RunPaths:
    root: Path
    model_name: str

    @property
    def dataset(self) -> Path:
        return self.root / "dataset"

    @property
    def model(self) -> Path:
        return self.root / "models" / self.model_name

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation" / self.model_name

    @property
    def firmware(self) -> Path:
        return self.root / "firmware" / self.model_name


class Pipeline:
    def __init__(self, cfg: RunConfig, *, tracking: str | None = None, log=print, execution=None):
        from l1ad.benchmark.parallel import Execution

        self.cfg = cfg
        self.execution = execution or Execution.default()
        self.paths = RunPaths(Path(cfg.output_dir), cfg.model.run_label)
        self.tracking_uri = tracking_uri(cfg.output_dir, tracking)
        self.log = log

    def _run(self, stage: str):
        self.paths.root.mkdir(parents=True, exist_ok=True)
        return stage_run(
            uri=self.tracking_uri,
            experiment=f"l1ad/{self.cfg.name}",
            stage=stage,
            output_dir=self.paths.root,
            tags={"l1ad.config_digest": self.cfg.digest(), "l1ad.model": self.cfg.model.run_label, "l1ad.version": __version__},
        )

    # -- stages -------------------------------------------------------------------------------------------------
    def data(self, *, force: bool = False):
        import mlflow

        from l1ad.benchmark.build import build_dataset

        started = time.time()
        with self._run("data"):
            dataset = build_dataset(self.cfg.dataset, self.cfg.seed, self.paths.dataset, force=force,
                                    execution=self.execution)
            mlflow.log_params(flatten_params({"dataset": self.cfg.dataset.model_dump(), "seed": self.cfg.seed}))
            mlflow.log_metrics({f"n_events.{k}": v["n_events"] for k, v in dataset.manifest["samples"].items()})
            mlflow.log_metric("generation_seconds", dataset.manifest["generation_seconds"])
            mlflow.log_artifact(str(self.paths.dataset / "dataset.json"))
            mlflow.log_artifact(str(self.paths.dataset / "CARD.md"))
            mlflow.log_artifacts(str(self.paths.dataset / "card"), artifact_path="card")
        self.log(f"dataset {dataset.name} v{dataset.version} ({dataset.manifest['digest']}) in {self.paths.dataset} "
                 f"[{time.time() - started:.0f} s]")
        return dataset

    def jets(self, cfg, *, force: bool = False):
        """Generate a boosted-jets standard dataset (for taggers) into ``<output>/<dataset name>``."""
        import mlflow

        from l1ad.benchmark.jet_dataset import build_jets_dataset

        directory = self.paths.root / cfg.name
        started = time.time()
        with self._run("data-jets"):
            dataset = build_jets_dataset(cfg, self.cfg.seed, directory, force=force, execution=self.execution)
            mlflow.log_params(flatten_params({"dataset": cfg.model_dump(), "seed": self.cfg.seed}))
            mlflow.log_metrics({f"n_jets.{k}": v["n_events"] for k, v in dataset.manifest["samples"].items()})
            mlflow.log_artifact(str(directory / "dataset.json"))
            mlflow.log_artifact(str(directory / "CARD.md"))
        self.log(f"dataset {dataset.name} v{dataset.version} ({dataset.manifest['digest']}) in {directory} "
                 f"[{time.time() - started:.0f} s]")
        return dataset

    def _dataset(self):
        from l1ad.benchmark.dataset import Dataset, load_dataset

        dataset = load_dataset(self.paths.dataset)
        assert isinstance(dataset, Dataset)
        return dataset

    def train(self):
        import mlflow

        from l1ad.models.registry import detector_class, model_inputs_of

        dataset = self._dataset()
        detector = detector_class(self.cfg.model.name)(self.cfg.model, self.cfg.training, seed=self.cfg.seed)
        started = time.time()
        with self._run("train") as run:
            mlflow.log_params(flatten_params({"model": self.cfg.model.model_dump(), "training": self.cfg.training.model_dump(),
                                              "seed": self.cfg.seed, "dataset.digest": dataset.manifest["digest"]}))
            detector.fit(model_inputs_of(self.cfg.model, dataset.background("train")),
                         model_inputs_of(self.cfg.model, dataset.background("validation")))
            detector.provenance = {"dataset": dataset.name, "dataset_version": dataset.version,
                                   "dataset_digest": dataset.manifest["digest"], "config_digest": self.cfg.digest(),
                                   "mlflow_run_id": run.info.run_id}
            for epoch, values in enumerate(zip(*detector.history.values(), strict=True)):
                mlflow.log_metrics(dict(zip(detector.history, values, strict=True)), step=epoch)
            detector.save(self.paths.model)
            mlflow.log_artifacts(str(self.paths.model), artifact_path="model")
        summary = (f"{len(detector.history['loss'])} epochs, best validation loss {min(detector.history['val_loss']):.4f}"
                   if "val_loss" in detector.history else "fitted")
        self.log(f"trained {self.cfg.model.run_label}: {summary} -> {self.paths.model} [{time.time() - started:.0f} s]")
        return detector

    def _detector(self):
        from l1ad.models.io import load_detector

        return load_detector(self.paths.model)

    def evaluate(self):
        import mlflow

        from l1ad.benchmark.evaluation import evaluate_detector, headline_label

        dataset, detector = self._dataset(), self._detector()
        with self._run("evaluate"):
            result = evaluate_detector(detector, dataset, self.cfg.evaluation, self.paths.evaluation,
                                       model=self.cfg.model.run_label, seed=self.cfg.seed)
            mlflow.log_params(flatten_params({"evaluation": self.cfg.evaluation.model_dump(),
                                              "dataset.digest": dataset.manifest["digest"]}))
            for row in result.table.itertuples():
                key = f"{row.signal}.{row.working_point}".replace(" ", "_").replace("(", "").replace(")", "")
                mlflow.log_metrics({f"eff.{key}": row.efficiency, f"eff_lo.{key}": row.efficiency_lo,
                                    f"eff_hi.{key}": row.efficiency_hi, f"auc.{row.signal}": row.roc_auc})
            mlflow.log_artifacts(str(self.paths.evaluation), artifact_path="evaluation")
        label = headline_label(self.cfg.evaluation, dataset.zero_bias)
        for row in result.table[result.table.working_point == label].itertuples():
            self.log(f"  {row.signal:>10}: efficiency {row.efficiency:.3f} [{row.efficiency_lo:.3f}, {row.efficiency_hi:.3f}] "
                     f"at {label}, AUC {row.roc_auc:.3f}{'' if row.measurable else ' (' + row.note + ')'}")
        self.log(f"evaluation -> {self.paths.evaluation}")
        return result

    def firmware(self):
        import mlflow

        from l1ad.benchmark.evaluation import headline_label, read_scores, read_table
        from l1ad.firmware.hls import build_hls_model, compare, firmware_scores, not_convertible, write_report
        from l1ad.models.registry import model_inputs_of

        dataset, detector = self._dataset(), self._detector()
        reason = not_convertible(detector)
        if reason is not None:
            self.paths.firmware.mkdir(parents=True, exist_ok=True)
            report = {"model": self.cfg.model.run_label, "agreement": [], "source": f"not applicable: {reason}"}
            write_report(self.paths.firmware / "firmware.json", report)
            self.log(f"firmware: {report['source']}")
            return report
        keras_scores = read_scores(self.paths.evaluation / "scores.h5")
        table = read_table(self.paths.evaluation)
        thresholds = dict(zip(table.working_point, table.threshold, strict=True))
        self.paths.firmware.mkdir(parents=True, exist_ok=True)
        started = time.time()
        with self._run("firmware"):
            hls_model, hls_cfg = build_hls_model(detector, self.cfg.firmware, self.paths.firmware / "hls4ml_prj")
            agreements = []
            for name, k_scores in keras_scores.items():
                inputs = detector.model_inputs(model_inputs_of(detector.model_config, dataset.sample(name)))
                agreements.append(compare(name, k_scores, firmware_scores(hls_model, detector, inputs), thresholds))
            report = {
                "model": self.cfg.model.run_label,
                "source": "hls4ml bit-accurate C++ model compiled with g++ (hls_model.compile()); not synthesized",
                "hls4ml_config": hls_cfg,
                "firmware": self.cfg.firmware.model_dump(),
                "agreement": agreements,
                "latency": "not available: C synthesis needs Vivado/Vitis HLS, which this machine does not have",
                "resources": "not available: C synthesis needs Vivado/Vitis HLS, which this machine does not have",
            }
            write_report(self.paths.firmware / "firmware.json", report)
            mlflow.log_params(flatten_params({"firmware": self.cfg.firmware.model_dump()}))
            for a in agreements:
                for label, frac in a.decision_mismatch.items():
                    key = label.replace(" ", "_").replace("(", "").replace(")", "")
                    mlflow.log_metric(f"decision_mismatch.{a.sample}.{key}", frac)
                mlflow.log_metric(f"max_abs_score_difference.{a.sample}", a.max_abs_score_difference)
            mlflow.log_artifact(str(self.paths.firmware / "firmware.json"))
        label = headline_label(self.cfg.evaluation, dataset.zero_bias)
        total = sum(a.n_events for a in agreements)
        mismatched = sum(a.decision_mismatch_events[label] for a in agreements)
        self.log(f"firmware: {mismatched} of {total} test events change their trigger decision at {label} "
                 f"(Keras vs hls4ml C++ emulation) -> {self.paths.firmware} [{time.time() - started:.0f} s]")
        return report

    def leaderboard(self, board_dir: str | Path | None = None):
        import json

        from l1ad.benchmark.evaluation import headline_label, read_table
        from l1ad.leaderboards.board import Entry, SignalResult, submit

        if not self._dataset().zero_bias:
            self.log(f"leaderboard: skipped; it ranks at a trigger rate, which needs a zero-bias dataset, and "
                     f"{self.cfg.dataset.name!r} is pre-selected (its metrics table has FPR working points)")
            return []
        table = read_table(self.paths.evaluation)
        label = headline_label(self.cfg.evaluation)
        rows = table[table.working_point == label]
        fw_path = self.paths.firmware / "firmware.json"
        mismatch, fw_source = None, "not run"
        if fw_path.is_file():
            fw = json.loads(fw_path.read_text())
            events = sum(a["n_events"] for a in fw["agreement"])
            if events:
                mismatch = sum(a["decision_mismatch_events"][label] for a in fw["agreement"]) / events
            fw_source = fw["source"]
        first = rows.iloc[0]
        entry = Entry(
            model=self.cfg.model.run_label,
            submitter=self.cfg.leaderboard.submitter,
            dataset=str(first.dataset),
            dataset_version=str(first.dataset_version),
            dataset_digest=str(first.dataset_digest),
            rate_khz=float(first.rate_khz),
            collision_rate_mhz=float(first.collision_rate_mhz),
            background_rate_khz=float(first.background_rate_khz),
            background_rate_lo_khz=float(first.background_rate_lo_khz),
            background_rate_hi_khz=float(first.background_rate_hi_khz),
            signals={
                r.signal: SignalResult(float(r.efficiency), float(r.efficiency_lo), float(r.efficiency_hi),
                                       None if r.efficiency_bootstrap_std is None else float(r.efficiency_bootstrap_std),
                                       float(r.roc_auc), bool(r.measurable))
                for r in rows.itertuples()
            },
            firmware_decision_mismatch=mismatch,
            firmware_source=fw_source,
            provenance={
                "l1ad_version": __version__,
                "git_commit": _git_commit(),
                "config": self.cfg.name,
                "config_digest": self.cfg.digest(),
                "seed": self.cfg.seed,
                "n_background_test": int(first.n_background),
                "efficiency_source": str(first.source),
                "date": datetime.now(UTC).date().isoformat(),
            },
        )
        directory = Path(board_dir or self.cfg.leaderboard.directory or self.paths.root / "leaderboards")
        entries = submit(directory, entry)
        self.log(f"leaderboard: {len(entries)} entries -> {directory}")
        return entries

    def trained_model_is_current(self) -> bool:
        """True when the model directory holds this config's model (architecture, training, seed) trained on this
        dataset, so a resumed bench need not train it again."""
        from l1ad.models.io import read_meta

        if not (self.paths.model / "model.json").is_file() or not (self.paths.dataset / "dataset.json").is_file():
            return False
        try:
            meta = read_meta(self.paths.model)
        except L1adError:
            return False
        return (meta.get("model") == self.cfg.model.model_dump() and meta.get("training") == self.cfg.training.model_dump()
                and meta.get("seed") == self.cfg.seed
                and meta.get("provenance", {}).get("dataset_digest") == self._dataset().manifest["digest"])

    def current_evaluation(self, headline: str, dataset_digest: str):
        """This model's metrics table if it was evaluated on the dataset with ``dataset_digest``, with the model still
        current, at the ``headline`` working point; else None."""
        from l1ad.benchmark.evaluation import read_table

        if not self.trained_model_is_current() or not (self.paths.evaluation / "metrics.json").is_file():
            return None
        try:
            table = read_table(self.paths.evaluation)
            current = set(table.dataset_digest) == {dataset_digest} and headline in set(table.working_point)
        except (ValueError, AttributeError):  # unreadable or older metrics: evaluated again when benched by name
            return None
        return table if current else None

    def bench(self, models: list[str] | None = None, *, retrain: bool = False, firmware: bool = False):
        """Train (unless already trained), evaluate and compare the config's bench models on one dataset."""
        from l1ad.benchmark.comparison import write_comparison
        from l1ad.benchmark.evaluation import headline_label

        chosen = self.cfg.bench
        if models:
            known = {m.run_label: m for m in chosen}
            unknown = [m for m in models if m not in known]
            if unknown:
                raise L1adError(f"no bench model {unknown[0]!r} in config {self.cfg.name!r}; known: {', '.join(known)}")
            chosen = [known[m] for m in models]
        dataset = self.data()
        headline = headline_label(self.cfg.evaluation, dataset.zero_bias)
        tables = {}
        for model in self.cfg.bench:
            stage = Pipeline(self.cfg.model_copy(update={"model": model}), tracking=self.tracking_uri, log=self.log,
                             execution=self.execution)
            if model not in chosen:  # evaluated by an earlier bench on this dataset: keep it in the comparison
                earlier = stage.current_evaluation(headline, dataset.manifest["digest"])
                if earlier is not None:
                    tables[model.run_label] = earlier
                continue
            if not retrain and stage.trained_model_is_current():
                self.log(f"bench: {model.run_label} already trained for this dataset and config; not retraining")
            else:
                stage.train()
            tables[model.run_label] = stage.evaluate().table
            if firmware:
                stage.firmware()
        directory = self.paths.root / "bench"
        notes = {model.run_label: _bench_note(model) for model in self.cfg.bench if model.run_label in tables}
        write_comparison(list(tables.values()), headline, directory, notes=notes)
        n_earlier = len(tables) - len(chosen)
        self.log(f"bench: {len(tables)} models compared{f' ({n_earlier} from earlier runs)' if n_earlier else ''} "
                 f"-> {directory / 'results.md'}")
        return directory

    def run_all(self, board_dir: str | Path | None = None):
        self.data()
        self.train()
        self.evaluate()
        self.firmware()
        return self.leaderboard(board_dir)


def _bench_note(model) -> str:
    from l1ad.models.registry import MODELS

    spec = MODELS[model.name]
    if spec.family != "keras":
        return "scikit-learn"
    precision = "float" if model.quantization is None else (
        f"QKeras {model.quantization.weight_bits}-bit weights, {model.quantization.activation_bits}-bit activations")
    score = spec.score(model)
    if score == "mse" and spec.angles(model) is not None:
        score += f" ({spec.angles(model)} eta, phi)"
    return f"{precision}; score {score}"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None
