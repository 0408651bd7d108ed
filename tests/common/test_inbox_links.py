"""The links a consumed batch's span carries: one per distinct producing trace, at most as many as
a span keeps."""

from __future__ import annotations

from libs.common.inbox import MAX_LINKS, distinct_traceparents


def _traceparent(n: int) -> str:
    return f"00-{n:032x}-{n:016x}-01"


def test_one_per_distinct_trace_in_order() -> None:
    given = [_traceparent(2), None, _traceparent(1), "", _traceparent(2), _traceparent(3)]
    assert distinct_traceparents(given) == [_traceparent(2), _traceparent(1), _traceparent(3)]


def test_an_import_chunk_of_one_trace_is_one_link() -> None:
    assert distinct_traceparents([_traceparent(7)] * 2_000) == [_traceparent(7)]


def test_no_more_than_a_span_keeps() -> None:
    found = distinct_traceparents(_traceparent(n) for n in range(1, 1_001))
    assert found == [_traceparent(n) for n in range(1, MAX_LINKS + 1)]
