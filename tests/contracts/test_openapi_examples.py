"""Every example a service's API models publish is one the model itself accepts, read as JSON
off the wire (the document's JSON Schema cannot say everything the model checks: a credit
code's check character, a division code, a merge patch's rules)."""

from __future__ import annotations

import importlib
import json
import pkgutil
from typing import Any

import pytest
from pydantic import BaseModel

SERVICES = ("registry", "coverage", "stations", "training")


def _models_with_examples() -> list[tuple[str, type[BaseModel], dict[str, Any]]]:
    found = []
    for service in SERVICES:
        package = importlib.import_module(f"services.{service}.api")
        for module_info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{module_info.name}")
            for name, value in vars(module).items():
                if not (
                    isinstance(value, type)
                    and issubclass(value, BaseModel)
                    and value.__module__ == module.__name__
                ):
                    continue
                extra = value.model_config.get("json_schema_extra")
                examples = extra.get("examples") if isinstance(extra, dict) else None
                for example in examples if isinstance(examples, list) else []:
                    assert isinstance(example, dict), name
                    found.append((f"{module.__name__}.{name}", value, example))
    return found


EXAMPLES = _models_with_examples()


def test_there_are_examples_in_every_service() -> None:
    assert {where.split(".")[1] for where, _, _ in EXAMPLES} == set(SERVICES)


@pytest.mark.parametrize(("where", "model", "example"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_each_example_is_accepted_by_its_model(
    where: str, model: type[BaseModel], example: dict[str, Any]
) -> None:
    model.model_validate_json(json.dumps(example, ensure_ascii=False))
