# What the external process reports: metadata values, materializations and check results.
# Pure implementation: src/pipes_fast/_hotpath/pure/results.py
#
# Not tracked by the cyclic garbage collector: a stream's results can run to millions, and
# nothing the wire delivers can make a value or a result refer back to itself.

cimport cython

from pipes_fast._logic.contract import metadata_type
from pipes_fast.assets import AssetKey
from pipes_fast.errors import MalformedParams
from pipes_fast.protocol import (
    INFERRED_METADATA_TYPE,
    PIPES_METADATA_TYPE_INFER,
    RESOLVED_METADATA_TYPES,
    AssetCheckSeverity,
)

cdef extern from *:
    """
    static void __pyx_pipes_fast_rename(PyObject* type, const char* name) {
        ((PyTypeObject*)type)->tp_name = name;  /* a static type's module and name come from it */
        PyType_Modified((PyTypeObject*)type);
    }
    """
    void _rename "__pyx_pipes_fast_rename"(object type, const char* name)

cdef str _INFER = PIPES_METADATA_TYPE_INFER
cdef dict _INFERRED_TYPE = INFERRED_METADATA_TYPE
cdef frozenset _RESOLVED_TYPES = RESOLVED_METADATA_TYPES


@cython.no_gc
@cython.final
cdef class MetadataValue:
    """A typed metadata value: ``type`` is a Pipes metadata type (never ``__infer__``).

    ``value`` is the raw JSON value as the external process sent it, except for ``asset``,
    whose value is an :class:`AssetKey`. Immutable.
    """

    __match_args__ = ("type", "value")

    cdef readonly str type
    cdef readonly object value

    def __init__(self, type, value):
        self.type = metadata_type(type, _RESOLVED_TYPES)
        self.value = value

    @classmethod
    def infer(cls, value):
        """The value with the type Dagster infers for it (str -> text, dict -> json, ...)."""
        if type(value) is MetadataValue:
            return value
        if isinstance(value, AssetKey):
            return cls("asset", value)
        kind = _INFERRED_TYPE.get(type(value))
        if kind is None:
            raise TypeError(f"cannot infer a metadata type for {type(value).__name__}; wrap it in MetadataValue(type, value)")
        return cls(kind, value)

    def __eq__(self, other):
        if type(other) is not MetadataValue:
            return NotImplemented
        return self.type == (<MetadataValue>other).type and self.value == (<MetadataValue>other).value

    def __hash__(self):
        return hash((self.type, repr(self.value)))

    def __repr__(self):
        return f"MetadataValue({self.type!r}, {self.value!r})"

    def __reduce__(self):
        return (MetadataValue, (self.type, self.value))


cdef inline MetadataValue _trusted_value(str kind, object value):
    """A ``MetadataValue`` whose type is known to be valid."""
    cdef MetadataValue resolved = MetadataValue.__new__(MetadataValue)
    resolved.type = kind
    resolved.value = value
    return resolved


def resolve_metadata(raw, warn):
    """Metadata from the wire (``{name: {"raw_value": V, "type": T}}``) to ``MetadataValue`` objects.

    ``__infer__`` resolves from the raw value's type; an unknown type is reported through ``warn``
    and inferred too. A malformed entry raises :class:`MalformedParams`.
    """
    return _resolve_metadata(raw, warn)


cdef dict _resolve_metadata(object raw, object warn):
    if type(raw) is not dict:
        if raw is None:
            return {}
        raise MalformedParams(f"metadata must be an object, got {type(raw).__name__}")
    cdef dict resolved = {}
    cdef object name, entry, kind, value
    for name, entry in (<dict>raw).items():
        try:
            kind = entry["type"]
            value = entry["raw_value"]
        except (TypeError, KeyError, IndexError):
            raise MalformedParams(
                f"metadata entry {name!r} must be an object with 'raw_value' and 'type', got {entry!r:.100}"
            ) from None
        if kind == _INFER:
            kind = _INFERRED_TYPE.get(type(value), "json")
        elif kind == "asset":
            if type(value) is not str:
                raise MalformedParams(f"metadata entry {name!r} of type 'asset' must be a string, got {value!r:.100}")
            value = AssetKey.from_user_string(value)
        elif type(kind) is not str or kind not in _RESOLVED_TYPES:
            warn(f"metadata entry {name!r} has unknown type {kind!r:.50}; inferring its type from the value")
            kind = _INFERRED_TYPE.get(type(value), "json")
        resolved[name] = _trusted_value(kind, value)
    return resolved


