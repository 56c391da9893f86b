"""Emulator throughput and memory, side by side with hls4ml's compiled C++ model and a float64 numpy forward pass.

    python scripts/bench_emulator.py [RUN_DIR [--model NAME]] [--events 200000] [--stream-events 10000000]

With RUN_DIR (an output directory of 'l1ad run'), the run's model and its recorded network inputs are used; without
it, the default QKeras dense AE is trained for one epoch on random objects (the cost does not depend on the weights)
and fed random inputs at its input precision.

Printed, in one run on the same events: events/s of hls4ml ``predict``, of the emulator, and of a plain float64 numpy
forward pass through the same dense layers (matmul + bias + ReLU, no quantization), the ratios, and whether the
emulator and hls4ml agree bit for bit. Then the emulator scores ``--stream-events`` events in chunks in a fresh
process that imports no TensorFlow, and its peak resident memory is printed. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STREAM_CHUNK = 100_000


def _float_forward(network):
    """A float64 forward pass through the network's dense layers (and ReLUs): the speed limit of any numpy model."""
    from l1ad.firmware.network import DenseLayer, ReluLayer

    steps = []
    for layer in network.layers:
        if isinstance(layer, DenseLayer):
            w = np.ldexp(np.asarray(layer.weight, dtype=np.float64), -layer.weight_type.frac)
            b = np.ldexp(np.asarray(layer.bias, dtype=np.float64), -layer.bias_type.frac)
            steps.append(lambda x, w=w, b=b: x @ w + b)
        elif isinstance(layer, ReluLayer):
            steps.append(lambda x: np.maximum(x, 0.0))
        elif layer.kind not in ("input", "quantize", "sum_squares", "masked_mse"):
            return None  # not a plain MLP: no float reference

    def forward(x):
        for step in steps:
            x = step(x)
        return x

    return forward


def _rate(function, x, repeat: int = 3) -> float:
    """Best of ``repeat`` events/s."""
    best = np.inf
    for _ in range(repeat):
        started = time.perf_counter()
        function(x)
        best = min(best, time.perf_counter() - started)
    return len(x) / best


