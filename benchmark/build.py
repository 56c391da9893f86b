"""Generate a dataset directory from a :class:`~l1ad.config.DatasetConfig`: Pythia -> pile-up -> L1 emulation -> HDF5.

Work is cut into shards of ``shard_size`` events, each with its own Pythia and numpy seeds derived from the run seed,
the sample and the shard index. Shards run in this process or on Dask workers and are merged in order, so a dataset is
byte-identical however many workers made it, and a sample does not change when other samples are added or resized.

A finished dataset is cached: when ``dataset.json`` records the same digest (dataset config, seed, l1ad version),
nothing is regenerated. The blind sample's labels go to a sibling directory, never next to its features.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import h5py
import numpy as np
from tqdm.auto import tqdm

from l1ad import __version__
from l1ad.benchmark.dataset import BACKGROUND_SPLITS, MANIFEST, Dataset, Sample, load_dataset, write_sample
from l1ad.benchmark.emulation import emulate
from l1ad.benchmark.generation import ParticleTable, PileupPool, concatenate, generate, overlay_pileup, pythia_seed
from l1ad.benchmark.parallel import Execution, executor
from l1ad.benchmark.processes import PROCESSES
from l1ad.config import DatasetConfig

BLIND = "blind"


@dataclass(frozen=True)
class ShardJob:
    sample: str
    process: str | None  # None: zero bias (pile-up only)
    index: int
    n_events: int
    seed: int
    dataset: DatasetConfig


def dataset_digest(cfg: DatasetConfig, seed: int) -> str:
    payload = json.dumps({"dataset": cfg.model_dump(), "seed": seed, "l1ad": __version__}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def blind_labels_path(directory: Path) -> Path:
    directory = Path(directory)
    return directory.with_name(directory.name + "_blind_labels") / "blind_labels.h5"


def cached_dataset(directory: Path, digest: str) -> Dataset | None:
    """The dataset already in ``directory`` if its manifest records ``digest``, else None."""
    if not (directory / MANIFEST).is_file():
        return None
    existing = load_dataset(directory)
    return existing if isinstance(existing, Dataset) and existing.manifest.get("digest") == digest else None


def _shards(sample: str, process: str | None, n_events: int, seed: int, cfg: DatasetConfig) -> list[ShardJob]:
    starts = range(0, n_events, cfg.shard_size)
    return [ShardJob(sample, process, i, min(cfg.shard_size, n_events - s), seed, cfg) for i, s in enumerate(starts)]


def _pool_shard(job: ShardJob, _shared=None) -> ParticleTable:
    cfg = job.dataset
    return generate("minbias", job.n_events, pythia_seed(job.seed, cfg.name, "pool", job.index), cfg.sqrt_s_tev)


def _sample_shard(job: ShardJob, pool: PileupPool) -> tuple[np.ndarray, np.ndarray]:
    cfg = job.dataset
    hard = None
    if job.process is not None:
        hard = generate(job.process, job.n_events, pythia_seed(job.seed, cfg.name, job.sample, job.index), cfg.sqrt_s_tev)
    rng = np.random.default_rng(pythia_seed(job.seed, cfg.name, job.sample, job.index, "emulation"))
    particles, regions = [], []
    for start in range(0, job.n_events, cfg.chunk_size):
        stop = min(start + cfg.chunk_size, job.n_events)
        events, _ = overlay_pileup(hard.slice(start, stop) if hard else None, stop - start, pool, cfg.pileup_mu, rng)
        objects = emulate(events, cfg.emulation, rng)
        particles.append(objects.particles)
        regions.append(objects.regions)
    return np.concatenate(particles), np.concatenate(regions)


def sample_plan(cfg: DatasetConfig) -> list[tuple[str, str | None, int]]:
    """(sample name, hard process or None, events) for every sample the dataset needs, blind parts included."""
    plan: list[tuple[str, str | None, int]] = [(f"background_{s}", None, getattr(cfg.background, s)) for s in BACKGROUND_SPLITS]
    plan += [(name, name, n) for name, n in cfg.signals.items()]
    if cfg.blind.background:
        plan.append((f"{BLIND}_background", None, cfg.blind.background))
    if cfg.blind.per_signal:
        plan += [(f"{BLIND}_{name}", name, cfg.blind.per_signal) for name in cfg.signals]
    return plan


def build_dataset(
    cfg: DatasetConfig, seed: int, directory: str | Path, *, force: bool = False, execution: Execution | None = None
) -> Dataset:
    execution = execution or Execution()
    directory = Path(directory)
    digest = dataset_digest(cfg, seed)
    existing = None if force else cached_dataset(directory, digest)
    if existing is not None:
        return existing
    directory.mkdir(parents=True, exist_ok=True)
    generator = f"Pythia {version('pythia8mc')}"
    plan = sample_plan(cfg)
    pool_jobs = _shards("pool", None, cfg.pileup_pool_size, seed, cfg)
    sample_jobs = [job for name, process, n in plan for job in _shards(name, process, n, seed, cfg)]
    started = time.time()
    with tqdm(total=cfg.pileup_pool_size + sum(n for *_, n in plan), desc=f"dataset {cfg.name}", unit="ev",
              smoothing=0.1) as bar, executor(execution) as ex:
        done = lambda job: bar.update(job.n_events)  # noqa: E731
        bar.set_postfix_str("pile-up pool")
        pool = PileupPool(concatenate(ex.run(_pool_shard, pool_jobs, on_done=done)))
        bar.set_postfix_str("samples")
        results = ex.run(_sample_shard, sample_jobs, shared=pool, on_done=done)
    seconds = time.time() - started

    by_sample: dict[str, list] = {}
    for job, result in zip(sample_jobs, results, strict=True):
        by_sample.setdefault(job.sample, []).append(result)
    common = {"dataset": cfg.name, "version": cfg.version, "size": cfg.size, "digest": digest, "generator": generator,
              "sqrt_s_tev": cfg.sqrt_s_tev, "pileup_mu": cfg.pileup_mu, "seed": seed, "l1ad_version": __version__,
              "meaning": "one event = one bunch crossing with Poisson(mu) pile-up; background events are unbiased "
                         "(zero bias), so the accepted background fraction times the collision rate is the trigger rate"}
    samples_info = {}
    for name, process, _ in plan:
        if name.startswith(BLIND + "_"):
            continue
        parts = by_sample[name]
        sample = Sample(name, np.concatenate([p for p, _ in parts]), np.concatenate([r for _, r in parts]), dict(common))
        label = "signal" if process else "background"
        split = "test" if process else name.removeprefix("background_")
        sample.metadata.update(label=label, split=split, process=process or "minbias (zero bias)")
        write_sample(directory / f"{name}.h5", sample)
        samples_info[name] = {"file": f"{name}.h5", "label": label, "split": split, "process": process or "minbias",
                              "description": PROCESSES[process or "minbias"].description, "n_events": len(sample)}
    if cfg.blind.background or cfg.blind.per_signal:
        samples_info[BLIND] = _write_blind(directory, plan, by_sample, common, seed)

    manifest = {
        "name": cfg.name, "version": cfg.version, "size": cfg.size, "digest": digest, "seed": seed,
        "generator": generator, "l1ad_version": __version__, "config": cfg.model_dump(), "samples": samples_info,
        "generation_seconds": round(seconds, 1), "events_per_second": round(sum(n for *_, n in plan) / seconds, 1),
        "execution": {"workers": execution.workers, "scheduler": execution.scheduler},
    }
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, directory / MANIFEST)
    dataset = Dataset(directory=directory, manifest=manifest)
    from l1ad.benchmark.card import write_card

    write_card(dataset)
    return dataset


def _write_blind(directory: Path, plan, by_sample, common: dict, seed: int) -> dict:
    """Mix the blind parts, shuffle them with a seeded permutation, write features and labels apart."""
    parts = [(name.removeprefix(BLIND + "_"), by_sample[name]) for name, *_ in plan if name.startswith(BLIND + "_")]
    particles = np.concatenate([p for _, shards in parts for p, _ in shards])
    regions = np.concatenate([r for _, shards in parts for _, r in shards])
    truth = np.concatenate([np.full(sum(len(p) for p, _ in shards), i, dtype=np.int8) for i, (_, shards) in enumerate(parts)])
    order = np.random.default_rng(pythia_seed(seed, common["dataset"], BLIND, "shuffle")).permutation(len(truth))
    sample = Sample(BLIND, particles[order], regions[order], dict(common, label="blind", split="blind", process="mixture"),
                    event_ids=np.arange(len(order), dtype=np.int64))
    write_sample(directory / f"{BLIND}.h5", sample)
    labels_path = blind_labels_path(directory)
    labels_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = labels_path.with_name(labels_path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("EvtId", data=np.arange(len(order), dtype=np.int64))
        f.create_dataset("truth", data=truth[order])
        f.attrs["truth_names"] = json.dumps([name for name, _ in parts])
        f.attrs["digest"] = common["digest"]
    os.replace(tmp, labels_path)
    return {"file": f"{BLIND}.h5", "label": "blind", "split": "blind", "process": "mixture",
            "description": "background and signals mixed and shuffled; labels are kept apart from this directory",
            "n_events": int(len(order))}
