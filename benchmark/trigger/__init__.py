"""Level-1 trigger emulation: tower geometry (:mod:`.geometry`), the object layout (:mod:`.layout`), towers to
trigger objects and regions (:mod:`.emulation`) and the ADC2021 lepton pre-selection (:mod:`.selection`)."""
