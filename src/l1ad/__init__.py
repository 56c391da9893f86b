"""l1ad-bench: benchmark suite for real-time anomaly-detection triggers.

The pipeline stages live in one namespace:
``l1ad.benchmark`` (data, metrics) -> ``l1ad.models`` -> ``l1ad.distill`` -> ``l1ad.firmware`` -> ``l1ad.leaderboards``.
"""

from importlib.metadata import PackageNotFoundError, version

from l1ad.errors import L1adError

try:
    __version__ = version("l1ad-bench")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["L1adError", "__version__"]
