"""The reliability cases and the pytest plugin that records how their tests fared.

A test names the case it guards with ``@pytest.mark.reliability("<case id>")``; the id must be a key
of ``CASES`` and the marker must be on a test (anything else stops the run at collection). With
``--reliability-json PATH`` the outcome of every such test is written to PATH for
``tools/reliability_report.py``, which renders ``docs/RELIABILITY.md``. Tests that run a scenario
under Dagster's own orchestration describe what Dagster did with the ``observe`` fixture.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MARKER = "reliability"


@dataclass(frozen=True)
class Case:
    """One reliability case: its title, what is tried, and why Dagster is not compared (if not)."""

    title: str
    tried: str
    no_dagster_test: str = "n/a: no Dagster-side test applies"
    """Shown for Dagster 1.13 while no Dagster-side test guards the case."""


CASES: dict[str, Case] = {
    "torn-writes": Case("Torn writes", "a message line written in two pieces, the reader looking in between"),
    "garbage-lines": Case(
        "Garbage lines",
        "lines that are not messages (bad JSON, no version field, invalid UTF-8, a torn line) between real messages",
    ),
    "huge-lines": Case("Huge lines", "a 20 MiB message line; a line past the line limit"),
    "file-replaced": Case(
        "Message file replaced", "the message file removed, replaced or truncated under the reader, then written again"
    ),
    "sigkill-writer": Case(
        "Writer killed", "the external process SIGKILLed right after reporting, in the middle of a line"
    ),
    "close-race": Case(
        "Race at session close",
        "a write landing between the reader's last read and its check of the closed flag",
        "not run here; in its source, Dagster's reader has the same window between its last read and its check "
        "of the closed flag, which only a writer still running when the session closes can hit",
    ),
    "handler-exceptions": Case(
        "Exceptions while handling a message",
        "a lone surrogate in log_external_stream text, a closed stdout, a "
        "non-string log message, wrongly typed `closed` exception fields, unknown methods, messages after `closed`, "
        "a result Dagster's types refuse (a malformed table)",
    ),
    "drain-memory": Case(
        "Constant memory while draining",
        "a consumer draining custom messages as they come, through session close",
        "n/a: Dagster's session has no draining API (`get_custom_messages` returns every message since the start)",
    ),
    "unsafe-files": Case(
        "Unsafe message and context paths",
        "message or context paths that are symbolic links, FIFOs or other non-regular files",
    ),
    "param-bombs": Case("Bootstrap param bombs", "a bootstrap param that decompresses to far more than the size limit"),
    "bootstrap-errors": Case(
        "Hostile bootstrap params", "bootstrap params that are not base64, zlib, UTF-8, JSON or the right shape"
    ),
    "chatty-child": Case("Chatty child", "a child writing megabytes to captured stdout and stderr"),
    "grandchild-stdout": Case(
        "Grandchild holding stdout",
        "a grandchild process that keeps the captured stdout open after the child exits",
        "n/a: Dagster's PipesSubprocessClient waits for the child only and never reads its pipes (see Chatty child)",
    ),
    "termination": Case(
        "Termination",
        "SIGINT or SIGTERM to the orchestrator while the child runs; a child that ignores SIGINT",
        "not run here; in its source, Dagster's PipesSubprocessClient sends SIGINT when the run is interrupted and "
        "waits `termination_timeout_seconds`, without killing a child still running then",
    ),
    "repeated-signals": Case(
        "Repeated signals",
        "a second SIGTERM/SIGINT during the termination grace period",
        "not run here (a Dagster run's interrupts go through its own run machinery)",
    ),
    "concurrent-sessions": Case(
        "Concurrent sessions", "32 sessions at once in one orchestrator, each with its own writer", "not compared"
    ),
    "concurrent-writers": Case(
        "Concurrent writers", "threads and forked processes appending to one message file at once", "not compared"
    ),
    "stdio-lookalikes": Case(
        "Stdio lines that look like messages",
        "ordinary output lines starting with `{` that contain "
        '`"__dagster_pipes_version"` but not as the top-level key of a JSON object (nested, as a value, invalid '
        "JSON)",
    ),
    "blob-chunks": Case(
        "Bad blob-store chunks",
        "message chunks that are not JSON, empty, truncated, missing (the writer skipped one), compressed bombs",
    ),
    "zstd-chunks": Case(
        "zstd chunks",
        "a chunk of two zstd frames, a skippable frame first, text after a frame, a corrupt second "
        "frame, a bomb just under and just over 1 GiB (peak memory measured)",
        "n/a: dagster-pipes' blob-store writers do not compress",
    ),
    "chunk-locations": Case(
        "Reused and shared chunk locations",
        "a message directory used again by a second run, and one "
        "blob-store reader shared by sessions running at the same time",
    ),
    "store-retries": Case(
        "A failing store, one fault at a time",
        "a blob store that fails, is unreachable or does not answer "
        "while the writer uploads and while the reader reads, at close included; a gap of many chunks",
        "see the fault matrix below: dagster-aws's reader and dagster-pipes' writer under the same faults",
    ),
    "store-faults": Case(
        "Blob stores under faults (the fault matrix)",
        "a real external process (pipes_fast's or dagster-pipes' "
        "writer) reporting through S3 behind a fault proxy or through a directory, the store down before, during "
        "and at close, never answering at close, resetting one chunk, slow (`tests/readers/test_fault_matrix.py`)",
    ),
    "cli-existing-paths": Case(
        "Command line: existing paths",
        "`pipes-fast run` given `file:PATH` for its messages or context where a "
        "file, a link or a dangling link already is, with and without `--overwrite`",
        "n/a: Dagster has no command line that runs a Pipes process",
    ),
    "cli-hostile-output": Case(
        "Command line: hostile payloads",
        "`pipes-fast run` showing lone surrogates, NaN and infinities, a payload "
        "nested 500 deep, as a table and as JSON lines; SIGINT or SIGTERM to it while the child runs",
        "n/a: Dagster has no command line that runs a Pipes process",
    ),
    "check-verdicts": Case(
        "`pipes-fast check` verdicts",
        'clients that report an asset or a check twice, open with `"params": {}`, '
        "log a handled exception's traceback; the checker passes each exactly when Dagster's step succeeds",
    ),
    "check-process-cleanup": Case(
        "`pipes-fast check` and background processes",
        "a checked client that exits 0 leaving a background process holding its stderr open",
        "n/a: Dagster has no conformance checker",
    ),
    "check-memory": Case(
        "`pipes-fast check` memory",
        "a checked client writing 300 MB to stderr, or a 300 MB message line",
        "n/a: Dagster has no conformance checker",
    ),
    "one-import-dagster": Case(
        "One import changed inside Dagster",
        "a standalone `@asset_check`, `get_results()` called inside the block, "
        "again and again, and through Dagster's own completed invocation; a result the step cannot record (unknown "
        "key, a check it does not run, metadata Dagster refuses); a directly invoked asset; several writers through "
        "Dagster's composite reader; a Ray step retried while its job runs",
    ),
    "one-import-external": Case(
        "One import changed in the external process",
        "every public name and signature of dagster-pipes 1.13, about "
        "100 bad calls compared for their exception types, the log writers, the Prefect writer's size limit, closing "
        "twice and messages after close",
    ),
    "big-message-memory": Case(
        "Memory of one big message inside Dagster",
        "a 32 MB log line and a 32 MB custom payload through a real "
        "`dagster.materialize`: peak growth of the orchestrator against Dagster's client on the same message",
    ),
}

_OBSERVATIONS = pytest.StashKey[list[str]]()
_FIGURES = pytest.StashKey[dict[str, Any]]()


def case_of(item: pytest.Item) -> str | None:
    """The case id the item's reliability marker names, or None without one."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    if len(marker.args) != 1 or marker.kwargs or not isinstance(marker.args[0], str):
        raise pytest.UsageError(f"{item.nodeid}: use @pytest.mark.{MARKER}('<case id>') with one case id")
    return marker.args[0]


