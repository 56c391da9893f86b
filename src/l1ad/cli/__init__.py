"""The ``l1ad`` command: one module per command group, each only parsing arguments and calling the library.

Problems with the user's input end as one line ``l1ad: error: ...`` on stderr and exit status 2. Handlers import the
library when they run, so ``l1ad --help`` does not wait for MLflow, h5py or awkward to load.
"""

from __future__ import annotations

import argparse
import os
import sys

from l1ad import __version__
from l1ad.cli import bench, config, data, distill, robustness, stages
from l1ad.errors import L1adError
from l1ad.progress import QUIET

GROUPS = (data, stages, bench, distill, robustness, config)


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line too, like every other error."""

    def error(self, message: str):
        self.exit(2, f"l1ad: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="l1ad",
        description="l1ad-bench: anomaly-detection triggers from data to firmware to leaderboard.",
    )
    parser.add_argument("--version", action="version", version=f"l1ad-bench {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # TensorFlow's C++ start-up messages (CUDA plugins absent on a CPU-only machine) are not for users.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    if args.quiet:
        os.environ[QUIET] = "1"
    try:
        return args.handler(args) or 0
    except L1adError as exc:
        print(f"l1ad: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("l1ad: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
