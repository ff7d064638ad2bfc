"""Change one import and nothing else changes: the same Dagster code, run through Dagster's Pipes
classes and pipes_fast.dagster's, gives the same results; where Dagster hides a broken client,
pipes_fast.dagster fails the step with an error naming the message (issue 20, items 1, 2, 4, 5, 7).
"""

import gc
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import dagster as dg
import pytest
from support.helpers import closed, custom, line, materialization, opened, script

import pipes_fast.dagster

APIS = {"dagster": dg, "pipes_fast.dagster": pipes_fast.dagster}

pytestmark = [
    pytest.mark.reliability("one-import-dagster"),
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning", "ignore::DeprecationWarning"),
]


@pytest.fixture(params=sorted(APIS))
def api(request: pytest.FixtureRequest) -> ModuleType:
    return APIS[request.param]


def dagster_pipes_script(tmp_path: Path, body: str) -> list[str]:
    """A command running ``body`` inside ``with open_dagster_pipes() as context:``."""
    path = tmp_path / f"child-{len(list(tmp_path.glob('child-*')))}.py"
    path.write_text(
        "from dagster_pipes import open_dagster_pipes\n\nwith open_dagster_pipes() as context:\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
    )
    return [sys.executable, str(path)]


def summary(results: Any) -> list[tuple[Any, ...]]:
    """Results as comparable tuples (Dagster's records compare equal field by field)."""
    return [(type(r).__name__, r.asset_key, getattr(r, "check_name", None), dict(r.metadata or {})) for r in results]


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
        error = error.cause
    return error.message


def check_evaluations(result: dg.ExecuteInProcessResult) -> list[tuple[str, str, bool, dict[str, Any]]]:
    return [
        (e.asset_key.to_user_string(), e.check_name, e.passed, dict(e.metadata))
        for e in (
            event.event_specific_data
            for event in result.all_events
            if event.event_type_value == "ASSET_CHECK_EVALUATION"
        )
    ]


# ----- 1. a standalone @asset_check -----

CHECK_BODY = """
context.report_asset_check(asset_key="orders", check_name="rows_positive", passed=True, metadata={"rows": 3})
"""


