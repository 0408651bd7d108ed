"""`collector_paused`: the collector stays off while any unit holds it, in whatever order they
begin and end, and is turned on again only if it was on before."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from libs.common.collector import collector_paused


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
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
