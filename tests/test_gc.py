"""The relaxed collector threshold: raised while readers stream, restored after, re-entrant."""

from __future__ import annotations

import gc

from pipes_fast import PipesEnvContextInjector, PipesTempFileMessageReader, StepContext, open_pipes_session
from pipes_fast._system.gc import RELAXED_THRESHOLD, relaxed_gc


def test_raised_while_active_and_restored_after():
    before = gc.get_threshold()
    with relaxed_gc():
        assert gc.get_threshold()[0] == max(before[0], RELAXED_THRESHOLD)
        with relaxed_gc():
            assert gc.get_threshold()[0] == max(before[0], RELAXED_THRESHOLD)
        assert gc.get_threshold()[0] == max(before[0], RELAXED_THRESHOLD)
    assert gc.get_threshold() == before


def test_a_threshold_changed_meanwhile_is_left_alone():
    before = gc.get_threshold()
    try:
        with relaxed_gc():
            gc.set_threshold(12345, *before[1:])
        assert gc.get_threshold()[0] == 12345
    finally:
        gc.set_threshold(*before)


def test_a_session_restores_the_threshold():
    before = gc.get_threshold()
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), PipesTempFileMessageReader()):
        pass
    assert gc.get_threshold() == before
