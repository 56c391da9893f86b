"""The base of every typed object read from a file: unknown keys are errors and values cannot change once read."""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
