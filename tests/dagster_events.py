"""What a Dagster run made of a Pipes step, normalised so two runs compare field by field.

``test_dagster_integration.py`` runs each scenario once through Dagster's own Pipes classes and
once through ``pipes_fast.dagster``'s; ``run_events`` turns each run's event log (and what the
step itself saw) into ``Events``. Only what legitimately differs between two runs is normalised:
run ids and other UUIDs, storage ids, temporary paths. ``EXTERNAL_SCRIPT`` is the external process
both runs launch: it imports ``dagster_pipes`` only and runs the steps given as JSON in argv[1].
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._serdes import serialize_value

PIPES_PREFIX = "[pipes]"
PIPES_CLOSED_WITH_EXCEPTION = "[pipes] external process pipes closed with exception"
STREAM_MARKER = "stream-marker"  # lines the script sends to the orchestrator's stdout/stderr
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
DATA_VERSION_TAG = "dagster/data_version"
USER_PROVIDED_TAG = "dagster/data_version_is_user_provided"
# tags whose values are storage ids of the instance's event log
_STORAGE_ID_TAG_PREFIX = "dagster/input_event_pointer/"

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TEMP_PATH = re.compile(re.escape(tempfile.gettempdir()) + r"/[^\s'\"`,]*")

EXTERNAL_SCRIPT = Path(__file__).parent / "interop" / "scripts" / "steps_script.py"
"""The external process both runs launch (dagster_pipes only); its steps are JSON in argv[1]."""


_AFTER_CLOSED = re.compile(r"^\[pipes\] unexpected message( at line \d+)? received after closed: `?(.*?)`?$", re.DOTALL)
"""The warning for a message after ``closed``: pipes_fast's names the line (and is capped)."""


def normalise_text(text: str) -> str:
    """``text`` with UUIDs (run ids) and temporary paths replaced by placeholders, and the two
    wordings of the warning for a message after ``closed`` made one."""
    text = _AFTER_CLOSED.sub(r"[pipes] unexpected message received after closed: \2", text)
    return _TEMP_PATH.sub("<tmp>", _UUID.sub("<uuid>", text))


def _is_late_stdio(text: str) -> bool:
    """The warning for output the writer captured and sent after ``closed``: whether there is one,
    and how the output was cut into messages, follow the external process's own timing (its
    capture thread), so the runs compare that output through ``stdout`` and ``stderr`` instead."""
    return text.startswith("[pipes] unexpected message received after closed:") and "log_external_stream" in text


def canonical(value: Any) -> str:
    """Canonical JSON (sorted keys; ``1``, ``1.0`` and ``True`` stay apart), normalised."""
    return normalise_text(json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=True))


def metadata_entries(metadata: Any) -> dict[str, tuple[str, str]]:
    """A Dagster metadata mapping as ``{name: (value class name, canonical serialised value)}``."""
    return {
        name: (type(value).__name__, canonical(json.loads(serialize_value(value))))
        for name, value in (metadata or {}).items()
    }


def _tags(tags: dict[str, str] | None) -> dict[str, str]:
    """Materialization tags; storage ids, and data versions Dagster computed (from the run id
    where there is no code version), replaced by placeholders."""
    out = {
        name: "<storage-id>" if name.startswith(_STORAGE_ID_TAG_PREFIX) else normalise_text(value)
        for name, value in (tags or {}).items()
    }
    if DATA_VERSION_TAG in out and out.get(USER_PROVIDED_TAG) != "true":
        out[DATA_VERSION_TAG] = "<computed>"
    return out


def _error(error: Any) -> dict[str, Any] | None:
    """A ``SerializableErrorInfo`` (and its cause and context) as plain data."""
    if error is None:
        return None
    return {
        "cls_name": error.cls_name,
        "message": normalise_text(error.message),
        "stack": [normalise_text(frame) for frame in error.stack],
        "cause": _error(error.cause),
        "context": _error(error.context),
    }


@dataclass
class Step:
    """What the step's own code saw while it ran (filled in by the scenario's asset or op)."""

    custom_messages: list[Any] = field(default_factory=list)
    error: BaseException | None = None
    streamed: int = 0  # results the step yielded while the external process was still running

    def reset(self) -> None:
        """Forget what an earlier run of the step recorded."""
        self.custom_messages, self.error, self.streamed = [], None, 0

    def run_client(self, client: Any, *, context: Any, command: list[str], extras: dict[str, Any] | None = None) -> Any:
        """``client.run(...)``, keeping its custom messages, or the error it raised."""
        try:
            invocation = client.run(context=context, command=command, extras=extras)
        except Exception as error:
            self.error = error
            raise
        self.custom_messages = list(invocation.get_custom_messages())
        return invocation


