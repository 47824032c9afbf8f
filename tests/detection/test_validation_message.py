"""validation_message: pydantic errors as the one kind of message every config and option gives."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detection.errors import INLINE, LISTED, STACKED, Layout, validation_message


class Zone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    polygon: list[tuple[float, float]] = Field(min_length=3)


class Camera(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(max_length=4)
    zones: list[Zone] = []

    @field_validator("password")
    @classmethod
    def _not_obvious(cls, value: str) -> str:
        if value == "1234":
            raise ValueError("too easy to guess")
        return value


def _error(**data: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        Camera(**data)
    return info.value


TWO = {"password": "hunter2", "zones": [{"polygon": [[0, 0]]}]}


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (
            TWO,
            {},
            "password: String should have at most 4 characters; "
            "zones.0.polygon: List should have at least 3 items after validation, not 1",
        ),
        (
            TWO,
            {"within": ("config",), "layout": INLINE},
            "config.password: String should have at most 4 characters; "
            "config.zones.0.polygon: List should have at least 3 items after validation, not 1",
        ),
        (
            TWO,
            {"layout": LISTED},
            "  password: String should have at most 4 characters\n"
            "  zones.0.polygon: List should have at least 3 items after validation, not 1",
        ),
        (
            {"password": "1234", "colour": "red"},
            {"layout": STACKED},
            "password\n  too easy to guess\ncolour\n  Extra inputs are not permitted",
        ),
        (
            {"password": "1234"},
            {"layout": Layout("<{field}> {message}", " | ")},
            "<password> too easy to guess",
        ),
    ],
)
def test_every_error_is_named_by_its_field(
    data: dict[str, Any], kwargs: dict[str, Any], message: str
) -> None:
    assert validation_message(_error(**data), **kwargs) == message


def test_the_input_values_are_left_out() -> None:
    assert "hunter2" not in validation_message(_error(**TWO), layout=STACKED)


@pytest.mark.parametrize(("top", "field"), [({}, "(top level)"), ({"top": "options"}, "options")])
def test_an_error_of_the_whole_model_is_named_top(top: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Camera.model_validate("not a mapping")
    assert validation_message(info.value, **top).startswith(f"{field}: Input should be")
