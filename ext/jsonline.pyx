# Encoding messages as JSON lines into a growable buffer: the compiled appender's own encoder.
# No pure file mirrors this one: the pure appender (src/pipes_fast/_hotpath/pure/appender.py) writes with orjson; both
# write lines whose value is json.dumps' (the appender's fallback writes what neither encodes).
#
# The encoder reads objects through borrowed PyObject pointers and runs no Python code, so the
# containers it walks cannot change under it and no reference is taken.

cimport cython
from cpython.conversion cimport Py_DTSF_ADD_DOT_0, PyOS_double_to_string
from cpython.exc cimport PyErr_Clear, PyErr_ExceptionMatches
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free
from cpython.object cimport PyObject, PyTypeObject
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.math cimport fabs, isfinite
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy, memset, strlen

cdef extern from *:
    """
    #if defined(__SIZEOF_INT128__)
    typedef unsigned __int128 _pipes_fast_u128;
    #define _PIPES_FAST_HAVE_U128 1
    #else
    typedef unsigned long long _pipes_fast_u128;  /* never used: _HAVE_U128 is 0 */
    #define _PIPES_FAST_HAVE_U128 0
    #endif
    """
    ctypedef unsigned long long _u128 "_pipes_fast_u128"  # 128 bits (for Cython, an integer)
    const bint _HAVE_U128 "_PIPES_FAST_HAVE_U128"

cdef extern from "Python.h":
    PyTypeObject PyUnicode_Type, PyLong_Type, PyDict_Type, PyFloat_Type, PyList_Type, PyTuple_Type
    PyObject* _None "Py_None"
    PyObject* _True "Py_True"
    PyObject* _False "Py_False"
    PyTypeObject* _type "Py_TYPE"(PyObject* value)
    bint PyUnicode_IS_COMPACT_ASCII(PyObject* text)
    void* PyUnicode_DATA(PyObject* text)
    Py_ssize_t PyUnicode_GET_LENGTH(PyObject* text)
    const char* PyUnicode_AsUTF8AndSize(PyObject* text, Py_ssize_t* size)  # NULL: an exception set
    long long PyLong_AsLongLongAndOverflow(PyObject* number, int* overflow)  # no error for an exact int
    double PyFloat_AS_DOUBLE(PyObject* number)
    bint PyDict_Next(PyObject* mapping, Py_ssize_t* position, PyObject** key, PyObject** value)
    Py_ssize_t PyList_GET_SIZE(PyObject* items)
    PyObject* PyList_GET_ITEM(PyObject* items, Py_ssize_t index)
    Py_ssize_t PyTuple_GET_SIZE(PyObject* items)
    PyObject* PyTuple_GET_ITEM(PyObject* items, Py_ssize_t index)


cdef enum:
    _UNSUPPORTED = 1  # what an encoding function returns for a value it leaves to the fallback
    _MAX_DEPTH = 254  # containers nested deeper (or a container holding itself) go to the fallback
    _FIRST_ALLOCATION = 256


cdef struct _Out:
    char* data
    Py_ssize_t used
    Py_ssize_t allocated


cdef unsigned char _ESCAPES[256]  # for each byte: 0 (as is), or what follows its backslash
cdef const char* _HEX = b"0123456789abcdef"
cdef uint64_t _POW5[23]  # 5**0 to 5**22
cdef char _PAIRS[200]  # "00", "01", ... "99": two digits at a time
cdef const uint64_t _ONES = 0x0101010101010101ULL


cdef void _fill_tables() noexcept:
    """At import: _ESCAPES, _PAIRS for _digits, and _POW5 for _put_fixed_float."""
    cdef int c
    for c in range(256):
        _ESCAPES[c] = c"u" if c < 0x20 else 0  # control characters: \u00XX, but for the short ones
    _ESCAPES[c"\b"] = c"b"
    _ESCAPES[c"\f"] = c"f"
    _ESCAPES[c"\n"] = c"n"
    _ESCAPES[c"\r"] = c"r"
    _ESCAPES[c"\t"] = c"t"
    _ESCAPES[c'"'] = c'"'
    _ESCAPES[c"\\"] = c"\\"
    for c in range(100):
        _PAIRS[2 * c] = c"0" + c // 10
        _PAIRS[2 * c + 1] = c"0" + c % 10
    _POW5[0] = 1
    for c in range(1, 23):
        _POW5[c] = 5 * _POW5[c - 1]


