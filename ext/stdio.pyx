# Stdio demultiplexing: Pipes messages picked out of a process's ordinary output.
# Pure implementation: src/pipes_fast/_hotpath/pure/stdio.py

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memchr, memcmp

import json as _stdio_json

from pipes_fast.protocol import DEFAULT_MAX_LINE_BYTES, PIPES_PROTOCOL_VERSION_FIELD

cdef const char* _STDIO_KEY = b'"__dagster_pipes_version"'
cdef Py_ssize_t _STDIO_KEY_LEN = 25
cdef object _stdio_loads_exactly = _stdio_json.loads
cdef str _STDIO_FIELD = PIPES_PROTOCOL_VERSION_FIELD

cdef enum _StdioMode:
    _LINE_START, _OUTPUT, _HELD, _SKIPPING


cdef inline Py_ssize_t _first_non_blank(const char* p, Py_ssize_t start, Py_ssize_t end):
    """The index of the first byte in [start, end) that is not a space, a tab or a ``\\r``, or ``end``."""
    while start < end and (p[start] == b" " or p[start] == b"\t" or p[start] == b"\r"):
        start += 1
    return start


cdef bint _stdio_has_key(const char* line, Py_ssize_t i, Py_ssize_t n):
    """``line[i:n]`` holds the version key, plainly written, or a ``\\u`` escape (which may spell it)."""
    cdef const char* p
    cdef Py_ssize_t j = i
    while n - j >= _STDIO_KEY_LEN:
        p = <const char*>memchr(line + j, b'"', n - j - _STDIO_KEY_LEN + 1)
        if p == NULL:
            break
        if memcmp(p, _STDIO_KEY, _STDIO_KEY_LEN) == 0:
            return True
        j = p - line + 1
    while n - i >= 2:
        p = <const char*>memchr(line + i, b"\\", n - i - 1)
        if p == NULL:
            return False
        if p[1] == b"u":
            return True
        i = p - line + 2
    return False


cdef enum _JsonState:
    _J_VALUE, _J_VALUE_OR_CLOSE, _J_KEY_OR_CLOSE, _J_KEY, _J_AFTER_VALUE

cdef Py_ssize_t _J_MAX_DEPTH = 64
cdef Py_ssize_t _J_MAX_NUMBER = 4000  # Python's int() refuses more than 4300 digits


cdef inline Py_ssize_t _json_blanks(const char* p, Py_ssize_t i, Py_ssize_t n):
    while i < n and (p[i] == b" " or p[i] == b"\t" or p[i] == b"\r" or p[i] == b"\n"):
        i += 1
    return i


cdef inline bint _is_hex(char c):
    return b"0" <= c <= b"9" or b"a" <= c <= b"f" or b"A" <= c <= b"F"


cdef Py_ssize_t _json_string_end(const char* p, Py_ssize_t i, Py_ssize_t n):
    """Past the ASCII JSON string opening at ``i``; -1 if it is not one (or not ASCII)."""
    cdef unsigned char c
    i += 1
    while i < n:
        c = <unsigned char>p[i]
        if c == b'"':
            return i + 1
        if c < 0x20 or c >= 0x80:
            return -1
        if c == b"\\":
            if i + 1 >= n:
                return -1
            c = <unsigned char>p[i + 1]
            if c == b"u":
                if i + 5 >= n or not (_is_hex(p[i + 2]) and _is_hex(p[i + 3]) and _is_hex(p[i + 4]) and _is_hex(p[i + 5])):
                    return -1
                i += 6
                continue
            if not (c == b'"' or c == b"\\" or c == b"/" or c == b"b" or c == b"f" or c == b"n" or c == b"r" or c == b"t"):
                return -1
            i += 2
            continue
        i += 1
    return -1


cdef inline Py_ssize_t _json_digits(const char* p, Py_ssize_t i, Py_ssize_t n):
    while i < n and b"0" <= p[i] <= b"9":
        i += 1
    return i


cdef Py_ssize_t _json_number_end(const char* p, Py_ssize_t i, Py_ssize_t n):
    """Past the JSON number at ``i``; -1 if there is none."""
    cdef Py_ssize_t start = i, j
    if p[i] == b"-":
        i += 1
    if i >= n or not (b"0" <= p[i] <= b"9"):
        return -1
    i = i + 1 if p[i] == b"0" else _json_digits(p, i, n)
    if i < n and p[i] == b".":
        j = _json_digits(p, i + 1, n)
        if j == i + 1:
            return -1
        i = j
    if i < n and (p[i] == b"e" or p[i] == b"E"):
        i += 1
        if i < n and (p[i] == b"+" or p[i] == b"-"):
            i += 1
        j = _json_digits(p, i, n)
        if j == i:
            return -1
        i = j
    return i if i - start <= _J_MAX_NUMBER else -1


