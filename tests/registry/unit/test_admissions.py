"""The counting of training's candidates: every state and step, written from DOMAIN.md's rule
that a member who leaves the pipeline is never counted and each candidate counts once."""

from __future__ import annotations

import pytest

from services.registry.domain.admissions import CountChange, StepOutOfTurn, plan_step


@pytest.mark.parametrize(
    ("state", "step", "expected"),
    [
        (None, "admitted", CountChange("probationary", probationary=1)),
        (None, "confirmed", CountChange("full", full=1)),
        (None, "cancelled", CountChange("cancelled")),
        ("probationary", "admitted", None),
        ("probationary", "confirmed", CountChange("full", full=1, probationary=-1)),
        ("probationary", "cancelled", CountChange("cancelled", probationary=-1)),
        ("full", "admitted", None),
        ("full", "confirmed", None),
        ("cancelled", "admitted", None),
        ("cancelled", "cancelled", None),
    ],
)
def test_each_step_counts_what_it_changes(state: str | None, step: str, expected: object) -> None:
    assert plan_step("c-1", state, step) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("state", "step"), [("full", "cancelled"), ("cancelled", "confirmed")])
def test_a_step_out_of_turn_is_refused_naming_the_rule(state: str, step: str) -> None:
    with pytest.raises(StepOutOfTurn) as refused:
        plan_step("c-1", state, step)  # type: ignore[arg-type]
    assert refused.value.rule == "candidate_step_order"
    assert refused.value.context["candidate_id"] == "c-1"


def test_a_candidates_counts_always_sum_to_what_they_are() -> None:
    """Through any accepted sequence, the summed changes equal the final state's count."""
    for steps in (["admitted", "confirmed"], ["admitted", "cancelled"], ["confirmed", "admitted"]):
        state, full, probationary = None, 0, 0
        for step in steps:
            change = plan_step("c", state, step)  # type: ignore[arg-type]
            if change is not None:
                state, full, probationary = (
                    change.state,
                    full + change.full,
                    probationary + change.probationary,
                )
        assert (full, probationary) == (int(state == "full"), int(state == "probationary"))
