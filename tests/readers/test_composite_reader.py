"""Several external writers in one session: pipes_fast's ``PipesCompositeMessageReader`` (core and
pipes_fast.dagster) and Dagster's own wrapping pipes_fast's readers (issue 20, item 3).

Each session runs three concurrent ``dagster_pipes`` processes of different kinds (a message file,
stdout, a directory of chunks; ``scripts/composite_writer.py``), each with its own bootstrap from
``get_per_writer_bootstrap_env_vars()``. Inside Dagster, every combination of session, composite
and readers is held to what Dagster's composite on Dagster's own readers makes of the same scripts.

No ``from __future__ import annotations``: Dagster reads the asset's context annotation.
"""

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import dagster as dg
import pytest
from dagster._core.errors import DagsterInvariantViolationError
from support import SCRIPTS
from support.helpers import capturing_logger, closed, custom, line, opened
from support.orchestrators import Events, Step, run_events

import pipes_fast
import pipes_fast.dagster as pfd

pytestmark = [
    pytest.mark.reliability("one-import-dagster"),
    pytest.mark.timeout(180),
    pytest.mark.filterwarnings(
        "ignore::DeprecationWarning", "ignore::dagster.PreviewWarning", "ignore::dagster.BetaWarning"
    ),
]

SCRIPT = SCRIPTS / "composite_writer.py"
WRITERS = (("a", "file"), ("b", "stdio"), ("c", "directory"))
COUNT = 300
OPENED_LOG = "[pipes] external process successfully opened dagster pipes."
NOT_CLOSED = "[pipes] did not receive closed message"


def launch(session: Any, stdio: Optional[Any], names: Sequence[str] = ("a", "b", "c")) -> list[int]:
    """Run one writer per reader of the session at once, each with its own bootstrap; stdout of the
    ``stdio`` writer goes through ``stdio`` (pipes_fast's stdio reader) where there is one."""
    processes = []
    for (_, kind), name, env in zip(WRITERS, names, session.get_per_writer_bootstrap_env_vars()):
        piped = kind == "stdio" and stdio is not None
        command = [sys.executable, str(SCRIPT), name, kind, str(COUNT)]
        out = subprocess.PIPE if piped else subprocess.DEVNULL
        processes.append((subprocess.Popen(command, env={**os.environ, **env}, stdout=out), piped))
    for process, piped in processes:
        if piped:
            while data := os.read(process.stdout.fileno(), 65536):
                stdio.feed(data)
            stdio.end_of_stream()
            process.stdout.close()
    return [process.wait(timeout=120) for process, _ in processes]


def by_writer(messages: Sequence[Any]) -> dict[str, list[int]]:
    """Each writer's custom messages, in the order they came."""
    grouped: dict[str, list[int]] = {}
    for message in messages:
        grouped.setdefault(message["writer"], []).append(message["i"])
    return grouped


# ----- the core, without Dagster -----


def core_readers() -> tuple[pipes_fast.PipesCompositeMessageReader, pipes_fast.PipesStdioMessageReader]:
    stdio = pipes_fast.PipesStdioMessageReader()
    readers = [pipes_fast.PipesTempFileMessageReader(), stdio, pipes_fast.PipesDirectoryMessageReader(interval=0.05)]
    return pipes_fast.PipesCompositeMessageReader(readers), stdio


