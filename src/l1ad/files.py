"""Writing files so that a crash or bad input never leaves a half-written file where a good one was expected, and
reading the typed JSON files stages hand to each other."""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from l1ad.errors import L1adError, MissingStageOutput, StageOutputError, describe_validation_error, first_line

M = TypeVar("M", bound=BaseModel)


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block finishes without an error
    (an interrupt included). The temporary name is unique, so concurrent writers never share one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def write_text_atomic(path: str | Path, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text)


@contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """An exclusive inter-process lock held while the block runs (``fcntl.flock`` on ``path``, created if needed):
    read-modify-write of a shared file under it cannot lose another process's update."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_json_model(path: str | Path, model: type[M], what: str, *, missing: str | None = None,
                    error: type[L1adError] = StageOutputError, schema: str | None = None,
                    regenerate: str = "write it again") -> M:
    """Read and validate a JSON file written by a stage; every problem is one line naming the file.

    ``what`` names the file's role in messages ("metrics", "firmware report"); ``missing`` is the command that writes
    the file, for the message when it does not exist; ``error`` is the exception type raised for a bad file.
    ``schema`` is the version tag the file must carry (``l1ad-metrics/2``): a file of another version of the same
    family is refused with one line saying so and ``regenerate`` (how to write it again), not with the field-level
    complaints its older layout would raise.
    """
    path = Path(path)
    if not path.is_file():
        if missing is not None:
            raise MissingStageOutput(path, what, missing)
        raise error(f"{path}: no such {what} file")
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise error(f"{path}: corrupt {what} ({first_line(exc)})") from None
    except OSError as exc:
        raise error(f"{path}: unreadable {what} ({first_line(exc)})") from None
    if schema is not None:
        found = data.get("schema") if isinstance(data, dict) else None
        family = schema.rsplit("/", 1)[0] + "/"
        if isinstance(found, str) and found != schema and found.startswith(family):
            raise error(f"{path}: {what} of schema {found[:40]!r}, this version of l1ad reads {schema}; {regenerate}")
    return validate_model(data, model, f"{path}: invalid {what}", error=error)


def validate_model(data: object, model: type[M], context: str, *, error: type[L1adError] = StageOutputError) -> M:
    """``model.model_validate(data)`` of parsed JSON, with a one-line error starting with ``context``.

    Validation is in pydantic's JSON mode (arrays are accepted for tuples), as strict as for a JSON document.
    """
    try:
        return model.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        raise error(f"{context} ({describe_validation_error(exc)})") from None


def write_json_model(path: str | Path, value: BaseModel) -> None:
    """Write a typed result as indented JSON, atomically (field aliases such as ``schema`` are used)."""
    write_text_atomic(path, value.model_dump_json(indent=2, by_alias=True) + "\n")
