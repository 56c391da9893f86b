"""Boosted-jet samples for jet taggers (q, g, W, Z, t), in the spirit of the hls4ml jet dataset (OpenML 42468).

Physics choices
---------------
* One Pythia 8 instance per class, each with only the hard processes that give that jet type, at 13.6 TeV by default
  and ``PhaseSpace:pTHatMin`` at 90 % of ``pt_min`` (final-state radiation out of the cone makes most selected jets come
  from partons somewhat above the jet pT, so the generator cut has to sit below the jet cut):

  - ``q``: ``HardQCD:qg2qg``, ``qq2qq``, ``qqbar2qqbarNew``; the jet must match an outgoing light quark (u, d, s) of the
    2 -> 2 scattering. Charm and bottom jets are not counted as quark jets, as in the hls4ml sample.
  - ``g``: ``HardQCD:gg2gg``, ``qqbar2gg``; the jet must match an outgoing gluon of the 2 -> 2 scattering.
  - ``W``: ``WeakBosonAndParton:qqbar2Wg``, ``qg2Wq`` with W -> q q'; ``Z``: ``qqbar2gmZg``, ``qg2gmZq`` with pure Z
    exchange (``WeakZ0:gmZmode = 2``, no photon continuum) and Z -> q qbar (b included).
  - ``t``: ``Top:gg2ttbar``, ``qqbar2ttbar`` with W -> q q' for both tops.

* Visible final-state particles (everything stable except neutrinos and the usual BSM invisibles) with |eta| < 2.5 are
  clustered with anti-kT, R = 0.8 (fastjet). A jet is kept if pt_min <= pT <= pt_max, |eta| < 2.0, and it is the jet
  nearest to a generator-level object of the class within Delta R < 0.8. For W, Z and t the object is the last copy of
  the boson or top (its direction after initial-state recoil) and, in addition, all quarks of its decay (b and both W
  quarks for the top) must lie within Delta R < 0.8 of the jet axis, so the decay is contained in the jet. Every jet
  of an event that passes is kept (two per event is common for q, g and t), which correlates jet pairs slightly.
* Particles with c tau > 10 mm (K0S, Lambda, ...) are left undecayed, as a detector would see them. There is no
  detector simulation, pile-up or underlying-event subtraction: constituents are generator-level particles.

Features (``FEATURE_NAMES``)
----------------------------
All are computed from *all* constituents of the jet unless stated; names follow the hls4ml dataset where the quantity is
the same, but hls4ml computes its correlation functions on the mMDT-groomed jet, while here they are computed on the
ungroomed jet, hence the names without ``_mmdt``:

``j_mass``: jet mass; ``j_mass_mmdt``: modified mass-drop (soft drop, z_cut = 0.1, beta = 0, R0 = 0.8) mass after
Cambridge/Aachen reclustering, from fastjet-contrib's SoftDrop through fastjet's awkward interface;
``j_multiplicity``: number of constituents; ``j_tau{1,2,3}_b1``: N-subjettiness with beta = 1, normalised measure
(R0 = 0.8) and one-pass-minimised exclusive-kT axes (fastjet-contrib Nsubjettiness), and the ratios ``j_tau21_b1``,
``j_tau32_b1``; ``j_c1_b1`` = e2 (beta = 1), ``j_c2_b{1,2}`` = e3 / e2^2 and ``j_d2_b{1,2}`` = e3 / e2^3, the
normalised energy-correlation functions with momentum fractions z = pT_i / sum pT and Delta R in (eta, phi), computed
with numpy on the ``ECF_CONSTITUENTS`` = 32 leading constituents only (exact O(n^3) sums; the softer rest changes them
little); ``j_zlogz`` = sum z ln z; ``j_ptd`` = sqrt(sum pT_i^2) / sum pT_i (pT dispersion); ``j_girth`` = sum z_i
Delta R(i, jet axis).

Domains
-------
``JET_DOMAINS`` maps a domain name to extra Pythia settings. ``nominal`` is Pythia's default (Monash 2013) tune;
``alternative`` is a cheap stand-in for "data" made of a tune variation (see the comment at ``JET_DOMAINS``). A different
shower model (Vincia, Dire) would be a more realistic second domain but costs ~15x the generation time here.

Re-simulation
-------------
:func:`resimulate` generates events to parton level only and re-runs hadronisation (string fragmentation and decays) of
the same parton-level event several times, so the copies of one jet differ only by non-perturbative effects: the kind
of augmentation used for contrastive training (JetCLR-style "re-simulation"). The parton shower is not redone.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import awkward as ak
import numpy as np

from l1ad.benchmark.generation.pythia import is_visible, new_pythia, pythia_seed
from l1ad.benchmark.kinematics import delta_r, eta_phi, invariant_mass, wrap_phi
from l1ad.config.processes import JET_DOMAINS
from l1ad.errors import L1adError

JET_CLASSES: tuple[str, ...] = ("q", "g", "W", "Z", "t")
FEATURE_NAMES: tuple[str, ...] = (
    "j_mass",
    "j_mass_mmdt",
    "j_multiplicity",
    "j_tau1_b1",
    "j_tau2_b1",
    "j_tau3_b1",
    "j_tau21_b1",
    "j_tau32_b1",
    "j_c1_b1",
    "j_c2_b1",
    "j_c2_b2",
    "j_d2_b1",
    "j_d2_b2",
    "j_zlogz",
    "j_ptd",
    "j_girth",
)

JET_R = 0.8
MAX_PARTICLE_ETA = 2.5
MAX_JET_ETA = 2.0
MATCH_R = 0.8
MMDT_ZCUT = 0.1
ECF_CONSTITUENTS = 32
PTHAT_FRACTION = 0.9  # PhaseSpace:pTHatMin as a fraction of pt_min
# Re-clustering radius for a jet's own constituents: larger than any distance inside an R = 0.8 jet, so that C/A and
# kT exclusive clustering down to one jet really collects the whole jet.
_RECLUSTER_R = 10.0

_LIGHT_QUARKS = (1, 2, 3)
_DECAY_QUARKS = (1, 2, 3, 4, 5)
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
class ResimulatedJets:
    """``n_copies`` re-hadronised versions of the jets of ``n_jets`` parton-level events (axis 1 is the copy)."""

    constituents: np.ndarray  # float32 (n_jets, n_copies, n_constituents, 3), as in JetSample
    features: np.ndarray  # float32 (n_jets, n_copies, len(FEATURE_NAMES))
    kinematics: np.ndarray  # float32 (n_jets, n_copies, 4)
    labels: np.ndarray  # int8 (n_jets,)
    domain: str


# --------------------------------------------------------------------------------------------------- public functions


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
    _check_arguments(domain, classes, pt_min, pt_max, n_constituents)
    if n_per_class < 1:
        raise L1adError(f"n_per_class must be at least 1, got {n_per_class}")
    parts = []
    for jet_class in classes:
        pythia = _pythia(jet_class, domain, sqrt_s_tev, pt_min, pythia_seed("jets", seed, domain, jet_class))
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
    object of the event), so all copies pass the same cuts as :func:`generate_jets`. Copies come out in the order they
    were hadronised. ``progress`` receives the number of events finished since its last call.
    """
    import pythia8mc

    _check_arguments(domain, (jet_class,), pt_min, pt_max, n_constituents)
    if n_jets < 1 or n_copies < 1:
        raise L1adError(f"n_jets and n_copies must be at least 1, got {n_jets} and {n_copies}")
    # Stop after the parton shower; each copy is then hadronised from the saved parton-level event.
    seed_of_class = pythia_seed("resimulate", seed, domain, jet_class)
    pythia = _pythia(jet_class, domain, sqrt_s_tev, pt_min, seed_of_class, ("HadronLevel:all = off",))
    kept: list[_Jets] = []
    attempts = 0
    while len(kept) < n_jets:
        attempts += 1
        if attempts > _max_events(n_jets):
            raise L1adError(f"too few {jet_class} jets in [{pt_min:g}, {pt_max:g}] GeV after {attempts - 1} events")
        if not pythia.next():
            continue
        saved = pythia8mc.Event(pythia.event)
        targets = _targets(_record_from_event(saved), jet_class)
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