_fill_tables()


cdef inline bint _needs_escape(uint64_t eight) noexcept:
    """Whether one of eight bytes is a control character, ``"`` or ``\\`` (exact: bit tricks that
    find a byte below 0x20, or a zero byte once ``"`` or ``\\`` is xored away)."""
    cdef uint64_t quote = eight ^ (_ONES * 0x22)
    cdef uint64_t backslash = eight ^ (_ONES * 0x5C)
    return (((eight - _ONES * 0x20) & ~eight) | ((quote - _ONES) & ~quote)
            | ((backslash - _ONES) & ~backslash)) & (_ONES * 0x80) != 0


cdef int _reserve(_Out* out, Py_ssize_t extra) except -1:
    """Room for ``extra`` more bytes after ``out.used`` (at least doubling the allocation)."""
    cdef Py_ssize_t needed, size
    cdef char* data
    if extra <= out.allocated - out.used:
        return 0
    if extra > PY_SSIZE_T_MAX - out.used:
        raise MemoryError()
    needed = out.used + extra
    size = needed if needed > PY_SSIZE_T_MAX // 2 else max(needed, 2 * out.allocated, _FIRST_ALLOCATION)
    data = <char*>realloc(out.data, size)
    if data == NULL:
        raise MemoryError()
    out.data = data
    out.allocated = size
    return 0


cdef void _trim(_Out* out, Py_ssize_t keep) noexcept:
    """Give back what a long line took beyond ``keep`` (> 0) bytes, once ``out`` holds no more."""
    cdef char* data
    if out.allocated > keep >= out.used:
        data = <char*>realloc(out.data, keep)
        if data != NULL:  # (else the larger block stays: nothing is lost)
            out.data = data
            out.allocated = keep


cdef inline int _put(_Out* out, const char* p, Py_ssize_t n) except -1:
    _reserve(out, n)
    memcpy(out.data + out.used, p, n)
    out.used += n
    return 0


cdef inline int _put_byte(_Out* out, char c) except -1:
    _reserve(out, 1)
    out.data[out.used] = c
    out.used += 1
    return 0


cdef int _encode_line(_Out* out, object message) except -1:
    """Append ``message`` as one JSON line (compact, non-ASCII as UTF-8, newline included) to ``out``.
    ``_UNSUPPORTED``, ``out`` left as it was, if it holds a value this encoder leaves to the
    fallback: anything but exact dicts with str keys, lists, tuples, str that UTF-8 can encode, int
    within 64 bits, finite float, bool and None, or nesting deeper than ``_MAX_DEPTH``."""
    cdef Py_ssize_t start = out.used
    cdef int status = _UNSUPPORTED
    try:
        if _put_value(out, <PyObject*>message, 0) == 0:
            _put_byte(out, c"\n")
            status = 0
    finally:
        if status:
            out.used = start
    return status


@cython.final
cdef class _Envelope:
    """The line's start for messages in ``make_message``'s envelope with the last method seen:
    ``{"__dagster_pipes_version":"0.1","method":"<method>","params":``. The method is held, so a
    message whose method is the very same object has the same start."""

    cdef object method
    cdef bytes start


