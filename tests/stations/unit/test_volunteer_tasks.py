"""The volunteer task's state machine (志愿服务), without a store: who may make each move and from
which state, places, sign-ups before the start, attendance after it, ratings of attendees only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.common.refusals import Invalid, RuleBroken
from services.stations.domain.requests import Party
from services.stations.domain.volunteer_tasks import (
    TASK_MOVES,
    TASK_STATES,
    Participant,
    SignUpNotFound,
    TaskAction,
    VolunteerTask,
    attendance_recorded,
    award_key,
    cancelled,
    check_post,
    check_task_move,
    completed,
    rated,
    signed_up,
    withdrawn,
)

T0 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
BEFORE = T0 - timedelta(days=1)
DURING = T0 + timedelta(hours=1)
OFFICE = Party("office", "office-1")
W1 = Party("requester", "worker:w1")
UNION = Party("unit", "union-desk", unit="union")


def task(state: str = "open", places: int = 2, taken: int = 0) -> VolunteerTask:
    return VolunteerTask(
        id="t1",
        region_code="140212101",
        title="扫雪",
        description=None,
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2),
        places=places,
        points=20,
        state=state,  # type: ignore[arg-type]
        posted_at=BEFORE - timedelta(days=1),
        taken=taken,
    )


def rule(refused: pytest.ExceptionInfo[RuleBroken]) -> str:
    return refused.value.rule


@pytest.mark.parametrize("action", list(TASK_MOVES))
@pytest.mark.parametrize("state", TASK_STATES)
@pytest.mark.parametrize("party", [OFFICE, W1, UNION], ids=["office", "worker", "unit"])
def test_every_move_from_every_state_by_every_party(
    action: TaskAction, state: str, party: Party
) -> None:
    move = TASK_MOVES[action]
    allowed = party.kind in move.parties and state in move.from_states
    if allowed:
        check_task_move(task(state), action, party, "w1")
        return
    with pytest.raises(RuleBroken) as refused:
        check_task_move(task(state), action, party, "w1")
    expected = "who_may_move" if party.kind not in move.parties else "task_state"
    assert rule(refused) == expected
    assert refused.value.context["task_id"] == "t1"


def test_only_the_office_runs_the_task_and_a_worker_signs_up_only_itself() -> None:
    assert {a for a, m in TASK_MOVES.items() if "requester" in m.parties} == {
        "sign_up",
        "withdraw",
    }
    with pytest.raises(RuleBroken) as refused:
        check_task_move(task(), "sign_up", W1, "w2")
    assert rule(refused) == "own_sign_up"
    check_task_move(task(), "sign_up", OFFICE, "w2")  # the office signs anyone up


def test_sign_ups_never_exceed_places_nor_repeat() -> None:
    first, p1 = signed_up(task(), None, "w1", BEFORE)
    assert (first.taken, first.places_left, first.version, p1.status) == (1, 1, 2, "signed_up")
    with pytest.raises(RuleBroken) as twice:
        signed_up(first, p1, "w1", BEFORE)
    assert rule(twice) == "signed_up_once"
    full, _ = signed_up(first, None, "w2", BEFORE)
    with pytest.raises(RuleBroken) as no_place:
        signed_up(full, None, "w3", BEFORE)
    assert (rule(no_place), no_place.value.context["places"]) == ("places_left", 2)


def test_sign_up_and_withdraw_close_when_the_task_starts() -> None:
    with pytest.raises(RuleBroken) as late:
        signed_up(task(), None, "w1", T0)
    assert rule(late) == "before_start"
    after, p1 = signed_up(task(), None, "w1", BEFORE)
    with pytest.raises(RuleBroken) as too_late:
        withdrawn(after, p1, "w1", DURING)
    assert rule(too_late) == "before_start"
    back, gone = withdrawn(after, p1, "w1", BEFORE)
    assert (back.taken, gone.status, gone.withdrawn_at) == (0, "withdrawn", BEFORE)
    with pytest.raises(SignUpNotFound):
        withdrawn(back, gone, "w1", BEFORE)  # withdrawn already
    with pytest.raises(SignUpNotFound):
        withdrawn(back, None, "w9", BEFORE)
    again, p1_again = signed_up(back, gone, "w1", BEFORE)  # a withdrawn worker may come back
    assert (again.taken, p1_again.status, p1_again.withdrawn_at) == (1, "signed_up", None)


def participants(*statuses: str) -> list[Participant]:
    return [
        Participant("t1", f"w{n}", s, BEFORE)  # type: ignore[arg-type]
        for n, s in enumerate(statuses, start=1)
    ]


def test_attendance_once_started_and_only_of_participants() -> None:
    people = participants("signed_up", "signed_up", "withdrawn")
    with pytest.raises(RuleBroken) as early:
        attendance_recorded(task(), people, attended=["w1"], absent=[], now=BEFORE)
    assert rule(early) == "task_started"
    with pytest.raises(RuleBroken) as strangers:
        attendance_recorded(task(), people, attended=["w1", "w3", "w9"], absent=[], now=DURING)
    assert (rule(strangers), strangers.value.context["worker_ids"]) == (
        "signed_up",
        ["w3", "w9"],
    )
    with pytest.raises(Invalid):
        attendance_recorded(task(), people, attended=["w1"], absent=["w1"], now=DURING)
    after, marked = attendance_recorded(task(), people, attended=["w1"], absent=["w2"], now=DURING)
    assert [(p.worker_id, p.status) for p in marked] == [("w1", "attended"), ("w2", "absent")]
    assert after.version == 2


def test_completing_marks_the_unmarked_absent() -> None:
    with pytest.raises(RuleBroken) as early:
        completed(task(), [], BEFORE)
    assert rule(early) == "task_started"
    people = participants("attended", "signed_up", "withdrawn")
    done, unmarked = completed(task(), people, DURING)
    assert (done.state, done.completed_at) == ("completed", DURING)
    assert [(p.worker_id, p.status) for p in unmarked] == [("w2", "absent")]
    assert cancelled(task(), BEFORE).state == "cancelled"


def test_only_attendees_are_rated_1_to_5() -> None:
    attended, absent = participants("attended", "absent")
    done = task("completed")
    first = rated(done, attended, "w1", score=4, comment="好", now=DURING)
    assert (first.score, first.comment, first.rated_at) == (4, "好", DURING)
    again = rated(done, first, "w1", score=5, comment=None, now=DURING)
    assert again.score == 5  # a new rating replaces the last
    with pytest.raises(RuleBroken) as refused:
        rated(done, absent, "w2", score=5, comment=None, now=DURING)
    assert rule(refused) == "attended"
    with pytest.raises(SignUpNotFound):
        rated(done, None, "w9", score=5, comment=None, now=DURING)
    with pytest.raises(Invalid):
        rated(done, attended, "w1", score=6, comment=None, now=DURING)
    assert award_key("t1", "w1") == award_key("t1", "w1") != award_key("t1", "w2")


def test_posting_checks_the_window_and_the_community() -> None:
    def post(ends_at: datetime, community_code: str | None, now: datetime) -> None:
        check_post(
            region_code="140212101",
            community_code=community_code,
            starts_at=T0,
            ends_at=ends_at,
            now=now,
        )

    end = T0 + timedelta(hours=2)
    post(end, "140212101001", BEFORE)
    for ends_at, community, now, field in [
        (T0, None, BEFORE, "ends_at"),  # ends when it starts
        (end, None, T0 + timedelta(days=1), "ends_at"),  # over already
        (end, "140211001001", BEFORE, "community_code"),  # another county's community
        (end, "1402", BEFORE, "community_code"),  # above the region
    ]:
        with pytest.raises(Invalid) as refused:
            post(ends_at, community, now)
        assert refused.value.field == field