# ------------------------------------------------------------------------------------------------- Pythia and records


def _check_arguments(domain: str, classes: Sequence[str], pt_min: float, pt_max: float, n_constituents: int) -> None:
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


def _pythia(jet_class: str, domain: str, sqrt_s_tev: float, pt_min: float, seed: int, extra: tuple[str, ...] = ()):
    settings = (f"PhaseSpace:pTHatMin = {PTHAT_FRACTION * pt_min:g}", *_CLASS_SETTINGS[jet_class], *JET_DOMAINS[domain],
                *extra)
    return new_pythia(settings, seed=seed, sqrt_s_tev=sqrt_s_tev, what=f"jet class {jet_class!r}")


def _max_events(n_jets: int) -> int:
    # A working setup keeps well above one jet in twenty events; far below that, the cuts cannot be met (pt_min beyond
    # the beam energy's reach, say) and looping on would never end.
    return 50 * n_jets + 2000


@dataclass(frozen=True)
class _Record:
    """Pythia event records of several events, flat, with mother and daughter pointers made global (flat) indices."""

    id: np.ndarray
    status: np.ndarray
    mother1: np.ndarray
    daughter1: np.ndarray
    daughter2: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    offsets: np.ndarray  # int64 (n_events + 1,)

    @classmethod
    def build(cls, counts: np.ndarray, **columns: np.ndarray) -> _Record:
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        start = np.repeat(offsets[:-1], counts)
        # Pointer 0 is "none"; made global it points at the event's own entry 0 (id 90, the system), never a match.
        for name in ("mother1", "daughter1", "daughter2"):
            columns[name] = columns[name].astype(np.int64) + start
        return cls(**columns, offsets=offsets)

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    def event_of(self, index: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.offsets, index, side="right") - 1


