"""The emulator against hls4ml's compiled C++ model on at least a million events per trained model of a run.

    python scripts/verify_emulator.py RUN_DIR [--events 1000000] [--models a,b]

RUN_DIR is an output directory of 'l1ad bench' or 'l1ad run' (dataset/, models/). For every model with a trigger
network, the events are every real event of the dataset the model reads (test samples, training and validation
background), then, to reach --events, real events drawn at random with every non-zero network input moved by a random
whole number of input LSBs in [-64, 64] (distinct inputs near the real ones, including values the dataset never
has). Printed per model: events compared, events whose outputs differ in any bit, decision changes at the headline
threshold, and the time hls4ml's C++ model took. Nothing is asserted; the numbers go to the README.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from l1ad.benchmark.datasets.dataset import load_dataset
from l1ad.benchmark.evaluation.report import read_metrics
from l1ad.config import FirmwareConfig
from l1ad.errors import NotConvertibleError
from l1ad.firmware.emulation import emulated_scores, firmware_network
from l1ad.firmware.emulator import FixedPointNetwork
from l1ad.firmware.hls import build_hls_model, hls_outputs
from l1ad.models.registry import load_detector


def real_inputs(detector, dataset) -> np.ndarray:
    samples = [dataset.background(split) for split in ("test", "train", "validation")]
    samples += [dataset.sample(name) for name in dataset.signal_names]
    return np.concatenate([detector.network_inputs(detector.inputs_of(s)) for s in samples]).astype(np.float64)


def perturbed(real: np.ndarray, n: int, lsb: float, rng: np.random.Generator) -> np.ndarray:
    picked = real[rng.integers(len(real), size=n)]
    shift = rng.integers(-64, 65, size=picked.shape) * lsb
    return np.where(picked != 0, picked + shift, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--models", default=None, help="comma-separated labels (default: every model)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    dataset = load_dataset(args.run_dir / "dataset")
    wanted = set(args.models.split(",")) if args.models else None
    rng = np.random.default_rng(args.seed)
    print(f"{'model':<18}{'events':>10}{'real':>9}{'outputs differ':>16}{'decisions differ':>18}{'hls4ml s':>10}"
          f"{'emulator s':>12}  score")
    for directory in sorted(p for p in (args.run_dir / "models").iterdir() if (p / "model.json").is_file()):
        if wanted is not None and directory.name not in wanted:
            continue
        detector = load_detector(directory)
        try:
            detector.trigger_network()
        except NotConvertibleError:
            continue
        q = detector.model_config.quantization
        if q is None:
            print(f"{directory.name:<18} skipped: a float model (only QKeras models are bit-exact by construction)")
            continue
        real = real_inputs(detector, dataset)
        lsb = 2.0 ** -(q.input_bits - q.input_integer_bits - 1)
        x = np.concatenate([real, perturbed(real, max(0, args.events - len(real)), lsb, rng)])
        threshold = read_metrics(args.run_dir / "evaluation" / directory.name).thresholds()
        headline = read_metrics(args.run_dir / "evaluation" / directory.name).headline
        with tempfile.TemporaryDirectory() as tmp:
            hls_model, _ = build_hls_model(detector, FirmwareConfig(), Path(tmp) / "prj")
            started = time.perf_counter()
            reference = hls_outputs(hls_model, x)
            hls_seconds = time.perf_counter() - started
            network = firmware_network(hls_model, detector, model=directory.name)
        started = time.perf_counter()
        outputs, scores = emulated_scores(FixedPointNetwork(network), detector, x)
        emu_seconds = time.perf_counter() - started
        differ = int(np.any(outputs != reference, axis=1).sum())
        t = threshold[headline]
        decisions = int(((scores > t) != (detector.score_from_outputs(x, reference) > t)).sum())
        where = "firmware" if network.score else "software"
        print(f"{directory.name:<18}{len(x):>10,}{len(real):>9,}{differ:>16,}{decisions:>18,}{hls_seconds:>10.0f}"
              f"{emu_seconds:>12.1f}  {where}")


if __name__ == "__main__":
    main()
