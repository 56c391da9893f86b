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
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import h5py
import numpy as np

from l1ad import __version__
from l1ad.benchmark.datasets.card import write_card
from l1ad.benchmark.datasets.dataset import BACKGROUND_SPLITS, Dataset, load_dataset
from l1ad.benchmark.datasets.manifest import MANIFEST, DatasetManifest
from l1ad.benchmark.datasets.parallel import Execution, executor
from l1ad.benchmark.datasets.samples import Sample, write_sample
from l1ad.benchmark.generation.particle_level import ParticleLevelDefinition
from l1ad.benchmark.generation.particles import ParticleTable, concatenate
from l1ad.benchmark.generation.pileup import (
    SOURCE_OWN,
    CrossingTruth,
    HardPileup,
    PileupPool,
    interaction_id,
    overlay_pileup,
)
from l1ad.benchmark.generation.pythia import EventStream, cross_section_mb, generate, pythia_seed
from l1ad.benchmark.statistics import clopper_pearson
from l1ad.benchmark.trigger.emulation import emulate
from l1ad.benchmark.trigger.selection import could_pass, passes_lepton_trigger
from l1ad.config import DatasetConfig
from l1ad.config.datasets import PileupPools
from l1ad.config.processes import JET_DOMAINS, PROCESSES
from l1ad.errors import DataFileError, L1adError
from l1ad.files import replacing, write_json_model
from l1ad.progress import progress_bar

BLIND = "blind"


@dataclass(frozen=True)
class ShardJob:
    sample: str
    process: str | None  # None: zero bias (pile-up only)
    index: int
    n_events: int  # events the shard delivers (after the dataset's trigger, if any)
    seed: int
    dataset: DatasetConfig
    stream: str = ""  # names the random streams; the sample name unless several processes share one sample
    hard_fraction: float = 0.0  # of pile-up interactions, the fraction above the stitching scale (generated fresh)

    @property
    def stream_name(self) -> str:
        return self.stream or self.sample


@dataclass(frozen=True)
class ShardResult:
    particles: np.ndarray
    regions: np.ndarray
    truth: CrossingTruth
    n_generated: int  # hard interactions generated to deliver the shard's events (more than them under a trigger)
    n_emulated: int  # of which survived the generator-level veto and were emulated


@dataclass(frozen=True)
class PoolShard:
    table: ParticleTable
    n_generated: int  # minimum-bias interactions generated for it (the ones above the stitching scale are dropped)


@dataclass(frozen=True)
class Part:
    """Events of one process in one sample; a cocktail sample has several parts."""

    sample: str
    process: str | None
    n_events: int
    cocktail: bool = False

    @property
    def stream(self) -> str:
        return f"{self.sample}/{self.process}" if self.cocktail else self.sample


