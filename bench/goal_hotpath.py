"""Goal of the foundation: framing + routing custom messages keeps pace with a bare orjson.loads loop."""

from __future__ import annotations

import orjson
from streams import as_pieces, custom_message_lines
from timing import Goal, best_of


def measure_frame_and_decode(rounds: int) -> Goal:
    from pipes_fast._hotpath import compiled

    lines = custom_message_lines(100_000)
    pieces = as_pieces(lines)

    def bare() -> None:
        loads = orjson.loads
        for line in lines:
            loads(line)

    def compiled_path() -> None:
        framer = compiled.LineFramer()
        router = compiled.MessageRouter(None, print, print)
        drained = router.custom_messages
        for piece in pieces:
            router.route_lines(framer.feed(piece))
            drained.clear()  # a consumer drains as messages come, as the bare loop keeps nothing

    goal = Goal("frame+route 100k custom messages", "bare orjson.loads loop over pre-split lines", "compiled", 0.8)
    goal.baseline_seconds, goal.candidate_seconds = best_of(rounds, bare, compiled_path)
    return goal
