"""Boosted-jet samples for jet taggers (q, g, W, Z, t), in the spirit of the hls4ml jet dataset (OpenML 42468).

Modules
-------
One concept per module; each imports only the ones listed before it:

* :mod:`.truth`: Pythia event records as flat arrays (:class:`~.truth.Record`) and the generator-level objects a jet
  must match (:func:`~.truth.find_targets`).
* :mod:`.clustering`: visible final-state particles, anti-kT clustering (fastjet) and matching jets to those objects.
* :mod:`.substructure`: a jet's constituents, the constituent image and the high-level features (``FEATURE_NAMES``).
* :mod:`.sample`: the jet classes, their Pythia set-up and :func:`generate_jets`, which collects the selected jets.
* :mod:`.resimulation`: :func:`resimulate`, several hadronisations of the same parton-level event.

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

from l1ad.benchmark.jets.resimulation import ResimulatedJets, resimulate
from l1ad.benchmark.jets.sample import JET_CLASSES, JetSample, generate_jets
from l1ad.benchmark.jets.substructure import FEATURE_NAMES

__all__ = ["FEATURE_NAMES", "JET_CLASSES", "JetSample", "ResimulatedJets", "generate_jets", "resimulate"]