def _record_from_batch(prt: ak.Array) -> _Record:
    def flat(x: ak.Array, dtype) -> np.ndarray:
        return ak.to_numpy(ak.flatten(x)).astype(dtype)

    return _Record.build(
        ak.to_numpy(ak.num(prt)),
        id=flat(prt.id, np.int64),
        status=flat(prt.status, np.int64),
        mother1=flat(prt.mother1, np.int64),
        daughter1=flat(prt.daughter1, np.int64),
        daughter2=flat(prt.daughter2, np.int64),
        px=flat(prt.p.px, np.float64),
        py=flat(prt.p.py, np.float64),
        pz=flat(prt.p.pz, np.float64),
        e=flat(prt.p.e, np.float64),
    )


def _record_from_event(event) -> _Record:
    rows = np.array(
        [(p.id(), p.status(), p.mother1(), p.daughter1(), p.daughter2(), p.px(), p.py(), p.pz(), p.e())
         for p in event.particles()]
    )
    names = ("id", "status", "mother1", "daughter1", "daughter2", "px", "py", "pz", "e")
    columns = {n: rows[:, i].astype(np.int64 if i < 5 else np.float64) for i, n in enumerate(names)}
    return _Record.build(np.array([len(rows)]), **columns)


def _final_state_of_event(event) -> _Record:
    """The final-state particles of one event as a record (pointers are meaningless and zeroed)."""
    rows = np.array([(p.id(), p.px(), p.py(), p.pz(), p.e()) for p in event.particles() if p.isFinal()])
    zeros = np.zeros(len(rows), dtype=np.int64)
    return _Record.build(
        np.array([len(rows)]), id=rows[:, 0].astype(np.int64), status=zeros + 1, mother1=zeros, daughter1=zeros,
        daughter2=zeros, px=rows[:, 1], py=rows[:, 2], pz=rows[:, 3], e=rows[:, 4],
    )


# ---------------------------------------------------------------------------------------- generator-level targets


@dataclass(frozen=True)
class _Targets:
    """Generator-level objects a jet must match: direction, and the directions of decay quarks it must contain."""

    event: np.ndarray  # int64 (T,)
    eta: np.ndarray  # (T,)
    phi: np.ndarray  # (T,)
    prong_eta: np.ndarray  # (T, 3); unused prongs repeat the object's own direction
    prong_phi: np.ndarray  # (T, 3)