cdef int _encode_message(_Out* out, object message, _Envelope envelope) except -1:
    """``_encode_line``, through ``_encode_enveloped`` for a message in ``make_message``'s envelope
    (its exact key and version objects, in its order)."""
    cdef Py_ssize_t position = 0
    cdef PyObject* key
    cdef PyObject* value
    cdef PyObject* method
    if not (type(message) is dict and len(<dict>message) == 3
            and PyDict_Next(<PyObject*>message, &position, &key, &value)
            and key == <PyObject*>_VERSION_FIELD and value == <PyObject*>_VERSION
            and PyDict_Next(<PyObject*>message, &position, &key, &method) and key == <PyObject*>_METHOD_KEY
            and PyDict_Next(<PyObject*>message, &position, &key, &value) and key == <PyObject*>_PARAMS_KEY):
        return _encode_line(out, message)
    return _encode_enveloped(out, <object>method, <object>value, envelope)


cdef int _encode_enveloped(_Out* out, object method, object params, _Envelope envelope) except -1:
    """``_encode_line`` of ``make_message(method, params)``, without the dict: its start copied from
    ``envelope``, made anew when the method changes."""
    if method is not envelope.method and _new_envelope(envelope, <PyObject*>method):
        return _encode_line(out, _message(method, params))
    return _encode_within(out, envelope.start, params, 1, b"}\n")


cdef int _encode_custom(_Out* out, object payload) except -1:
    """``_encode_line`` of ``make_message("report_custom_message", {"payload": payload})``, without
    the dicts."""
    return _encode_within(out, _CUSTOM_START, payload, 2, b"}}\n")


cdef int _encode_within(_Out* out, bytes head, object value, int depth, bytes tail) except -1:
    """``head``, ``value`` (inside ``depth`` containers), ``tail``; ``_UNSUPPORTED``, ``out`` left
    as it was, if ``value`` goes to the fallback."""
    cdef Py_ssize_t start = out.used
    cdef int status = _UNSUPPORTED
    try:
        _put(out, PyBytes_AS_STRING(head), PyBytes_GET_SIZE(head))
        if _put_value(out, <PyObject*>value, depth) == 0:
            _put(out, PyBytes_AS_STRING(tail), PyBytes_GET_SIZE(tail))
            status = 0
    finally:
        if status:
            out.used = start
    return status


cdef int _new_envelope(_Envelope envelope, PyObject* method) except -1:
    """Make ``envelope`` the start for ``method``; ``_UNSUPPORTED`` (unchanged) if it is not a str
    this encoder writes."""
    cdef _Out encoded = _Out(NULL, 0, 0)
    if _type(method) != &PyUnicode_Type:
        return _UNSUPPORTED
    try:
        if _put_str(&encoded, method, 0, 0):
            return _UNSUPPORTED
        envelope.start = _ENVELOPE_HEAD + encoded.data[:encoded.used] + b',"params":'
        envelope.method = <object>method
    finally:
        free(encoded.data)
    return 0


cdef str _METHOD_KEY = "method"
cdef str _PARAMS_KEY = "params"
cdef bytes _ENVELOPE_HEAD = f'{{"{_VERSION_FIELD}":"{_VERSION}","method":'.encode()
cdef str _CUSTOM_METHOD = "report_custom_message"
cdef str _PAYLOAD_KEY = "payload"
cdef bytes _CUSTOM_START = _ENVELOPE_HEAD + f'"{_CUSTOM_METHOD}","params":{{"{_PAYLOAD_KEY}":'.encode()


cdef inline int _put_value(_Out* out, PyObject* value, int depth) except -1:
    """Write ``value``, inside ``depth`` containers."""
    cdef PyTypeObject* kind = _type(value)
    if kind == &PyUnicode_Type:
        return _put_str(out, value, 0, 0)
    if kind == &PyLong_Type:
        return _put_int(out, value)
    if kind == &PyDict_Type:
        return _put_dict(out, value, depth)
    if value == _None:
        return _put(out, b"null", 4)
    if value == _True:
        return _put(out, b"true", 4)
    if value == _False:
        return _put(out, b"false", 5)
    if kind == &PyFloat_Type:
        return _put_float(out, value)
    if kind == &PyList_Type or kind == &PyTuple_Type:
        return _put_array(out, value, kind == &PyList_Type, depth)
    return _UNSUPPORTED


