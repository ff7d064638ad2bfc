"""`pipes-fast run` against hostile input, driven as a user drives it (the CLI in a subprocess,
real children written with dagster-pipes): paths that already exist are refused and left as they
were, and whatever the child sends, every result and a summary come out (strict JSON with --json)
with the documented exit status, interrupted runs included."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_cli_run import CLI, WAIT_SECONDS, _lines_of, _until, cli, script

NESTED_DEPTH = 500


def strict_json_lines(stdout: str) -> list[dict[str, Any]]:
    """Each line parsed as strict JSON: no NaN/Infinity, and every string valid Unicode."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    records = [json.loads(line, parse_constant=refuse) for line in stdout.splitlines()]
    json.dumps(records, ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate
    return records


def by_type(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [record for record in records if record["type"] == kind]


# ---------------------------------------------------------------------------------------------
# Item 1: file:PATH never destroys a file it did not create


EXISTING_TEXT = "precious data\n"


def existing(tmp_path: Path, kind: str) -> tuple[Path, Path]:
    """A path holding something already: a regular file (mode 0644), a link to one, or a dangling
    link; and the regular file whose contents must survive (the link's target)."""
    target = tmp_path / "precious.txt"
    target.write_text(EXISTING_TEXT)
    target.chmod(0o644)
    if kind == "file":
        return target, target
    link = tmp_path / "link"
    link.symlink_to(target if kind == "link" else tmp_path / "nowhere")
    return link, target


def assert_untouched(path: Path, target: Path, kind: str) -> None:
    assert path.is_symlink() == (kind != "file")
    assert target.read_text() == EXISTING_TEXT
    assert target.stat().st_mode & 0o777 == 0o644
    assert not (target.parent / "nowhere").exists()  # nothing was created through a dangling link


JOB = "from dagster_pipes import open_dagster_pipes\nwith open_dagster_pipes() as pipes:\n    pipes.report_custom_message('hi')\n"


@pytest.mark.reliability("cli-existing-paths")
@pytest.mark.parametrize("kind", ["file", "link", "dangling-link"])
@pytest.mark.parametrize("option", ["--message-reader", "--context-injector"])
@pytest.mark.parametrize("output", ["table", "json"])
def test_an_existing_path_is_refused_and_left_as_it_was(tmp_path: Path, option: str, kind: str, output: str) -> None:
    """A message file or context file PATH that already exists is refused (exit 2, the path and
    --overwrite named) and left as it was: contents, mode, existence, a link still a link."""
    path, target = existing(tmp_path, kind)
    marker = tmp_path / "ran"
    job = script(tmp_path, f"open({str(marker)!r}, 'w')\n" + JOB)
    done = cli("run", *(["--json"] if output == "json" else []), option, f"file:{path}", "--", sys.executable, job)
    assert done.returncode == 2, done.stderr
    assert str(path) in done.stderr and "--overwrite" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == "" and not marker.exists()  # the command never ran
    assert_untouched(path, target, kind)


@pytest.mark.reliability("cli-existing-paths")
@pytest.mark.parametrize("option", ["--message-reader", "--context-injector"])
def test_overwrite_replaces_an_existing_file_but_never_through_a_link(tmp_path: Path, option: str) -> None:
    """With --overwrite an existing regular file is used (the message file kept, the context file
    removed afterwards, as documented); a link at the path is still refused, its target intact."""
    path, target = existing(tmp_path, "file")
    job = script(tmp_path, JOB)
    done = cli("run", "--json", "--overwrite", option, f"file:{path}", "--", sys.executable, job)
    assert done.returncode == 0, done.stderr
    assert by_type(strict_json_lines(done.stdout), "custom_message") == [{"type": "custom_message", "payload": "hi"}]
    if option == "--message-reader":
        assert '"report_custom_message"' in path.read_text()
    else:
        assert not path.exists()
    again = tmp_path / "again"
    again.mkdir()
    link, target = existing(again, "link")
    done = cli("run", "--overwrite", option, f"file:{link}", "--", sys.executable, job)
    assert done.returncode == 2 and str(link) in done.stderr and "symbolic link" in done.stderr
    assert_untouched(link, target, "link")


# ---------------------------------------------------------------------------------------------
# Item 9: whatever the child sends, every result and a summary


SURROGATES = """\
from dagster_pipes import open_dagster_pipes
with open_dagster_pipes() as pipes:
    pipes.report_custom_message({"s": "a\\ud800b"})
    pipes.report_asset_materialization(metadata={"m\\udfff": "x\\ud800y", "j": {"raw_value": ["\\udc80"], "type": "json"}})
    pipes.report_asset_check("c\\ud800", passed=True)
    pipes.report_custom_message("after")
"""

NON_FINITE = """\
from dagster_pipes import open_dagster_pipes
with open_dagster_pipes() as pipes:
    pipes.report_custom_message(float("nan"))
    pipes.report_custom_message({"inf": [float("inf"), float("-inf")]})
    pipes.report_asset_materialization(metadata={"ratio": float("nan"), "top": float("inf")})
    pipes.report_custom_message("after")
"""

DEEP = f"""\
from dagster_pipes import open_dagster_pipes
with open_dagster_pipes() as pipes:
    nested = "bottom"
    for _ in range({NESTED_DEPTH}):
        nested = [nested]
    pipes.report_custom_message(nested)
    pipes.report_asset_materialization(metadata={{"deep": {{"raw_value": nested, "type": "json"}}}})
    pipes.report_custom_message("after")
"""


def depth_of(value: Any) -> tuple[int, Any]:
    """How many lists ``value`` nests, and what is at the bottom."""
    depth = 0
    while isinstance(value, list) and len(value) == 1:
        value, depth = value[0], depth + 1
    return depth, value


@pytest.mark.reliability("cli-hostile-output")
def test_lone_surrogates_come_out_escaped_as_valid_json(tmp_path: Path) -> None:
    """Lone surrogates in a payload, metadata names and values and a check name: every result and
    the summary come out, each surrogate as the text \\udXXX, and the run exits 0."""
    done = cli("run", "--json", "--asset", "a", "--", sys.executable, script(tmp_path, SURROGATES))
    assert done.returncode == 0, done.stderr
    records = strict_json_lines(done.stdout)
    assert [r["payload"] for r in by_type(records, "custom_message")] == [{"s": "a\\ud800b"}, "after"]
    [materialization] = by_type(records, "materialization")
    assert materialization["metadata"] == {
        "m\\udfff": {"type": "text", "value": "x\\ud800y"},
        "j": {"type": "json", "value": ["\\udc80"]},
    }
    assert [r["check_name"] for r in by_type(records, "check")] == ["c\\ud800"]
    assert records[-1]["type"] == "summary" and records[-1]["outcome"] == "success"
    assert (records[-1]["custom_messages"], records[-1]["materializations"], records[-1]["checks"]) == (2, 1, 1)


@pytest.mark.reliability("cli-hostile-output")
def test_lone_surrogates_in_the_table(tmp_path: Path) -> None:
    """The table shows lone surrogates as \\udXXX (payloads as JSON, so with the backslash escaped)
    and ends with the exit status line; exit 0."""
    done = cli("run", "--asset", "a", "--", sys.executable, script(tmp_path, SURROGATES))
    assert done.returncode == 0, done.stderr
    assert '{"s": "a\\\\ud800b"}' in done.stdout and "c\\ud800" in done.stdout and "m\\udfff=x\\ud800y" in done.stdout
    assert "Custom messages: 2" in done.stdout and done.stdout.rstrip().endswith("Exit status: 0 (success)")


@pytest.mark.reliability("cli-hostile-output")
def test_non_finite_floats_are_strings_in_json(tmp_path: Path) -> None:
    """NaN and infinities, in payloads and metadata, come out as the strings "NaN", "Infinity",
    "-Infinity" (strict JSON), every result and the summary with them."""
    done = cli("run", "--json", "--asset", "a", "--", sys.executable, script(tmp_path, NON_FINITE))
    assert done.returncode == 0, done.stderr
    records = strict_json_lines(done.stdout)
    assert [r["payload"] for r in by_type(records, "custom_message")] == [
        "NaN",
        {"inf": ["Infinity", "-Infinity"]},
        "after",
    ]
    [materialization] = by_type(records, "materialization")
    assert materialization["metadata"] == {
        "ratio": {"type": "float", "value": "NaN"},
        "top": {"type": "float", "value": "Infinity"},
    }
    assert records[-1]["type"] == "summary" and records[-1]["exit_status"] == 0


@pytest.mark.reliability("cli-hostile-output")
@pytest.mark.parametrize("output", ["table", "json"])
def test_a_payload_nested_500_deep_is_cut_with_a_marker(tmp_path: Path, output: str) -> None:
    """A payload and a metadata value nested 500 deep: cut at the documented depth, the cut marked;
    every result and the summary come out, exit 0."""
    done = cli(
        "run", *(["--json"] if output == "json" else []), "--asset", "a", "--", sys.executable, script(tmp_path, DEEP)
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    if output == "table":
        assert "Custom messages: 2" in done.stdout and "Materializations: 1" in done.stdout
        assert done.stdout.rstrip().endswith("Exit status: 0 (success)")
        return
    records = strict_json_lines(done.stdout)
    deep, after = (r["payload"] for r in by_type(records, "custom_message"))
    [materialization] = by_type(records, "materialization")
    for value in (deep, materialization["metadata"]["deep"]["value"]):
        depth, bottom = depth_of(value)
        assert depth < NESTED_DEPTH and isinstance(bottom, str) and "nested deeper than" in bottom
    assert after == "after" and records[-1]["type"] == "summary" and records[-1]["custom_messages"] == 2


LONG_RUNNING = """\
import sys, time
from pathlib import Path
from dagster_pipes import open_dagster_pipes

go = Path(sys.argv[1])
with open_dagster_pipes() as pipes:
    pipes.report_custom_message({"s": "a\\ud800b", "f": float("nan")})
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    pipes.report_custom_message("after")
"""


@pytest.mark.reliability("cli-hostile-output")
def test_a_hostile_payload_while_the_child_runs_comes_out_as_it_arrives(tmp_path: Path) -> None:
    """The payload is read while the child still runs (it waits for the line to appear): it comes
    out as strict JSON then, and what follows it too; exit 0."""
    go = tmp_path / "go"
    with subprocess.Popen(
        [*CLI, "run", "--json", "--", sys.executable, script(tmp_path, LONG_RUNNING), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        stdout = _lines_of(process.stdout)
        first = _until(stdout, "custom_message")
        assert process.poll() is None  # the child still runs: it waits for go
        go.touch()
        rest = _until(stdout)
        stderr = process.stderr.read()
        process.wait(WAIT_SECONDS)
    assert process.returncode == 0, stderr
    records = strict_json_lines("".join(first + rest))
    assert [r["payload"] for r in by_type(records, "custom_message")] == [{"s": "a\\ud800b", "f": "NaN"}, "after"]
    assert records[-1]["type"] == "summary" and records[-1]["custom_messages"] == 2


SLEEPS = """\
import time
from dagster_pipes import open_dagster_pipes
with open_dagster_pipes() as pipes:
    pipes.report_custom_message("before")
    pipes.log.info("ready")
    time.sleep(60)
"""


@pytest.mark.reliability("cli-hostile-output")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("output", ["table", "json"])
def test_an_interrupted_run_still_prints_its_summary(tmp_path: Path, signum: int, output: str) -> None:
    """SIGINT or SIGTERM to pipes-fast while the child runs: what came back and a summary saying
    interrupted are printed, and it exits 130."""
    with subprocess.Popen(
        [*CLI, "run", *(["--json"] if output == "json" else []), "--", sys.executable, script(tmp_path, SLEEPS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        stderr = _lines_of(process.stderr)
        _until(stderr, "INFO ready")
        process.send_signal(signum)
        stdout = process.stdout.read()
        rest = "".join(_until(stderr))
        process.wait(WAIT_SECONDS)
    assert process.returncode == 130, rest
    assert "pipes-fast run: interrupted" in rest  # (the child's own traceback is there: it got SIGINT)
    if output == "table":
        assert "Custom messages: 1" in stdout and stdout.rstrip().endswith("Exit status: 130 (interrupted)")
        return
    records = strict_json_lines(stdout)
    assert records[0] == {"type": "custom_message", "payload": "before"}
    summary = records[-1]
    assert summary["type"] == "summary" and summary["outcome"] == "interrupted"
    assert summary["exit_status"] == 130 and summary["returncode"] is None and summary["opened"] is True


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0"])
def test_check_timeout_must_be_a_positive_finite_number(value: str) -> None:
    done = cli("check", f"--timeout={value}", "--", "true")
    assert done.returncode == 2, done.stderr
    assert "argument --timeout" in done.stderr and "Traceback" not in done.stderr


def test_help_documents_overwrite_and_the_json_representation() -> None:
    done = cli("run", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for phrase in ("--overwrite", '"NaN"', '"Infinity"', "\\udXXX", "nested deeper than", "null when interrupted"):
        assert phrase in text, phrase
