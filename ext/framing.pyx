# Line framing: a byte stream, fed in arbitrary pieces, into complete lines.
# Pure implementation: src/pipes_fast/_hotpath/pure/framing.py

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memchr

from pipes_fast.protocol import DEFAULT_MAX_LINE_BYTES


@cython.final
cdef class LineFramer(HeldLine):
    """Turns a byte stream, fed in arbitrary pieces, into complete lines.

    A line without its newline yet is kept until the newline arrives. ``\\r\\n`` endings are
    accepted and blank lines are dropped. A line longer than ``max_line_bytes`` is cut there
    (the rest is skipped up to its newline) and counted in ``truncated_lines``.
    """

    cdef bint _skipping

    def __init__(self, max_line_bytes=DEFAULT_MAX_LINE_BYTES):
        HeldLine.__init__(self, max_line_bytes)
        self._skipping = False

    def feed(self, data):
        """Add ``data`` (bytes-like) and return the lines it completed, in order."""
        cdef bytes buf = data if type(data) is bytes else bytes(memoryview(data))
        cdef const char* base = PyBytes_AS_STRING(buf)
        cdef Py_ssize_t end = PyBytes_GET_SIZE(buf)
        cdef Py_ssize_t start = 0
        cdef const char* nl
        cdef list lines = []
        if self._skipping:
            nl = <const char*>memchr(base, b"\n", end)
            if nl == NULL:
                return lines
            self._skipping = False
            start = nl - base + 1
        elif self._pending:
            nl = <const char*>memchr(base, b"\n", end)
            if nl == NULL:
                self._hold(lines, buf)
                return lines
            self._pieces.append(memoryview(buf)[:nl - base])  # joined without a copy of its own
            self._emit_bytes(lines, self._take_pending())
            start = nl - base + 1
        while start < end:
            nl = <const char*>memchr(base + start, b"\n", end - start)
            if nl == NULL:
                break
            self._emit(lines, base + start, nl - base - start)
            start = nl - base + 1
        if start < end:
            self._hold(lines, buf[start:])
        return lines

    def flush(self):
        """End of stream: return the last line if it never got its newline."""
        cdef list lines = []
        if self._pending:
            self._emit_bytes(lines, self._take_pending())
        self._skipping = False
        return lines

    cdef inline void _emit(self, list lines, const char* line, Py_ssize_t n):
        if n and line[n - 1] == b"\r":
            n -= 1
        if n == 0:
            return
        if n > self.max_line_bytes:
            n = self.max_line_bytes
            self.truncated_lines += 1
        lines.append(PyBytes_FromStringAndSize(line, n))

    cdef void _emit_bytes(self, list lines, bytes line):
        """``_emit`` for a line held whole: appended itself where it needs no cut (no copy)."""
        cdef Py_ssize_t n = PyBytes_GET_SIZE(line)
        if 0 < n <= self.max_line_bytes and PyBytes_AS_STRING(line)[n - 1] != b"\r":
            lines.append(line)
        else:
            self._emit(lines, PyBytes_AS_STRING(line), n)

    cdef void _hold(self, list lines, bytes piece):
        self._pieces.append(piece)
        self._pending += PyBytes_GET_SIZE(piece)
        if self._pending > self.max_line_bytes:
            lines.append(self._truncate(self._take_pending()))
            self._skipping = True
