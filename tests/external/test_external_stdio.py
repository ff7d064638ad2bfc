"""``include_stdio_in_messages``: what a script and its children write to stdout and stderr comes
back as ``log_external_stream`` messages, every byte of it before ``closed``, while still reaching
the original streams; large output does not deadlock; a child left running does not hold the
script up. Real scripts, real files, read back with both hot-path implementations.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.files import payloads, read_messages, run_script
from support.scripts.payloads import PRINTED_EVERY_WAY, a_lot_of_text

STDOUT, STDERR = PRINTED_EVERY_WAY["stdout"], PRINTED_EVERY_WAY["stderr"]


def streamed(messages: list[dict[str, Any]], stream: str) -> str:
    return "".join(p["text"] for p in payloads(messages, "log_external_stream") if p["stream"] == stream)


def test_output_of_the_script_and_its_children_is_reported_before_closed(tmp_path: Path, hotpath: ModuleType) -> None:
    process, path = run_script(tmp_path, "print_things", include_stdio=True, after_close="after close")
    assert process.returncode == 0, process.stderr
    messages = read_messages(hotpath, path)
    assert (streamed(messages, "stdout"), streamed(messages, "stderr")) == (STDOUT, STDERR)
    assert (messages[0]["method"], messages[-1]["method"]) == ("opened", "closed")
    assert all(p["extras"] == {} for p in payloads(messages, "log_external_stream"))
    # the output still reaches the streams it was going to, and capture ends with the context
    assert process.stdout.decode() == STDOUT + "after close\n"
    assert process.stderr.decode() == STDERR


def test_without_the_flag_nothing_is_captured(tmp_path: Path, hotpath: ModuleType) -> None:
    process, path = run_script(tmp_path, "print_things")
    assert process.stdout.decode() == STDOUT
    assert payloads(read_messages(hotpath, path), "log_external_stream") == []


def test_megabytes_of_output_flow_without_deadlock_or_damage(tmp_path: Path, hotpath: ModuleType) -> None:
    """More output than any pipe holds, from the script (in pieces that cut characters apart) and
    from a child; the run's timeout only guards against a hang."""
    size = 3 * 1024 * 1024
    process, path = run_script(tmp_path, "print_a_lot", include_stdio=True, timeout=300, bytes=size)
    assert process.returncode == 0, process.stderr[-2000:]
    expected = a_lot_of_text(size) + "x" * size
    assert streamed(read_messages(hotpath, path), "stdout") == expected
    assert process.stdout.decode() == expected


def test_a_child_left_running_does_not_hold_the_script_up(tmp_path: Path, hotpath: ModuleType) -> None:
    """The orphan keeps the pipe open for two minutes; the script still closes (the run's timeout
    only guards against a hang), having reported what the orphan wrote."""
    process, path = run_script(tmp_path, "leave_a_child", include_stdio=True, timeout=90)
    messages = read_messages(hotpath, path)
    (orphan,) = payloads(messages, "report_custom_message", "payload")
    os.kill(orphan["orphan_pid"], signal.SIGKILL)
    assert process.returncode == 0, process.stderr
    assert streamed(messages, "stdout") == "orphan says hi\n"
    assert messages[-1]["method"] == "closed"


@pytest.mark.parametrize("scenario", ["fail", "report_then_die"])
def test_capture_ends_cleanly_when_the_script_fails_or_dies(tmp_path: Path, hotpath: ModuleType, scenario: str) -> None:
    process, path = run_script(tmp_path, scenario, include_stdio=True, count=3)
    messages = read_messages(hotpath, path)
    assert messages[0]["method"] == "opened"
    if scenario == "fail":  # the traceback Python prints comes after the context closed: not captured
        assert process.returncode == 1 and b"ValueError: the step failed on purpose" in process.stderr
        assert messages[-1]["params"]["exception"]["name"] == "ValueError"
    else:
        assert process.returncode == -9
        assert len(payloads(messages, "report_custom_message")) == 3