def test_core_session_reads_concurrent_writers_of_mixed_kinds() -> None:
    log, records = capturing_logger("composite-core")
    composite, stdio = core_readers()
    context = pipes_fast.StepContext(["a", "b", "c"], log=log)
    with pipes_fast.open_pipes_session(context, pipes_fast.PipesTempFileContextInjector(), composite) as session:
        assert len(session.get_per_writer_bootstrap_env_vars()) == 3
        assert all(
            set(args) == {"--dagster-pipes-context", "--dagster-pipes-messages"}
            for args in session.get_per_writer_bootstrap_cli_arguments()
        )
        assert launch(session, stdio) == [0, 0, 0]
    results = session.get_results()
    assert sorted((type(r).__name__, r.asset_key.to_user_string()) for r in results) == [
        ("AssetCheckResult", name) for name in "abc"
    ] + [("MaterializeResult", name) for name in "abc"]
    materialized = {r.asset_key.to_user_string(): r for r in results if isinstance(r, pipes_fast.MaterializeResult)}
    assert {name: r.data_version for name, r in materialized.items()} == dict(WRITERS)
    assert by_writer(session.get_custom_messages()) == {name: list(range(COUNT)) for name in "abc"}
    handler = session.message_handler
    assert handler.received_closed_message and handler.exception is None
    texts = records.messages()
    assert texts.count(OPENED_LOG) == 1
    assert sorted(t for t in texts if t.startswith("writer ")) == [f"writer {n} ({k}) starting" for n, k in WRITERS]
    assert not [t for t in texts if t.startswith("[pipes]") and t != OPENED_LOG], texts


class _Recording(pfd.PipesTempFileMessageReader):
    """A temp-file reader (pipes_fast's, for Dagster too) that records what its ``on_opened`` and ``on_launched`` hear."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[Any] = []
        self.launched: list[Any] = []

    def on_opened(self, opened_payload: Any) -> None:
        self.opened.append(opened_payload)

    def on_launched(self, launched_payload: Any) -> None:
        self.launched.append(launched_payload)


def test_closed_only_once_every_writer_closed_and_each_reader_hears_its_own_opened() -> None:
    log, records = capturing_logger("composite-closed")
    first, second = _Recording(), _Recording()
    composite = pipes_fast.PipesCompositeMessageReader([first, second])
    assert composite.expected_writer_count == 2 and composite.readers == (first, second)
    with pipes_fast.open_pipes_session(
        pipes_fast.StepContext(log=log), pipes_fast.PipesEnvContextInjector(), composite
    ) as session:
        session.report_launched({"extras": {"run": 1}})
        paths = [writer["path"] for writer in session.message_reader_params["dagster_pipes_composite_writers"]]
        Path(paths[0]).write_text(line("opened", {"extras": {"w": 0}}) + custom(0) + closed())
        Path(paths[1]).write_text(line("opened", {"extras": {"w": 1}}) + custom(1))
    assert sorted(session.get_custom_messages()) == [0, 1]  # the two writers are read at once
    handler = session.message_handler
    assert handler.received_opened_message and not handler.received_closed_message
    assert [record.getMessage()[: len(NOT_CLOSED)] for record in records.records].count(NOT_CLOSED) == 1
    assert first.opened == [{"extras": {"w": 0}}] and second.opened == [{"extras": {"w": 1}}]
    assert first.launched == second.launched == [{"extras": {"run": 1}}]


def test_a_writer_closing_with_an_exception_leaves_the_others_results() -> None:
    composite, stdio = core_readers()
    log, records = capturing_logger("composite-exception")
    context = pipes_fast.StepContext(["a", "b", "c"], log=log)
    with pipes_fast.open_pipes_session(context, pipes_fast.PipesTempFileContextInjector(), composite) as session:
        assert launch(session, stdio, names=("a", "b.fail", "c")) == [0, 1, 0]
    assert by_writer(session.get_custom_messages()) == {name: list(range(COUNT)) for name in "abc"}
    materialized = sorted(r.asset_key.to_user_string() for r in session.get_results(implicit_materializations=False))
    assert materialized == ["a", "a", "c", "c"]  # a check and a materialization each
    assert session.message_handler.received_closed_message
    assert session.message_handler.exception["message"].strip() == "ValueError: writer b failed"
    assert any("closed with exception" in text for text in records.messages())


def test_a_single_writer_session_has_one_per_writer_bootstrap() -> None:
    with pipes_fast.open_pipes_session(
        pipes_fast.StepContext(), pipes_fast.PipesEnvContextInjector(), pipes_fast.PipesTempFileMessageReader()
    ) as session:
        assert session.get_per_writer_bootstrap_env_vars() == [session.get_bootstrap_env_vars()]
        assert session.get_per_writer_bootstrap_cli_arguments() == [session.get_bootstrap_cli_arguments()]


@pytest.mark.parametrize(
    "composite",
    [pipes_fast.PipesCompositeMessageReader, pfd.PipesCompositeMessageReader, dg.PipesCompositeMessageReader],
)
def test_nesting_and_no_readers_are_refused_with_dagsters_error(composite: Any) -> None:
    error = (
        pipes_fast.PipesInvariantViolationError
        if composite is pipes_fast.PipesCompositeMessageReader
        else DagsterInvariantViolationError
    )
    inner = composite([pfd.PipesTempFileMessageReader(), pfd.PipesTempFileMessageReader()])
    with pytest.raises(error, match="only supports single-writer readers as children"):
        composite([inner])
    with pytest.raises(error, match="requires at least one underlying reader"):
        composite([])


# ----- inside Dagster: the same scripts, every combination against Dagster's own classes -----


class DagsterDirectoryReader(dg.PipesBlobStoreMessageReader):
    """Dagster's blob-store reader on a local directory of chunks (Dagster ships none)."""

    @contextmanager
    def get_params(self) -> Iterator[dict[str, Any]]:
        with pipes_fast.PipesDirectoryMessageReader().get_params() as params:
            yield params

    def messages_are_readable(self, params: Any) -> bool:
        return Path(params["path"]).is_dir()

    def download_messages_chunk(self, index: int, params: Any) -> Optional[str]:
        """The chunk once it is whole: dagster-pipes writes chunk files in place, so a read may
        catch one half-written (then it is read again at the next poll)."""
        path = Path(params["path"]) / f"{index}.json"
        text = path.read_text() if path.exists() else ""
        try:
            [json.loads(line) for line in text.splitlines() if line]
        except ValueError:
            return None
        return text or None  # dagster-pipes never writes an empty chunk: it is one not written yet

    def no_messages_debug_text(self) -> str:
        return "Attempted to read messages from a local directory."


