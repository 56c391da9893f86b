"""Scoring throughput and memory of every trained model in a run directory, on 1M events (issue 5's figures).

    python scripts/bench_scoring.py RUN_DIR [--events 1000000]

RUN_DIR is an output directory of 'l1ad run' or 'l1ad bench' (it has dataset/ and models/). The events are the run's
background test events drawn with replacement up to --events (scoring cost does not depend on which events they are).
For each model: events/s on this machine and the peak resident memory while scoring, also in units of the input array,
so "holds no more than a few copies of the data" can be read off directly. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from l1ad.benchmark.datasets.dataset import load_dataset
from l1ad.models.registry import load_detector


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux: writing 5 to clear_refs), so each model's peak is its own."""
    Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    dataset = load_dataset(args.run_dir / "dataset")
    test = dataset.background("test")
    pick = np.random.default_rng(args.seed).integers(len(test), size=args.events)
    model_dirs = sorted(p for p in (args.run_dir / "models").iterdir() if (p / "model.json").is_file())
    print(f"machine: {os.cpu_count()} cores; {args.events} events drawn from {len(test)} background test events "
          f"of {dataset.name} ({dataset.digest}); {len(model_dirs)} models")
    print(f"{'model':<20}{'inputs':>10}{'events/s':>12}{'seconds':>9}{'input [MB]':>12}{'peak-before [MB]':>18}"
          f"{'copies':>8}")
    for directory in model_dirs:
        detector = load_detector(directory)
        inputs = np.ascontiguousarray(detector.inputs_of(test)[pick])
        detector.score_samples(inputs[:1000])  # warm-up: graph tracing, library loading
        _reset_peak()
        before = _rss_mb("VmRSS")
        started = time.perf_counter()
        scores = detector.score_samples(inputs)
        seconds = time.perf_counter() - started
        extra = _rss_mb("VmHWM") - before
        size = inputs.nbytes / 2**20
        kind = "regions" if inputs.ndim == 3 and inputs.shape[1:] != (19, 4) else "objects"
        print(f"{directory.name:<20}{kind:>10}{len(scores) / seconds:>12.0f}{seconds:>9.1f}{size:>12.0f}{extra:>18.0f}"
              f"{extra / size:>8.1f}")
        del inputs, scores
    print("(measured in this run, one process, TensorFlow/numpy threads as configured; 'peak-before' = peak RSS while "
          "scoring minus RSS before it; 'copies' = that in units of the input array)")


if __name__ == "__main__":
    main()
