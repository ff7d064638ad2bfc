"""Asset keys as they travel: escaped user strings, ``/`` between parts, ``\\`` before a character
taken as it is."""

from __future__ import annotations

from pipes_fast._wire import ESCAPE_CHARACTER


def to_asset_key_path(asset_key: str) -> list[str]:
    r"""The parts of an escaped asset key: ``"a/b\/c"`` is ``["a", "b/c"]``.

    As dagster-pipes reads it: an empty last part is left out (``"a/"`` is ``["a"]``, ``""`` is
    ``[]``) and a ``\`` at the very end is dropped.
    """
    parts: list[str] = []
    part: list[str] = []
    characters = iter(asset_key)
    for character in characters:
        if character == ESCAPE_CHARACTER:
            part.append(next(characters, ""))
        elif character == "/":
            parts.append("".join(part))
            part = []
        else:
            part.append(character)
    last = "".join(part)
    return [*parts, last] if last else parts
