"""``l1ad bench``: train (resumable), evaluate and compare the config's bench models on one dataset."""

from __future__ import annotations

from l1ad.cli.common import add_run_arguments, run_context


def add_parsers(sub) -> None:
    text = "train (resumable), evaluate and compare the config's baselines on one dataset"
    bench = sub.add_parser("bench", help=text, description=text)
    add_run_arguments(bench, generates=True)
    bench.add_argument("--models", default=None,
                       help="comma-separated model labels from the config's bench list (default: all)")
    bench.add_argument("--retrain", action="store_true", help="train again even if a matching model exists")
    bench.add_argument("--firmware", action="store_true", help="also run the hls4ml agreement check per model")
    bench.set_defaults(handler=run)


def run(args) -> int:
    from l1ad.pipeline.bench import bench

    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    bench(run_context(args), models, retrain=args.retrain, firmware=args.firmware)
    return 0
