import os

import pytest

from l1ad.benchmark.datasets.parallel import Execution, executor
from l1ad.errors import L1adError

pytestmark = pytest.mark.slow


def _square(job, shared):
    return job * job + shared


def _die(job, shared):
    os._exit(1)  # the worker process disappears mid-task


def test_results_come_back_in_submission_order():
    seen = []
    with executor(Execution(workers=2)) as ex:
        assert ex.run(_square, list(range(12)), shared=100, on_done=seen.append) == [j * j + 100 for j in range(12)]
    assert sorted(seen) == list(range(12))


def test_in_process_execution_matches():
    with executor(Execution(workers=0)) as ex:
        assert ex.run(_square, [1, 2, 3], shared=1) == [2, 5, 10]


def test_a_dying_worker_is_a_clear_error_not_a_hang():
    with executor(Execution(workers=1)) as ex, pytest.raises(L1adError, match="failed on a Dask worker: KilledWorker"):
        ex.run(_die, [1], shared=None)


def test_unreachable_scheduler():
    with pytest.raises(L1adError, match="Dask scheduler tcp://127.0.0.1:9"), executor(
            Execution(scheduler="tcp://127.0.0.1:9", connect_timeout_s=2)):
        pass
