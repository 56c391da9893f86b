"""The jets sample: jet classes, their Pythia set-up, and :func:`generate_jets`, which collects the selected jets.

Each class has its own Pythia instance (:func:`class_pythia`) with only the hard processes that give that jet type; the
events are clustered and matched (:mod:`.clustering`) to the class's generator-level objects (:mod:`.truth`), and the
selected jets turned into constituent images and features (:mod:`.substructure`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from l1ad.benchmark.generation.pythia import new_pythia, pythia_seed
from l1ad.benchmark.jets.clustering import antikt, match, visible_particles
from l1ad.benchmark.jets.substructure import Constituents, constituent_image, features
from l1ad.benchmark.jets.truth import Record, Targets, find_targets, record_from_batch
from l1ad.config.processes import JET_DOMAINS
from l1ad.errors import L1adError

JET_CLASSES: tuple[str, ...] = ("q", "g", "W", "Z", "t")

PTHAT_FRACTION = 0.9  # PhaseSpace:pTHatMin as a fraction of pt_min

_HADRONIC_W = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")
_CLASS_SETTINGS: dict[str, tuple[str, ...]] = {
    "q": ("HardQCD:qg2qg = on", "HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on"),
    "g": ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"),
    "W": ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", *_HADRONIC_W),
    "Z": (
        "WeakBosonAndParton:qqbar2gmZg = on",
        "WeakBosonAndParton:qg2gmZq = on",
        "WeakZ0:gmZmode = 2",
        "23:onMode = off",
        "23:onIfAny = 1 2 3 4 5",
    ),
    "t": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_HADRONIC_W),
}


@dataclass(frozen=True)
class JetSample:
    """``N`` jets: constituents relative to the jet axis, high-level features, class labels and jet kinematics."""

    constituents: np.ndarray  # float32 (N, n_constituents, 3): pT / jet pT, eta - jet eta, phi - jet phi; pT-ordered
    features: np.ndarray  # float32 (N, len(FEATURE_NAMES))
    labels: np.ndarray  # int8 (N,): index into JET_CLASSES
    kinematics: np.ndarray  # float32 (N, 4): jet pT [GeV], eta, phi, mass [GeV]
    domain: str


@dataclass(frozen=True)
class Jets:
    """Selected jets of one class, unlabelled: the arrays of a :class:`JetSample` without ``labels``."""

    constituents: np.ndarray
    features: np.ndarray
    kinematics: np.ndarray


def generate_jets(
    n_per_class: int,
    seed: int,
    *,
    domain: str = "nominal",
    sqrt_s_tev: float = 13.6,
    pt_min: float = 500.0,
    pt_max: float = 1000.0,
    n_constituents: int = 32,
    classes: Sequence[str] = JET_CLASSES,
    progress: Callable[[int], object] | None = None,
) -> JetSample:
    """``n_per_class`` jets of each class in ``classes`` (all five by default), shuffled deterministically.

    Jets are selected with ``pt_min <= pT <= pt_max``; ``n_constituents`` is the number of leading constituents kept
    in ``constituents`` (features always use all of them). Each class has its own Pythia seed derived from ``seed``,
    ``domain`` and the class, so asking for fewer classes does not change the jets of the others. ``progress`` is an
    optional callable receiving the number of jets collected since its last call.
    """
    check_arguments(domain, classes, pt_min, pt_max, n_constituents)
    if n_per_class < 1:
        raise L1adError(f"n_per_class must be at least 1, got {n_per_class}")
    parts = []
    for jet_class in classes:
        pythia = class_pythia(jet_class, domain, sqrt_s_tev, pt_min, pythia_seed("jets", seed, domain, jet_class))
        jets = _collect(pythia, jet_class, n_per_class, pt_min, pt_max, n_constituents, progress)
        parts.append((jets, np.full(n_per_class, JET_CLASSES.index(jet_class), dtype=np.int8)))
    order = np.random.default_rng(pythia_seed("jets-shuffle", seed, domain)).permutation(n_per_class * len(parts))
    return JetSample(
        constituents=np.concatenate([j.constituents for j, _ in parts])[order],
        features=np.concatenate([j.features for j, _ in parts])[order],
        labels=np.concatenate([labels for _, labels in parts])[order],
        kinematics=np.concatenate([j.kinematics for j, _ in parts])[order],
        domain=domain,
    )


def check_arguments(domain: str, classes: Sequence[str], pt_min: float, pt_max: float, n_constituents: int) -> None:
    """Raise a one-line :class:`L1adError` for an unknown domain or class, or an impossible cut."""
    if domain not in JET_DOMAINS:
        raise L1adError(f"unknown jet domain {domain!r}; known: {', '.join(JET_DOMAINS)}")
    for jet_class in classes:
        if jet_class not in JET_CLASSES:
            raise L1adError(f"unknown jet class {jet_class!r}; known: {', '.join(JET_CLASSES)}")
    if not classes or len(set(classes)) != len(classes):
        raise L1adError(f"jet classes must be distinct and at least one, got {list(classes)}")
    if not 0 < pt_min < pt_max:
        raise L1adError(f"need 0 < pt_min < pt_max, got {pt_min:g} and {pt_max:g}")
    if n_constituents < 1:
        raise L1adError(f"n_constituents must be at least 1, got {n_constituents}")


def class_pythia(jet_class: str, domain: str, sqrt_s_tev: float, pt_min: float, seed: int,
                 extra: tuple[str, ...] = ()):
    """A Pythia instance with the hard processes of ``jet_class``, the ``domain`` settings and ``extra``."""
    settings = (f"PhaseSpace:pTHatMin = {PTHAT_FRACTION * pt_min:g}", *_CLASS_SETTINGS[jet_class], *JET_DOMAINS[domain],
                *extra)
    return new_pythia(settings, seed=seed, sqrt_s_tev=sqrt_s_tev, what=f"jet class {jet_class!r}")


def max_events(n_jets: int) -> int:
    """Events to try before giving up on finding ``n_jets`` jets."""
    # A working setup keeps well above one jet in twenty events; far below that, the cuts cannot be met (pt_min beyond
    # the beam energy's reach, say) and looping on would never end.
    return 50 * n_jets + 2000


def _collect(pythia, jet_class: str, n_jets: int, pt_min: float, pt_max: float, n_constituents: int, progress) -> Jets:
    """Run ``pythia`` until ``n_jets`` selected jets are found.

    Jets are taken in event order and Pythia's event sequence does not depend on the batch sizes, so the adaptive
    batching changes the speed only: the first ``n`` jets of a longer run are the jets of a run asking for ``n``.
    """
    found: list[Jets] = []
    n_found, n_events, batch = 0, 0, 50
    while n_found < n_jets:
        if n_events > max_events(n_jets):
            raise L1adError(f"too few {jet_class} jets in [{pt_min:g}, {pt_max:g}] GeV after {n_events} events")
        events = pythia.nextBatch(batch)
        if len(events) == 0:
            raise L1adError(f"Pythia produced no events for jet class {jet_class!r}")
        n_events += len(events)
        rec = record_from_batch(events.prt)
        jets = _select_jets(rec, find_targets(rec, jet_class), pt_min, pt_max, n_constituents, n_jets - n_found)
        found.append(jets)
        n_found += len(jets.features)
        if progress is not None and len(jets.features):
            progress(len(jets.features))
        per_event = max(n_found, 1) / n_events
        batch = int(np.clip(1.2 * (n_jets - n_found) / per_event, 10, 500))
    return Jets(*(np.concatenate([getattr(j, f) for j in found]) for f in ("constituents", "features", "kinematics")))


def _select_jets(
    rec: Record, targets: Targets, pt_min: float, pt_max: float, n_constituents: int, limit: int
) -> Jets:
    """Cluster the visible final state of every event of ``rec`` and keep up to ``limit`` jets matched to targets."""
    visible = visible_particles(rec)
    jets = antikt(visible, pt_min)
    chosen = match(jets, targets, pt_min, pt_max)[:limit]
    const = Constituents.of_jets(jets, chosen, visible)
    return Jets(
        constituents=constituent_image(const, jets.kinematics[chosen], n_constituents),
        features=features(const).astype(np.float32),
        kinematics=jets.kinematics[chosen].astype(np.float32),
    )
