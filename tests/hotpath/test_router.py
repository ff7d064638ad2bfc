"""The message router of the hot path: both implementations build the same results and warnings."""

from __future__ import annotations

import json
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.strategies import json_values

from pipes_fast import AssetKey
from pipes_fast.protocol import PIPES_PROTOCOL_VERSION_FIELD

KEYS = {"a": AssetKey("a"), "b/c": AssetKey(["b", "c"])}
metadata = (
    st.none()
    | json_values
    | st.dictionaries(
        st.text(max_size=4),
        st.fixed_dictionaries(
            {"raw_value": json_values, "type": st.sampled_from(["__infer__", "int", "url", "asset", "nope"])}
        )
        | json_values,
        max_size=3,
    )
)
params = (
    st.fixed_dictionaries(
        {},
        optional={
            "asset_key": st.sampled_from(["a", "b/c", "zzz"]) | json_values,
            "metadata": metadata,
            "data_version": st.none() | st.text(max_size=3) | st.integers(),
            "check_name": st.text(max_size=3) | st.integers(),
            "passed": st.booleans() | st.none(),
            "severity": st.sampled_from(["WARN", "ERROR", "BAD"]) | json_values,
            "payload": json_values,
        },
    )
    | json_values
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            PIPES_PROTOCOL_VERSION_FIELD: st.just("0.1"),
            "method": st.sampled_from(
                ["report_asset_materialization", "report_asset_check", "report_custom_message", "log", "x"]
            ),
            "params": params,
        }
    ),
    max_size=12,
)


def run(module, batch, op_step=False):
    others, warnings = [], []
    router = module.MessageRouter(None if op_step else KEYS, others.append, warnings.append)
    router.route(batch)
    assert isinstance(router.results, deque) and isinstance(router.custom_messages, deque)
    return repr(list(router.results)), repr(list(router.custom_messages)), repr(others), warnings, router.materialized


@settings(max_examples=400)
@given(batch=messages, op_step=st.booleans())
def test_implementations_agree_on_any_messages(both, batch, op_step):
    compiled, pure = both
    assert run(compiled, batch, op_step) == run(pure, batch, op_step)


class CountedKey(AssetKey):
    """An asset key that counts how often it is hashed."""

    hashes = 0

    def __hash__(self) -> int:
        CountedKey.hashes += 1
        return super().__hash__()


def materialization(key, data_version=None):
    return {
        PIPES_PROTOCOL_VERSION_FIELD: "0.1",
        "method": "report_asset_materialization",
        "params": {"asset_key": key, "data_version": data_version, "metadata": None},
    }


def test_materialized_holds_the_keys_of_materialized_assets_only(hotpath):
    router = hotpath.MessageRouter(KEYS, print, print)
    router.route([materialization("b/c"), materialization("a", data_version=5), materialization("zzz")])
    router.route([{**materialization("a"), "method": "report_asset_check"}])
    assert router.materialized == {AssetKey(["b", "c"])}
    assert router.materialized is not router.materialized  # a new set each time: no one changes the router's
    router.route([materialization("a")])
    assert router.materialized == {AssetKey("a"), AssetKey(["b", "c"])}


def test_materializations_do_not_hash_asset_keys(hotpath):
    """Hashing an AssetKey runs Python code: the router keeps the escaped strings instead."""
    router = hotpath.MessageRouter({"a": CountedKey("a")}, print, print)
    CountedKey.hashes = 0
    router.route_lines([json.dumps(materialization("a")).encode() for _ in range(1000)])
    assert len(router.results) == 1000 and CountedKey.hashes == 0
    assert router.materialized == {AssetKey("a")}


def test_other_methods_are_passed_on_and_their_errors_are_warnings(hotpath):
    from pipes_fast.errors import MalformedParams

    def other(message):
        raise MalformedParams("no such thing")

    warnings = []
    router = hotpath.MessageRouter(KEYS, other, warnings.append)
    router.route([{"method": "log", "params": {}}, {"method": "report_custom_message", "params": {"payload": 1}}])
    assert list(router.custom_messages) == [1]
    assert warnings == ["[pipes] skipped a log message: no such thing: {'method': 'log', 'params': {}}"]

    router.route_lines([b'{"__dagster_pipes_version": "0.1", "method": "log", "params": {}}'], 7)
    assert warnings[1].startswith("[pipes] skipped a log message at line 7: no such thing: ")


def test_closed_routers_warn_about_later_messages(hotpath):
    warnings = []
    router = hotpath.MessageRouter(KEYS, [].append, warnings.append)
    router.closed = True
    router.route([{"method": "report_custom_message", "params": {"payload": 1}}])
    assert list(router.custom_messages) == [1] and "unexpected message received after closed" in warnings[0]


def test_metadata_values_are_equal_by_value_and_immutable(hotpath):
    import copy

    assert hotpath.MetadataValue("int", 1) == hotpath.MetadataValue("int", 1)
    assert hotpath.MetadataValue("int", 1) != hotpath.MetadataValue("float", 1)
    assert hash(hotpath.MetadataValue("url", "u")) == hash(hotpath.MetadataValue("url", "u"))
    value = hotpath.MetadataValue("text", "t")
    with pytest.raises(AttributeError):
        value.type = "url"
    assert repr(value) == "MetadataValue('text', 't')"
    assert copy.deepcopy(value) == value  # pickling: test_iface (by the public name, in the implementation in use)


