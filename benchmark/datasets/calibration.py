"""The jet-calibration sample: QCD 2 -> 2 events in ranges of pT-hat, each overlaid with a dataset's pile-up (soft pool
and fresh hard pile-up, as its samples), emulated, and its Level-1 jets matched to the particle-level jets of the hard
interaction (:mod:`l1ad.benchmark.trigger.calibration`).

Used by ``scripts/fit_jet_calibration.py`` to fit the calibration and by the tests to check it on an independent
sample. Several emulation settings can be run on the very same crossings (same towers, same smearing): the
calibration then is the only difference between them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ad.benchmark.datasets.build import detector_settings, pileup_cross_sections
from l1ad.benchmark.datasets.parallel import Execution, executor
from l1ad.benchmark.generation.genjets import genjets
from l1ad.benchmark.generation.particle_level import ParticleLevelDefinition
from l1ad.benchmark.generation.pileup import HardPileup, PileupPool, overlay_pileup
from l1ad.benchmark.generation.pythia import EventStream, pythia_seed
from l1ad.benchmark.trigger.calibration import ISOLATION_MIN_PT_GEV, MatchedJets, match_jets
from l1ad.benchmark.trigger.emulation import emulate
from l1ad.config import DatasetConfig, EmulationConfig

STREAM = "jet-calibration"


@dataclass(frozen=True)
class CalibrationJob:
    pthat_min: float
    pthat_max: float
    index: int  # shard within the pT-hat range
    n_events: int
    seed: int
    dataset: DatasetConfig  # pile-up (mu, stitching, decays in flight) and chunk size come from here
    emulations: tuple[tuple[str, EmulationConfig], ...]
    hard_fraction: float
    min_gen_pt: float

    def stream(self, *what: object) -> int:
        return pythia_seed(self.seed, STREAM, f"{self.pthat_min:g}-{self.pthat_max:g}", self.index, *what)


def calibration_pool(dataset: DatasetConfig, size: int, seed: int) -> PileupPool:
    """Soft pile-up for the calibration sample: minimum bias below the dataset's stitching scale (all of it when the
    dataset does not stitch), its own seed, no interaction shared with any dataset sample."""
    stream = EventStream("minbias", pythia_seed(seed, STREAM, "pool"), dataset.sqrt_s_tev, detector_settings(dataset))
    stitch = dataset.pileup_stitch_pthat_gev
    table = stream.next(size) if stitch is None else stream.next_below(size, stitch)[0]
    return PileupPool(table, ParticleLevelDefinition.of(dataset.emulation))


def _run(job: CalibrationJob, pool: PileupPool) -> dict[str, MatchedJets]:
    cfg = job.dataset
    settings = (*detector_settings(cfg), f"PhaseSpace:pTHatMin = {job.pthat_min:g}",
                f"PhaseSpace:pTHatMax = {job.pthat_max:g}")
    hard = EventStream("pileup_hard", job.stream(), cfg.sqrt_s_tev, settings).next(job.n_events)
    fresh = None
    if job.hard_fraction > 0:
        fresh = HardPileup(EventStream("pileup_hard", job.stream("pile-up"), cfg.sqrt_s_tev,
                                       (*detector_settings(cfg), f"PhaseSpace:pTHatMin = {cfg.pileup_stitch_pthat_gev:g}")),
                           id_base=0)
    rng = np.random.default_rng(job.stream("overlay"))
    parts: dict[str, list[MatchedJets]] = {label: [] for label, _ in job.emulations}
    for start in range(0, job.n_events, cfg.chunk_size):
        stop = min(start + cfg.chunk_size, job.n_events)
        own = hard.slice(start, stop)
        crossings, _ = overlay_pileup(own, stop - start, pool, cfg.pileup_mu, rng, hard_pileup=fresh,
                                      hard_fraction=job.hard_fraction)
        gen = genjets(own, min_pt=ISOLATION_MIN_PT_GEV)
        emulation_seed = job.stream("emulation", start)
        for label, emulation in job.emulations:  # the same towers and smearing for every emulation
            objects = emulate(crossings, emulation, np.random.default_rng(emulation_seed))
            parts[label].append(match_jets(objects.particles, gen, min_gen_pt=job.min_gen_pt,
                                           max_abs_eta=emulation.jet_max_eta))
    return {label: MatchedJets.concatenate(p) for label, p in parts.items()}


def calibration_sample(dataset: DatasetConfig, pthat_ranges: list[tuple[float, float]], n_events: int, seed: int,
                       emulations: dict[str, EmulationConfig], *, pool_size: int = 3000, shard_size: int = 500,
                       min_gen_pt: float = 20.0, execution: Execution | None = None) -> dict[str, MatchedJets]:
    """Matched jets of ``n_events`` crossings per pT-hat range, for each named emulation setting (same crossings for
    all). Shards have fixed sizes and seeds, so the result does not depend on the number of workers."""
    cross_sections = pileup_cross_sections(dataset, seed)
    hard_fraction = cross_sections["hard_fraction"] if cross_sections else 0.0
    pool = calibration_pool(dataset, pool_size, seed)
    jobs = [CalibrationJob(lo, hi, i, min(shard_size, n_events - start), seed, dataset, tuple(emulations.items()),
                           hard_fraction, min_gen_pt)
            for lo, hi in pthat_ranges for i, start in enumerate(range(0, n_events, shard_size))]
    with executor(execution or Execution()) as ex:
        results = ex.run(_run, jobs, shared=pool)
    return {label: MatchedJets.concatenate([r[label] for r in results]) for label in emulations}
