"""Active latent units of every trained VAE of a run: the posterior-collapse check of the VAE baselines.

    python scripts/vae_active_units.py RUN_DIR [--models a,b] [--threshold 0.01]

RUN_DIR is an output directory of 'l1ad bench' or 'l1ad run' (dataset/, models/). For each VAE, Var[mu_i] over the
background test events of each latent mean; a unit is active when it exceeds the threshold (Burda et al.,
arXiv:1509.00519). Nothing is asserted; the numbers go to the README.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from l1ad.benchmark.datasets.dataset import load_dataset
from l1ad.config import MODELS
from l1ad.models.io import read_card
from l1ad.models.registry import load_detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--models", default=None, help="comma-separated labels (default: every VAE)")
    parser.add_argument("--threshold", type=float, default=0.01)
    args = parser.parse_args()

    dataset = load_dataset(args.run_dir / "dataset")
    background = dataset.background("test")
    wanted = set(args.models.split(",")) if args.models else None
    print(f"{'model':<18}{'beta':>6}{'active':>9}  Var[mu_i] on {len(background.particles):,} background test events")
    for directory in sorted(p for p in (args.run_dir / "models").iterdir() if (p / "model.json").is_file()):
        card = read_card(directory)
        if (wanted is not None and directory.name not in wanted) or not MODELS[card.model.name].variational:
            continue
        detector = load_detector(directory)
        variances = detector.latent_variances(detector.inputs_of(background))
        beta = MODELS[card.model.name].param(card.model, "beta")
        active = int((variances > args.threshold).sum())
        print(f"{directory.name:<18}{beta:>6g}{active:>5} of {len(variances):<2}  "
              + " ".join(f"{v:.3g}" for v in np.sort(variances)[::-1]))


if __name__ == "__main__":
    main()
