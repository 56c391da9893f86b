"""Named Pythia 8 processes and jet-simulation domains: the physics a dataset config may name.

Each process is a list of Pythia settings added to the common ones (beam energy, seed, long-lived hadrons stable as a
detector would see them). Names are what dataset configs refer to; the generation stage
(:mod:`l1ad.benchmark.generation`) turns them into Pythia instances.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Process:
    name: str
    description: str
    settings: tuple[str, ...]


PROCESSES: dict[str, Process] = {
    p.name: p
    for p in (
        Process(
            "minbias",
            "inelastic pp (non-diffractive + diffractive): one pile-up interaction; zero-bias background when overlaid",
            ("SoftQCD:inelastic = on",),
        ),
        Process(
            "pileup_hard",
            "hard QCD 2 -> 2 scattering above the pile-up stitching scale (the scale is set by the dataset): the pile-up "
            "interactions that are generated fresh for every crossing",
            ("HardQCD:all = on",),
        ),
        Process("ttbar", "top-quark pair production, all decays", ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on")),
        Process(
            "htautau",
            "gluon-fusion scalar of 60 GeV decaying to tau pairs (like ADC2021's h0(60)->tau tau)",
            ("HiggsSM:gg2H = on", "25:m0 = 60", "25:onMode = off", "25:onIfMatch = 15 -15"),
        ),
        Process(
            "ato4l",
            "spin-0 resonance of 50 GeV (Pythia's h0 with its mass moved) -> Z* Z* -> 4 leptons (e, mu), like ADC2021's "
            "A(50)->4l",
            ("HiggsSM:gg2H = on", "25:m0 = 50", "25:mMin = 40", "25:mMax = 60", "25:onMode = off",
             "25:onIfMatch = 23 23", "23:onMode = off", "23:onIfAny = 11 13"),
        ),
        Process(
            "lq_btau",
            "pair-produced scalar leptoquark of 80 GeV decaying to b tau (like ADC2021's LQ(80)->b tau)",
            ("LeptoQuark:gg2LQLQbar = on", "LeptoQuark:qqbar2LQLQbar = on", "42:m0 = 80", "42:0:products = 5 -15"),
        ),
        Process(
            "hplus_taunu",
            "charged scalar of 60 GeV in s-channel production (c sbar -> H+) decaying to tau nu (like ADC2021's "
            "h+(60)->tau nu)",
            ("Higgs:useBSM = on", "HiggsBSM:ffbar2H+- = on", "37:m0 = 60", "37:onMode = off", "37:onIfAny = 15"),
        ),
        Process(
            "qcd",
            "QCD 2 -> 2 scattering (all hard QCD processes) with pT-hat > 30 GeV; the lepton pre-selection keeps the "
            "events with a lepton or an isolated photon-like deposit (heavy-flavour decays, pi0/eta photons). Events "
            "below pT-hat 30 GeV pass far less often (about 0.1 % against 0.8 %) and are left out: a documented bias",
            ("HardQCD:all = on", "PhaseSpace:pTHatMin = 30"),
        ),
        Process(
            "wlnu",
            "W -> l nu (e, mu, tau)",
            ("WeakSingleBoson:ffbar2W = on", "24:onMode = off", "24:onIfAny = 11 13 15"),
        ),
        Process(
            "zll",
            "Drell-Yan Z/gamma* -> ee or mumu with m(ll) > 60 GeV",
            (
                "WeakSingleBoson:ffbar2gmZ = on",
                "PhaseSpace:mHatMin = 60",
                "23:onMode = off",
                "23:onIfAny = 11 13",
            ),
        ),
    )
}

COMMON_SETTINGS: tuple[str, ...] = (
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Init:showChangedSettings = off",
    "Init:showProcesses = off",
    "Init:showChangedParticleData = off",
    "Print:quiet = on",
    # Particles with c*tau > 10 mm (K0S, Lambda, ...) reach the calorimeter undecayed, as in the detector.
    "ParticleDecays:limitTau0 = on",
    "ParticleDecays:tau0Max = 10",
    "Random:setSeed = on",
)

# Jet-simulation domains (``jets`` dataset): extra Pythia settings on top of a class's processes.
JET_DOMAINS: dict[str, tuple[str, ...]] = {
    "nominal": (),
    # Less final-state radiation (alpha_s(mZ) 0.1365 -> 0.13) and a harder Lund fragmentation function (a 0.68 -> 0.5,
    # b 0.98 -> 1.2): fewer, harder hadrons. Gluon-jet multiplicity drops by ~14 % and pT dispersion rises by ~8 %, the
    # direction and rough size of the known data/Pythia differences for gluon jets, at Pythia's speed.
    "alternative": ("TimeShower:alphaSvalue = 0.13", "StringZ:aLund = 0.5", "StringZ:bLund = 1.2"),
}
