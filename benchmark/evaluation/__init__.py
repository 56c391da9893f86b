"""Evaluation: trigger metrics with intervals (:mod:`.metrics`), working points (:mod:`.working_points`), the typed
metrics report and its files (:mod:`.report`), model comparison (:mod:`.comparison`) and plots (:mod:`.plots`)."""
