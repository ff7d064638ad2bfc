# Stdio demultiplexing: Pipes messages picked out of a process's ordinary output.
# Twin: src/pipes_fast/_fallback/stdio.py

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memchr, memcmp

from pipes_fast.protocol import DEFAULT_MAX_LINE_BYTES

cdef const char* _STDIO_KEY = b'"__dagster_pipes_version"'
cdef Py_ssize_t _STDIO_KEY_LEN = 25

cdef enum _StdioMode:
    _LINE_START, _OUTPUT, _HELD, _SKIPPING


cdef inline Py_ssize_t _first_non_blank(const char* p, Py_ssize_t start, Py_ssize_t end):
    """The index of the first byte in [start, end) that is not a space or a tab, or ``end``."""
    while start < end and (p[start] == b" " or p[start] == b"\t"):
        start += 1
    return start


cdef class StdioDemux(HeldLine):
    """Splits a stream of ordinary output, fed in arbitrary pieces, from the Pipes messages in it.

    ``feed`` and ``flush`` return ``(messages, output)``: the complete lines that are Pipes
    messages (first non-blank byte ``{`` and the ``"__dagster_pipes_version"`` key within the
    first ``max_line_bytes`` bytes), without their ``\\r\\n`` or ``\\n``, and every other byte,
    in order and untouched. A partial line that cannot be a message is output at once; one that
    may be is held until its newline. A message longer than ``max_line_bytes`` is cut there (the
    rest is skipped up to its newline) and counted in ``truncated_lines``.
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
            if self._is_message(base + pos, stop - pos):
                if pos > out_start:
                    out.append(buf[out_start:pos])
                self._emit(messages, base + pos, stop - pos)
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

    cdef bint _is_message(self, const char* line, Py_ssize_t n):
        cdef Py_ssize_t i = _first_non_blank(line, 0, n)
        cdef const char* quote
        if i == n or line[i] != b"{":
            return False
        if n > self.max_line_bytes:
            n = self.max_line_bytes
        i += 1
        while n - i >= _STDIO_KEY_LEN:
            quote = <const char*>memchr(line + i, b'"', n - i - _STDIO_KEY_LEN + 1)
            if quote == NULL:
                return False
            if memcmp(quote, _STDIO_KEY, _STDIO_KEY_LEN) == 0:
                return True
            i = quote - line + 1
        return False

    cdef void _emit(self, list messages, const char* line, Py_ssize_t n):
        if n and line[n - 1] == b"\r":
            n -= 1
        if n > self.max_line_bytes:
            n = self.max_line_bytes
            self.truncated_lines += 1
        messages.append(PyBytes_FromStringAndSize(line, n))

    cdef void _complete(self, list messages, list out, bytes line):
        """A held line has ended (``line`` keeps its newline, if it had one)."""
        cdef const char* p = PyBytes_AS_STRING(line)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(line)
        if n and p[n - 1] == b"\n":
            n -= 1
        if self._is_message(p, n):
            self._emit(messages, p, n)
        else:
            out.append(line)

    cdef void _hold(self, list messages, list out, bytes piece):
        cdef bytes held
        self._pieces.append(piece)
        self._pending += PyBytes_GET_SIZE(piece)
        if self._pending <= self.max_line_bytes + 1:  # + 1: a "\r" may yet end it
            return
        held = self._take_pending()
        if self._is_message(PyBytes_AS_STRING(held), PyBytes_GET_SIZE(held)):
            messages.append(self._truncate(held))
            self._mode = _SKIPPING
        else:
            out.append(held)
            self._mode = _OUTPUT
