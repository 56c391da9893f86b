"""A campaign in shards of faults, each written atomically when done, so an interrupted campaign resumes.

The shards of one campaign live in ``<directory>/shards/`` beside a key (the network, the event sets, the threshold
and the fault list); a different key clears them. A shard file that cannot be read (cut off by a crash) is computed
again.
"""

from __future__ import annotations

import hashlib
import shutil
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l1ad.benchmark.datasets.parallel import Execution, executor
from l1ad.files import replacing
from l1ad.firmware.faults.campaign import CampaignResult, FaultCampaign

FIELDS = ("accepted", "score_changed", "abs_score_change_sum", "max_abs_score_change")


def campaign_key(campaign: FaultCampaign, sites: np.ndarray) -> str:
    """What the shards depend on: network, samples (sizes and values), threshold, measured events, fault list."""
    h = hashlib.sha256(campaign.network.model_dump_json().encode())
    for name, x in campaign.samples.items():
        h.update(f"{name}:{x.shape}:{campaign.score_events[name]}".encode())
        h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.float64(campaign.threshold).tobytes())
    h.update(np.asarray(sites, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def run_in_shards(campaign: FaultCampaign, sites: np.ndarray, directory: Path, shard_faults: int,
                  progress: Callable[[float], None] | None = None, log: Callable[[str], None] = lambda _: None,
                  execution: Execution | None = None) -> CampaignResult:
    """The fast campaign over ``sites`` shard by shard, reusing the shards an earlier run of the same campaign left;
    with ``execution`` (Dask workers), the missing shards run in parallel, each worker writing its own shard files."""
    shard_dir = Path(directory) / "shards"
    key = campaign_key(campaign, sites)
    key_file = shard_dir / "campaign.key"
    if shard_dir.is_dir() and (not key_file.is_file() or key_file.read_text().strip() != key):
        shutil.rmtree(shard_dir)  # another campaign's shards
    shard_dir.mkdir(parents=True, exist_ok=True)
    key_file.write_text(key + "\n")
    jobs = [_ShardJob(shard_dir / f"shard_{index:05d}.npz", sites[first:first + shard_faults])
            for index, first in enumerate(range(0, len(sites), shard_faults))]
    found: dict[Path, CampaignResult] = {}
    for job in jobs:
        part = _read_shard(job.path, job.sites)
        if part is not None:
            found[job.path] = part
            if progress is not None:
                progress(len(job.sites))
    if found:
        log(f"faults: {len(found)} of {len(jobs)} shards reused from an interrupted run of the same campaign")
    missing = [job for job in jobs if job.path not in found]
    parallel = execution is not None and (execution.workers > 0 or execution.scheduler) and len(missing) > 1
    if parallel:
        with executor(execution) as ex:
            done = ex.run(_run_shard, missing, shared=campaign,
                          on_done=(lambda job: progress(len(job.sites))) if progress is not None else None)
    else:
        done = [_run_shard(job, campaign, progress) for job in missing]
    found.update({job.path: part for job, part in zip(missing, done, strict=True)})
    parts = [found[job.path] for job in jobs]
    empty = campaign.empty_result()
    return CampaignResult(
        sites=np.asarray(sites, dtype=np.int64), samples=empty.samples, n_events=empty.n_events,
        score_events=empty.score_events, nominal_accepted=empty.nominal_accepted,
        pairs_run=sum(p.pairs_run for p in parts), seconds=sum(p.seconds for p in parts),
        **{k: np.concatenate([getattr(empty, k), *(getattr(p, k) for p in parts)]) for k in FIELDS})


@dataclass(frozen=True)
class _ShardJob:
    path: Path
    sites: np.ndarray


def _run_shard(job: _ShardJob, campaign: FaultCampaign, progress: Callable[[float], None] | None = None
               ) -> CampaignResult:
    """One shard, written atomically when done (on a Dask worker too: the shard directory is shared)."""
    started = time.perf_counter()
    part = campaign.run(job.sites, progress=progress)
    part.seconds = time.perf_counter() - started
    with replacing(job.path) as tmp, open(tmp, "wb") as f:
        np.savez(f, sites=part.sites, pairs_run=part.pairs_run, seconds=part.seconds,
                 **{k: getattr(part, k) for k in FIELDS})
    return part


def _read_shard(path: Path, sites: np.ndarray) -> CampaignResult | None:
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            if not np.array_equal(data["sites"], sites):
                return None
            arrays = {k: data[k] for k in FIELDS}
            pairs, seconds = int(data["pairs_run"]), float(data["seconds"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # cut off by a crash: compute it again
        return None
    return CampaignResult(sites=sites, samples=[], n_events=np.empty(0), score_events=np.empty(0),
                          nominal_accepted=np.empty(0), pairs_run=pairs, seconds=seconds, **arrays)
