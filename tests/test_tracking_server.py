"""A real MLflow tracking server on 127.0.0.1: a stage logs to it over HTTP."""

import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "server_artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(1)
    else:
        proc.kill()
        pytest.fail("mlflow server did not start within 120 s")
    yield url, tmp_path
    proc.terminate()
    proc.wait(timeout=30)


def test_evaluate_logs_to_a_tracking_server(tiny_run, run_cli, mlflow_server):
    from mlflow.tracking import MlflowClient

    url, server_dir = mlflow_server
    code, _, err = run_cli("evaluate", "-c", "tiny", "-o", tiny_run.paths.root, "--tracking-uri", url)
    assert code == 0, err
    client = MlflowClient(tracking_uri=url)
    exp = client.get_experiment_by_name("l1ad/tiny")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1 and runs[0].data.tags["l1ad.stage"] == "evaluate"
    assert any(k.startswith("eff.ttbar.") for k in runs[0].data.metrics)
    assert list((server_dir / "server_artifacts").rglob("metrics.csv"))


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "10.255.255.1:5000"], ids=["refused", "unroutable"])
def test_unreachable_server_is_a_one_line_error_within_15_s(tiny_run, run_cli, monkeypatch, host):
    """Nothing set by the user: l1ad's own MLflow HTTP limits make a dead or unroutable server fail fast."""
    for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"):
        monkeypatch.delenv(name, raising=False)
    started = time.monotonic()
    code, _, err = run_cli("evaluate", "-c", "tiny", "-o", tiny_run.paths.root,
                           "--tracking-uri", "http://" + host.format(port=free_port()))
    assert time.monotonic() - started < 15
    assert code == 2 and err.startswith("l1ad: error: MLflow tracking at") and err.count("\n") == 1
