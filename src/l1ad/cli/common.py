"""Arguments shared by the command groups, and the run context they build from them."""

from __future__ import annotations

import argparse

SIZES = ("tiny", "default", "large")


def add_run_arguments(parser: argparse.ArgumentParser, *, generates: bool = False) -> None:
    parser.add_argument("-c", "--config", default="default",
                        help="shipped config name (default, tiny) or path to a YAML run config (default: %(default)s)")
    parser.add_argument("-o", "--output", default=None, help="output directory (overrides the config's output_dir)")
    parser.add_argument("--tracking-uri", default=None,
                        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else a SQLite store in the output directory)")
    parser.add_argument("--dataset", default=None, help="use this standard dataset instead of the config's (e.g. zb)")
    parser.add_argument("--size", default=None, choices=SIZES, help="size of the standard dataset")
    if generates:
        parser.add_argument("--workers", type=_workers, default=None,
                            help="local Dask worker processes for generation and fault campaigns (default: one per "
                                 "core; 0: no Dask)")
        parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (e.g. tcp://host:8786)")


def _workers(text: str) -> int:
    """``--workers``: a whole number from 0 (in this process) to 256."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= 256:
        raise argparse.ArgumentTypeError(f"must lie between 0 (no Dask) and 256, got {value}")
    return value


def run_context(args: argparse.Namespace):
    """The validated config of the command's arguments, as a run context."""
    from l1ad.config import load_config
    from l1ad.pipeline.context import RunContext

    cfg = load_config(args.config, output_dir=args.output, dataset=args.dataset, size=args.size)
    return RunContext.create(cfg, tracking=args.tracking_uri, execution=execution(args))


def execution(args: argparse.Namespace):
    """Where generation runs, if the arguments say (else the default: one local worker per core)."""
    from l1ad.benchmark.datasets.parallel import Execution

    workers, scheduler = getattr(args, "workers", None), getattr(args, "scheduler", None)
    if workers is None and scheduler is None:
        return None
    return Execution(workers=workers if workers is not None else 0, scheduler=scheduler)
