"""`collector_paused`: the collector stays off while any unit holds it, in whatever order they
begin and end, and is turned on again only if it was on before, at most once a rest."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator

import pytest

from libs.common import collector
from libs.common.collector import collector_paused


@pytest.fixture(autouse=True)
def collector_restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No rest between turns unless a test sets one."""
    monkeypatch.setattr(collector, "REST_SECONDS", 0.0)
    was = gc.isenabled()
    yield
    collector._owed = False
    if was:
        gc.enable()
    else:
        gc.disable()


def test_overlapping_units_keep_it_off_until_the_last_ends() -> None:
    gc.enable()
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first to begin ends first
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_unit_in_another_thread_holds_it_off_for_this_one() -> None:
    gc.enable()
    entered, leave = threading.Event(), threading.Event()

    def receive() -> None:
        with collector_paused():
            entered.set()
            leave.wait(5)

    thread = threading.Thread(target=receive)
    thread.start()
    entered.wait(5)
    with collector_paused():
        leave.set()
        thread.join(5)  # the other unit has ended: this one still holds it off
        assert not gc.isenabled()
    assert gc.isenabled()


def test_left_off_when_it_was_off_and_on_after_an_error() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
    gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError
    assert gc.isenabled()


def _wait_until_on(seconds: float) -> float:
    started = time.monotonic()
    while not gc.isenabled() and time.monotonic() - started < seconds:
        time.sleep(0.01)
    return time.monotonic() - started


def test_units_ending_within_the_rest_leave_it_off_until_the_rest_is_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gc.enable()
    with collector_paused():
        pass
    assert gc.isenabled()  # turned on: the rest begins
    monkeypatch.setattr(collector, "REST_SECONDS", 0.3)
    for _ in range(3):  # back to back: the collector stays off
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    # no unit ends after the rest: the timer turns it on
    assert _wait_until_on(2.0) < 1.0
    assert gc.isenabled()


def _owe(monkeypatch: pytest.MonkeyPatch, rest: float) -> None:
    """Turned on by a unit's end, then a unit ended within the rest: left off, owed."""
    gc.enable()
    with collector_paused():
        pass
    monkeypatch.setattr(collector, "REST_SECONDS", rest)
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_a_unit_holding_it_when_the_rest_ends_turns_it_on_as_it_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _owe(monkeypatch, 0.1)
    with collector_paused():
        time.sleep(0.3)  # the timer finds this unit holding it: left off
        assert not gc.isenabled()
    assert gc.isenabled()  # the rest is over: the unit's end turns it on


def test_owed_and_then_turned_off_by_the_process_stays_off_after_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _owe(monkeypatch, 0.1)
    time.sleep(0.3)
    assert gc.isenabled()
    gc.disable()  # the process chooses so
    time.sleep(0.2)
    with collector_paused():
        pass
    time.sleep(0.2)
    assert not gc.isenabled()
