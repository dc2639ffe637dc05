"""The building blocks of the configuration schema: the strict camelCase base item and the small
validators every schema module shares (`model.py`, `model_rewrite.py`).

Rules: pydantic only, no probegate imports; errors are `PydanticCustomError`s, reported by the
loader with the camelCase path.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

MAX_MATCH_BODY = 4090

E = TypeVar("E", bound=StrEnum)


def any_case(enum: type[E]) -> BeforeValidator:
    """Accept an enum value in any letter case (as the ARM API does) and return the member."""
    by_folded = {member.value.casefold(): member for member in enum}
    choices = ", ".join(f"'{m.value}'" for m in enum)

    def convert(value: object) -> object:
        if isinstance(value, str) and value.casefold() in by_folded:
            return by_folded[value.casefold()]
        raise PydanticCustomError(
            "choice",
            "must be one of {choices}, got {got}",
            {"choices": choices, "got": repr(value)},
        )

    return BeforeValidator(convert)


def between(low: int, high: int) -> AfterValidator:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise PydanticCustomError(
                "range",
                "must be between {low} and {high}, got {got}",
                {"low": low, "high": high, "got": value},
            )
        return value

    return AfterValidator(check)


def at_least(low: int) -> AfterValidator:
    def check(value: int) -> int:
        if value < low:
            raise PydanticCustomError(
                "range", "must be {low} or more, got {got}", {"low": low, "got": value}
            )
        return value

    return AfterValidator(check)


def not_empty(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("empty", "must not be empty")
    return value


def body_length(value: str) -> str:
    if len(value) > MAX_MATCH_BODY:
        raise PydanticCustomError(
            "too_long",
            "must be at most {limit} characters, got {got}",
            {"limit": MAX_MATCH_BODY, "got": len(value)},
        )
    return value


Port = Annotated[int, between(1, 65535)]
Seconds = Annotated[int, between(1, 86400)]
Text = Annotated[str, AfterValidator(not_empty)]


class Item(BaseModel):
    """Base of every configuration object: camelCase keys, unknown keys rejected, values strict."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=False,
        extra="forbid",
        strict=True,
        frozen=True,
    )


class Named(Item):
    name: Text
