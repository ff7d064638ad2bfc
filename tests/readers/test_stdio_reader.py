"""PipesStdioMessageReader: messages among a real child's ordinary output, through PipesSubprocessClient."""

from __future__ import annotations

import importlib
import logging
import sys
import textwrap

import pytest
from support.helpers import capturing_logger, materialize_in_dagster

from pipes_fast import (
    AssetKey,
    MaterializeResult,
    MetadataValue,
    PipesEnvContextInjector,
    PipesExecutionError,
    PipesStdioMessageReader,
    PipesSubprocessClient,
    StepContext,
)

HUGE = 3 * 1024 * 1024


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def run(code: str, stream: str = "stdout", forward_stdio: bool = False, context: StepContext | None = None):
    client = PipesSubprocessClient(
        context_injector=PipesEnvContextInjector(),
        message_reader=PipesStdioMessageReader(stream),
        forward_stdio=forward_stdio,
    )
    return client.run(context=context or StepContext("orders"), command=python(code))


DAGSTER_PIPES = """
    import sys
    from dagster_pipes import PipesDefaultMessageWriter, open_dagster_pipes
    with open_dagster_pipes(message_writer=PipesDefaultMessageWriter()) as pipes:
        out = sys.STREAM
        print("before", file=out)
        pipes.log.info("hello")
        print("between", file=out, flush=True)
        pipes.report_custom_message({"n": 1})
        pipes.report_asset_materialization(metadata={"rows": 3})
        print("after", file=out)
"""


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_dagster_pipes_script_interleaving_output(stream):
    logger, records = capturing_logger(f"stdio_reader_{stream}")
    invocation = run(DAGSTER_PIPES.replace("STREAM", stream), stream, context=StepContext("orders", log=logger))
    assert "hello" in records.messages(logging.INFO)
    assert invocation.get_results() == [MaterializeResult(AssetKey("orders"), {"rows": MetadataValue("int", 3)})]
    assert invocation.get_custom_messages() == ({"n": 1},)
    assert getattr(invocation, stream) == "before\nbetween\nafter\n"


def test_a_pipes_fast_script_with_output_that_looks_like_json():
    code = """
        import sys
        from pipes_fast.external import PipesDefaultMessageWriter, open_dagster_pipes
        with open_dagster_pipes(message_writer=PipesDefaultMessageWriter()) as pipes:
            print('{"not": "a message"}')
            print('  {"__dagster_pipes_versio": 1}')
            for n in range(3):
                pipes.report_custom_message(n)
                print(n)
    """
    invocation = run(code)
    assert invocation.get_custom_messages() == (0, 1, 2)
    assert invocation.stdout == '{"not": "a message"}\n  {"__dagster_pipes_versio": 1}\n0\n1\n2\n'


def test_forwarded_output_is_byte_exact_with_huge_lines_partial_lines_and_invalid_utf8(capfdbinary):
    code = f"""
        import sys
        from dagster_pipes import PipesDefaultMessageWriter, open_dagster_pipes
        out = sys.stdout.buffer
        with open_dagster_pipes(message_writer=PipesDefaultMessageWriter()) as pipes:
            out.write(b"partial"); out.flush()
            out.write(b" line\\n\\xff\\xfe\\xc3(\\r\\n"); out.flush()
            out.write(b"{{" + b"x" * {HUGE} + b"\\n"); out.flush()
            pipes.report_custom_message("x" * {HUGE})
            out.write(b"y" * {HUGE}); out.flush()
            out.write(b"\\n{{\\xff\\n"); out.flush()
            pipes.report_custom_message("last")
        out.write(b"no newline at the end"); out.flush()
    """
    invocation = run(code, forward_stdio=True)
    assert invocation.get_custom_messages() == ("x" * HUGE, "last")
    assert invocation.stdout is None
    expected = (
        b"partial line\n\xff\xfe\xc3(\r\n{" + b"x" * HUGE + b"\n" + b"y" * HUGE + b"\n{\xff\nno newline at the end"
    )
    assert capfdbinary.readouterr().out == expected