def implementation_in_use() -> tuple[str, bool]:
    """The hot-path module in use in this process, and whether it is the compiled extension."""
    from pipes_fast import _hotpath

    return _hotpath.implementation.__name__, _hotpath.EXTENSION


def implementation_free_id(item: pytest.Item) -> str:
    """The node id without the ``hotpath`` parameter's id: the same test under both implementations."""
    callspec = getattr(item, "callspec", None)
    ids = callspec.id.split("-") if callspec else []
    if callspec is None or callspec.params.get("hotpath") not in ids:
        return item.nodeid
    ids.remove(callspec.params["hotpath"])
    base = item.nodeid[: -len(callspec.id) - 2]
    return f"{base}[{'-'.join(ids)}]" if ids else base


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-json",
        metavar="PATH",
        default=None,
        help="write the outcome of every reliability-marked test to PATH (JSON)",
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("reliability_json")
    if path:
        config.pluginmanager.register(Recorder(Path(path)), "reliability-recorder")


_MISPLACED = pytest.StashKey[list[str]]()


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(collector: pytest.Module | pytest.Class, name: str, obj: object) -> Any:
    """Notes functions that carry a reliability marker but that pytest makes no test of.

    Asked of every name of a module as pytest collects it, whichever of its tests are then selected
    (by node id, ``-k``, ``-m``): selecting one test leaves the others marked and still tests."""
    made = yield
    marked = inspect.isfunction(obj) and any(mark.name == MARKER for mark in getattr(obj, "pytestmark", ()))
    if marked and not made:
        misplaced = collector.config.stash.setdefault(_MISPLACED, [])
        misplaced.append(f"{collector.nodeid}::{name}")
    return made


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuses unknown case ids and markers on functions that are not tests, before any marker
    selection drops the item."""
    unknown = sorted({f"{item.nodeid}: {case!r}" for item in items if (case := case_of(item)) and case not in CASES})
    if unknown:
        raise pytest.UsageError(
            "unknown reliability case id(s):\n  " + "\n  ".join(unknown) + f"\nknown ids: {', '.join(CASES)}"
        )
    misplaced = sorted(config.stash.get(_MISPLACED, []))
    if misplaced:
        raise pytest.UsageError("a reliability marker on a function that is not a test:\n  " + "\n  ".join(misplaced))


@pytest.fixture
def observe(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``observe(text)`` records, for the report, what Dagster did in this reliability test."""
    if case_of(request.node) is None:
        pytest.fail("the observe fixture is for tests marked @pytest.mark.reliability(...)")
    return request.node.stash.setdefault(_OBSERVATIONS, []).append