Variant = Callable[[], tuple[Any, Any, Any, Optional[Any]]]
"""What a run uses: (open_pipes_session, context injector, message reader, its stdio reader or None)."""


def _pipes_fast_children(*, dagster_file: bool = False) -> tuple[list[Any], Any]:
    stdio = pfd.PipesStdioMessageReader()
    first = dg.PipesTempFileMessageReader() if dagster_file else pfd.PipesTempFileMessageReader()
    return [first, stdio, pfd.PipesDirectoryMessageReader(interval=0.05)], stdio


def _variant(session: Any, composite: Any, **children: bool) -> Variant:
    def make() -> tuple[Any, Any, Any, Optional[Any]]:
        readers, stdio = _pipes_fast_children(**children)
        return session, pfd.PipesTempFileContextInjector(), composite(readers), stdio

    return make


def _dagster_reference() -> tuple[Any, Any, Any, Optional[Any]]:
    readers = [dg.PipesTempFileMessageReader(), dg.PipesTempFileMessageReader(), DagsterDirectoryReader(interval=0.05)]
    return dg.open_pipes_session, dg.PipesTempFileContextInjector(), dg.PipesCompositeMessageReader(readers), None


VARIANTS: dict[str, Variant] = {
    "dagster session, dagster composite, pipes_fast readers": _variant(
        dg.open_pipes_session, dg.PipesCompositeMessageReader
    ),
    "pipes_fast session, dagster composite, pipes_fast readers": _variant(
        pfd.open_pipes_session, dg.PipesCompositeMessageReader
    ),
    "pipes_fast session, pipes_fast composite": _variant(pfd.open_pipes_session, pfd.PipesCompositeMessageReader),
    "dagster session, pipes_fast composite": _variant(dg.open_pipes_session, pfd.PipesCompositeMessageReader),
    "pipes_fast session, pipes_fast composite, a dagster reader among them": _variant(
        pfd.open_pipes_session, pfd.PipesCompositeMessageReader, dagster_file=True
    ),
    "pipes_fast session, dagster composite, a dagster reader among them": _variant(
        pfd.open_pipes_session, dg.PipesCompositeMessageReader, dagster_file=True
    ),
}


