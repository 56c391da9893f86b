"""The ADC2021 lepton pre-selection on emulated trigger objects, and a cheap generator-level veto in front of it.

ADC2021 kept an event when its leading electron or leading muon had pT > 23 GeV (Govorkova et al., Sci. Data 9
(2022) 118, arXiv:2107.02157). Here the selection runs on the emulated Level-1 objects (e/gamma slots 1-4, muon slots
5-8, both pT-ordered), so it sees the same resolution, isolation and pile-up as the stored events.

Generating a process until enough events pass (QCD passes below 1 %) would spend most of its time emulating events with
no chance. :func:`could_pass` vetoes them from the hard interaction alone, before pile-up and emulation: an event can
only pass if its hard interaction has a muon, or a 3x3-tower EM deposit, above ``VETO_FRACTION`` of the threshold.
That margin covers resolution and the pile-up inside one e/gamma cluster many standard deviations over; the test
suite checks on real Pythia events that the veto removes no event the full selection keeps.
"""

from __future__ import annotations

import numpy as np

from l1ad.benchmark.generation.particles import KIND_EM, KIND_MUON, ParticleTable
from l1ad.benchmark.geometry import N_ETA, N_PHI
from l1ad.benchmark.trigger.layout import N_EGAMMA

VETO_FRACTION = 0.5
_EGAMMA_SLOT, _MUON_SLOT = 1, 1 + N_EGAMMA


def passes_lepton_trigger(particles: np.ndarray, min_pt_gev: float) -> np.ndarray:
    """Events (N, 19, 4) whose leading e/gamma or leading muon has pT above ``min_pt_gev``."""
    return (particles[:, _EGAMMA_SLOT, 0] > min_pt_gev) | (particles[:, _MUON_SLOT, 0] > min_pt_gev)


def could_pass(hard: ParticleTable, min_pt_gev: float) -> np.ndarray:
    """False for hard interactions that cannot give a lepton-triggered event (see the module docstring)."""
    n = hard.n_interactions
    event = np.repeat(np.arange(n), hard.counts())
    cut = VETO_FRACTION * min_pt_gev
    muon = hard.kind == KIND_MUON
    has_muon = np.bincount(event[muon][hard.pt[muon] > cut], minlength=n) > 0
    em = hard.kind == KIND_EM
    flat = (event[em] * N_ETA + hard.ieta[em]) * N_PHI + hard.iphi[em]
    grid = np.bincount(flat, weights=hard.pt[em], minlength=n * N_ETA * N_PHI).reshape(n, N_ETA, N_PHI)
    # 3x3 sums: eta neighbours (no wrap), then phi neighbours (wrapping)
    rows = grid.copy()
    rows[:, 1:] += grid[:, :-1]
    rows[:, :-1] += grid[:, 1:]
    boxes = rows + np.roll(rows, 1, axis=2) + np.roll(rows, -1, axis=2)
    return has_muon | (boxes.max(axis=(1, 2)) > cut)
