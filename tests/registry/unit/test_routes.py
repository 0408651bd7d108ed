"""The registry's routes as wired, without serving them: every GET reads on a read session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, get_args

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from services.registry.api.deps import ReadSession, Transaction
from services.registry.app import definition


def _dependency(annotated: Any) -> Callable[..., Any]:
    call: Callable[..., Any] = get_args(annotated)[1].dependency
    return call


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


#: POSTs that change nothing: a question with a file for its body (a reconciliation report).
READ_ONLY_POSTS = {"/v1/provincial/reconciliations"}


def test_every_get_runs_on_a_read_session_and_no_write_does() -> None:
    writer, reader = _dependency(Transaction), _dependency(ReadSession)
    routes = [r for router in definition().routers for r in router.routes]
    api = [r for r in routes if isinstance(r, APIRoute)]
    gets = [r for r in api if "GET" in (r.methods or ())]
    assert gets
    for route in gets:
        assert writer not in set(_calls(route.dependant)), route.path
    for route in (r for r in api if r not in gets):
        if route.path in READ_ONLY_POSTS:
            assert writer not in set(_calls(route.dependant)), route.path
        else:
            assert reader not in set(_calls(route.dependant)), route.path
