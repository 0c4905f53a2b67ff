"""The base of every config section and the value types sections share."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, types are strict (no bool for an
    int, no float for an int, no string for a number), and no field has a default: every
    value comes from conf/ (through params.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


Rate = Annotated[float, Field(ge=0, le=1)]
Tokens = Annotated[int, Field(gt=0)]

# A model's name becomes a folder under data/models/, so it must be one plain path segment.
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _plain_segment(name: str) -> str:
    if not _MODEL_NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            f"{name!r} is not a plain folder name (letters, digits, '.', '_', '-'; no '/' or '..'): "
            "it names the model's folder under data/models/"
        )
    return name


ModelName = Annotated[str, AfterValidator(_plain_segment)]