def standalone_check(api: ModuleType, command: list[str], unwrap: bool) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset="orders", name="rows_positive")
    def rows_positive(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        step = context.op_execution_context if unwrap else context
        invocation = api.PipesSubprocessClient().run(context=step, command=command)
        result: dg.AssetCheckResult = invocation.get_asset_check_result()
        return result

    return rows_positive


@dg.asset
def orders() -> None:
    return None


@pytest.mark.parametrize("selection", ["asset and check", "check only"])
def test_a_standalone_asset_check_reports_its_result_as_with_dagster(tmp_path: Path, selection: str) -> None:
    command = dagster_pipes_script(tmp_path, CHECK_BODY)
    seen = {}
    for name, api in APIS.items():
        check = standalone_check(api, command, unwrap=True)  # Dagster's documented way
        chosen = dg.AssetSelection.checks(check) if selection == "check only" else dg.AssetSelection.all()
        result = dg.materialize([orders, check], selection=chosen, raise_on_error=False)
        assert result.success, (name, result.get_step_failure_events())
        seen[name] = check_evaluations(result)
    assert (
        seen["pipes_fast.dagster"]
        == seen["dagster"]
        == [("orders", "rows_positive", True, {"rows": dg.MetadataValue.int(3)})]
    )


def test_a_standalone_asset_check_may_pass_its_own_context(tmp_path: Path, observe: Callable[[str], None]) -> None:
    """Deliberately better: Dagster's client needs ``context.op_execution_context`` here and fails
    with an AttributeError given the check's own context; pipes_fast.dagster takes either."""
    command = dagster_pipes_script(tmp_path, CHECK_BODY)
    theirs = dg.materialize([orders, standalone_check(dg, command, unwrap=False)], raise_on_error=False)
    assert "has no attribute 'has_assets_def'" in failure_message(theirs)
    observe(
        "Given the check's own context, Dagster's client fails the step: " + failure_message(theirs).splitlines()[-1]
    )
    ours = dg.materialize([orders, standalone_check(pipes_fast.dagster, command, unwrap=False)], raise_on_error=False)
    assert ours.success
    assert check_evaluations(ours) == [("orders", "rows_positive", True, {"rows": dg.MetadataValue.int(3)})]


def test_a_check_the_step_does_not_run_fails_it_naming_the_check_and_its_line(tmp_path: Path) -> None:
    lines = (
        opened()
        + line(
            "report_asset_check",
            {"asset_key": "orders", "check_name": "other", "passed": True, "severity": "ERROR", "metadata": {}},
        )
        + closed()
    )
    check = standalone_check(pipes_fast.dagster, script(tmp_path, [{"write": lines}]), unwrap=True)
    result = dg.materialize([orders, check], raise_on_error=False)
    message = failure_message(result)
    assert message.startswith(
        "pipes_fast.dagster.PipesExecutionError: [pipes] the external process reported 1 result(s)"
    )
    assert "report_asset_check message at line 2: check 'other' of asset 'orders' is not one of the checks" in message
    assert "orders:rows_positive" in message


# ----- 2. get_results as Dagster's, whatever the call order -----

STREAM = (
    opened()
    + materialization("orders", {"rows": {"raw_value": 3, "type": "int"}}, "v1")
    + custom({"n": 1})
    + custom([2])
    + closed()
)


def run_asset(tmp_path: Path, api: ModuleType, body: Callable[[dg.AssetExecutionContext, Any], Any]) -> dict[str, Any]:
    """Materialize ``orders`` and ``extra`` (selected) in one asset step whose body runs a Pipes
    session on STREAM; returns what the body recorded, with the run's materialized keys."""
    seen: dict[str, Any] = {}
    command = script(tmp_path, [{"write": STREAM}])

    @dg.multi_asset(specs=[dg.AssetSpec("orders"), dg.AssetSpec("extra")])
    def both(context: dg.AssetExecutionContext):  # noqa: ANN202 - Dagster reads a return annotation as outputs
        return body(context, (api, command, seen))

    result = dg.materialize([both], raise_on_error=False)
    assert result.success, result.get_step_failure_events()
    seen["materialized"] = sorted(e.asset_key.to_user_string() for e in result.get_asset_materialization_events())
    return seen


def returned_inside_the_block(context: dg.AssetExecutionContext, args: Any) -> Any:
    """The pattern of dagster-aws's EMR tests: ``return session.get_results()`` in the block."""
    api, command, seen = args
    with api.open_pipes_session(
        context, api.PipesTempFileContextInjector(), api.PipesTempFileMessageReader()
    ) as session:
        subprocess.run(command, env=session.get_bootstrap_env_vars(), check=True)
        return session.get_results()  # what was read by now (a race in both), and the implied ones


def called_again_and_again(context: dg.AssetExecutionContext, args: Any) -> Any:
    api, command, seen = args
    with api.open_pipes_session(
        context, api.PipesTempFileContextInjector(), api.PipesTempFileMessageReader()
    ) as session:
        subprocess.run(command, env=session.get_bootstrap_env_vars(), check=True)
    seen["calls"] = [summary(session.get_results()) for _ in range(3)]
    seen["reported"] = [summary(session.get_reported_results()) for _ in range(2)]
    seen["custom"] = [list(session.get_custom_messages()) for _ in range(2)]
    seen["explicit"] = summary(session.get_results(implicit_materializations=False, metadata={"job": "j1"}))
    return session.get_results()


def dagsters_invocation_twice(context: dg.AssetExecutionContext, args: Any) -> Any:
    """The pattern of custom clients: Dagster's own completed invocation around the session."""
    api, command, seen = args
    with api.open_pipes_session(
        context, api.PipesTempFileContextInjector(), api.PipesTempFileMessageReader()
    ) as session:
        subprocess.run(command, env=session.get_bootstrap_env_vars(), check=True)
    invocation = dg.PipesClientCompletedInvocation(session, metadata={"job": "j1"})
    seen["calls"] = [summary(invocation.get_results()) for _ in range(2)]
    seen["custom"] = list(invocation.get_custom_messages())
    return invocation.get_results()


@pytest.mark.parametrize(
    "body",
    [returned_inside_the_block, called_again_and_again, dagsters_invocation_twice],
    ids=lambda body: body.__name__,
)
def test_get_results_is_dagsters_whatever_the_call_order(tmp_path: Path, body: Any) -> None:
    seen = {name: run_asset(tmp_path, api, body) for name, api in APIS.items()}
    assert seen["pipes_fast.dagster"] == seen["dagster"]
    assert seen["dagster"]["materialized"] == ["extra", "orders"]


def test_pipes_fast_streams_with_drain_results_each_result_once(tmp_path: Path) -> None:
    """Beyond Dagster: ``drain_results`` gives each result once, the implied ones after close."""

    def drained(context: dg.AssetExecutionContext, args: Any) -> Any:
        api, command, seen = args
        with api.open_pipes_session(
            context, api.PipesTempFileContextInjector(), api.PipesTempFileMessageReader()
        ) as session:
            subprocess.run(command, env=session.get_bootstrap_env_vars(), check=True)
            first = session.drain_results()
        rest = session.drain_results()
        seen["drains"] = [summary(first), summary(rest), summary(session.drain_results())]
        return (*first, *rest)

    seen = run_asset(tmp_path, pipes_fast.dagster, drained)
    everything = seen["drains"]
    assert sum(everything, []) == [
        ("MaterializeResult", dg.AssetKey("orders"), None, {"rows": dg.MetadataValue.int(3)}),
        ("MaterializeResult", dg.AssetKey("extra"), None, {}),
    ]
    assert everything[2] == []


# ----- 4, 5. a result the step cannot record fails it, naming the message -----


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (
            {"asset_key": "orders", "metadata": {"n": {"raw_value": "ten", "type": "int"}}, "data_version": None},
            "Dagster refuses metadata entry 'n' of type 'int' = 'ten'",
        ),
        (
            {"asset_key": "zzz", "metadata": None, "data_version": None},
            "asset key 'zzz' is not one of the step's assets: ['orders']",
        ),
    ],
    ids=["metadata Dagster refuses", "unknown asset key"],
)
def test_a_result_the_step_cannot_record_fails_it_naming_the_message_and_line(
    tmp_path: Path, api: ModuleType, params: dict[str, Any], reason: str, observe: Callable[[str], None]
) -> None:
    lines = opened() + line("log", {"message": "hello", "level": "INFO"}) + line("report_asset_materialization", params)
    lines += materialization("orders", {"rows": {"raw_value": 3, "type": "int"}}) + closed()
    command = script(tmp_path, [{"write": lines}])

    @dg.asset(name="orders")
    def the_asset(context: dg.AssetExecutionContext) -> Any:
        return api.PipesSubprocessClient().run(context=context, command=command).get_results()

    result = dg.materialize([the_asset], raise_on_error=False)
    gc.collect()  # a failed step's generator must not close in a later test
    if api is dg:  # what Dagster does, for the record: hide bad metadata, fail on the unknown key
        assert result.success == (reason.startswith("Dagster refuses")), (
            failure_message(result) if not result.success else ""
        )
        materialized = [e.materialization.metadata for e in result.get_asset_materialization_events()]
        observe(
            f"{params['asset_key']!r}: the step {'succeeds, materializations ' + repr(materialized) if result.success else 'fails: ' + failure_message(result).strip().splitlines()[-1]}"
        )
        return
    assert not result.success
    message = failure_message(result)
    assert message.startswith(
        "pipes_fast.dagster.PipesExecutionError: [pipes] the external process reported 1 result(s) this step cannot record"
    )
    assert f"a report_asset_materialization message at line 3: {reason}" in message


