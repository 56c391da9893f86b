"""MLflow experiment tracking for every stage.

Default store: a SQLite tracking database and an artifact folder inside the run's output directory. The environment
variable ``MLFLOW_TRACKING_URI`` or the CLI's ``--tracking-uri`` point it at any MLflow server instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from l1ad.errors import L1adError, first_line


def tracking_uri(output_dir: str | Path, override: str | None = None) -> str:
    if override:
        return override
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{(Path(output_dir) / 'mlflow.db').resolve()}"


@contextlib.contextmanager
def stage_run(
    *, uri: str, experiment: str, stage: str, output_dir: str | Path, tags: Mapping[str, str] | None = None
) -> Iterator[object]:
    """An MLflow run for one pipeline stage; the experiment is created with its artifacts under ``output_dir``."""
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(uri)
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
