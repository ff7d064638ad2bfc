# The held line: what LineFramer and StdioDemux keep of a line until its newline arrives.
# Pure implementation: src/pipes_fast/_hotpath/pure/held.py

from pipes_fast._logic.contract import not_picklable, positive_int


cdef class HeldLine:
    """The line limit, the count of lines cut at it, and the pieces of a line not ended yet.

    The base of ``LineFramer`` and ``StdioDemux``, which decide when a held line ends and where
    it goes. Each holds a piece itself (``_pieces.append``, ``_pending +=``, in its ``_hold``):
    a call there, once a read, costs the pure implementation a few per cent on short reads.
    """

    cdef readonly Py_ssize_t max_line_bytes
    cdef readonly Py_ssize_t truncated_lines
    cdef list _pieces
    cdef Py_ssize_t _pending

    def __init__(self, max_line_bytes):
        self.max_line_bytes = positive_int("max_line_bytes", max_line_bytes)
        self.truncated_lines = 0
        self._pieces = []
        self._pending = 0

    @property
    def pending(self):
        """Bytes held back while waiting for the end of their line."""
        return self._pending

    def __reduce__(self):
        raise not_picklable(self)

    cdef bytes _take_pending(self):
        """The held line, joined; nothing is held after."""
        cdef bytes line = b"".join(self._pieces)
        self._pieces = []
        self._pending = 0
        return line

    cdef inline bytes _truncate(self, bytes line):
        """``line``, longer than ``max_line_bytes``, cut there and counted in ``truncated_lines``."""
        self.truncated_lines += 1
        return line[:self.max_line_bytes]
