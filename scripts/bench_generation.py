"""Generation throughput and memory, measured side by side in one run (issue 4's targets).

    python scripts/bench_generation.py [--events 20000] [--hard-events 2000]

Prints, for this machine: zero-bias events/s on one core (pile-up overlay from the pool + L1 emulation), hard-process
events/s on one core (Pythia ttbar + pile-up + emulation) split into Pythia alone and our overlay + emulation alone,
the same zero-bias workload on one and on two Dask workers (the speed-up), and peak resident memory. Targets are
printed beside the figures; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from l1ad.benchmark.datasets.build import ShardJob, _pool_shard, _sample_shard, pileup_cross_sections
from l1ad.benchmark.datasets.parallel import Execution, executor
from l1ad.benchmark.generation.particle_level import ParticleLevelDefinition
from l1ad.benchmark.generation.pileup import PileupPool, overlay_pileup
from l1ad.benchmark.generation.pythia import generate, pythia_seed
from l1ad.benchmark.trigger.emulation import emulate
from l1ad.config import dataset_definition

TARGETS = {"zero bias, events/s per core": 1000.0, "hard process, events/s per core": 150.0, "2 workers / 1 worker": 1.7}


def _peak_rss_mb() -> float:
    """High-water resident memory of this process (VmHWM; unlike getrusage's maxrss it is not inherited on fork)."""
    for line in open("/proc/self/status").read().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="zero-bias events per measurement")
    parser.add_argument("--hard-events", type=int, default=2000, help="ttbar events for the hard-process measurement")
    parser.add_argument("--pool", type=int, default=2000, help="minimum-bias interactions in the pile-up pool")
    args = parser.parse_args()

    cfg = dataset_definition("zb").resolve("default").model_copy(update={"shard_size": 2000})
    print(f"machine: {os.cpu_count()} cores; pile-up mu = {cfg.pileup_mu}; chunk {cfg.chunk_size}, shard {cfg.shard_size}")

    t = time.perf_counter()
    pool = PileupPool(_pool_shard(ShardJob("pool", None, 0, args.pool, 1, cfg)).table,
                      ParticleLevelDefinition.of(cfg.emulation))
    pool_rate = args.pool / (time.perf_counter() - t)
    pools = {"test": pool, "signal": pool}  # zero bias draws from the test pool, ttbar from the signal pool
    hard_fraction = pileup_cross_sections(cfg, 1)["hard_fraction"]  # fresh hard pile-up above the stitching scale

    zb_jobs = [ShardJob("background_test", None, i, cfg.shard_size, 1, cfg, hard_fraction=hard_fraction)
               for i in range(args.events // cfg.shard_size)]
    n_zb = sum(j.n_events for j in zb_jobs)
    t = time.perf_counter()
    for job in zb_jobs:
        _sample_shard(job, pools)
    zb_rate = n_zb / (time.perf_counter() - t)

    t = time.perf_counter()
    _sample_shard(ShardJob("ttbar", "ttbar", 0, args.hard_events, 1, cfg, hard_fraction=hard_fraction), pools)
    hard_rate = args.hard_events / (time.perf_counter() - t)
    t = time.perf_counter()
    hard = generate("ttbar", args.hard_events, pythia_seed(1, "pythia-only"), cfg.sqrt_s_tev)
    pythia_rate = args.hard_events / (time.perf_counter() - t)
    rng = np.random.default_rng(1)
    t = time.perf_counter()
    for start in range(0, args.hard_events, cfg.chunk_size):
        stop = min(start + cfg.chunk_size, args.hard_events)
        emulate(overlay_pileup(hard.slice(start, stop), stop - start, pool, cfg.pileup_mu, rng)[0], cfg.emulation, rng)
    hard_emulation_rate = args.hard_events / (time.perf_counter() - t)
    main_rss = _peak_rss_mb()

    timings = {}
    worker_rss = 0.0
    for workers in (1, 2):
        with executor(Execution(workers=workers)) as ex:
            ex.run(_sample_shard, zb_jobs[:workers], shared=pools)  # warm-up: worker start, imports, pool transfer
            t = time.perf_counter()
            ex.run(_sample_shard, zb_jobs, shared=pools)
            timings[workers] = time.perf_counter() - t
            rss = ex.client.run(_peak_rss_mb)
            worker_rss = max(worker_rss, *rss.values())
    speedup = timings[1] / timings[2]

    rows = [
        ("minimum-bias pool, events/s (Pythia, one core)", pool_rate, None),
        ("zero bias, events/s per core", zb_rate, TARGETS["zero bias, events/s per core"]),
        ("hard process, events/s per core", hard_rate, TARGETS["hard process, events/s per core"]),
        ("  Pythia ttbar alone, events/s", pythia_rate, None),
        ("  soft pile-up overlay + emulation of ttbar alone, events/s", hard_emulation_rate, None),
        ("zero bias on 1 Dask worker, events/s", n_zb / timings[1], None),
        ("zero bias on 2 Dask workers, events/s", n_zb / timings[2], None),
        ("2 workers / 1 worker", speedup, TARGETS["2 workers / 1 worker"]),
        ("peak memory, this process [MB]", main_rss, None),
        ("peak memory, one Dask worker [MB]", worker_rss, None),
    ]
    print(f"{'measured (this run)':<52}{'value':>10}{'target':>10}  verdict")
    for name, value, target in rows:
        verdict = "" if target is None else ("meets target" if value >= target else "BELOW target")
        print(f"{name:<52}{value:>10.1f}{'' if target is None else f'{target:>10.1f}':>10}  {verdict}")
    print(f"(zero-bias figures: {n_zb} events: soft pile-up overlay, fresh hard pile-up (Pythia hard QCD above the "
          f"stitching scale, {hard_fraction * cfg.pileup_mu:.3f} per crossing) and emulation; hard process: {args.hard_events} ttbar "
          f"events incl. Pythia; peak RSS = VmHWM; numpy {np.__version__})")


if __name__ == "__main__":
    main()