def _targets(rec: _Record, jet_class: str) -> _Targets:
    if jet_class in ("q", "g"):
        return _parton_targets(rec, _LIGHT_QUARKS if jet_class == "q" else (21,))
    if jet_class == "t":
        return _top_targets(rec)
    return _boson_targets(rec, 24 if jet_class == "W" else 23)


def _parton_targets(rec: _Record, ids: tuple[int, ...]) -> _Targets:
    # Outgoing partons of the 2 -> 2 hard scattering: status (-)23 with the first incoming parton (local index 3) as
    # mother. Resonance decay products also carry status 23 but have the resonance as mother.
    local_mother = rec.mother1 - np.repeat(rec.offsets[:-1], np.diff(rec.offsets))
    selected = np.flatnonzero((np.abs(rec.status) == 23) & (local_mother == 3) & np.isin(np.abs(rec.id), ids))
    return _make_targets(rec, selected, np.empty((len(selected), 0), dtype=np.int64))


def _boson_targets(rec: _Record, boson_id: int) -> _Targets:
    # Decay quarks point to the last copy of the boson (after recoil from radiation) as their mother.
    quarks = np.flatnonzero(np.isin(np.abs(rec.id), _DECAY_QUARKS) & (np.abs(rec.id[rec.mother1]) == boson_id))
    bosons, prongs = _group_by_mother(rec, quarks, 2)
    return _make_targets(rec, bosons, prongs)


def _top_targets(rec: _Record) -> _Targets:
    # The last top copy decays to W b (rarely W s, W d); the quark is a direct daughter, the W decays after its own
    # recoil copies, so its quarks hang from the W's last copy.
    aid = np.abs(rec.id)
    top_quarks = np.flatnonzero(np.isin(aid, _DECAY_QUARKS) & (aid[rec.mother1] == 6))
    tops, b = _group_by_mother(rec, top_quarks, 1)
    first_w = np.flatnonzero((aid == 24) & (aid[rec.mother1] == 6))
    w_of_top = dict(zip(rec.mother1[first_w].tolist(), _last_copy(rec, first_w).tolist(), strict=True))
    w_quarks = np.flatnonzero(np.isin(aid, _DECAY_QUARKS) & (aid[rec.mother1] == 24))
    ws, w_prongs = _group_by_mother(rec, w_quarks, 2)
    prongs_of_w = dict(zip(ws.tolist(), w_prongs.tolist(), strict=True))
    keep = [i for i, t in enumerate(tops.tolist()) if w_of_top.get(t) in prongs_of_w]
    tops, b = tops[keep], b[keep]
    w = np.array([prongs_of_w[w_of_top[t]] for t in tops.tolist()], dtype=np.int64).reshape(len(tops), 2)
    return _make_targets(rec, tops, np.concatenate((b, w), axis=1))