@pytest.fixture
def record_figures(request: pytest.FixtureRequest) -> Callable[[dict[str, Any]], None]:
    """``record_figures(mapping)`` adds figures of this reliability test (JSON values) to its record,
    for the report's tables (the fault matrix's)."""
    if case_of(request.node) is None:
        pytest.fail("the record_figures fixture is for tests marked @pytest.mark.reliability(...)")
    return request.node.stash.setdefault(_FIGURES, {}).update


_WORSE = {"passed": 0, "skipped": 1, "failed": 2}


class Recorder:
    """Collects the reliability tests' outcomes and writes them out at the end of the session."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.implementation, self.extension = implementation_in_use()
        self.items: dict[str, pytest.Item] = {}
        self.outcomes: dict[str, str] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Notes the reliability tests, and drops those parametrized by ``hotpath`` with the
        implementation not in use (the run that uses it records them)."""
        in_use = "compiled" if self.extension else "pure"
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            callspec = getattr(item, "callspec", None)
            other = case_of(item) and callspec is not None and callspec.params.get("hotpath", in_use) != in_use
            (drop if other else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self.items = {item.nodeid: item for item in items if case_of(item)}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keeps the worst of the phases: a failed setup or teardown fails the test, a skip skips it."""
        if report.nodeid in self.items and (report.when == "call" or not report.passed):
            previous = self.outcomes.get(report.nodeid, "passed")
            self.outcomes[report.nodeid] = max(previous, report.outcome, key=_WORSE.__getitem__)

    def record(self, item: pytest.Item) -> dict[str, Any]:
        """What the report needs to know about one test."""
        doc = inspect.getdoc(getattr(item, "obj", None)) or ""
        return {
            "case": case_of(item),
            "nodeid": item.nodeid,
            "test": implementation_free_id(item),
            "outcome": self.outcomes.get(item.nodeid, "not run"),
            "doc": doc.splitlines()[0] if doc else "",
            "side": "dagster" if "observe" in getattr(item, "fixturenames", ()) else "pipes_fast",
            "observations": item.stash.get(_OBSERVATIONS, []),
            "figures": item.stash.get(_FIGURES, {}),
        }

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        data = {
            "implementation": self.implementation,
            "extension": self.extension,
            "exitstatus": int(exitstatus),
            "tests": [self.record(item) for item in self.items.values()],
        }
        self.path.write_text(json.dumps(data, indent=1))
