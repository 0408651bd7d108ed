"""Members the training service develops (发展党员), as the registry counts them.

Training announces each candidate's step by an opaque candidate id and the organisation the
person works in: admitted (a probationary member), confirmed (a full member, 转正) or cancelled
(a probationary member whose admission was cancelled). The registry counts each candidate in the
organisation's file once, by what it last applied for that candidate, so a step announced again
(re-published under a new event id) changes nothing, and a member who leaves the pipeline is never
counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from libs.common.refusals import RuleBroken

CandidateState = Literal["probationary", "full", "cancelled"]
Step = Literal["admitted", "confirmed", "cancelled"]

#: The state each step leaves a candidate in.
STATE_AFTER: dict[Step, CandidateState] = {
    "admitted": "probationary",
    "confirmed": "full",
    "cancelled": "cancelled",
}


@dataclass(frozen=True)
class CountChange:
    """What one step does to the organisation's counts, and the candidate's state after it."""

    state: CandidateState
    full: int = 0
    probationary: int = 0


class StepOutOfTurn(RuleBroken):
    """A step that cannot follow what the registry applied for the candidate (a full member
    cancelled, a cancelled one confirmed): the two services disagree, an office must look."""

    def __init__(self, candidate_id: str, state: CandidateState, step: Step) -> None:
        super().__init__(
            "candidate_step_order",
            f"candidate {candidate_id} is {state} here; it cannot be {step}",
            context={"candidate_id": candidate_id, "state": state, "step": step},
        )


def plan_step(candidate_id: str, state: CandidateState | None, step: Step) -> CountChange | None:
    """The change `step` makes for a candidate the registry holds in `state` (None: never seen);
    None when the candidate is there already or past it (a step announced again, an admission
    replayed after the confirmation).

    A confirmation or cancellation of a candidate whose admission the registry never saw counts
    only what it leaves (a full member; nothing), since the admission was never counted."""
    after = STATE_AFTER[step]
    if state == after or (state is not None and step == "admitted"):
        return None
    if state is None:
        return CountChange(
            after, full=int(after == "full"), probationary=int(after == "probationary")
        )
    if state == "probationary" and step == "confirmed":
        return CountChange(after, full=1, probationary=-1)
    if state == "probationary" and step == "cancelled":
        return CountChange(after, probationary=-1)
    raise StepOutOfTurn(candidate_id, state, step)
