"""Generate a dataset directory from a :class:`~l1ad.config.DatasetConfig`: Pythia -> pile-up overlay -> L1 emulation -> HDF5.

A finished dataset is cached: when ``dataset.json`` in the target directory records the same dataset config and seed,
nothing is regenerated. Each sample has its own Pythia and numpy seeds derived from the run seed and the sample name, so
a sample does not change when other samples are added or resized.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from l1ad.benchmark.dataset import BACKGROUND_SPLITS, MANIFEST, Dataset, Sample, load_dataset, write_sample
from l1ad.benchmark.emulation import emulate
from l1ad.benchmark.generation import ParticleTable, generate, overlay_pileup, pythia_seed
from l1ad.benchmark.processes import PROCESSES
from tqdm.auto import tqdm

from l1ad import __version__
from l1ad.config import DatasetConfig


def dataset_digest(cfg: DatasetConfig, seed: int) -> str:
    payload = json.dumps({"dataset": cfg.model_dump(), "seed": seed, "l1ad": __version__}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def build_dataset(cfg: DatasetConfig, seed: int, directory: str | Path, *, force: bool = False) -> Dataset:
    directory = Path(directory)
    digest = dataset_digest(cfg, seed)
    if not force and (directory / MANIFEST).is_file():
        existing = load_dataset(directory)
        if isinstance(existing, Dataset) and existing.manifest.get("digest") == digest:
            return existing
    directory.mkdir(parents=True, exist_ok=True)
    generator = f"Pythia {version('pythia8mc')}"
    plan = [(f"background_{s}", None, getattr(cfg.background, s)) for s in BACKGROUND_SPLITS]
    plan += [(name, name, n) for name, n in cfg.signals.items()]
    total = cfg.pileup_pool_size + sum(n for _, proc, n in plan) + sum(n for _, proc, n in plan if proc)
    started = time.time()
    samples_info = {}
    with tqdm(total=total, desc=f"dataset {cfg.name}", unit="ev", smoothing=0.1) as bar:
        bar.set_postfix_str("pile-up pool")
        pool = generate("minbias", cfg.pileup_pool_size, pythia_seed(seed, cfg.name, "pool"), cfg.sqrt_s_tev,
                        progress=bar.update)
        for sample_name, process, n_events in plan:
            bar.set_postfix_str(sample_name)
            hard = None
            if process is not None:
                hard = generate(process, n_events, pythia_seed(seed, cfg.name, sample_name), cfg.sqrt_s_tev,
                                progress=bar.update)
            sample = _emulate_sample(cfg, seed, sample_name, n_events, pool, hard, bar.update)
            sample.metadata.update(
                dataset=cfg.name,
                version=cfg.version,
                digest=digest,
                label="signal" if process else "background",
                process=process or "minbias (zero bias)",
                split="test" if process else sample_name.removeprefix("background_"),
                generator=generator,
                sqrt_s_tev=cfg.sqrt_s_tev,
                pileup_mu=cfg.pileup_mu,
                seed=seed,
                l1ad_version=__version__,
                meaning=(
                    "one event = one bunch crossing with Poisson(mu) pile-up; background events are unbiased (zero bias), "
                    "so the accepted background fraction times the collision rate is the trigger rate"
                ),
            )
            filename = f"{sample_name}.h5"
            write_sample(directory / filename, sample)
            samples_info[sample_name] = {
                "file": filename,
                "label": sample.metadata["label"],
                "split": sample.metadata["split"],
                "process": sample.metadata["process"],
                "description": PROCESSES[process].description if process else PROCESSES["minbias"].description,
                "n_events": len(sample),
            }
    manifest = {
        "name": cfg.name,
        "version": cfg.version,
        "digest": digest,
        "seed": seed,
        "generator": generator,
        "l1ad_version": __version__,
        "config": cfg.model_dump(),
        "samples": samples_info,
        "generation_seconds": round(time.time() - started, 1),
    }
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, directory / MANIFEST)
    return Dataset(directory=directory, manifest=manifest)


def _emulate_sample(cfg, seed, sample_name, n_events, pool, hard: ParticleTable | None, progress) -> Sample:
    rng = np.random.default_rng(pythia_seed(seed, cfg.name, sample_name, "emulation"))
    particles, regions = [], []
    for start in range(0, n_events, cfg.chunk_size):
        stop = min(start + cfg.chunk_size, n_events)
        chunk_hard = hard.slice(start, stop) if hard is not None else None
        events, _ = overlay_pileup(chunk_hard, stop - start, pool, cfg.pileup_mu, rng)
        objects = emulate(events, cfg.emulation, rng)
        particles.append(objects.particles)
        regions.append(objects.regions)
        progress(stop - start)
    return Sample(name=sample_name, particles=np.concatenate(particles), regions=np.concatenate(regions))
