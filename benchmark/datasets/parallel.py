"""Where generation tasks run: in this process, on a local Dask cluster, or on any Dask scheduler.

Tasks are independent, seeded and returned in submission order, so the merged result is identical whichever way they
run. Progress is reported per finished task.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from l1ad.errors import L1adError, first_line

WORKER_CHECK_SECONDS = 30


@dataclass(frozen=True)
class Execution:
    """``workers``: local worker processes (0 = run in this process); ``scheduler``: address of a running Dask scheduler
    (e.g. ``tcp://10.0.0.5:8786`` for a cluster started with dask-jobqueue), which overrides ``workers``;
    ``connect_timeout_s``: how long to wait for that scheduler (one that is still starting may need a while)."""

    workers: int = 0
    scheduler: str | None = None
    connect_timeout_s: float = 30.0

    @classmethod
    def default(cls) -> Execution:
        return cls(workers=max(1, os.cpu_count() or 1))


class _InProcess:
    def run(self, fn: Callable, jobs: Sequence, shared=None, on_done: Callable | None = None) -> list:
        results = []
        for job in jobs:
            results.append(fn(job, shared))
            if on_done is not None:
                on_done(job)
        return results


class _Dask:
    def __init__(self, client, *, owns_workers: bool):
        self.client = client
        self.owns_workers = owns_workers  # a LocalCluster of ours: no workers means they died, not "not yet started"

    def run(self, fn: Callable, jobs: Sequence, shared=None, on_done: Callable | None = None) -> list:
        from distributed import wait

        # hash=False: a fresh key per call, so a previous call releasing its copy cannot take this one with it
        shared_future = self.client.scatter(shared, broadcast=True, hash=False) if shared is not None else None
        futures = [self.client.submit(fn, job, shared_future, pure=False) for job in jobs]
        index = {f.key: i for i, f in enumerate(futures)}
        pending = set(futures)
        while pending:
            try:
                done, pending = wait(pending, timeout=WORKER_CHECK_SECONDS, return_when="FIRST_COMPLETED")
            except TimeoutError:
                if self.owns_workers and not self.client.scheduler_info()["workers"]:
                    raise L1adError("the local Dask cluster lost all its workers (killed or out of memory)") from None
                continue
            for future in done:
                if future.status == "error":
                    exc = future.exception()
                    if isinstance(exc, L1adError):
                        raise exc
                    raise L1adError(f"a generation task failed on a Dask worker: {type(exc).__name__}: "
                                    f"{first_line(exc)}") from None
                if on_done is not None:
                    on_done(jobs[index[future.key]])
        return self.client.gather(futures)


@contextmanager
def executor(execution: Execution) -> Iterator[_InProcess | _Dask]:
    if execution.scheduler is None and execution.workers <= 0:
        yield _InProcess()
        return
    import dask
    from distributed import Client, LocalCluster

    try:
        if execution.scheduler is not None:
            client = Client(execution.scheduler, timeout=f"{execution.connect_timeout_s}s")
            cluster = None
        else:
            # One thread per worker process: Pythia and numpy tasks are CPU-bound and hold the GIL. Dask starts its
            # workers with MALLOC_TRIM_THRESHOLD_=65536, which turns off glibc's adaptive mmap threshold: every
            # megabyte-sized numpy temporary of the emulation is then a fresh mmap with page faults, and generation ran
            # 2.3x slower on a worker than in this process (measured). Our tasks free their memory at the end anyway.
            # Workers load this module first (dask_setup below), so a Ctrl-C reaches only this process, which
            # then shuts them down. Logs only at CRITICAL: a worker whose scheduler closes first logs its failed
            # heartbeat with a traceback at ERROR (seen in CI on a Ctrl-C); task errors reach us through their futures
            # and lost workers through the check in run(), each as one line.
            with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
                cluster = LocalCluster(n_workers=execution.workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.CRITICAL, preload=[__name__])
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        raise L1adError(f"Dask scheduler {execution.scheduler or 'LocalCluster'}: {first_line(exc)}") from None
    try:
        yield _Dask(client, owns_workers=cluster is not None)
    except KeyboardInterrupt:
        logging.getLogger("distributed").setLevel(logging.CRITICAL)  # workers cut off mid-task: expected, not news
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def dask_setup(worker) -> None:
    """Run in every local worker process at start (Dask preload): ignore SIGINT, which a Ctrl-C sends to the whole
    process group; the main process handles it and closes the cluster."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