cdef int _put_dict(_Out* out, PyObject* mapping, int depth) except -1:
    cdef Py_ssize_t position = 0
    cdef PyObject* key
    cdef PyObject* item
    cdef char separator = c"{"
    if depth >= _MAX_DEPTH:
        return _UNSUPPORTED
    while PyDict_Next(mapping, &position, &key, &item):
        if _type(key) != &PyUnicode_Type:
            return _UNSUPPORTED
        if _put_str(out, key, separator, c":") or _put_value(out, item, depth + 1):
            return _UNSUPPORTED  # (an error returned -1 already)
        separator = c","
    if separator == c"{":
        _put_byte(out, separator)
    return _put_byte(out, c"}")


cdef int _put_array(_Out* out, PyObject* items, bint is_list, int depth) except -1:
    cdef Py_ssize_t index
    cdef Py_ssize_t size = PyList_GET_SIZE(items) if is_list else PyTuple_GET_SIZE(items)
    if depth >= _MAX_DEPTH:
        return _UNSUPPORTED
    _put_byte(out, c"[")
    for index in range(size):
        if index:
            _put_byte(out, c",")
        if _put_value(out, PyList_GET_ITEM(items, index) if is_list else PyTuple_GET_ITEM(items, index), depth + 1):
            return _UNSUPPORTED  # (an error returned -1 already)
    return _put_byte(out, c"]")


cdef inline int _put_str(_Out* out, PyObject* text, char before, char after) except -1:
    """A JSON string (``"``, ``\\`` and control characters escaped, the rest as UTF-8), with the
    byte ``before`` before it and ``after`` after it unless they are 0."""
    cdef const char* utf8
    cdef Py_ssize_t n
    if PyUnicode_IS_COMPACT_ASCII(text):
        return _put_utf8(out, <const unsigned char*>PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text), before, after)
    utf8 = PyUnicode_AsUTF8AndSize(text, &n)  # (cached in the str object, as for orjson)
    if utf8 != NULL:
        return _put_utf8(out, <const unsigned char*>utf8, n, before, after)
    if PyErr_ExceptionMatches(UnicodeEncodeError):  # a lone surrogate
        PyErr_Clear()
        return _UNSUPPORTED
    return -1


cdef int _put_utf8(_Out* out, const unsigned char* s, Py_ssize_t n, char before, char after) except -1:
    """The ``n`` bytes of UTF-8 at ``s`` as a JSON string, ``before`` and ``after`` as for _put_str."""
    cdef char* p
    _reserve(out, n + 4)  # as if nothing needs escaping (_put_escaped reserves what escapes add)
    p = out.data + out.used
    if before:
        p[0] = before
        p += 1
    p[0] = c'"'
    p += 1
    if _copy_plain(p, s, n):
        p += n
    else:
        out.used = p - out.data
        _put_escaped(out, s, n)
        p = out.data + out.used
    p[0] = c'"'
    p += 1
    if after:
        p[0] = after
        p += 1
    out.used = p - out.data
    return 0


cdef inline bint _copy_plain(char* p, const unsigned char* s, Py_ssize_t n) noexcept:
    """Copy the ``n`` bytes at ``s`` to ``p`` if none needs escaping; whether it did. Reads and
    writes whole words, overlapping at the end rather than going byte by byte."""
    cdef uint64_t eight
    cdef uint32_t head, tail
    cdef Py_ssize_t i = 0
    if n >= 8:
        while True:
            memcpy(&eight, s + i, 8)
            if _needs_escape(eight):
                return False
            memcpy(p + i, &eight, 8)
            i += 8
            if i >= n:
                return True
            if i > n - 8:
                i = n - 8
    if n >= 4:
        memcpy(&head, s, 4)
        memcpy(&tail, s + n - 4, 4)
        if _needs_escape(head | (<uint64_t>tail << 32)):
            return False
        memcpy(p, &head, 4)
        memcpy(p + n - 4, &tail, 4)
        return True
    if n == 0:
        return True
    if _ESCAPES[s[0]] | _ESCAPES[s[n >> 1]] | _ESCAPES[s[n - 1]]:  # n is 1, 2 or 3
        return False
    p[0] = s[0]
    p[n >> 1] = s[n >> 1]
    p[n - 1] = s[n - 1]
    return True