cdef bint _surely_a_message(const char* p, Py_ssize_t n):
    """``p[:n]`` is surely what Python's json reads as an object with the version key among its
    top-level keys: ASCII JSON, nested at most 64 deep. False only means "parse it to tell": the
    common message line is told without a parse, and anything unusual goes to the parser."""
    cdef char stack[64]
    cdef Py_ssize_t depth = 0, i = _json_blanks(p, 0, n), start
    cdef _JsonState state = _J_VALUE
    cdef bint found = False
    cdef char c
    if i >= n or p[i] != b"{":
        return False
    while True:
        i = _json_blanks(p, i, n)
        if i >= n:
            return False
        c = p[i]
        if state == _J_VALUE or state == _J_VALUE_OR_CLOSE:
            if c == b"]" and state == _J_VALUE_OR_CLOSE:
                depth -= 1
                i += 1
                state = _J_AFTER_VALUE
            elif c == b"{" or c == b"[":
                if depth == _J_MAX_DEPTH:
                    return False
                stack[depth] = c
                depth += 1
                i += 1
                state = _J_KEY_OR_CLOSE if c == b"{" else _J_VALUE_OR_CLOSE
            elif c == b'"':
                i = _json_string_end(p, i, n)
                state = _J_AFTER_VALUE
            elif c == b"-" or b"0" <= c <= b"9":
                i = _json_number_end(p, i, n)
                state = _J_AFTER_VALUE
            elif n - i >= 4 and (memcmp(p + i, b"true", 4) == 0 or memcmp(p + i, b"null", 4) == 0):
                i += 4
                state = _J_AFTER_VALUE
            elif n - i >= 5 and memcmp(p + i, b"false", 5) == 0:
                i += 5
                state = _J_AFTER_VALUE
            else:
                return False
            if i < 0:
                return False
        elif state == _J_KEY_OR_CLOSE or state == _J_KEY:
            if c == b"}" and state == _J_KEY_OR_CLOSE:
                depth -= 1
                i += 1
                if depth == 0:
                    break
                state = _J_AFTER_VALUE
                continue
            if c != b'"':
                return False
            start = i
            i = _json_string_end(p, i, n)
            if i < 0:
                return False
            if depth == 1 and i - start == _STDIO_KEY_LEN and memcmp(p + start, _STDIO_KEY, _STDIO_KEY_LEN) == 0:
                found = True
            i = _json_blanks(p, i, n)
            if i >= n or p[i] != b":":
                return False
            i += 1
            state = _J_VALUE
        else:  # _J_AFTER_VALUE
            if c == b",":
                i += 1
                state = _J_KEY if stack[depth - 1] == b"{" else _J_VALUE
            elif (c == b"}" and stack[depth - 1] == b"{") or (c == b"]" and stack[depth - 1] == b"["):
                depth -= 1
                i += 1
                if depth == 0:
                    break
            else:
                return False
    return found and _json_blanks(p, i, n) == n


cdef bint _parses_as_message(bytes text):
    """``text`` is a JSON object with the version key at its top level (as Python's json reads it)."""
    try:
        value = _orjson_loads()(text)
    except ValueError:  # orjson.JSONDecodeError; Python's json also reads NaN, Infinity, lone surrogates
        try:
            value = _stdio_loads_exactly(text.decode("utf-8"))
        except (ValueError, RecursionError):  # json.JSONDecodeError, UnicodeDecodeError
            return False
    return type(value) is dict and _STDIO_FIELD in <dict>value


cdef bint _key_at_top_level(const char* line, Py_ssize_t brace, Py_ssize_t end):
    """The object opening at ``brace`` has the version key (written plainly) among its own keys
    before ``end``: what can be told of a line too long to parse."""
    cdef Py_ssize_t depth = 1, i = brace + 1, j
    cdef char c
    while i < end:
        c = line[i]
        if c == b'"':  # a string, a key if a ':' follows it
            if depth == 1 and end - i >= _STDIO_KEY_LEN and memcmp(line + i, _STDIO_KEY, _STDIO_KEY_LEN) == 0:
                j = _first_non_blank(line, i + _STDIO_KEY_LEN, end)
                if j < end and line[j] == b":":
                    return True
            i += 1
            while i < end and line[i] != b'"':
                i += 2 if line[i] == b"\\" else 1
        elif c == b"{" or c == b"[":
            depth += 1
        elif c == b"}" or c == b"]":
            depth -= 1
            if depth == 0:
                return False
        i += 1
    return False


