"""Progress bars for long work (generation, training, scoring), all silenced by ``l1ad --quiet`` (``L1AD_QUIET=1``)."""

from __future__ import annotations

import os

from tqdm.auto import tqdm

QUIET = "L1AD_QUIET"


def quiet() -> bool:
    return os.environ.get(QUIET, "") not in ("", "0")


def progress_bar(total: int, desc: str, unit: str, *, show: bool = True, **options) -> tqdm:
    """A tqdm bar on stderr, or a silent one when quiet (or not ``show``)."""
    return tqdm(total=total, desc=desc, unit=unit, disable=quiet() or not show, dynamic_ncols=True, **options)