def _group_by_mother(rec: _Record, daughters: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mothers with exactly ``n`` of the given daughters, in record order, and those daughters (M, n)."""
    order = np.argsort(rec.mother1[daughters], kind="stable")
    daughters = daughters[order]
    mothers, starts, count = np.unique(rec.mother1[daughters], return_index=True, return_counts=True)
    good = count == n
    return mothers[good], daughters[starts[good, None] + np.arange(n)].reshape(int(good.sum()), n)


def _last_copy(rec: _Record, index: np.ndarray) -> np.ndarray:
    index = index.copy()
    for _ in range(200):
        child = rec.daughter1[index]
        same = (rec.id[child] == rec.id[index]) & (child != index)
        if not same.any():
            break
        index[same] = child[same]
    return index


def _make_targets(rec: _Record, objects: np.ndarray, prongs: np.ndarray) -> _Targets:
    eta, phi = eta_phi(rec.px, rec.py, rec.pz)
    all_prongs = np.concatenate((prongs, np.repeat(objects[:, None], 3 - prongs.shape[1], axis=1)), axis=1)
    return _Targets(rec.event_of(objects), eta[objects], phi[objects], eta[all_prongs], phi[all_prongs])


# ------------------------------------------------------------------------------------------- clustering and matching


@dataclass(frozen=True)
class _Jets:
    constituents: np.ndarray
    features: np.ndarray
    kinematics: np.ndarray


def _collect(pythia, jet_class: str, n_jets: int, pt_min: float, pt_max: float, n_constituents: int, progress) -> _Jets:
    """Run ``pythia`` until ``n_jets`` selected jets are found.

    Jets are taken in event order and Pythia's event sequence does not depend on the batch sizes, so the adaptive
    batching changes the speed only: the first ``n`` jets of a longer run are the jets of a run asking for ``n``.
    """
    found: list[_Jets] = []
    n_found, n_events, batch = 0, 0, 50
    while n_found < n_jets:
        if n_events > _max_events(n_jets):
            raise L1adError(f"too few {jet_class} jets in [{pt_min:g}, {pt_max:g}] GeV after {n_events} events")
        events = pythia.nextBatch(batch)
        if len(events) == 0:
            raise L1adError(f"Pythia produced no events for jet class {jet_class!r}")
        n_events += len(events)
        rec = _record_from_batch(events.prt)
        jets = _select_jets(rec, _targets(rec, jet_class), pt_min, pt_max, n_constituents, n_jets - n_found)
        found.append(jets)
        n_found += len(jets.features)
        if progress is not None and len(jets.features):
            progress(len(jets.features))
        per_event = max(n_found, 1) / n_events
        batch = int(np.clip(1.2 * (n_jets - n_found) / per_event, 10, 500))
    return _Jets(*(np.concatenate([getattr(j, f) for j in found]) for f in ("constituents", "features", "kinematics")))


def _select_jets(
    rec: _Record, targets: _Targets, pt_min: float, pt_max: float, n_constituents: int, limit: int
) -> _Jets:
    """Cluster the visible final state of every event of ``rec`` and keep up to ``limit`` jets matched to targets."""
    visible = _visible(rec)
    jets = _antikt(visible, pt_min)
    chosen = _match(jets, targets, pt_min, pt_max)[:limit]
    const = jets.constituents_of(chosen, visible)
    return _Jets(
        constituents=_constituent_image(const, jets.kinematics[chosen], n_constituents),
        features=_features(const).astype(np.float32),
        kinematics=jets.kinematics[chosen].astype(np.float32),
    )


def _visible(rec: _Record) -> _Record:
    eta, _ = eta_phi(rec.px, rec.py, rec.pz)
    keep = is_visible(rec.status, rec.id) & (np.abs(eta) < MAX_PARTICLE_ETA)
    counts = np.bincount(rec.event_of(np.flatnonzero(keep)), minlength=rec.n_events)
    zeros = np.zeros(int(keep.sum()), dtype=np.int64)
    return _Record.build(
        counts, id=rec.id[keep], status=rec.status[keep], mother1=zeros, daughter1=zeros, daughter2=zeros,
        px=rec.px[keep], py=rec.py[keep], pz=rec.pz[keep], e=rec.e[keep],
    )


@dataclass(frozen=True)
class _ClusteredJets:
    event: np.ndarray  # (J,)
    kinematics: np.ndarray  # (J, 4): pT, eta, phi, m
    const_offsets: np.ndarray  # (J + 1,) into const_index
    const_index: np.ndarray  # flat indices into the clustered particle record

    def constituents_of(self, jets: np.ndarray, particles: _Record) -> _Constituents:
        counts = np.diff(self.const_offsets)[jets]
        index = self.const_index[_ranges(self.const_offsets[jets], counts)]
        return _Constituents.build(particles.px[index], particles.py[index], particles.pz[index], particles.e[index],
                                   counts)


def _antikt(particles: _Record, pt_min: float) -> _ClusteredJets:
    import fastjet

    events = _momenta_array(particles.px, particles.py, particles.pz, particles.e, np.diff(particles.offsets))
    cs = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R))
    # Both lists come from the same inclusive_jets(pt_min) of each event, so jets and constituent lists line up.
    jets = cs.inclusive_jets(pt_min)
    index = cs.constituent_index(pt_min)
    jets_per_event = ak.to_numpy(ak.num(jets))
    const_per_jet = ak.to_numpy(ak.flatten(ak.num(index, axis=2)))
    event = np.repeat(np.arange(particles.n_events), jets_per_event)
    const_index = ak.to_numpy(ak.flatten(index, axis=None)).astype(np.int64)
    const_index += np.repeat(particles.offsets[:-1][event], const_per_jet)
    px, py, pz, e = (ak.to_numpy(ak.flatten(jets[f])) for f in ("px", "py", "pz", "E"))
    eta, phi = eta_phi(px, py, pz)
    kinematics = np.stack((np.hypot(px, py), eta, phi, invariant_mass(px, py, pz, e)), axis=1)
    return _ClusteredJets(event, kinematics, np.concatenate(([0], np.cumsum(const_per_jet))), const_index)


def _momenta_array(px, py, pz, e, counts) -> ak.Array:
    flat = ak.zip({"px": px, "py": py, "pz": pz, "E": e}, with_name="Momentum4D")
    return ak.unflatten(flat, np.asarray(counts, dtype=np.int64))


def _match(jets: _ClusteredJets, targets: _Targets, pt_min: float, pt_max: float) -> np.ndarray:
    """Selected jets matched to targets, in target order, each jet once."""
    matched = _nearest_jets(jets, targets, pt_min, pt_max)
    chosen = matched[matched >= 0]
    # One jet can be nearest to two targets only if they are closer than the jet size; count it once.
    return chosen[np.sort(np.unique(chosen, return_index=True)[1])]


def _nearest_jets(jets: _ClusteredJets, targets: _Targets, pt_min: float, pt_max: float) -> np.ndarray:
    """For each target, its nearest jet if that is within MATCH_R, passes the cuts and contains the prongs; else -1."""
    n_events = int(max(jets.event.max(initial=-1), targets.event.max(initial=-1))) + 1
    jet_start = np.searchsorted(jets.event, np.arange(n_events))
    pair_count = np.bincount(jets.event, minlength=n_events)[targets.event]
    pair_target = np.repeat(np.arange(len(targets.event)), pair_count)
    pair_jet = _ranges(jet_start[targets.event], pair_count)
    pt, eta, phi = (jets.kinematics[pair_jet, k] for k in range(3))
    dr = delta_r(eta, phi, targets.eta[pair_target], targets.phi[pair_target])
    # Nearest jet per target: sort pairs by (target, distance) and take each target's first pair.
    order = np.lexsort((dr, pair_target))
    first = order[np.unique(pair_target[order], return_index=True)[1]]
    target = pair_target[first]
    prong_dr = delta_r(eta[first, None], phi[first, None], targets.prong_eta[target], targets.prong_phi[target])
    good = (
        (dr[first] < MATCH_R)
        & (prong_dr < MATCH_R).all(axis=1)
        & (pt[first] >= pt_min)
        & (pt[first] <= pt_max)
        & (np.abs(eta[first]) < MAX_JET_ETA)
    )
    result = np.full(len(targets.event), -1, dtype=np.int64)
    result[target[good]] = pair_jet[first[good]]
    return result


# ----------------------------------------------------------------------------------------------------- re-simulation


def _hadronise_copies(
    pythia, saved, targets: _Targets, n_copies: int, pt_min: float, pt_max: float, n_constituents: int
) -> _Jets | None:
    """Hadronise ``saved`` ``n_copies`` times and return, for each copy, the jet of the first target that has a
    selected jet in every copy; None if no target has."""
    finals: list[_Record] = []
    for copy in range(n_copies):
        pythia.event.assign(saved)
        if not pythia.forceHadronLevel():
            return None
        finals.append(_final_state_of_event(pythia.event))
        # Most rejected events already fail in the first copy; do not hadronise them n_copies times.
        if copy == 0 and (_nearest_jets(_antikt(_visible(finals[0]), pt_min), targets, pt_min, pt_max) < 0).all():
            return None
    visible = _visible(_concatenate_records(finals))
    jets = _antikt(visible, pt_min)
    n_targets = len(targets.event)
    # Every target once per copy: entry copy * n_targets + t lives in event (copy) of the concatenated record.
    replicated = _Targets(
        np.repeat(np.arange(n_copies), n_targets),
        *(np.tile(getattr(targets, f), (n_copies,) + (1,) * (getattr(targets, f).ndim - 1))
          for f in ("eta", "phi", "prong_eta", "prong_phi")),
    )
    matched = _nearest_jets(jets, replicated, pt_min, pt_max).reshape(n_copies, n_targets)
    in_all = np.flatnonzero((matched >= 0).all(axis=0))
    if len(in_all) == 0:
        return None
    chosen = matched[:, in_all[0]]
    const = jets.constituents_of(chosen, visible)
    return _Jets(
        constituents=_constituent_image(const, jets.kinematics[chosen], n_constituents),
        features=_features(const).astype(np.float32),
        kinematics=jets.kinematics[chosen].astype(np.float32),
    )


def _concatenate_records(records: list[_Record]) -> _Record:
    """Records of one event each, as one record of several events (pointers are dropped)."""
    counts = np.array([len(r.id) for r in records])
    zeros = np.zeros(int(counts.sum()), dtype=np.int64)
    columns = {n: np.concatenate([getattr(r, n) for r in records]) for n in ("id", "status", "px", "py", "pz", "e")}
    return _Record.build(counts, mother1=zeros, daughter1=zeros, daughter2=zeros, **columns)


# ---------------------------------------------------------------------------------------------- constituents, features


@dataclass(frozen=True)
class _Constituents:
    """Constituents of N jets, flat and pT-ordered within each jet, with the jet's four-momentum."""

    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    jet: np.ndarray  # owning jet of each constituent
    rank: np.ndarray  # 0 for the hardest constituent of its jet
    offsets: np.ndarray  # (N + 1,)
    jet_p4: np.ndarray  # (N, 4): px, py, pz, E

    @classmethod
    def build(cls, px, py, pz, e, counts: np.ndarray) -> _Constituents:
        counts = np.asarray(counts, dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(counts)))
        jet = np.repeat(np.arange(len(counts)), counts)
        pt = np.hypot(px, py)
        order = np.lexsort((-pt, jet))
        px, py, pz, e, pt = px[order], py[order], pz[order], e[order], pt[order]
        eta, phi = eta_phi(px, py, pz)
        p4 = np.stack([np.bincount(jet, weights=v, minlength=len(counts)) for v in (px, py, pz, e)], axis=1)
        rank = np.arange(len(jet)) - offsets[jet]
        return cls(px, py, pz, e, pt, eta, phi, jet, rank, offsets, p4)

    @property
    def n_jets(self) -> int:
        return len(self.offsets) - 1

    def jet_axis(self) -> tuple[np.ndarray, np.ndarray]:
        return eta_phi(self.jet_p4[:, 0], self.jet_p4[:, 1], self.jet_p4[:, 2])

    def padded(self, values: np.ndarray, n: int) -> np.ndarray:
        """(N, n) array of a per-constituent quantity for the ``n`` leading constituents, zero-padded."""
        out = np.zeros((self.n_jets, n), dtype=values.dtype)
        keep = self.rank < n
        out[self.jet[keep], self.rank[keep]] = values[keep]
        return out


