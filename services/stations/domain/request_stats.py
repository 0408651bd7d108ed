"""Figures of the request loop for a region or a unit: counts by state, median hours to accept
and to resolve, the on-time rate and the mean rating."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from services.stations.domain.requests import STATES, Request


@dataclass(frozen=True)
class RequestFigures:
    total: int
    by_state: dict[str, int]
    median_hours_to_accept: float | None
    median_hours_to_resolve: float | None
    resolved: int
    on_time: int
    on_time_rate: float | None
    rated: int
    mean_rating: float | None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def figures_of(requests: Iterable[Request]) -> RequestFigures:
    """A request handled on time was accepted by its accept deadline and resolved by its
    resolve deadline; the rate is over the requests resolved (rated and closed ones included)."""
    batch = list(requests)
    by_state: dict[str, int] = {state: 0 for state in STATES}
    to_accept: list[float] = []
    to_resolve: list[float] = []
    resolved = on_time = 0
    scores: list[int] = []
    for r in batch:
        by_state[r.state] += 1
        if r.dispatched_at and r.accepted_at:
            to_accept.append((r.accepted_at - r.dispatched_at).total_seconds() / 3600)
        if r.accepted_at and r.resolved_at:
            to_resolve.append((r.resolved_at - r.accepted_at).total_seconds() / 3600)
        if r.resolved_at is not None:
            resolved += 1
            on_time += bool(r.accept_on_time is not False and r.resolve_on_time is not False)
        if r.score is not None:
            scores.append(r.score)
    return RequestFigures(
        total=len(batch),
        by_state=by_state,
        median_hours_to_accept=_median(to_accept),
        median_hours_to_resolve=_median(to_resolve),
        resolved=resolved,
        on_time=on_time,
        on_time_rate=round(on_time / resolved, 4) if resolved else None,
        rated=len(scores),
        mean_rating=round(statistics.fmean(scores), 2) if scores else None,
    )
