"""Positive pairs for contrastive training: re-simulated copies of one event (RS3L) and jets of two domains matched by
the energy mover's distance (MACK).

The EMD here is the Wasserstein-1 distance in (eta, phi) between the jets' constituents weighted by pT / (sum of pT)
(both jets normalised to unit pT, so it is Komiske et al.'s EMD / R without its pT-difference term), solved exactly as a
linear programme (scipy HiGHS) on each jet's leading constituents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from l1ad.benchmark.jets.augment import augment, present
from l1ad.benchmark.jets.resimulation import ResimulatedJets
from l1ad.benchmark.jets.sample import JetSample
from l1ad.config.robustness import DomainMatch, JetAugmentations
from l1ad.errors import L1adError


def resimulation_pairs(resimulated: ResimulatedJets,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two different re-hadronised copies of each parton-level event, chosen at random: (first constituents (J, C,
    3), their jet pT (J,), second constituents, their jet pT), as :meth:`ViewPairs.join` takes them."""
    n_jets, n_copies = resimulated.constituents.shape[:2]
    if n_copies < 2:
        raise L1adError(f"re-simulation pairs need at least 2 copies of each event, the file has {n_copies}")
    first = rng.integers(0, n_copies, size=n_jets)
    second = (first + rng.integers(1, n_copies, size=n_jets)) % n_copies  # never the same copy
    rows = np.arange(n_jets)
    pt = resimulated.kinematics[..., 0]
    return (resimulated.constituents[rows, first], pt[rows, first], resimulated.constituents[rows, second],
            pt[rows, second])


def emd(a: np.ndarray, b: np.ndarray) -> float:
    """Energy mover's distance between two jets' constituents (C, 3) (see the module docstring)."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    a, b = a[present(a)].astype(np.float64), b[present(b)].astype(np.float64)
    if len(a) == 0 or len(b) == 0:
        raise L1adError("the EMD needs at least one constituent in each jet")
    na, nb = len(a), len(b)
    cost = np.sqrt(((a[:, None, 1:] - b[None, :, 1:]) ** 2).sum(axis=-1)).ravel()
    flows = np.arange(na * nb)
    rows = np.concatenate([flows // nb, na + flows % nb])  # sum over j of f_ij = w_i; sum over i of f_ij = w_j
    constraints = coo_matrix((np.ones(2 * na * nb), (rows, np.concatenate([flows, flows]))), shape=(na + nb, na * nb))
    supply = np.concatenate([a[:, 0] / a[:, 0].sum(), b[:, 0] / b[:, 0].sum()])
    result = linprog(cost, A_eq=constraints, b_eq=supply, bounds=(0, None), method="highs")
    if result.status != 0:
        raise L1adError(f"the EMD linear programme failed: {result.message}")
    return float(result.fun)


def match_domains(nominal: JetSample, alternative: JetSample, settings: DomainMatch, *,
                  progress: Callable[[int], object] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each of the first ``settings.jets`` nominal jets, the index of the alternative-domain jet with the smallest
    EMD among its ``settings.neighbours`` nearest neighbours in standardised high-level features, and that EMD.

    Labels are never read: the alternative domain stands in for unlabelled data.
    """
    from sklearn.neighbors import NearestNeighbors

    n = min(settings.jets, len(nominal.features))
    k = min(settings.neighbours, len(alternative.features))
    mean, std = alternative.features.mean(axis=0), alternative.features.std(axis=0) + 1e-9
    finder = NearestNeighbors(n_neighbors=k).fit((alternative.features - mean) / std)
    _, candidates = finder.kneighbors((nominal.features[:n] - mean) / std)
    m = settings.emd_constituents
    partner, distance = np.empty(n, dtype=np.int64), np.empty(n)
    for i in range(n):
        emds = [emd(nominal.constituents[i, :m], alternative.constituents[j, :m]) for j in candidates[i]]
        best = int(np.argmin(emds))
        partner[i], distance[i] = candidates[i, best], emds[best]
        if progress is not None:
            progress(1)
    return partner, distance


@dataclass(frozen=True)
class ViewPairs:
    """Positive pairs of jets (constituents and jet pT of each side); ``views`` gives them freshly augmented."""

    first: np.ndarray  # (P, C, 3)
    first_pt: np.ndarray  # (P,) GeV
    second: np.ndarray
    second_pt: np.ndarray
    counts: dict[str, int]  # pairs per source, in order

    @classmethod
    def join(cls, sources: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> ViewPairs:
        """Pairs of several sources: name -> (first, first_pt, second, second_pt)."""
        parts = list(sources.values())
        return cls(*(np.concatenate([p[k] for p in parts]) for k in range(4)),
                   counts={name: len(p[0]) for name, p in sources.items()})

    def __len__(self) -> int:
        return len(self.first)

    def views(self, rng: np.random.Generator, settings: JetAugmentations) -> tuple[np.ndarray, np.ndarray]:
        return (augment(self.first, self.first_pt, rng, settings), augment(self.second, self.second_pt, rng, settings))
