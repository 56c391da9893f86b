"""Boosted-jet samples for taggers: Pythia generation, truth matching, anti-kT clustering, substructure and
re-simulation (:mod:`.generation`)."""
