"""The params each method takes: names, which are required, and their types.

As strict as the two orchestration sides together: Dagster's handler calls
``handler(**params)``, so every param its signature names without a default must be present
(``null`` where the value is optional) and no other may be; pipes_fast checks the types. The
params of ``opened`` and ``closed`` are passed whole instead: a param they do not define is
ignored (``extra-field``, a warning), and so are ``opened``'s params altogether
(``ignored-param``, a warning, as for ``log_external_stream``'s extras).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Callable

from pipes_fast.conformance.metadata import Problem, metadata_problems
from pipes_fast.protocol import AssetCheckSeverity

Check = Callable[[str, Any], list[Problem]]
"""Given a param's name and value, what is wrong with the value."""

LOG_LEVELS = frozenset(("critical", "error", "warning", "warn", "info", "debug"))
"""The log levels both orchestration sides accept, in any case (Dagster's also has ``fatal``)."""


@dataclasses.dataclass(frozen=True)
class Param:
    """One param of a method: ``check`` judges its value; a missing required one breaks
    ``missing_rule``."""

    name: str
    required: bool
    check: Check
    missing_rule: str = "params"


def _typed(accepts: Callable[[Any], bool], expected: str, rule: str = "params") -> Check:
    def check(name: str, value: Any) -> list[Problem]:
        return [] if accepts(value) else [(rule, f"param {name!r} must be {expected}, got {value!r:.60}")]

    return check


def _any(name: str, value: Any) -> list[Problem]:
    return []


def _metadata(name: str, value: Any) -> list[Problem]:
    return metadata_problems(value)


_STRING = _typed(lambda v: type(v) is str, "a string")
_OPTIONAL_STRING = _typed(lambda v: v is None or type(v) is str, "a string or null")
_STRINGS = _typed(lambda v: type(v) is list and all(type(s) is str for s in v), "a list of strings")
# values both orchestration sides ignore: a wrong one is an ``ignored-param`` warning
_IGNORED_OBJECT = _typed(lambda v: type(v) is dict, "an object", "ignored-param")
_IGNORED_OPTIONAL_OBJECT = _typed(lambda v: v is None or type(v) is dict, "an object or null", "ignored-param")
_EXCEPTION_KEYS = frozenset(("message", "stack", "name", "cause", "context"))


def _exception(name: str, value: Any) -> list[Problem]:
    """A ``PipesException``: message, stack (strings), name, and a cause and context of the same
    shape (Dagster reads each of the five; other fields are ignored)."""
    if value is None:
        return []
    if type(value) is not dict or not _EXCEPTION_KEYS <= value.keys():
        return [("params", f"param {name!r} must be an object of {sorted(_EXCEPTION_KEYS)}, got {value!r:.60}")]
    problems = _extra_fields(f"param {name!r}", value.keys() - _EXCEPTION_KEYS)
    problems += _STRING(f"{name}.message", value["message"]) + _STRINGS(f"{name}.stack", value["stack"])
    problems += _OPTIONAL_STRING(f"{name}.name", value["name"])
    return problems + _exception(f"{name}.cause", value["cause"]) + _exception(f"{name}.context", value["context"])


def _extra_fields(where: str, names: Iterable[str]) -> list[Problem]:
    """An ``extra-field`` warning per field ``where`` does not define."""
    return [("extra-field", f"{where} has field {name!r:.40}, which the protocol does not define") for name in names]


_SEVERITIES = frozenset(severity.value for severity in AssetCheckSeverity)
_ASSET_KEY = Param(
    "asset_key", True, _typed(lambda v: type(v) is str, "a string (the escaped asset key)"), "missing-asset-key"
)

METHOD_PARAMS: Mapping[str, tuple[Param, ...]] = {
    "opened": (Param("extras", True, _IGNORED_OBJECT, "ignored-param"),),
    "closed": (Param("exception", False, _exception),),
    "log": (
        Param("message", True, _STRING),
        Param("level", False, _typed(lambda v: type(v) is str and v.lower() in LOG_LEVELS, "a log level name")),
    ),
    "report_asset_materialization": (
        _ASSET_KEY,
        Param("data_version", True, _OPTIONAL_STRING),
        Param("metadata", True, _metadata),
    ),
    "report_asset_check": (
        _ASSET_KEY,
        Param("check_name", True, _STRING),
        Param("passed", True, _typed(lambda v: type(v) is bool, "true or false")),
        Param(
            "severity",
            True,
            _typed(lambda v: type(v) is str and v in _SEVERITIES, '"ERROR" or "WARN"', "check-severity"),
        ),
        Param("metadata", True, _metadata),
    ),
    "report_custom_message": (Param("payload", True, _any),),
    "log_external_stream": (
        Param("stream", True, _typed(lambda v: type(v) is str and v in ("stdout", "stderr"), '"stdout" or "stderr"')),
        Param("text", True, _STRING),
        Param("extras", False, _IGNORED_OPTIONAL_OBJECT),
    ),
}
"""Every method's params; ``closed`` also accepts null params."""

_WHOLE_PARAMS = frozenset(("opened", "closed"))
"""The methods whose params Dagster's handler takes whole rather than as keyword arguments."""


def param_problems(method: str, params: Any) -> list[Problem]:
    """What is wrong with the params of a message of a known ``method``."""
    if params is None and method == "closed":
        return []
    if type(params) is not dict:
        rule = "ignored-param" if method == "opened" else "params"
        return [(rule, f"params of {method!r} must be an object, got {params!r:.60}")]
    spec = METHOD_PARAMS[method]
    known = {param.name for param in spec}
    unknown = [name for name in params if name not in known]
    if method in _WHOLE_PARAMS:
        problems = _extra_fields(f"{method!r}", unknown)
    else:
        takes = ", ".join(sorted(known))
        problems = [("params", f"{method!r} takes no param {name!r} (it takes {takes})") for name in unknown]
    for param in spec:
        if param.name in params:
            problems += param.check(param.name, params[param.name])
        elif param.required:
            problems.append((param.missing_rule, f"{method!r} needs param {param.name!r}"))
    return problems