@cython.final
cdef class StdioDemux(HeldLine):
    """Splits a stream of ordinary output, fed in arbitrary pieces, from the Pipes messages in it.

    ``feed`` and ``flush`` return ``(messages, output)``: the complete lines that are Pipes
    messages, without their ``\\r\\n`` or ``\\n``, and every other byte, in order and untouched.
    A line is a message when it is a JSON object with ``"__dagster_pipes_version"`` among its
    top-level keys, as Dagster's ``extract_message_or_forward_to_file`` decides; only a line whose
    first non-blank byte is ``{`` and that holds the key (or a ``\\u`` escape) is parsed to tell.
    A partial line that cannot be a message is output at once; one that may be is held until its
    newline. A line longer than ``max_line_bytes`` is not parsed: it is a message when the key
    stands, plainly written, among its top-level keys within the first ``max_line_bytes`` bytes;
    such a message is cut there (the rest is skipped up to its newline) and counted in
    ``truncated_lines``.
    """

    cdef _StdioMode _mode
    cdef bint _brace  # the held line's first non-blank byte, ``{``, has arrived

    def __init__(self, max_line_bytes=DEFAULT_MAX_LINE_BYTES):
        HeldLine.__init__(self, max_line_bytes)
        self._mode = _LINE_START
        self._brace = False

    def feed(self, data):
        """Add ``data`` (bytes-like) and return the messages and output it completed."""
        cdef bytes buf = data if type(data) is bytes else bytes(memoryview(data))
        cdef const char* base = PyBytes_AS_STRING(buf)
        cdef Py_ssize_t end = PyBytes_GET_SIZE(buf)
        cdef Py_ssize_t pos = 0, out_start = 0, stop, first
        cdef const char* nl
        cdef list messages = []
        cdef list out = []
        if self._mode != _LINE_START:
            nl = <const char*>memchr(base, b"\n", end)
            stop = end if nl == NULL else nl - base
            if self._mode == _HELD and not self._brace:
                first = _first_non_blank(base, 0, stop)
                if first < stop:
                    if base[first] == b"{":
                        self._brace = True
                    else:
                        out.append(self._take_pending())
                        self._mode = _OUTPUT
            if self._mode == _HELD:
                if nl == NULL:
                    self._hold(messages, out, buf)
                    return messages, b"".join(out)
                self._pieces.append(buf[:stop + 1])
                self._complete(messages, out, self._take_pending())
                out_start = stop + 1
            elif nl == NULL:
                if self._mode == _OUTPUT:
                    out.append(buf)
                return messages, b"".join(out)
            elif self._mode == _SKIPPING:
                out_start = stop + 1
            self._mode = _LINE_START
            pos = stop + 1
        while pos < end:
            nl = <const char*>memchr(base + pos, b"\n", end - pos)
            if nl == NULL:
                break
            stop = nl - base
            message = self._message(base + pos, stop - pos)
            if message is not None:
                if pos > out_start:
                    out.append(buf[out_start:pos])
                messages.append(message)
                out_start = stop + 1
            pos = stop + 1
        if pos < end:
            first = _first_non_blank(base, pos, end)
            if first < end and base[first] != b"{":
                self._mode = _OUTPUT
            else:
                if pos > out_start:
                    out.append(buf[out_start:pos])
                out_start = end
                self._brace = first < end
                self._mode = _HELD
                self._hold(messages, out, buf[pos:])
        if end > out_start:
            out.append(buf[out_start:] if out_start else buf)
        return messages, b"".join(out)

    def flush(self):
        """End of stream: a last line without its newline, as a message or as output."""
        cdef list messages = []
        cdef list out = []
        if self._mode == _HELD:
            self._complete(messages, out, self._take_pending())
        self._mode = _LINE_START
        return messages, b"".join(out)

    cdef object _message(self, const char* line, Py_ssize_t n):
        """The message that the whole line ``line[:n]`` (without its newline) is, without its
        ``\\r`` and cut at the limit (counted); None if the line is output."""
        cdef Py_ssize_t first = _first_non_blank(line, 0, n)
        cdef bytes text
        if first == n or line[first] != b"{":
            return None
        if line[n - 1] == b"\r":
            n -= 1
        if n > self.max_line_bytes:
            if not _key_at_top_level(line, first, self.max_line_bytes):
                return None
            self.truncated_lines += 1
            return PyBytes_FromStringAndSize(line, self.max_line_bytes)
        if not _stdio_has_key(line, first + 1, n):
            return None
        text = PyBytes_FromStringAndSize(line, n)
        if _surely_a_message(line, n):
            return text
        return text if _parses_as_message(text) else None

    cdef void _complete(self, list messages, list out, bytes line):
        """A held line has ended (``line`` keeps its newline, if it had one)."""
        cdef const char* p = PyBytes_AS_STRING(line)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(line)
        if n and p[n - 1] == b"\n":
            n -= 1
        message = self._message(p, n)
        if message is None:
            out.append(line)
        else:
            messages.append(message)

    cdef void _hold(self, list messages, list out, bytes piece):
        cdef bytes held
        cdef const char* p
        cdef Py_ssize_t first
        self._pieces.append(piece)
        self._pending += PyBytes_GET_SIZE(piece)
        if self._pending - 1 <= self.max_line_bytes:  # - 1: a "\r" may yet end it (no overflow at the largest limit)
            return
        held = self._take_pending()
        p = PyBytes_AS_STRING(held)
        first = _first_non_blank(p, 0, PyBytes_GET_SIZE(held))
        if first < PyBytes_GET_SIZE(held) and p[first] == b"{" and _key_at_top_level(p, first, self.max_line_bytes):
            messages.append(self._truncate(held))
            self._mode = _SKIPPING
        else:
            out.append(held)
            self._mode = _OUTPUT
