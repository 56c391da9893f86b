"""Datasets on disk: sample files (:mod:`.samples`), the manifest (:mod:`.manifest`), dataset directories and the
standard-dataset finder (:mod:`.dataset`), the builders (:mod:`.build` for trigger objects, :mod:`.jets` for boosted
jets), dataset cards (:mod:`.card`) and where generation runs (:mod:`.parallel`)."""