def materialize(variant: Variant, names: Sequence[str] = ("a", "b", "c")) -> Events:
    """One ``dagster.materialize`` of a multi-asset whose step runs the writers through ``variant``."""
    step = Step()

    @dg.multi_asset(
        specs=[dg.AssetSpec(name) for name in "abc"],
        check_specs=[dg.AssetCheckSpec("rows", asset=name) for name in "abc"],
    )
    def writers(context: dg.AssetExecutionContext):  # noqa: ANN202 - a generator of Dagster's results
        open_session, injector, reader, stdio = variant()
        with open_session(context, injector, reader) as session:
            launch(session, stdio, names)
        step.custom_messages = list(session.get_custom_messages())
        yield from session.get_results()

    def run(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
        return dg.materialize([writers], instance=instance, raise_on_error=False)

    return run_events([run], step)


def summary(events: Events) -> dict[str, Any]:
    """What two runs of the writers must agree on (writers run at once: order across them is free)."""
    step = events.step
    return {
        "success": events.success,
        "materializations": sorted(
            (m["asset_key"], m["data_version"], sorted(m["metadata"].items())) for m in events.materializations
        ),
        "checks": sorted(
            (c["asset_key"], c["check_name"], c["passed"], sorted(c["metadata"].items())) for c in events.checks
        ),
        "event_types": sorted(events.event_types),
        "custom_messages": by_writer(step.custom_messages),
        "logs": sorted(events.logs),
        "pipes_engine_events": events.pipes_engine_events,
    }


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """Dagster's composite on Dagster's own readers, same scripts."""
    return summary(materialize(_dagster_reference))


def test_the_reference_run_reports_as_scripted(reference: dict[str, Any]) -> None:
    assert reference["success"]
    assert [m[:2] for m in reference["materializations"]] == [(["a"], "file"), (["b"], "stdio"), (["c"], "directory")]
    assert len(reference["checks"]) == 3
    assert reference["custom_messages"] == {name: list(range(COUNT)) for name in "abc"}
    assert reference["logs"].count(("INFO", OPENED_LOG)) == 1


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_same_run_as_dagsters_composite(name: str, reference: dict[str, Any]) -> None:
    assert summary(materialize(VARIANTS[name])) == reference


def test_a_failing_writer_fails_the_step_as_with_dagsters_composite() -> None:
    names = ("a", "b.fail", "c")
    ours = summary(materialize(VARIANTS["pipes_fast session, pipes_fast composite"], names))
    theirs = summary(materialize(_dagster_reference, names))
    assert ours == theirs
    assert (
        len(ours["pipes_engine_events"]) == 1 and "closed with exception" in ours["pipes_engine_events"][0]["message"]
    )


def test_dagsters_composite_hands_each_pipes_fast_reader_its_own_opened() -> None:
    first = _Recording()
    reader = dg.PipesCompositeMessageReader([pfd.PipesTempFileMessageReader(), first])

    @dg.asset
    def one(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        with pfd.open_pipes_session(context, pfd.PipesEnvContextInjector(), reader) as session:
            paths = [w["path"] for w in session.message_reader_params["dagster_pipes_composite_writers"]]
            Path(paths[0]).write_text(opened() + closed())
            Path(paths[1]).write_text(line("opened", {"extras": {"w": 1}}) + closed())
        assert session.message_handler.received_closed_message
        return dg.MaterializeResult()

    assert dg.materialize([one]).success
    assert first.opened == [{"extras": {"w": 1}}]
