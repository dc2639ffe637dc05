"""Where a key of the configuration file belongs in the schema: the keys a model accepts and the
model at a pydantic error location (for "unknown key; did you mean …" messages)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from probegate.config.model import GatewayConfig


def aliases_of(model: type[BaseModel]) -> list[str]:
    """The camelCase keys a model accepts (for "did you mean" suggestions)."""
    return [f.alias or name for name, f in model.model_fields.items()]


def model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the object at `path` (a pydantic `loc`), if any."""
    current: type[BaseModel] = GatewayConfig
    for step in path:
        if isinstance(step, int):
            continue
        field = next((f for n, f in current.model_fields.items() if (f.alias or n) == step), None)
        if field is None:
            return None
        inner = _model_inside(field.annotation)
        if inner is None:
            return None
        current = inner
    return current


def _model_inside(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_inside(arg)
        if found is not None:
            return found
    return None