def as_lines(batch, spaced):
    """The messages as lines a writer would produce: json.dumps (dagster-pipes) or compact."""
    import json

    separators = (", ", ": ") if spaced else (",", ":")
    return [json.dumps(m, separators=separators).encode() for m in batch]


def reference_decode(lines):
    """Lines decoded as Dagster decodes them (Python's json): messages, and the numbers of the
    lines that are not messages."""
    import json

    decoded, bad = [], []
    for number, line in enumerate(lines, 3):
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if isinstance(value, dict) and PIPES_PROTOCOL_VERSION_FIELD in value:
            decoded.append(value)
        else:
            bad.append(number)
    return decoded, bad


@settings(max_examples=400)
@given(batch=messages, spaced=st.booleans(), garbage=st.lists(st.binary(max_size=20), max_size=3), closed=st.booleans())
def test_routing_lines_equals_decoding_then_routing(both, batch, spaced, garbage, closed):
    """The canonical-envelope fast paths change nothing: same results, payloads, warnings and
    reported lines as routing what Python's json decodes, on both implementations."""
    import re

    lines = as_lines(batch, spaced) + garbage
    decoded, bad_numbers = reference_decode(lines)
    outcomes = []
    for module in both:
        for fused in (True, False):
            others, warnings = [], []
            router = module.MessageRouter(KEYS, others.append, warnings.append)
            router.closed = closed
            if fused:
                assert [b.line for b in router.route_lines(lines, 3)] == bad_numbers
            else:
                router.route(decoded)
            warnings = [re.sub(r" at line \d+", "", w) for w in warnings]
            outcomes.append(repr((list(router.results), list(router.custom_messages), others, warnings)))
    assert all(outcome == outcomes[0] for outcome in outcomes)


CANONICAL = (
    b'{"__dagster_pipes_version":"0.1","method":"report_custom_message","params":{"payload":0}}',
    b'{"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": 0}}',
)


@pytest.mark.parametrize(
    "line",
    [
        b'{"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": 1}, "x": 2}',
        b'{"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": 1}}}',
        b'{"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": 1, "payload": 2}}',
        b'{"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": NaN}}',
        b'{"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": 123456789012345678901}}',
        b'{"__dagster_pipes_version":"0.1","method":"report_custom_message","params":{"payload":"}"}}',
        b'{"__dagster_pipes_version": "0.2", "method": "report_custom_message", "params": {"payload": 1}}',
        b'{"__dagster_pipes_version": "0.1", "method": "report_custom_messages", "params": {"payload": 1}}',
    ],
)
@pytest.mark.parametrize("before", [(), CANONICAL, CANONICAL[::-1]], ids=["alone", "after-compact", "after-spaced"])
def test_lines_that_only_look_canonical(hotpath, line, before):
    """Near-canonical lines go to the general path and come out as a JSON parser reads them, also
    right after canonical lines of either framing (whose envelope and method the router tries first)."""
    import json

    others, warnings = [], []
    router = hotpath.MessageRouter(KEYS, others.append, warnings.append)
    bad = router.route_lines([*before, line])
    earlier = [0] * len(before)
    try:
        expected = json.loads(line)
    except ValueError:
        assert bad and list(router.custom_messages) == earlier
        return
    if expected["method"] == "report_custom_message":
        assert list(router.custom_messages) == [*earlier, expected["params"]["payload"]]


def test_result_types_of_both_implementations_agree(both):
    import copy

    pairs = [
        (
            module.MaterializeResult(AssetKey("a"), {"n": module.MetadataValue("int", 1)}, "v1"),
            module.AssetCheckResult(AssetKey("a"), "c", False, metadata={"m": module.MetadataValue("text", "t")}),
        )
        for module in both
    ]
    assert [repr(r) for r in pairs[0]] == [repr(r) for r in pairs[1]]
    assert pairs[0][0] != pairs[1][0]  # one implementation per process: no cross-implementation equality
    for materialization, check in pairs:
        assert materialization.replace(data_version="v2").data_version == "v2" and materialization.data_version == "v1"
        assert materialization.replace(check_results=(check,)).check_results == (check,)
        assert check.replace(passed=True) != check
        assert copy.deepcopy(materialization) == materialization and copy.deepcopy(check) == check
        for result in (materialization, check):
            with pytest.raises(AttributeError):
                result.asset_key = AssetKey("b")
            with pytest.raises(TypeError):
                hash(result)
    for module in both:
        assert module.MaterializeResult() == module.MaterializeResult(None, {}, None, ())
        assert module.MaterializeResult(metadata=None).metadata == {}
        assert module.AssetCheckResult(AssetKey("a"), "c", True, metadata=None).metadata == {}
        assert module.AssetCheckResult(AssetKey("a"), "c", True).severity.value == "ERROR"
