"""The ``l1ad`` command: a thin layer over :class:`l1ad.pipeline.Pipeline` and the loaders.

Problems with the user's input end as one line ``l1ad: error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from l1ad import __version__
from l1ad.errors import L1adError


def _common(parser: argparse.ArgumentParser, *, generates: bool = False) -> None:
    parser.add_argument("-c", "--config", default="default",
                        help="shipped config name (default, tiny) or path to a YAML run config (default: %(default)s)")
    parser.add_argument("-o", "--output", default=None, help="output directory (overrides the config's output_dir)")
    parser.add_argument("--tracking-uri", default=None,
                        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else a SQLite store in the output directory)")
    parser.add_argument("--dataset", default=None, help="use this standard dataset instead of the config's (e.g. zb)")
    parser.add_argument("--size", default=None, help="size of the standard dataset: tiny, default or large")
    if generates:
        parser.add_argument("--workers", type=int, default=None,
                            help="local Dask worker processes for generation (default: one per core; 0: no Dask)")
        parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (e.g. tcp://host:8786)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="l1ad",
        description="l1ad-bench: anomaly-detection triggers from data to firmware to leaderboard.",
    )
    parser.add_argument("--version", action="version", version=f"l1ad-bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser("data", help="generate or inspect datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    gen = data_sub.add_parser("generate", help="generate the config's dataset with Pythia 8 (cached)")
    _common(gen, generates=True)
    gen.add_argument("--force", action="store_true", help="regenerate even if a matching dataset exists")
    inspect = data_sub.add_parser("inspect", help="check and summarise a dataset directory or an HDF5 sample file")
    inspect.add_argument("path", help="dataset directory, one of our HDF5 files, or a public ADC2021 file")

    for name, text in (
        ("train", "train the config's model on the dataset's background"),
        ("evaluate", "score the test samples; efficiencies at fixed trigger rates, ROC AUC, plots"),
        ("firmware", "hls4ml project + bit-accurate C++ model; Keras vs firmware agreement"),
        ("leaderboard", "add this run's result to the leaderboard (JSON + Markdown)"),
        ("run", "the whole chain: data, train, evaluate, firmware, leaderboard"),
    ):
        stage = sub.add_parser(name, help=text, description=text)
        _common(stage, generates=name == "run")
        if name in ("leaderboard", "run"):
            stage.add_argument("--board", default=None, help="leaderboard directory (default: the config's, 'leaderboards')")

    bench = sub.add_parser("bench", help="train (resumable), evaluate and compare the config's baselines on one dataset",
                           description="train (resumable), evaluate and compare the config's baselines on one dataset")
    _common(bench, generates=True)
    bench.add_argument("--models", default=None,
                       help="comma-separated model labels from the config's bench list (default: all)")
    bench.add_argument("--retrain", action="store_true", help="train again even if a matching model exists")
    bench.add_argument("--firmware", action="store_true", help="also run the hls4ml agreement check per model")

    cfg = sub.add_parser("config", help="print a validated run config as YAML")
    cfg.add_argument("-c", "--config", default="default", help="shipped config name or path (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF's C++ start-up noise (CUDA plugins absent) is not for users
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except L1adError as exc:
        print(f"l1ad: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("l1ad: interrupted", file=sys.stderr)
        return 130


def _dispatch(args) -> int:
    from l1ad.config import load_config

    if args.command == "config":
        import yaml

        print(yaml.safe_dump(load_config(args.config).model_dump(), sort_keys=False), end="")
        return 0
    if args.command == "data" and args.data_command == "inspect":
        _inspect(args.path)
        return 0

    from l1ad.benchmark.parallel import Execution
    from l1ad.pipeline import Pipeline

    execution = None
    if getattr(args, "workers", None) is not None or getattr(args, "scheduler", None) is not None:
        execution = Execution(workers=args.workers if args.workers is not None else 0, scheduler=args.scheduler)
    from l1ad.config import JetsDatasetDefinition, dataset_definition

    definition = dataset_definition(args.dataset) if args.dataset else None
    if isinstance(definition, JetsDatasetDefinition) and args.command == "data":
        pipeline = Pipeline(load_config(args.config, output_dir=args.output), tracking=args.tracking_uri,
                            execution=execution)
        pipeline.jets(definition.resolve(args.size or "default"), force=args.force)
        return 0
    cfg = load_config(args.config, output_dir=args.output, dataset=args.dataset, size=args.size)
    pipeline = Pipeline(cfg, tracking=args.tracking_uri, execution=execution)
    if args.command == "data":
        pipeline.data(force=args.force)
    elif args.command == "train":
        pipeline.train()
    elif args.command == "evaluate":
        pipeline.evaluate()
    elif args.command == "firmware":
        pipeline.firmware()
    elif args.command == "leaderboard":
        pipeline.leaderboard(args.board)
    elif args.command == "run":
        pipeline.run_all(board_dir=args.board)
    elif args.command == "bench":
        models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
        pipeline.bench(models, retrain=args.retrain, firmware=args.firmware)
    return 0


def _inspect(path: str) -> None:
    import numpy as np

    from l1ad.benchmark.dataset import Dataset, load_dataset

    loaded = load_dataset(path)
    if isinstance(loaded, Dataset) and loaded.manifest.get("kind") == "jets":
        from l1ad.benchmark.jet_dataset import load_jets
        from l1ad.benchmark.jets import JET_CLASSES

        print(f"dataset {loaded.name} v{loaded.version} ({loaded.manifest['digest']}), {loaded.manifest['generator']}")
        for name, info in loaded.manifest["samples"].items():
            jets = load_jets(loaded.directory / info["file"])
            counts = np.bincount(jets.labels, minlength=len(JET_CLASSES))
            print(f"{name:<28} {jets.constituents.shape}  " + " ".join(f"{c}:{n}" for c, n in zip(JET_CLASSES, counts, strict=True)))
        return
    if isinstance(loaded, Dataset):
        print(f"dataset {loaded.name} v{loaded.version} ({loaded.manifest['digest']}), {loaded.manifest['generator']}")
        samples = [loaded.sample(name) for name in loaded.manifest["samples"]]
    else:
        samples = [loaded]
    print(f"{'sample':<22}{'events':>9}{'<MET>':>8}{'<n e/g>':>9}{'<n mu>':>8}{'<n jet>':>9}  regions")
    for sample in samples:
        p = sample.particles
        present = p[:, :, 0] > 0
        print(f"{sample.name:<22}{len(sample):>9}{p[:, 0, 0].mean():>8.1f}{present[:, 1:5].sum(1).mean():>9.2f}"
              f"{present[:, 5:9].sum(1).mean():>8.2f}{present[:, 9:].sum(1).mean():>9.2f}  "
              f"{'yes' if sample.regions is not None else 'no'}")

if __name__ == "__main__":
    sys.exit(main())