cdef int _put_escaped(_Out* out, const unsigned char* s, Py_ssize_t n) except -1:
    """The ``n`` bytes at ``s``, escaped (room for ``n`` + 2 bytes is reserved: each escape reserves
    its extra bytes)."""
    cdef Py_ssize_t i
    cdef unsigned char c, escape
    cdef char* p = out.data + out.used
    for i in range(n):
        c = s[i]
        escape = _ESCAPES[c]
        if escape == 0:
            p[0] = c
            p += 1
            continue
        out.used = p - out.data
        _reserve(out, n - i + 7)  # this byte as six, one for each after it, the closing quote and after
        p = out.data + out.used
        p[0] = c"\\"
        p[1] = escape
        if escape == c"u":
            p[2] = p[3] = c"0"
            p[4] = _HEX[c >> 4]
            p[5] = _HEX[c & 15]
            p += 6
        else:
            p += 2
    out.used = p - out.data
    return 0


cdef int _put_int(_Out* out, PyObject* value) except -1:
    """In decimal, if it fits in 64 bits (a longer one goes to the fallback)."""
    cdef int overflow
    cdef long long number = PyLong_AsLongLongAndOverflow(value, &overflow)
    cdef char digits[20]
    cdef int n
    if overflow:
        return _UNSUPPORTED
    n = _digits(digits + 20, (0ULL - <uint64_t>number) if number < 0 else <uint64_t>number)
    if number < 0:
        n += 1
        digits[20 - n] = c"-"
    return _put(out, digits + 20 - n, n)


@cython.cdivision(True)
cdef inline int _digits(char* end, uint64_t number) noexcept:
    """Write ``number`` in decimal just before ``end``, two digits at a time; how many digits (at
    most 20)."""
    cdef int n = 0
    cdef uint64_t pair
    while number >= 100:
        pair = number % 100
        number //= 100
        n += 2
        memcpy(end - n, _PAIRS + 2 * pair, 2)
    if number >= 10:
        n += 2
        memcpy(end - n, _PAIRS + 2 * number, 2)
    else:
        n += 1
        end[-n] = c"0" + <char>number
    return n


cdef int _put_float(_Out* out, PyObject* value) except -1:
    """As ``float.__repr__`` writes it, if finite (json.dumps writes NaN and infinities as ``NaN``
    and ``Infinity``, which the fallback does)."""
    cdef double number = PyFloat_AS_DOUBLE(value)
    cdef char* text
    if not isfinite(number):
        return _UNSUPPORTED
    if _HAVE_U128 and 1e-4 <= fabs(number) < 1e16:
        return _put_fixed_float(out, number)
    text = PyOS_double_to_string(number, c"r", 0, Py_DTSF_ADD_DOT_0, NULL)
    try:
        return _put(out, text, strlen(text))
    finally:
        PyMem_Free(text)


cdef inline int _floor_log10_pow2(int e) noexcept:
    """``floor(log10(2 ** e))`` for ``abs(e) < 1650`` (floor division: no cdivision here)."""
    return (e * 78913) // 262144


@cython.cdivision(True)
cdef inline int _drop_digits(uint64_t* low, uint64_t* high, uint64_t* unit, uint64_t power, int digits) noexcept:
    """Drop ``digits`` digits (``power`` is ``10**digits``) from the bounds ``[low, high]`` if a
    multiple of ``power`` lies between them, and scale ``unit`` to match; how many it dropped."""
    if (low[0] + power - 1) // power > high[0] // power:
        return 0
    low[0] = (low[0] + power - 1) // power
    high[0] //= power
    unit[0] *= power
    return digits


