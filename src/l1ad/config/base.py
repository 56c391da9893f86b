"""The base of every typed object read from a file or a config.

Unknown keys are errors, values cannot change once read, types are not coerced (``epochs: true`` or ``"0.5"`` for a
number is an error, not 1 or 0.5), and NaN or infinite numbers are refused unless a field says otherwise.
"""

from pydantic import BaseModel, ConfigDict

# A name that becomes a directory or file name (a model label, a dataset name): one safe path component, never "."
# or "..", no separators.
SAFE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
