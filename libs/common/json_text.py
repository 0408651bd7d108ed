"""JSON text read and written by pydantic-core (compact, UTF-8 as it is), with the standard
library for what it refuses: the store's JSON columns and an import's stored rows. A module of
its own, so that the import's reader process loads it without the store's modules."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic_core import from_json, to_json

__all__ = ["json_dumps", "json_loads"]


def json_dumps(value: Any, *, fallback: Callable[[Any], Any] | None = None) -> str:
    """JSON text as pydantic-core writes it (compact, UTF-8 as it is; 2-4 times as fast as
    `json.dumps`, whose `"\\u5927"` escapes also made the stored text longer). What it cannot
    write (a lone surrogate) goes through `json.dumps`, escaped. `fallback` writes a value JSON
    has no form for (`str`: as its text); without it such a value raises."""
    try:
        return to_json(value, fallback=fallback).decode()
    except ValueError:  # PydanticSerializationError is one
        return json.dumps(value, default=fallback)


def json_loads(text: str | bytes) -> Any:
    """JSON text read by pydantic-core (twice as fast as `json.loads`, 25 times for an
    empty list), `json.loads` for what it refuses (an escaped lone surrogate)."""
    try:
        return from_json(text)
    except ValueError:
        return json.loads(text)
