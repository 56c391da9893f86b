"""The pipeline: the stages as functions (:mod:`.stages`), what they are handed (:mod:`.context`), the bench
(:mod:`.bench`), MLflow tracking (:mod:`.tracking`) and the JSON Schemas of the files stages exchange
(:mod:`.schemas`)."""