def _model_and_inputs(run_dir: Path | None, model: str | None, n: int, seed: int, workdir: Path):
    from l1ad.config import FirmwareConfig, ModelConfig, QuantizationConfig
    from l1ad.firmware.hls import build_hls_model
    from l1ad.models.neural import AutoencoderDetector

    rng = np.random.default_rng(seed)
    if run_dir is not None:
        from l1ad.benchmark.evaluation.report import read_evaluation
        from l1ad.models.registry import load_detector
        if model is None:  # the run's first model with recorded network inputs
            model = next(p.name for p in sorted((run_dir / "evaluation").iterdir())
                         if (p / "network_inputs.h5").is_file() and (run_dir / "models" / p.name / "model.json").is_file())
        detector = load_detector(run_dir / "models" / model)
        evaluation = read_evaluation(run_dir / "evaluation" / model)
        pool = np.concatenate(list(evaluation.network_inputs.values()))
        inputs = pool[rng.integers(len(pool), size=n)].astype(np.float64)
        what = f"{detector.model_config.run_label} from {run_dir}, {n} events drawn from its {len(pool)} test inputs"
    else:
        from l1ad.config import TrainingConfig

        # one epoch on random objects: the throughput does not depend on what the weights learned
        objects = np.abs(rng.normal(0, 20, (2000, 19, 4))).astype(np.float32)
        detector = AutoencoderDetector(ModelConfig(quantization=QuantizationConfig()), TrainingConfig(epochs=1),
                                       seed=seed).fit(objects)
        q = detector.model_config.quantization
        lsb = 2.0 ** -(q.input_bits - q.input_integer_bits - 1)
        inputs = np.round(rng.normal(0, 2, (n, 57)) / lsb) * lsb
        inputs[rng.random(inputs.shape) < 0.4] = 0.0
        what = f"default QKeras dense AE (one epoch on random objects), {n} random inputs at its input precision"
    hls_model, _ = build_hls_model(detector, FirmwareConfig(), workdir / "hls4ml_prj")
    return detector, hls_model, inputs, what


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, nargs="?")
    parser.add_argument("--model", help="a model of RUN_DIR (default: its first one with recorded network inputs)")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--stream-events", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from l1ad.firmware.emulation import firmware_network
    from l1ad.firmware.emulator import FixedPointNetwork
    from l1ad.firmware.hls import hls_outputs

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        detector, hls_model, x, what = _model_and_inputs(args.run_dir, args.model, args.events, args.seed, workdir)
        network = firmware_network(hls_model, detector, model=detector.model_config.run_label)
        net = FixedPointNetwork(network)
        print(f"model: {what}")
        hls_out = hls_outputs(hls_model, x[:20000])  # warm-up and agreement sample
        identical = np.array_equal(net.predict(x[:20000]), hls_out)
        rates = {"hls4ml predict (C++ model)": _rate(lambda v: hls_outputs(hls_model, v), x, repeat=1),
                 "emulator predict": _rate(net.predict, x)}
        forward = _float_forward(network)
        if forward is not None:
            rates["float64 numpy forward pass"] = _rate(forward, x)
        print(f"{'':<30}{'events/s':>12}")
        for name, rate in rates.items():
            print(f"{name:<30}{rate:>12,.0f}")
        emulator = rates["emulator predict"]
        print(f"emulator / hls4ml predict: {emulator / rates['hls4ml predict (C++ model)']:.1f}x (target >= 10x)")
        if forward is not None:
            print(f"emulator / float64 forward pass: {emulator / rates['float64 numpy forward pass']:.2f} "
                  "(target >= 1/3)")
        print(f"emulator vs hls4ml on 20,000 of these events: {'bit-identical' if identical else 'DIFFERENT'}")

        network.write(workdir / "network.json")
        np.save(workdir / "pool.npy", x)
        code = STREAM.format(network=json.dumps(str(workdir / "network.json")), pool=json.dumps(str(workdir / "pool.npy")),
                             n=args.stream_events, chunk=STREAM_CHUNK, seed=args.seed)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        print(out.strip())


# Streams events through the emulator in a process without TensorFlow, so its peak memory is the emulator's own.
STREAM = """
import json, time
import numpy as np
from l1ad.firmware.emulator import FixedPointNetwork
from l1ad.firmware.network import read_network
from pathlib import Path
def vm(field):  # /proc, not getrusage: ru_maxrss of a child process starts at its parent's peak
    line = next(v for v in Path("/proc/self/status").read_text().splitlines() if v.startswith(field + ":"))
    return int(line.split()[1]) / 1024
net = FixedPointNetwork(read_network(Path({network})))
pool = np.load({pool})
rng = np.random.default_rng({seed})
before = vm("VmHWM")
started, n, done, accepted = time.perf_counter(), {n}, 0, 0
scores = np.empty(n, dtype=np.float32)  # what a user keeps of 10M events: one score each
while done < n:
    k = min({chunk}, n - done)
    x = pool[rng.integers(len(pool), size=k)]
    out = net.run(x)
    s = out[net.network.score][:, 0] if net.network.score else np.square(out[net.network.outputs[0]]).sum(axis=1)
    scores[done : done + k] = s
    done += k
seconds = time.perf_counter() - started
peak = vm("VmHWM")
print(f"streamed {{n:,}} events through the emulator in chunks of {chunk:,} (inputs drawn from the sample above): "
      f"{{seconds:.0f}} s, {{n / seconds:,.0f}} events/s; peak resident memory {{peak:.0f}} MB "
      f"({{before:.0f}} MB after imports and the input sample; target: 10M events in 2 GB)")
"""


if __name__ == "__main__":
    main()
