"""MLflow experiment tracking for every stage.

Default store: a SQLite tracking database and an artifact folder inside the run's output directory. The environment
variable ``MLFLOW_TRACKING_URI`` or the CLI's ``--tracking-uri`` point it at any MLflow server instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

from l1ad.errors import L1adError, first_line

# MLflow's defaults (120 s per request, 7 retries with back-off) mean minutes of silence before an unreachable server
# is reported. These bound it to about ten seconds: one retry, five seconds per attempt (connecting included).
HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
}


def tracking_uri(output_dir: str | Path, override: str | None = None) -> str:
    if override:
        return override
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return default_store(output_dir)


def default_store(output_dir: str | Path) -> str:
    """The run directory's own SQLite tracking store."""
    return f"sqlite:///{(Path(output_dir) / 'mlflow.db').resolve()}"


@contextlib.contextmanager
def stage_run(
    *, uri: str, experiment: str, stage: str, output_dir: str | Path, tags: Mapping[str, str] | None = None
) -> Iterator[object]:
    """An MLflow run for one pipeline stage; the experiment is created with its artifacts under ``output_dir``."""
    for name, value in HTTP_LIMITS.items():  # fail fast on an unreachable server; the user's own settings win
        os.environ.setdefault(name, value)
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if uri == default_store(output_dir):
        rebase_local_store(Path(output_dir))
    users_uri = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    # MLflow exports the URI as MLFLOW_TRACKING_URI, where the next run in this process (another output directory)
    # would take it for the user's choice: put back what the user had.
    if users_uri is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = users_uri
    try:
        exp = mlflow.get_experiment_by_name(experiment)
        if exp is None:
            artifacts = None
            if uri.startswith("sqlite:") or uri.startswith("file:") or "://" not in uri:
                artifacts = (Path(output_dir) / "mlartifacts").resolve().as_uri()
            exp_id = mlflow.create_experiment(experiment, artifact_location=artifacts)
        else:
            exp_id = exp.experiment_id
    except Exception as exc:  # connection refused, bad URI, locked database ...
        raise L1adError(f"MLflow tracking at {uri}: {first_line(exc)}") from None
    with mlflow.start_run(experiment_id=exp_id, run_name=stage, tags={"l1ad.stage": stage, **(tags or {})}) as run:
        yield run


def rebase_local_store(output_dir: Path) -> None:
    """Point a run directory's own MLflow store at its own ``mlartifacts``.

    MLflow records artifact locations as absolute URIs, so a copied or moved run directory would go on writing its
    artifacts into the original. The default store is a SQLite file inside the run directory, so its experiments and
    runs are re-pointed here (nothing is done for a store that already points here, or for any other store).
    """
    db = output_dir / "mlflow.db"
    if not db.is_file():
        return
    here = (output_dir / "mlartifacts").resolve().as_uri()
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=30)) as con, con:
            for exp_id, location in con.execute("select experiment_id, artifact_location from experiments").fetchall():
                if location == here or not (location or "").endswith("/mlartifacts"):
                    continue
                con.execute("update experiments set artifact_location = ? where experiment_id = ?", (here, exp_id))
                con.execute("update runs set artifact_uri = ? || substr(artifact_uri, ?) where experiment_id = ? "
                            "and substr(artifact_uri, 1, ?) = ?", (here, len(location) + 1, exp_id, len(location), location))
    except sqlite3.Error as exc:
        raise L1adError(f"{db}: MLflow store unreadable ({first_line(exc)})") from None


def flatten_params(data: Mapping, prefix: str = "") -> dict[str, str]:
    """Nested config -> flat ``a.b.c`` keys, as MLflow params are flat strings."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_params(value, name + "."))
        else:
            out[name] = str(value)[:500]
    return out


def metric_key(*parts: str) -> str:
    """An MLflow metric name from parts such as a sample and a working point id (``ttbar.rate_10khz``)."""
    return ".".join(part.replace(" ", "_").replace("(", "").replace(")", "") for part in parts)
