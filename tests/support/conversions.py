"""What Dagster's own handler, and pipes_fast's router with its conversion to Dagster's types, make
of the same messages (``test_dagster_convert`` and ``test_testing`` compare the two)."""

from __future__ import annotations

import logging
from typing import Any

import dagster
from dagster._core.pipes.context import PipesMessageHandler as DagsterHandler

from pipes_fast import AssetKey, _hotpath
from pipes_fast.dagster._convert import ToDagster


class _Reader(dagster.PipesMessageReader):
    def read_messages(self, handler: Any) -> Any:
        raise NotImplementedError

    def no_messages_debug_text(self) -> str:
        return ""


class _Context:
    log = logging.getLogger("support.conversions")


def dagster_results(messages: list[dict[str, Any]]) -> list[Any]:
    """What Dagster's own handler makes of the messages."""
    handler = DagsterHandler(_Context(), _Reader())  # type: ignore[arg-type]
    for message in messages:
        handler.handle_message(message)  # type: ignore[arg-type]
    return list(handler.get_reported_results())


def pipes_fast_results(messages: list[dict[str, Any]]) -> list[Any]:
    """What pipes_fast's router and conversion make of the same messages."""
    warnings: list[str] = []
    keys = {m["params"]["asset_key"]: AssetKey.from_escaped_user_string(m["params"]["asset_key"]) for m in messages}
    router = _hotpath.MessageRouter(keys, lambda message: None, warnings.append)
    router.route(messages)
    assert not warnings
    convert = ToDagster()
    return [convert.result(result) for result in router.results]