@dataclass
class Events:
    """One run, normalised. Every field but ``step`` is compared between the two APIs."""

    success: bool
    event_types: list[str]  # the run's Dagster events in order (engine-internal ones left out)
    materializations: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    logs: list[tuple[str, str]]  # (level name, text) of context.log records: the step's, pipes'
    pipes_engine_events: list[dict[str, Any]]  # "[pipes] ..." engine events and their errors
    failed_steps: list[str]
    custom_messages: list[str]
    stdout: list[str]  # lines carrying STREAM_MARKER the orchestrator wrote to sys.stdout
    stderr: list[str]
    step: Step

    def compared(self) -> dict[str, Any]:
        """The fields compared between the Dagster run and the pipes_fast one."""
        return {name: value for name, value in vars(self).items() if name != "step"}


def _materialization(event: Any) -> dict[str, Any]:
    materialization = event.event_specific_data.materialization
    tags = _tags(materialization.tags)
    return {
        "asset_key": list(materialization.asset_key.path),
        "partition": materialization.partition,
        "data_version": tags[DATA_VERSION_TAG] if tags.get(USER_PROVIDED_TAG) == "true" else None,
        "metadata": metadata_entries(materialization.metadata),
        "tags": tags,
        "description": materialization.description,
    }


def _check(event: Any) -> dict[str, Any]:
    evaluation = event.event_specific_data
    return {
        "asset_key": list(evaluation.asset_key.path),
        "check_name": evaluation.check_name,
        "passed": evaluation.passed,
        "severity": evaluation.severity.value,
        "metadata": metadata_entries(evaluation.metadata),
        "has_target_materialization": evaluation.target_materialization_data is not None,
        "partition": evaluation.partition,
        "blocking": evaluation.blocking,
        "description": evaluation.description,
    }


def _marked(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if STREAM_MARKER in line)


def events_of(entries: Sequence[Any], success: bool, step: Step, stdout: str, stderr: str) -> Events:
    """Normalise a run's event-log entries and what its step saw."""
    events = Events(
        success=success,
        event_types=[],
        materializations=[],
        checks=[],
        logs=[],
        pipes_engine_events=[],
        failed_steps=[],
        custom_messages=[canonical(message) for message in step.custom_messages],
        stdout=_marked(stdout),
        stderr=_marked(stderr),
        step=step,
    )
    for entry in entries:
        event = entry.dagster_event
        if event is None:
            text = normalise_text(entry.user_message)
            if not _is_late_stdio(text):
                events.logs.append((logging.getLevelName(entry.level), text))
            continue
        kind = event.event_type_value
        if kind == "ENGINE_EVENT":
            if not (event.message or "").startswith(PIPES_PREFIX):
                continue  # engine-internal: pids, timings
            events.pipes_engine_events.append(
                {"message": event.message, "error": _error(event.engine_event_data.error)}
            )
        elif kind == "ASSET_MATERIALIZATION":
            events.materializations.append(_materialization(event))
        elif kind == "ASSET_CHECK_EVALUATION":
            events.checks.append(_check(event))
        elif kind == "STEP_FAILURE":
            events.failed_steps.append(event.step_key)
        events.event_types.append(kind)
    return events


Runner = Callable[[dg.DagsterInstance], dg.ExecuteInProcessResult]


def run_events(runners: Sequence[Runner], step: Step) -> Events:
    """Run ``runners`` in order on one ephemeral instance; the events of the last one.

    The runs before the last seed the instance (materializations that provenance refers to); the
    step's record is reset before the last run, whose stdout and stderr are captured.
    """
    *seeds, observed = runners
    stdout, stderr = io.StringIO(), io.StringIO()
    with dg.DagsterInstance.ephemeral() as instance:
        for seed in seeds:
            with contextlib.redirect_stdout(io.StringIO()):
                if not seed(instance).success:
                    raise RuntimeError("a seed run failed")
        step.reset()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            result = observed(instance)
        entries = instance.all_logs(result.run_id)
    return events_of(entries, result.success, step, stdout.getvalue(), stderr.getvalue())
