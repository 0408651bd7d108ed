"""Example instances of event models, filled with values their validators accept."""

from __future__ import annotations

import enum
import types
import typing
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from libs.common.events import NOT_UUIDS
from libs.common.validators import credit_code_check_char

#: 17 characters of a credit code: 91 (enterprise), division 140212, organisation code body.
_CREDIT_CODE_BODY = "91140212MA0AB12C3"
EXAMPLE_CREDIT_CODE = _CREDIT_CODE_BODY + credit_code_check_char(_CREDIT_CODE_BODY)
M = TypeVar("M", bound=BaseModel)

EXAMPLE_TIME = datetime(2024, 6, 15, 8, 30, tzinfo=UTC)

#: Values for fields whose validators need more than the right type, by field name.
BY_FIELD_NAME: dict[str, Any] = {
    "credit_code": EXAMPLE_CREDIT_CODE,
    "region_code": "140212",
    "community_code": "140212101001",
    "to_region_code": "140212",
    "industry_code": "I65",
}
#: What the published schemas promise for an id (`format: uuid`, libs/common/events.py).
EXAMPLE_ID = str(uuid.UUID(int=1))


def _is_uuid_field(name: str) -> bool:
    return name.endswith(("_id", "_ids")) and name not in NOT_UUIDS


def _value(annotation: Any, name: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _value(args[0], name)
    if origin in (typing.Union, types.UnionType):
        return _value(next(a for a in args if a is not type(None)), name)
    if origin is typing.Literal:
        return args[0]
    if origin in (list, tuple, set, frozenset):
        return [_value(args[0], name)] if args else []
    if origin is dict:
        return {}
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return example_values(annotation)
        if issubclass(annotation, enum.Enum):
            return next(iter(annotation)).value
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, int):
            return 1
        if issubclass(annotation, float | Decimal):
            return 1.5
        if issubclass(annotation, datetime):
            return EXAMPLE_TIME.isoformat()
        if issubclass(annotation, date):
            return EXAMPLE_TIME.date().isoformat()
        if issubclass(annotation, uuid.UUID):
            return str(uuid.UUID(int=1))
        if issubclass(annotation, str):
            return EXAMPLE_ID if _is_uuid_field(name) else f"{name}-1"
    raise TypeError(
        f"no example for field {name!r} of type {annotation!r}; add it to BY_FIELD_NAME"
    )


def _field_value(name: str, info: FieldInfo) -> Any:
    if name in BY_FIELD_NAME:
        return BY_FIELD_NAME[name]
    if info.examples:
        return info.examples[0]
    return _value(info.annotation, name)


def example_values(model: type[BaseModel], *, optional: bool = True) -> dict[str, Any]:
    """Input for `model`: every required field, and the optional ones unless `optional=False`."""
    return {
        info.alias or name: _field_value(name, info)
        for name, info in model.model_fields.items()
        if optional or info.is_required()
    }


def example_event(model: type[M], *, optional: bool = True) -> M:
    """A valid instance of `model`, built and validated by the model itself."""
    return model.model_validate(example_values(model, optional=optional))
