"""The trigger-object layout the emulation fills and every sample file stores: ADC2021's 19 slots, and CICADA's
18 x 14 calorimeter regions."""

# Slots of the ADC2021 layout: row 0 MET, 1-4 e/gamma, 5-8 muons, 9-18 jets; each (pT, eta, phi, class).
N_EGAMMA, N_MUONS, N_JETS = 4, 4, 10
N_OBJECTS = 1 + N_EGAMMA + N_MUONS + N_JETS
CLASS_MET, CLASS_EGAMMA, CLASS_MUON, CLASS_JET = 1, 2, 3, 4
PARTICLE_NAMES = ("Pt", "Eta", "Phi", "Class")
PARTICLE_CLASSES = ("MET_class_1", "Four_Ele_class_2", "Four_Mu_class_3", "Ten_Jet_class_4")

# CICADA's calorimeter regions: 18 in phi x 14 in eta, 4 x 4 trigger towers each, over |eta| < 3.
N_REGION_PHI, N_REGION_ETA = 18, 14
