"""Re-simulation: the jets of one parton-level event, hadronised several times (:func:`resimulate`).

Events are generated to parton level only; each copy re-runs string fragmentation and decays of the saved event, so the
copies of one jet differ only by non-perturbative effects (see the :mod:`l1ad.benchmark.jets` docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from l1ad.benchmark.generation.pythia import pythia_seed
from l1ad.benchmark.jets.clustering import antikt, nearest_jets, visible_particles
from l1ad.benchmark.jets.sample import JET_CLASSES, Jets, check_arguments, class_pythia, max_events
from l1ad.benchmark.jets.substructure import Constituents, constituent_image, features
from l1ad.benchmark.jets.truth import (
    Record,
    Targets,
    concatenate_records,
    final_state_of_event,
    find_targets,
    record_from_event,
)
from l1ad.errors import L1adError


@dataclass(frozen=True)
class ResimulatedJets:
    """``n_copies`` re-hadronised versions of the jets of ``n_jets`` parton-level events (axis 1 is the copy)."""

    constituents: np.ndarray  # float32 (n_jets, n_copies, n_constituents, 3), as in JetSample
    features: np.ndarray  # float32 (n_jets, n_copies, len(FEATURE_NAMES))
    kinematics: np.ndarray  # float32 (n_jets, n_copies, 4)
    labels: np.ndarray  # int8 (n_jets,)
    domain: str


def resimulate(
    n_jets: int,
    n_copies: int,
    seed: int,
    *,
    jet_class: str = "q",
    domain: str = "nominal",
    sqrt_s_tev: float = 13.6,
    pt_min: float = 500.0,
    pt_max: float = 1000.0,
    n_constituents: int = 32,
    progress: Callable[[int], object] | None = None,
) -> ResimulatedJets:
    """Jets of ``n_jets`` parton-level events of one class, each hadronised ``n_copies`` times.

    An event is kept only if every copy has a selected jet matched to the same generator-level object (the first such
    object of the event), so all copies pass the same cuts as :func:`~.sample.generate_jets`. Copies come out in the
    order they were hadronised. ``progress`` receives the number of events finished since its last call.
    """
    import pythia8mc

    check_arguments(domain, (jet_class,), pt_min, pt_max, n_constituents)
    if n_jets < 1 or n_copies < 1:
        raise L1adError(f"n_jets and n_copies must be at least 1, got {n_jets} and {n_copies}")
    # Stop after the parton shower; each copy is then hadronised from the saved parton-level event.
    seed_of_class = pythia_seed("resimulate", seed, domain, jet_class)
    pythia = class_pythia(jet_class, domain, sqrt_s_tev, pt_min, seed_of_class, ("HadronLevel:all = off",))
    kept: list[Jets] = []
    attempts = 0
    while len(kept) < n_jets:
        attempts += 1
        if attempts > max_events(n_jets):
            raise L1adError(f"too few {jet_class} jets in [{pt_min:g}, {pt_max:g}] GeV after {attempts - 1} events")
        if not pythia.next():
            continue
        saved = pythia8mc.Event(pythia.event)
        targets = find_targets(record_from_event(saved), jet_class)
        if len(targets.event) == 0:
            continue
        copies = _hadronise_copies(pythia, saved, targets, n_copies, pt_min, pt_max, n_constituents)
        if copies is not None:
            kept.append(copies)
            if progress is not None:
                progress(1)
    return ResimulatedJets(
        constituents=np.stack([j.constituents for j in kept]),
        features=np.stack([j.features for j in kept]),
        kinematics=np.stack([j.kinematics for j in kept]),
        labels=np.full(n_jets, JET_CLASSES.index(jet_class), dtype=np.int8),
        domain=domain,
    )


def _hadronise_copies(
    pythia, saved, targets: Targets, n_copies: int, pt_min: float, pt_max: float, n_constituents: int
) -> Jets | None:
    """Hadronise ``saved`` ``n_copies`` times and return, for each copy, the jet of the first target that has a
    selected jet in every copy; None if no target has."""
    finals: list[Record] = []
    for copy in range(n_copies):
        pythia.event.assign(saved)
        if not pythia.forceHadronLevel():
            return None
        finals.append(final_state_of_event(pythia.event))
        # Most rejected events already fail in the first copy; do not hadronise them n_copies times.
        if copy == 0 and (
            nearest_jets(antikt(visible_particles(finals[0]), pt_min), targets, pt_min, pt_max) < 0
        ).all():
            return None
    visible = visible_particles(concatenate_records(finals))
    jets = antikt(visible, pt_min)
    n_targets = len(targets.event)
    # Every target once per copy: entry copy * n_targets + t lives in event (copy) of the concatenated record.
    replicated = Targets(
        np.repeat(np.arange(n_copies), n_targets),
        *(np.tile(getattr(targets, f), (n_copies,) + (1,) * (getattr(targets, f).ndim - 1))
          for f in ("eta", "phi", "prong_eta", "prong_phi")),
    )
    matched = nearest_jets(jets, replicated, pt_min, pt_max).reshape(n_copies, n_targets)
    in_all = np.flatnonzero((matched >= 0).all(axis=0))
    if len(in_all) == 0:
        return None
    chosen = matched[:, in_all[0]]
    const = Constituents.of_jets(jets, chosen, visible)
    return Jets(
        constituents=constituent_image(const, jets.kinematics[chosen], n_constituents),
        features=features(const).astype(np.float32),
        kinematics=jets.kinematics[chosen].astype(np.float32),
    )
