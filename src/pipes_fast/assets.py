"""Asset keys, as Dagster spells them: a path of strings, travelling as an escaped user string."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Union

from pipes_fast._logic.wire import to_asset_key_path


class AssetKey:
    """The key of an asset: a tuple of string parts; equal and hashable by its path."""

    __slots__ = ("path",)

    path: tuple[str, ...]

    def __init__(self, path: Union[str, Iterable[str]]) -> None:
        try:
            parts = (path,) if isinstance(path, str) else tuple(path)
        except TypeError:
            parts = (None,)  # type: ignore[assignment]
        if not all(isinstance(p, str) for p in parts):
            raise TypeError(f"an asset key is a sequence of strings, got {path!r}")
        self.path = parts

    @staticmethod
    def from_user_string(user_string: str) -> AssetKey:
        """``"a/b"`` -> ``AssetKey(["a", "b"])`` (no escaping)."""
        return AssetKey(user_string.split("/"))

    @staticmethod
    def from_escaped_user_string(escaped: str) -> AssetKey:
        """Inverse of :meth:`to_escaped_user_string`: ``\\X`` is a literal X, ``/`` separates.

        As in Dagster, an empty last part (a trailing slash) is dropped.
        """
        return AssetKey(to_asset_key_path(escaped))

    @classmethod
    def coerce(cls, key: Union[AssetKey, str, Iterable[str]]) -> AssetKey:
        """An ``AssetKey`` from a key, a slash-separated user string, or a sequence of parts."""
        if isinstance(key, AssetKey):
            return key
        if isinstance(key, str):
            return cls.from_user_string(key)
        return cls(key)

    def to_user_string(self) -> str:
        return "/".join(self.path)

    def to_escaped_user_string(self) -> str:
        """Slashes and backslashes inside parts escaped with a backslash, parts joined by ``/``."""
        return "/".join(p.replace("\\", "\\\\").replace("/", "\\/") for p in self.path)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AssetKey) and other.path == self.path

    def __lt__(self, other: AssetKey) -> bool:
        return self.path < other.path

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        return f"AssetKey({list(self.path)!r})"