@cython.cdivision(True)
cdef int _put_fixed_float(_Out* out, double number) except -1:
    """``repr(number)`` where it has no exponent (1e-4 <= |number| < 1e16), some ten times faster
    than ``PyOS_double_to_string``: the fewest digits that read back as ``number``, the closest
    to it if several (the even one on a tie), found with exact integer arithmetic.

    ``number`` is ``m * 2**e``; scaled by ``10**s`` it is ``x`` in [1e17, 2e18) (17 digits or
    more, within 64 bits), and the doubles next to it are ``2 * half`` away (``half_below`` below).
    Scaled by ``2**shift`` more, where all of them are integers, ``x`` is ``4 * m * 5**s`` and
    ``half`` is ``2 * 5**s``. Reading rounds half to even, so the bounds belong to ``number`` if
    ``m`` is even.
    """
    cdef uint64_t bits, m, low, high, x_int, unit = 1, q, r
    cdef int e, s, shift, j, n, point
    cdef _u128 x, half, half_below, mask, below, above, twice_rest, whole_unit
    cdef bint inclusive
    cdef char digits[24]
    cdef char* p
    memcpy(&bits, &number, 8)
    m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52)
    e = <int>((bits >> 52) & 0x7FF) - 1075
    s = 17 - _floor_log10_pow2(e + 52)  # number >= 2**(e + 52) >= 10**(17 - s): x >= 10**17
    x = <_u128>(4 * m) * _POW5[s]
    half = 2 * _POW5[s]
    half_below = half // 2 if m == 1ULL << 52 else half  # the double below is closer (at a power of 2)
    shift = 2 - s - e
    if shift < 0:  # number >= 2**53: everything is an integer already
        x <<= -shift
        half <<= -shift
        half_below <<= -shift
        shift = 0
    mask = (<_u128>1 << shift) - 1
    inclusive = m % 2 == 0
    # the integers (digits at 10**-s) that read back as number: [low, high]
    below = x - half_below
    above = x + half
    low = <uint64_t>((below + mask) >> shift) + (0 if inclusive or below & mask else 1)
    high = <uint64_t>(above >> shift) - (0 if inclusive or above & mask else 1)
    # the fewest digits: drop the most last digits that leave a multiple of 10**j between the bounds
    # (if one of 10**k is, one of 10**(k-1) is: greedily, 16 digits at a time, then 8, 4, 2, 1)
    j = _drop_digits(&low, &high, &unit, 10000000000000000ULL, 16)
    j += _drop_digits(&low, &high, &unit, 100000000ULL, 8)
    j += _drop_digits(&low, &high, &unit, 10000ULL, 4)
    j += _drop_digits(&low, &high, &unit, 100ULL, 2)
    j += _drop_digits(&low, &high, &unit, 10ULL, 1)
    # the closest of those to x, rounding half to even (no choice, and no division, if only one)
    q = low
    if low < high:
        x_int = <uint64_t>(x >> shift)
        q = x_int // unit
        r = x_int % unit
        twice_rest = 2 * ((<_u128>r << shift) | (x & mask))
        whole_unit = <_u128>unit << shift
        if twice_rest > whole_unit or (twice_rest == whole_unit and q % 2):
            q += 1
        q = min(max(q, low), high)
    n = _digits(digits + 24, q)
    point = n + j - s  # number is 0.DIGITS * 10**point
    _reserve(out, 24)
    p = out.data + out.used
    if bits >> 63:
        p[0] = c"-"
        p += 1
    if point <= 0:  # 0.000DIGITS
        memcpy(p, b"0.000", 2 - point)
        p += 2 - point
        memcpy(p, digits + 24 - n, n)
        p += n
    elif point >= n:  # DIGITS000.0
        memcpy(p, digits + 24 - n, n)
        memset(p + n, c"0", point - n)
        p += point
        memcpy(p, b".0", 2)
        p += 2
    else:  # DIG.ITS
        memcpy(p, digits + 24 - n, point)
        p[point] = c"."
        memcpy(p + point + 1, digits + 24 - n + point, n - point)
        p += n + 1
    out.used = p - out.data
    return 0
