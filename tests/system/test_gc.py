"""The relaxed collector threshold: raised while readers stream, restored after, re-entrant."""

from __future__ import annotations

import gc

from support.helpers import opened, wait_for

from pipes_fast import PipesEnvContextInjector, PipesFileMessageReader, StepContext, open_pipes_session
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


def test_a_session_relaxes_the_threshold_while_its_reader_streams_and_restores_it_after(tmp_path):
    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])  # CPython's default, below the relaxed one
    try:
        path = tmp_path / "messages"
        reader = PipesFileMessageReader(str(path))
        with open_pipes_session(StepContext(), PipesEnvContextInjector(), reader) as session:
            path.write_text(opened())
            wait_for(lambda: session.message_handler.received_opened_message, "the reader to stream")
            assert gc.get_threshold() == (RELAXED_THRESHOLD, *before[1:])
        assert gc.get_threshold() == (700, *before[1:])
    finally:
        gc.set_threshold(*before)