def dataset_digest(cfg: DatasetConfig, seed: int) -> str:
    dataset = cfg.model_dump()
    if dataset.get("tune") is None:  # datasets without a tune variation keep the digests they had before the field
        dataset.pop("tune", None)
    payload = json.dumps({"dataset": dataset, "seed": seed, "l1ad": __version__}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def blind_labels_path(directory: Path) -> Path:
    directory = Path(directory)
    return directory.with_name(directory.name + "_blind_labels") / "blind_labels.h5"


def cached_dataset(directory: Path, digest: str, *, name: str, size: str, force: bool = False) -> Dataset | None:
    """The dataset already in ``directory`` if its manifest records ``digest``, else None (generate it).

    A directory holding a different dataset (another name or size) is never overwritten without ``force``: that
    would silently lose hours of generation. With ``force`` nothing is reused.
    """
    if force or not (directory / MANIFEST).is_file():
        return None
    existing = load_dataset(directory)
    held = (existing.manifest.name, existing.manifest.size)
    if held != (name, size):
        raise DataFileError(f"{directory} holds dataset {held[0]!r} ({held[1]}), not {name!r} ({size}); choose "
                            "another output directory (-o) or pass --force to replace it")
    return existing if existing.digest == digest else None


def pool_of(sample: str) -> str:
    """The pile-up pool a sample draws from: its split's, the blind sample's, or the signals'."""
    if sample.startswith(BLIND + "_"):
        return "blind"
    return sample.removeprefix("background_") if sample.startswith("background_") else "signal"


def detector_settings(cfg: DatasetConfig) -> tuple[str, ...]:
    """Pythia settings every sample of the dataset shares: where long-lived hadrons decay, and the tune variation
    of a domain-shifted variant (``tune``)."""
    tune = JET_DOMAINS[cfg.tune] if cfg.tune is not None else ()
    volume = cfg.decays_in_flight
    if volume is None:
        return tune
    # Decays in flight of pi+-, K+-, K0L (Pythia keeps them stable by default) and of everything else long-lived, but
    # only inside the volume: muons from pi/K decays then reach the muon trigger, as in the detector.
    return ("ParticleDecays:limitTau0 = off", "ParticleDecays:limitCylinder = on",
            f"ParticleDecays:xyMax = {volume.radius_mm:g}", f"ParticleDecays:zMax = {volume.half_length_mm:g}",
            "211:mayDecay = on", "321:mayDecay = on", "130:mayDecay = on", *tune)


def _hard_pileup_settings(cfg: DatasetConfig) -> tuple[str, ...]:
    return (*detector_settings(cfg), f"PhaseSpace:pTHatMin = {cfg.pileup_stitch_pthat_gev:g}")


def pileup_cross_sections(cfg: DatasetConfig, seed: int) -> dict | None:
    """Pythia's inelastic cross section and the hard-QCD cross section above the stitching scale, and the fraction of
    pile-up interactions above it (their ratio); None when the pile-up is not stitched."""
    if cfg.pileup_stitch_pthat_gev is None:
        return None
    inelastic, _ = cross_section_mb("minbias", pythia_seed(seed, cfg.name, "sigma", "minbias"), cfg.sqrt_s_tev,
                                    n_events=1000)
    hard, error = cross_section_mb("pileup_hard", pythia_seed(seed, cfg.name, "sigma", "pileup_hard"), cfg.sqrt_s_tev,
                                   settings=_hard_pileup_settings(cfg), n_events=20_000)
    return {"stitch_pthat_gev": cfg.pileup_stitch_pthat_gev, "sigma_inelastic_mb": inelastic, "sigma_hard_mb": hard,
            "sigma_hard_error_mb": error, "hard_fraction": hard / inelastic,
            "source": "Pythia's own cross sections (sigmaGen: inelastic exact, hard QCD from 20,000 phase-space points)"}


def _shards(part: Part, seed: int, cfg: DatasetConfig, hard_fraction: float = 0.0) -> list[ShardJob]:
    starts = range(0, part.n_events, cfg.shard_size)
    return [ShardJob(part.sample, part.process, i, min(cfg.shard_size, part.n_events - s), seed, cfg, part.stream,
                     hard_fraction) for i, s in enumerate(starts)]


def _pool_shard(job: ShardJob, _shared=None) -> PoolShard:
    cfg = job.dataset
    stream = EventStream("minbias", pythia_seed(job.seed, cfg.name, job.sample, job.index), cfg.sqrt_s_tev,
                         detector_settings(cfg))
    if cfg.pileup_stitch_pthat_gev is None:
        return PoolShard(stream.next(job.n_events), job.n_events)
    return PoolShard(*stream.next_below(job.n_events, cfg.pileup_stitch_pthat_gev))


class _Overlay:
    """Pile-up for one shard: its split's soft pool and, when stitched, its own fresh hard interactions."""

    def __init__(self, job: ShardJob, pools: dict[str, PileupPool]):
        cfg = job.dataset
        self.pool, self.mu, self.hard_fraction = pools[pool_of(job.sample)], cfg.pileup_mu, job.hard_fraction
        self.hard = None
        if job.hard_fraction > 0:
            stream = EventStream("pileup_hard", pythia_seed(job.seed, cfg.name, job.stream_name, job.index, "pile-up"),
                                 cfg.sqrt_s_tev, _hard_pileup_settings(cfg))
            self.hard = HardPileup(stream, id_base=job.index << 32)
        self.own_base = job.index << 32
        self.n_own = 0

    def __call__(self, own: ParticleTable | None, n_events: int, rng: np.random.Generator):
        ids = None
        if own is not None:
            ids = interaction_id(SOURCE_OWN, self.own_base + self.n_own + np.arange(n_events))
            self.n_own += n_events
        return overlay_pileup(own, n_events, self.pool, self.mu, rng, hard_pileup=self.hard,
                              hard_fraction=self.hard_fraction, hard_ids=ids)


def _sample_shard(job: ShardJob, pools: dict[str, PileupPool]) -> ShardResult:
    cfg = job.dataset
    rng = np.random.default_rng(pythia_seed(job.seed, cfg.name, job.stream_name, job.index, "emulation"))
    seed = pythia_seed(job.seed, cfg.name, job.stream_name, job.index)
    overlay = _Overlay(job, pools)
    if cfg.trigger is not None:
        stream = EventStream(job.process, seed, cfg.sqrt_s_tev, detector_settings(cfg))
        return _triggered_shard(job, stream, overlay, rng)
    hard = (generate(job.process, job.n_events, seed, cfg.sqrt_s_tev, settings=detector_settings(cfg))
            if job.process is not None else None)
    particles, regions, truth = [], [], []
    for start in range(0, job.n_events, cfg.chunk_size):
        stop = min(start + cfg.chunk_size, job.n_events)
        events, crossing_truth = overlay(hard.slice(start, stop) if hard else None, stop - start, rng)
        objects = emulate(events, cfg.emulation, rng)
        particles.append(objects.particles)
        regions.append(objects.regions)
        truth.append(crossing_truth)
    return ShardResult(np.concatenate(particles), np.concatenate(regions), CrossingTruth.concatenate(truth),
                       job.n_events, job.n_events)


def _triggered_shard(job: ShardJob, stream: EventStream, overlay: _Overlay, rng: np.random.Generator) -> ShardResult:
    """Generate chunk after chunk until ``job.n_events`` events pass the trigger; count what it took."""
    cfg, trigger = job.dataset, job.dataset.trigger
    particles, regions, truth = [], [], []
    n_kept = n_generated = n_emulated = 0
    while n_kept < job.n_events:
        if n_generated >= trigger.max_attempts_per_event * job.n_events:
            raise L1adError(
                f"process {job.process!r}: only {n_kept} of {n_generated} generated events pass the lepton trigger "
                f"(pT > {trigger.min_pt_gev:g} GeV); raise trigger.max_attempts_per_event or choose another process"
            )
        hard = stream.next(cfg.chunk_size)
        candidates = np.flatnonzero(could_pass(hard, trigger.min_pt_gev))
        passed = candidates[:0]
        if len(candidates):
            events, crossing_truth = overlay(hard.take(candidates), len(candidates), rng)
            objects = emulate(events, cfg.emulation, rng)
            keep = np.flatnonzero(passes_lepton_trigger(objects.particles, trigger.min_pt_gev))[: job.n_events - n_kept]
            particles.append(objects.particles[keep])
            regions.append(objects.regions[keep])
            truth.append(crossing_truth.take(keep))
            passed = candidates[keep]
        n_kept += len(passed)
        # Count up to the event that completed the shard, so passed / generated estimates the selection efficiency.
        used = int(passed[-1]) + 1 if n_kept == job.n_events else hard.n_interactions
        n_generated += used
        n_emulated += int((candidates < used).sum())
    return ShardResult(np.concatenate(particles), np.concatenate(regions), CrossingTruth.concatenate(truth), n_generated,
                       n_emulated)


def sample_plan(cfg: DatasetConfig) -> list[Part]:
    """Every part of every sample the dataset needs, blind parts included, in a fixed order."""

    def background(sample: str, n: int) -> list[Part]:
        if cfg.background_cocktail is None:
            return [Part(sample, None, n)]
        return [Part(sample, process, k, cocktail=True) for process, k in cocktail_counts(cfg.background_cocktail, n)]

    plan = [part for s in BACKGROUND_SPLITS for part in background(f"background_{s}", getattr(cfg.background, s))]
    plan += [Part(name, name, n) for name, n in cfg.signals.items()]
    if cfg.blind.background:
        plan += background(f"{BLIND}_background", cfg.blind.background)
    if cfg.blind.per_signal:
        plan += [Part(f"{BLIND}_{name}", name, cfg.blind.per_signal) for name in cfg.signals]
    return plan


def cocktail_counts(shares: dict[str, float], n_events: int) -> list[tuple[str, int]]:
    """Split ``n_events`` by shares with the largest-remainder rule (counts add up exactly; ties go to the first)."""
    exact = {name: share * n_events for name, share in shares.items()}
    counts = {name: int(np.floor(x)) for name, x in exact.items()}
    by_remainder = sorted(shares, key=lambda name: -(exact[name] - counts[name]))
    for name in by_remainder[: n_events - sum(counts.values())]:
        counts[name] += 1
    return [(name, counts[name]) for name in shares if counts[name] > 0]


def build_dataset(
    cfg: DatasetConfig, seed: int, directory: str | Path, *, force: bool = False, execution: Execution | None = None
) -> Dataset:
    execution = execution or Execution()
    directory = Path(directory)
    digest = dataset_digest(cfg, seed)
    existing = cached_dataset(directory, digest, name=cfg.name, size=cfg.size, force=force)
    if existing is not None:
        return existing
    directory.mkdir(parents=True, exist_ok=True)
    generator = f"Pythia {version('pythia8mc')}"
    plan = sample_plan(cfg)
    started = time.time()
    cross_sections = pileup_cross_sections(cfg, seed)
    hard_fraction = cross_sections["hard_fraction"] if cross_sections else 0.0
    pool_sizes = {name: getattr(cfg.pileup_pools, name)
                  for name in sorted({pool_of(part.sample) for part in plan}, key=list(PileupPools.model_fields).index)}
    pool_jobs = _shards(Part("pool", None, sum(pool_sizes.values())), seed, cfg)
    sample_jobs = [job for part in plan for job in _shards(part, seed, cfg, hard_fraction)]
    with progress_bar(sum(j.n_events for j in pool_jobs) + sum(p.n_events for p in plan), f"dataset {cfg.name}", "ev",
                      smoothing=0.1) as bar, executor(execution) as ex:
        done = lambda job: bar.update(job.n_events)  # noqa: E731
        bar.set_postfix_str("pile-up pools")
        pool_shards = ex.run(_pool_shard, pool_jobs, on_done=done)
        pools = {name: PileupPool(table, ParticleLevelDefinition.of(cfg.emulation))
                 for name, table in split_pools(concatenate([r.table for r in pool_shards]), pool_sizes).items()}
        bar.set_postfix_str("samples" + (" (until the trigger is passed)" if cfg.trigger else ""))
        results = ex.run(_sample_shard, sample_jobs, shared=pools, on_done=done)
    seconds = time.time() - started

    merged = _merge_samples(cfg, seed, sample_jobs, results)
    common = {"dataset": cfg.name, "version": cfg.version, "size": cfg.size, "digest": digest, "generator": generator,
              "sqrt_s_tev": cfg.sqrt_s_tev, "pileup_mu": cfg.pileup_mu, "seed": seed, "l1ad_version": __version__,
              "zero_bias": cfg.zero_bias, "meaning": _meaning(cfg)}
    samples_info = {}
    for name, sample in merged.items():
        if name.startswith(BLIND + "_"):
            continue
        is_signal = name in cfg.signals
        label = "signal" if is_signal else "background"
        split = "test" if is_signal else name.removeprefix("background_")
        process = name if is_signal else (" + ".join(cfg.background_cocktail) if cfg.background_cocktail else None)
        sample.metadata.update(common, label=label, split=split, process=process or "minbias (zero bias)")
        write_sample(directory / f"{name}.h5", sample)
        description = (PROCESSES[process or "minbias"].description if is_signal or process is None
                       else "background cocktail: " + ", ".join(f"{p} {s:.1%}" for p, s in cfg.background_cocktail.items()))
        samples_info[name] = {"file": f"{name}.h5", "label": label, "split": split, "process": process or "minbias",
                              "description": description, "n_events": len(sample)}
    if cfg.blind.background or cfg.blind.per_signal:
        samples_info[BLIND] = _write_blind(directory, merged, common, seed)

    manifest = DatasetManifest(
        name=cfg.name, version=cfg.version, size=cfg.size, digest=digest, seed=seed, generator=generator,
        l1ad_version=__version__, config=cfg.model_dump(), zero_bias=cfg.zero_bias, samples=samples_info,
        generation_seconds=round(seconds, 1), events_per_second=round(sum(p.n_events for p in plan) / seconds, 1),
        execution={"workers": execution.workers, "scheduler": execution.scheduler},
        selection=_selection_summary(cfg, sample_jobs, results) if cfg.trigger is not None else None,
        pileup=_pileup_summary(cfg, cross_sections, pools, pool_shards, sample_jobs, results),
    )
    write_json_model(directory / MANIFEST, manifest)
    dataset = Dataset(directory=directory, manifest=manifest)
    write_card(dataset)
    return dataset


def split_pools(table: ParticleTable, sizes: dict[str, int]) -> dict[str, ParticleTable]:
    """Consecutive, disjoint slices of one sequence of soft interactions: one pool per split, in the order given."""
    edges = np.concatenate(([0], np.cumsum(list(sizes.values()))))
    if edges[-1] != table.n_interactions:
        raise ValueError(f"pools need {edges[-1]} interactions, got {table.n_interactions}")
    return {name: table.slice(int(lo), int(hi)) for name, lo, hi in zip(sizes, edges[:-1], edges[1:], strict=True)}


def _pileup_summary(cfg: DatasetConfig, cross_sections: dict | None, pools: dict[str, PileupPool],
                    pool_shards: list[PoolShard], jobs: list[ShardJob], results: list[ShardResult]) -> dict:
    """How the pile-up was made: the stitching cross sections; how many minimum-bias interactions the pools took (the
    rest were above the stitching scale, a check of the hard fraction); and per pool its size, how often its
    interactions were drawn (reuse), and the fresh hard interactions its crossings used."""
    hard_fraction = cross_sections["hard_fraction"] if cross_sections else 0.0
    crossings = dict.fromkeys(pools, 0)
    for job, result in zip(jobs, results, strict=True):
        crossings[pool_of(job.sample)] += result.n_emulated
    size = sum(pool.n_interactions for pool in pools.values())
    generated = sum(shard.n_generated for shard in pool_shards)
    lo, hi = clopper_pearson(generated - size, generated)
    records = {name: {"size": pool.n_interactions, "crossings": crossings[name],
                      "reuse_factor": crossings[name] * cfg.pileup_mu * (1 - hard_fraction) / pool.n_interactions,
                      "fresh_hard_interactions_expected": round(crossings[name] * cfg.pileup_mu * hard_fraction)}
               for name, pool in pools.items()}
    return {"mu": cfg.pileup_mu, "stitching": cross_sections, "pool_generated": generated,
            "fraction_above_stitch": (generated - size) / generated, "fraction_above_stitch_interval_68": (lo, hi),
            "pools": records}


def _meaning(cfg: DatasetConfig) -> str:
    if cfg.zero_bias:
        return ("one event = one bunch crossing with Poisson(mu) pile-up; background events are unbiased (zero bias), "
                "so the accepted background fraction times the collision rate is the trigger rate")
    return ("one event = one hard interaction with Poisson(mu) pile-up that passed the lepton pre-selection "
            f"(leading e/gamma or muon pT > {cfg.trigger.min_pt_gev:g} GeV after emulation); the background is a "
            "cocktail with fixed shares, not a stream of bunch crossings, so only false-positive rates (FPR) relative "
            "to the pre-selected stream are meaningful, not absolute trigger rates")


def _merge_samples(cfg: DatasetConfig, seed: int, jobs: list[ShardJob], results: list[ShardResult]) -> dict[str, Sample]:
    """Shards -> one Sample per sample name; a cocktail's processes are interleaved by a seeded shuffle and labelled."""
    parts: dict[str, dict[str | None, list[ShardResult]]] = {}
    for job, result in zip(jobs, results, strict=True):
        parts.setdefault(job.sample, {}).setdefault(job.process, []).append(result)
    merged = {}
    for name, by_process in parts.items():
        results_in_order = [r for shards in by_process.values() for r in shards]
        particles = np.concatenate([r.particles for r in results_in_order])
        regions = np.concatenate([r.regions for r in results_in_order])
        truth = CrossingTruth.concatenate([r.truth for r in results_in_order])
        sample = Sample(name, particles, regions, {}, truth=truth)
        if cfg.background_cocktail is not None and name.removeprefix(BLIND + "_") not in cfg.signals:
            names = list(by_process)
            labels = np.concatenate([np.full(sum(len(r.particles) for r in shards), i, dtype=np.int8)
                                     for i, shards in enumerate(by_process.values())])
            order = np.random.default_rng(pythia_seed(seed, cfg.name, name, "shuffle")).permutation(len(labels))
            sample = Sample(name, particles[order], regions[order], {"processes": names}, processes=labels[order],
                            truth=truth.take(order))
        merged[name] = sample
    return merged


def _selection_summary(cfg: DatasetConfig, jobs: list[ShardJob], results: list[ShardResult]) -> dict:
    """Per process: events generated, emulated and kept, and the measured selection efficiency (Clopper-Pearson)."""
    totals: dict[str, list[int]] = {}
    for job, result in zip(jobs, results, strict=True):
        t = totals.setdefault(job.process, [0, 0, 0])
        t[0] += result.n_generated
        t[1] += result.n_emulated
        t[2] += len(result.particles)
    summary = {"trigger": cfg.trigger.model_dump(), "source": "measured while generating (passed / generated)",
               "processes": {}}
    for process, (generated, emulated, passed) in totals.items():
        lo, hi = clopper_pearson(passed, generated)
        summary["processes"][process] = {"generated": generated, "emulated": emulated, "passed": passed,
                                         "efficiency": passed / generated, "efficiency_interval_68": (lo, hi)}
    return summary


def _write_blind(directory: Path, merged: dict[str, Sample], common: dict, seed: int) -> dict:
    """Mix the blind parts, shuffle them with a seeded permutation, write features and labels apart."""
    parts = [(name.removeprefix(BLIND + "_"), s) for name, s in merged.items() if name.startswith(BLIND + "_")]
    particles = np.concatenate([s.particles for _, s in parts])
    regions = np.concatenate([s.regions for _, s in parts])
    truth = np.concatenate([np.full(len(s), i, dtype=np.int8) for i, (_, s) in enumerate(parts)])
    order = np.random.default_rng(pythia_seed(seed, common["dataset"], BLIND, "shuffle")).permutation(len(truth))
    sample = Sample(BLIND, particles[order], regions[order], dict(common, label="blind", split="blind", process="mixture"),
                    event_ids=np.arange(len(order), dtype=np.int64))
    write_sample(directory / f"{BLIND}.h5", sample)
    labels_path = blind_labels_path(directory)
    labels_path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(labels_path) as tmp, h5py.File(tmp, "w") as f:
            f.create_dataset("EvtId", data=np.arange(len(order), dtype=np.int64))
            f.create_dataset("truth", data=truth[order])
            f.attrs["truth_names"] = json.dumps([name for name, _ in parts])
            f.attrs["digest"] = common["digest"]
    return {"file": f"{BLIND}.h5", "label": "blind", "split": "blind", "process": "mixture",
            "description": "background and signals mixed and shuffled; labels are kept apart from this directory",
            "n_events": int(len(order))}