def test_a_hundred_thousand_messages_arrive_in_order_among_output():
    code = """
        from pipes_fast.external import PipesDefaultMessageWriter, open_dagster_pipes
        with open_dagster_pipes(message_writer=PipesDefaultMessageWriter()) as pipes:
            for n in range(100_000):
                pipes.report_custom_message(n)
                if n % 1000 == 0:
                    print("progress", n)
    """
    invocation = run(code)
    assert invocation.get_custom_messages() == tuple(range(100_000))
    assert invocation.stdout == "".join(f"progress {n}\n" for n in range(0, 100_000, 1000))


@pytest.mark.reliability("stdio-lookalikes")
def test_lookalike_lines_are_output_and_a_failure_names_the_output_tail():
    code = """
        import sys
        from dagster_pipes import PipesDefaultMessageWriter, open_dagster_pipes
        with open_dagster_pipes(message_writer=PipesDefaultMessageWriter()) as pipes:
            print('{"__dagster_pipes_version": "0.1", "method": broken', flush=True)
            print('{"wrapped": {"__dagster_pipes_version": "0.1", "method": "log"}}', flush=True)
            print("about to fail", file=sys.stderr)
            raise SystemExit(3)
    """
    logger, records = capturing_logger("stdio_reader_test")
    with pytest.raises(PipesExecutionError, match="(?s)failed with code 3.*about to fail"):
        run(code, context=StepContext("orders", log=logger))
    assert not any("skipped" in message for message in records.messages(logging.WARNING)), records.messages()


@pytest.mark.reliability("stdio-lookalikes")
def test_lookalike_lines_come_out_byte_for_byte_and_a_bad_message_is_reported_by_position():
    code = """
        from dagster_pipes import PipesDefaultMessageWriter, open_dagster_pipes
        with open_dagster_pipes(message_writer=PipesDefaultMessageWriter()) as pipes:
            print('{"__dagster_pipes_version": "0.1", "method": broken')
            print('{"note": "__dagster_pipes_version"}')
            print('{"__dagster_pipes_version": "0.1", "method": "no_such_method", "params": {}}')
            pipes.report_custom_message(1)
    """
    logger, records = capturing_logger("stdio_reader_lookalikes")
    invocation = run(code, context=StepContext("orders", log=logger))
    assert invocation.get_custom_messages() == (1,)
    assert (
        invocation.stdout
        == '{"__dagster_pipes_version": "0.1", "method": broken\n{"note": "__dagster_pipes_version"}\n'
    )
    warnings = records.messages(logging.WARNING)
    assert any("no_such_method message at line 2: unknown method" in message for message in warnings), warnings
    assert len([message for message in warnings if "skipped" in message]) == 1, warnings


def test_the_reader_alone():
    with pytest.raises(ValueError, match="stream must be one of"):
        PipesStdioMessageReader("stdin")
    reader = PipesStdioMessageReader("stderr")
    with pytest.raises(RuntimeError, match="only while its session is open"):
        reader.feed(b"x\n")
    assert "stderr" in reader.no_messages_debug_text()


@pytest.mark.parametrize("module", ["pipes_fast", "pipes_fast.dagster"])
def test_inside_dagster(module):
    dagster = pytest.importorskip("dagster")
    reader_class = importlib.import_module(module).PipesStdioMessageReader
    code = textwrap.dedent(DAGSTER_PIPES.replace("STREAM", "stderr"))
    materialization = materialize_in_dagster(
        "pipes_fast.dagster",
        code,
        context_injector=PipesEnvContextInjector(),
        message_reader=reader_class("stderr"),
    )
    assert materialization.metadata["rows"].value == 3
    assert module == "pipes_fast" or isinstance(reader_class(), dagster.PipesMessageReader)