def _constituent_image(const: _Constituents, kinematics: np.ndarray, n: int) -> np.ndarray:
    """(N, n, 3) float32: pT / jet pT, eta - jet eta, wrapped phi - jet phi of the ``n`` leading constituents."""
    jet_pt, jet_eta, jet_phi = kinematics[:, 0], kinematics[:, 1], kinematics[:, 2]
    rel = np.stack(
        (
            const.pt / jet_pt[const.jet],
            const.eta - jet_eta[const.jet],
            wrap_phi(const.phi - jet_phi[const.jet]),
        ),
        axis=1,
    )
    out = np.zeros((const.n_jets, n, 3), dtype=np.float32)
    keep = const.rank < n
    out[const.jet[keep], const.rank[keep]] = rel[keep]
    return out


def _features(const: _Constituents) -> np.ndarray:
    """(N, len(FEATURE_NAMES)) float64 features; see the module docstring for definitions."""
    n = const.n_jets
    if n == 0:
        return np.zeros((0, len(FEATURE_NAMES)))
    sum_pt = np.bincount(const.jet, weights=const.pt, minlength=n)
    z = const.pt / sum_pt[const.jet]
    axis_eta, axis_phi = const.jet_axis()
    dr_axis = delta_r(const.eta, const.phi, axis_eta[const.jet], axis_phi[const.jet])
    multiplicity = np.diff(const.offsets).astype(np.float64)
    zlogz = np.bincount(const.jet, weights=z * np.log(z, where=z > 0, out=np.zeros_like(z)), minlength=n)
    ptd = np.sqrt(np.bincount(const.jet, weights=const.pt**2, minlength=n)) / sum_pt
    girth = np.bincount(const.jet, weights=z * dr_axis, minlength=n)
    mass = invariant_mass(*const.jet_p4.T)
    mmdt, taus = _groomed_mass_and_nsubjettiness(const)
    tau21 = _ratio(taus[:, 1], taus[:, 0])
    tau32 = _ratio(taus[:, 2], taus[:, 1])
    e2_b1, e3_b1, e2_b2, e3_b2 = _energy_correlations(const, z)
    columns = {
        "j_mass": mass,
        "j_mass_mmdt": mmdt,
        "j_multiplicity": multiplicity,
        "j_tau1_b1": taus[:, 0],
        "j_tau2_b1": taus[:, 1],
        "j_tau3_b1": taus[:, 2],
        "j_tau21_b1": tau21,
        "j_tau32_b1": tau32,
        "j_c1_b1": e2_b1,
        "j_c2_b1": _ratio(e3_b1, e2_b1**2),
        "j_c2_b2": _ratio(e3_b2, e2_b2**2),
        "j_d2_b1": _ratio(e3_b1, e2_b1**3),
        "j_d2_b2": _ratio(e3_b2, e2_b2**3),
        "j_zlogz": zlogz,
        "j_ptd": ptd,
        "j_girth": girth,
    }
    return np.stack([columns[name] for name in FEATURE_NAMES], axis=1)


