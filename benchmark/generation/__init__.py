"""Event generation: Pythia 8 processes (:mod:`.pythia`), flat particle tables (:mod:`.particles`) and pile-up
overlay from a minimum-bias pool (:mod:`.pileup`)."""
