"""The checks PipesContext applies to what it is given, worded after dagster-pipes' messages."""

from __future__ import annotations

from pipes_fast._logic.wire import METADATA_TYPES, PIPES_METADATA_TYPE_INFER
from pipes_fast.external.errors import DagsterPipesError

TYPE_CHECKING = False  # typing stays unimported at run time: see pipes_fast.external
if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence
    from typing import Any, TypeVar

    T = TypeVar("T")

SEVERITIES = ("WARN", "ERROR")
_METADATA_VALUE_KEYS = frozenset(("raw_value", "type"))


def defined(value: T | None, name: str, scope: str) -> T:
    """``value``, or an error saying that ``name`` is undefined because the step ``scope``."""
    if value is None:
        raise DagsterPipesError(f"`{name}` is undefined. Current step {scope}.")
    return value


def single_asset(asset_keys: Sequence[str] | None, name: str) -> None:
    """Raise unless the step targets exactly one asset (``name`` is what needs it)."""
    if len(defined(asset_keys, name, "does not target an asset")) != 1:
        raise DagsterPipesError(f"`{name}` is undefined. Current step targets multiple assets.")


def of_type(value: object, expected: type, method: str, param: str, optional: bool = False) -> None:
    """Raise unless ``value`` is an instance of ``expected`` (or None, when ``optional``)."""
    if isinstance(value, expected) or (optional and value is None):
        return
    wanted = f"Optional[{expected}]" if optional else f"{expected}"
    raise DagsterPipesError(
        f"Invalid type for parameter `{param}` of `{method}`. Expected `{wanted}`, got `{type(value)}`."
    )


def one_of(value: object, allowed: Collection[str], method: str, param: str) -> None:
    """Raise unless ``value`` is one of ``allowed`` (shown in order, or sorted if it is a set)."""
    if value not in allowed:
        shown = tuple(sorted(allowed)) if isinstance(allowed, frozenset) else tuple(allowed)
        raise DagsterPipesError(
            f"Invalid value for parameter `{param}` of `{method}`. Expected one of `{shown}`, got `{value!r}`."
        )


def resolve_asset_key(asset_keys: Sequence[str] | None, asset_key: str | None, method: str) -> str:
    """The asset a report is about: the one given (which must be in the step) or the step's only one."""
    of_type(asset_key, str, method, "asset_key", optional=True)
    if asset_keys:
        if asset_key and asset_key not in asset_keys:
            raise DagsterPipesError(f"Invalid asset key. Expected one of `{list(asset_keys)}`, got `{asset_key}`.")
        if not asset_key:
            if len(asset_keys) != 1:
                raise DagsterPipesError(
                    f"Calling `{method}` without passing an asset key is undefined. Current step targets"
                    " multiple assets."
                )
            asset_key = asset_keys[0]
    if not asset_key:
        raise DagsterPipesError(
            f"Calling `{method}` without passing an asset key is undefined. Current step does not target a"
            " specific asset."
        )
    return asset_key


def normalize_metadata(metadata: Mapping[str, Any] | None, method: str) -> dict[str, Any] | None:
    """Metadata as it travels: every value ``{"raw_value": ..., "type": ...}``; None when empty.

    A dict value must already have exactly that shape (with a known type); any other value is
    sent with the type ``__infer__``, for the orchestration side to infer from its JSON type.
    """
    if not metadata:
        return None
    of_type(metadata, dict, method, "metadata")
    normalized: dict[str, Any] = {}
    for name, value in metadata.items():
        if not isinstance(name, str):
            raise DagsterPipesError(
                f"Invalid type for parameter `metadata` of `{method}`. Expected a dict with string keys, got a"
                f" key `{name!r}` of type `{type(name)}`."
            )
        if isinstance(value, dict):
            if value.keys() != _METADATA_VALUE_KEYS:
                raise DagsterPipesError(
                    f"Invalid type for parameter `metadata` of `{method}`. Expected a dict with string keys and"
                    " values that are either raw metadata values or dictionaries with schema"
                    f" `{{raw_value: ..., type: ...}}`. Got a value `{value}`."
                )
            one_of(value["type"], METADATA_TYPES, method, f"metadata.{name}.type")
            normalized[name] = value
        else:
            normalized[name] = {"raw_value": value, "type": PIPES_METADATA_TYPE_INFER}
    return normalized


def param_of_type(params: Mapping[str, Any], key: str, expected: type, owner: object) -> Any:
    """``params[key]`` from the orchestration side, if it is an instance of ``expected``."""
    value = params.get(key)
    if not isinstance(value, expected):
        raise DagsterPipesError(
            f"Invalid type for parameter `{key}` passed from orchestration side to `{type(owner).__name__}`."
            f" Expected `{expected}`, got `{type(value)}`."
        )
    return value