def _groomed_mass_and_nsubjettiness(const: _Constituents) -> tuple[np.ndarray, np.ndarray]:
    """mMDT mass (N,) and tau_1..3 with beta = 1 (N, 3) from fastjet-contrib, one "event" per jet."""
    import fastjet

    events = _momenta_array(const.px, const.py, const.pz, const.e, np.diff(const.offsets))
    cs = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.cambridge_algorithm, _RECLUSTER_R))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        groomed = cs.exclusive_jets_softdrop_grooming(njets=1, beta=0.0, symmetry_cut=MMDT_ZCUT, R0=JET_R)
        taus = cs.njettiness(njets=[1, 2, 3], beta=1.0, R0=JET_R, axes_definition="OnePass_KT_Axes")
    mmdt = np.nan_to_num(ak.to_numpy(groomed.msoftdrop).astype(np.float64), nan=0.0)
    return mmdt, ak.to_numpy(taus).astype(np.float64).reshape(const.n_jets, 3)


def _energy_correlations(const: _Constituents, z: np.ndarray) -> tuple[np.ndarray, ...]:
    """e2 and e3 for beta = 1 and 2 over the ECF_CONSTITUENTS leading constituents of each jet.

    With M_ij = Delta R_ij^beta (zero on the diagonal), sum_{i<j<k} z_i z_j z_k M_ij M_ik M_jk is one sixth of
    sum_ij z_i z_j M_ij (M diag(z) M)_ij, so e3 costs one batched matrix product instead of a triple loop.
    """
    n = ECF_CONSTITUENTS
    zz = const.padded(z, n)
    eta, phi = const.padded(const.eta, n), const.padded(const.phi, n)
    dr = np.hypot(eta[:, :, None] - eta[:, None, :], wrap_phi(phi[:, :, None] - phi[:, None, :]))
    results = []
    for beta in (1.0, 2.0):
        m = dr**beta
        w = zz[:, :, None] * zz[:, None, :] * m  # padded entries have z = 0 and drop out
        e2 = w.sum(axis=(1, 2)) / 2
        e3 = (w * ((m * zz[:, None, :]) @ m)).sum(axis=(1, 2)) / 6
        results += [e2, e3]
    return results[0], results[1], results[2], results[3]


# ------------------------------------------------------------------------------------------------------------ helpers


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + c) for each (start, count)."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return np.repeat(np.asarray(starts, dtype=np.int64) - offsets, counts) + np.arange(total)
