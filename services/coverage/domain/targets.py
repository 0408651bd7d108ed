"""Coverage targets per region and due date, and when reaching or falling below one is news."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from services.coverage.domain.facts import DEFAULT_ORGANIZATION_SCOPE, DEFAULT_WORK_SCOPE
from services.coverage.domain.rates import Metric

#: The scopes a target may be set on: those the target events' v1 schema names
#: (`all_registered`, which holds suspended organisations, is a figure to read, not to aim at).
TargetScope = Literal["with_members", "three_haves", "all_managed"]

#: Where a region stands against a target: at or above it, below it, or nothing in scope yet.
Standing = Literal["reached", "below", "unknown"]
#: The news a change of standing makes: `pb.coverage.target.reached` / `.missed`.
Crossing = Literal["reached", "missed"]

BASIS_POINTS = 10_000


@dataclass(frozen=True)
class Target:
    """A rate a region means to reach by a date, in basis points (9500 = 0.95)."""

    region_code: str
    metric: Metric
    scope: TargetScope
    due_on: date
    rate_bp: int

    @classmethod
    def asked(
        cls,
        region_code: str,
        metric: Metric,
        scope: TargetScope | None,
        due_on: date,
        rate: float,
    ) -> Target:
        """The target a caller sets: `rate` a decimal fraction (0.95), `scope` by default the
        metric's (all managed organisations for work, those with members for the others)."""
        default = DEFAULT_WORK_SCOPE if metric == "work" else DEFAULT_ORGANIZATION_SCOPE
        return cls(region_code, metric, scope or default, due_on, round(rate * BASIS_POINTS))

    @property
    def id(self) -> str:
        return f"{self.region_code}/{self.metric}/{self.scope}/{self.due_on.isoformat()}"

    @property
    def rate(self) -> float:
        return self.rate_bp / BASIS_POINTS


def standing(target: Target, covered: int, in_scope: int) -> Standing:
    """Exact in integers: covered / in_scope >= rate_bp / 10000."""
    if in_scope <= 0:
        return "unknown"
    return "reached" if covered * BASIS_POINTS >= target.rate_bp * in_scope else "below"


def crossing(before: Standing, after: Standing) -> Crossing | None:
    """`reached` when a region comes up to its target, `missed` when it falls back below it;
    nothing while it stays on one side or has nothing in scope."""
    if after == "reached" and before != "reached":
        return "reached"
    if after == "below" and before == "reached":
        return "missed"
    return None