@cython.no_gc
@cython.final
cdef class AssetCheckResult:
    """The outcome of an asset check reported by the external process."""

    __match_args__ = ("asset_key", "check_name", "passed", "severity", "metadata")

    cdef readonly object asset_key
    cdef readonly object check_name
    cdef readonly object passed
    cdef readonly object severity
    cdef readonly object metadata

    def __init__(self, asset_key, check_name, passed, severity=AssetCheckSeverity.ERROR, metadata=None):
        self.asset_key = asset_key
        self.check_name = check_name
        self.passed = passed
        self.severity = severity
        self.metadata = {} if metadata is None else metadata

    def replace(self, **changes):
        """A copy with the given fields changed."""
        fields = dict(asset_key=self.asset_key, check_name=self.check_name, passed=self.passed,
                      severity=self.severity, metadata=self.metadata)
        fields.update(changes)
        return AssetCheckResult(**fields)

    def __eq__(self, other):
        if type(other) is not AssetCheckResult:
            return NotImplemented
        return (self.asset_key, self.check_name, self.passed, self.severity, self.metadata) == (
            other.asset_key, other.check_name, other.passed, other.severity, other.metadata)

    __hash__ = None

    def __repr__(self):
        return (f"AssetCheckResult(asset_key={self.asset_key!r}, check_name={self.check_name!r}, "
                f"passed={self.passed!r}, severity={self.severity!r}, metadata={self.metadata!r})")

    def __reduce__(self):
        return (AssetCheckResult, (self.asset_key, self.check_name, self.passed, self.severity, self.metadata))


@cython.no_gc
@cython.final
cdef class MaterializeResult:
    """An asset materialization reported by the external process (or implied for a selected asset)."""

    __match_args__ = ("asset_key", "metadata", "data_version", "check_results")

    cdef readonly object asset_key
    cdef readonly object metadata
    cdef readonly object data_version
    cdef readonly object check_results

    def __init__(self, asset_key=None, metadata=None, data_version=None, check_results=()):
        self.asset_key = asset_key
        self.metadata = {} if metadata is None else metadata
        self.data_version = data_version
        self.check_results = check_results

    def replace(self, **changes):
        """A copy with the given fields changed."""
        fields = dict(asset_key=self.asset_key, metadata=self.metadata, data_version=self.data_version,
                      check_results=self.check_results)
        fields.update(changes)
        return MaterializeResult(**fields)

    def __eq__(self, other):
        if type(other) is not MaterializeResult:
            return NotImplemented
        return (self.asset_key, self.metadata, self.data_version, self.check_results) == (
            other.asset_key, other.metadata, other.data_version, other.check_results)

    __hash__ = None

    def __repr__(self):
        return (f"MaterializeResult(asset_key={self.asset_key!r}, metadata={self.metadata!r}, "
                f"data_version={self.data_version!r}, check_results={self.check_results!r})")

    def __reduce__(self):
        return (MaterializeResult, (self.asset_key, self.metadata, self.data_version, self.check_results))


# Named where users import them from (as the pure classes are): they pickle by that name, and load
# as the implementation in use where they are loaded.
_rename(MetadataValue, "pipes_fast.results.MetadataValue")
_rename(AssetCheckResult, "pipes_fast.results.AssetCheckResult")
_rename(MaterializeResult, "pipes_fast.results.MaterializeResult")
