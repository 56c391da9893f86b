"""The exceptions the command line turns into one line ``l1ad: error: ...`` and exit status 2.

Every problem with the user's input is an :class:`L1adError`; the subclasses name what kind of input it was, so a
caller (or a test) can tell a bad config from a corrupt data file without parsing messages. Every error about a file
names the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class L1adError(Exception):
    """A problem with the user's input (config, data file, model file, name) explained in one line."""


class ConfigError(L1adError):
    """A run config, dataset definition or command-line setting is invalid."""


class DataFileError(L1adError):
    """A data file (HDF5 sample, dataset manifest, scores) is missing, unreadable or malformed."""


class ModelFileError(L1adError):
    """A saved model directory is missing, unreadable, tampered with or of another format."""


class StageOutputError(L1adError):
    """A file one stage writes and a later stage reads is malformed."""


class MissingStageOutput(StageOutputError):
    """A stage needs an earlier stage's output that is not there; the message says which command makes it."""

    def __init__(self, path: str | Path, what: str, command: str):
        super().__init__(f"{path}: no {what}; run '{command}' first")
        self.path, self.what, self.command = Path(path), what, command


class NotConvertibleError(L1adError):
    """The detector has no network the firmware (hls4ml) stage can convert; the message says why."""


class DivergedModelError(L1adError):
    """A model produced NaN or Inf scores (it diverged in training, or its weights are damaged)."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (or its type), for one-line error reports."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) collapsed to one space."""
    return " ".join(text.split())


def describe_validation_error(exc: ValidationError) -> str:
    """One line for a pydantic error: the dotted key of the first problem and what is wrong with it."""
    err = exc.errors()[0]
    where = one_line(".".join(str(p) for p in err["loc"])) or "(top level)"  # a key may hold a newline
    message = {"missing": "missing required key", "extra_forbidden": "unknown key"}.get(err["type"], err["msg"])
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    return f"{where}: {one_line(message)}{more}"