# ----- 7. the error users see has a public path -----


def test_the_execution_error_shows_its_public_module(tmp_path: Path) -> None:
    error = pipes_fast.dagster.PipesExecutionError
    assert f"{error.__module__}.{error.__qualname__}" == "pipes_fast.dagster.PipesExecutionError"
    command = [sys.executable, "-c", "raise SystemExit(3)"]

    @dg.asset
    def fails(context: dg.AssetExecutionContext) -> Any:
        return pipes_fast.dagster.PipesSubprocessClient().run(context=context, command=command).get_results()

    result = dg.materialize([fails], raise_on_error=False)
    gc.collect()
    (failure,) = result.get_step_failure_events()
    assert "pipes_fast.dagster.PipesExecutionError: " in failure.step_failure_data.error.to_string()
    assert "_client" not in failure.step_failure_data.error.to_string().split("Stack Trace")[0]


# ----- Dagster's own test patterns -----


def test_an_asset_invoked_directly_runs_its_client_as_with_dagster(tmp_path: Path) -> None:
    """``asset(context=build_asset_context(), ...)``: no run, yet the client runs and returns results."""
    command = dagster_pipes_script(
        tmp_path, 'context.log.info("hello")\ncontext.report_asset_materialization(metadata={"a": 1})\n'
    )
    seen = {}
    for name, api in APIS.items():

        @dg.asset(name="foo")
        def foo(context: dg.AssetExecutionContext, client: dg.ConfigurableResource) -> Any:
            yield from client.run(command=command, context=context).get_results()

        seen[name] = summary(foo(context=dg.build_asset_context(), client=api.PipesSubprocessClient()))
    assert (
        seen["pipes_fast.dagster"]
        == seen["dagster"]
        == [("MaterializeResult", dg.AssetKey("foo"), None, {"a": dg.MetadataValue.int(1)})]
    )
