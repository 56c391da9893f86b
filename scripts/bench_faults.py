"""Exhaustive single-bit fault campaign speed: the fast path against the naive flip-then-predict loop, in one run.

    python scripts/bench_faults.py RUN_DIR [--model axol1tl_v3] [--events 100000] [--naive-faults 40]

RUN_DIR is an output directory whose model went through 'l1ad firmware' (for a bench model: 'l1ad bench --firmware',
then ``--model LABEL``). The fast path runs every weight and bias bit over the first ``--events`` background test
events (the same set 'l1ad faults' uses); the naive loop (flip one bit, rebuild the emulator, run every event through
the whole network) runs on ``--naive-faults`` faults spread evenly over the sites, and its total is extrapolated.
With ``--workers N`` (default 2) the campaign also runs in shards on N local Dask workers. Printed: faults/s, fault x
event evaluations/s, the times, the naive/fast ratio (one process each), peak resident memory of this process, and
whether the fast path's per-fault results equal the naive ones on every naive fault (and the sharded ones the
single-process ones). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--model", default=None, help="model label (default: the run directory's first firmware model)")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--naive-faults", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2, help="also run the campaign in shards on this many local "
                        "Dask workers (0: skip)")
    args = parser.parse_args(argv)

    from l1ad.benchmark.evaluation.report import BACKGROUND_TEST, read_evaluation
    from l1ad.firmware.faults.campaign import FaultCampaign
    from l1ad.firmware.faults.run import nominal_working_point
    from l1ad.firmware.network import read_network
    from l1ad.firmware.report import read_firmware_report

    model = args.model or sorted(p.name for p in (args.run_dir / "firmware").iterdir()
                                 if (p / "firmware.json").is_file())[0]
    firmware = read_firmware_report(args.run_dir / "firmware" / model)
    _, label, threshold, _ = nominal_working_point(firmware)
    network = read_network(args.run_dir / "firmware" / model / firmware.emulation.network_file)
    score_function = None
    if network.score is None:
        from l1ad.models.registry import load_detector

        score_function = load_detector(args.run_dir / "models" / model).output_score()
    inputs = read_evaluation(args.run_dir / "evaluation" / model).network_inputs
    samples = {BACKGROUND_TEST: inputs[BACKGROUND_TEST][:args.events]}
    campaign = FaultCampaign(network, samples, threshold, score_function)
    n_sites, n_events = campaign.sites.n_sites, len(samples[BACKGROUND_TEST])
    print(f"{model}: {n_sites} weight and bias bits, {n_events} background events, threshold at {label} "
          f"(score {'in firmware' if network.score else 'in software'})")

    started = time.perf_counter()
    fast = campaign.run(np.arange(n_sites))
    fast_s = time.perf_counter() - started
    print(f"fast path, exhaustive: {fast_s:.1f} s = {n_sites / fast_s:,.0f} faults/s, "
          f"{n_sites * n_events / fast_s:,.3g} fault x event evaluations/s; {fast.pairs_run:,} of "
          f"{n_sites * n_events:,} (fault, event) pairs run past the faulted neuron")

    if args.workers > 0:
        import tempfile

        from l1ad.benchmark.datasets.parallel import Execution
        from l1ad.firmware.faults.shards import run_in_shards

        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            sharded = run_in_shards(campaign, np.arange(n_sites), Path(scratch), 1_000,
                                    execution=Execution(workers=args.workers))
            sharded_s = time.perf_counter() - started
        print(f"fast path on {args.workers} Dask workers (shards of 1,000 faults, cluster start included): "
              f"{sharded_s:.1f} s ({fast_s / sharded_s:.2f}x the single process); identical: {sharded.equals(fast)}")

    naive_sites = np.unique(np.linspace(0, n_sites - 1, args.naive_faults).astype(np.int64))
    started = time.perf_counter()
    naive = campaign.run_naive(naive_sites)
    naive_s = time.perf_counter() - started
    per_fault = naive_s / len(naive_sites)
    print(f"naive loop: {len(naive_sites)} faults in {naive_s:.1f} s = {per_fault * 1e3:.1f} ms per fault; "
          f"{per_fault * n_sites:.0f} s extrapolated to all {n_sites}")
    print(f"ratio naive / fast: {per_fault * n_sites / fast_s:.1f}x in one process each (target >= 100x); "
          f"exhaustive campaign {fast_s:.1f} s in one process (target < 120 s on 2 cores)")
    rows = np.searchsorted(fast.sites, naive_sites)
    same = all(np.array_equal(getattr(fast, f)[rows], getattr(naive, f))
               for f in ("accepted", "score_changed", "abs_score_change_sum", "max_abs_score_change"))
    print(f"fast == naive on all {len(naive_sites)} naive faults: {same}")
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
