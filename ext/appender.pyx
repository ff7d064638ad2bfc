# Appending message lines: the external side's writer, one write per message or per buffer.
# Pure implementation: src/pipes_fast/_hotpath/pure/appender.py

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals
from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.pystate cimport (
    PyInterpreterState,
    PyInterpreterState_Head,
    PyInterpreterState_Next,
    PyInterpreterState_ThreadHead,
    PyThreadState_Next,
)
from cpython.pythread cimport (
    NOWAIT_LOCK,
    WAIT_LOCK,
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_free_lock,
    PyThread_release_lock,
    PyThread_type_lock,
)
from libc.errno cimport EBADF, EINTR, errno
from libc.stdlib cimport free
from libc.string cimport memmove
from posix.unistd cimport write as c_write

import os

from pipes_fast._logic.contract import callable_argument, file_descriptor, not_picklable, positive_int

cdef enum:
    _WOKE = 2  # what JsonLineAppender._add returns when the buffer was empty (_UNSUPPORTED: jsonline.pyx)
    _KEEP_UNBUFFERED = 1 << 20  # bytes of line buffer kept between messages, unbuffered


cdef inline bint _alone() noexcept:
    """Whether the calling thread is the only one with a Python thread state, in the only
    interpreter: then no Python thread waits for the GIL while it is in a system call."""
    cdef PyInterpreterState* interpreter = PyInterpreterState_Head()
    return (PyInterpreterState_Next(interpreter) == NULL
            and PyThreadState_Next(PyInterpreterState_ThreadHead(interpreter)) == NULL)


cdef Py_ssize_t _write_some(int fd, const char* p, Py_ssize_t n) except -1:
    """Write up to ``n`` bytes, retrying on EINTR; how many went out. The GIL is released while
    writing, unless no other Python thread could take it (releasing and taking it back costs some
    30 ns a write, a third of what encoding a small message does)."""
    cdef Py_ssize_t written
    while True:
        if _alone():
            written = c_write(fd, p, n)
        else:
            with nogil:
                written = c_write(fd, p, n)
        if written >= 0:
            return written
        if errno != EINTR:
            raise OSError(errno, os.strerror(errno))
        PyErr_CheckSignals()


cdef int _write_all(int fd, const char* p, Py_ssize_t n) except -1:
    cdef Py_ssize_t written
    while n > 0:
        written = _write_some(fd, p, n)
        p += written
        n -= written
    return 0


cdef enum _Given:  # what is appended, from one or two objects (the first, the second)
    _WHOLE  # a whole message
    _METHOD_PARAMS  # make_message(method, params)
    _PAYLOAD  # make_message("report_custom_message", {"payload": payload})


cdef inline int _encode(_Out* out, _Given given, object first, object second, _Envelope envelope) except -1:
    if given == _WHOLE:
        return _encode_message(out, first, envelope)
    if given == _METHOD_PARAMS:
        return _encode_enveloped(out, first, second, envelope)
    return _encode_custom(out, first)


cdef object _built(_Given given, object first, object second):
    """The message that is appended, built."""
    if given == _WHOLE:
        return first
    if given == _METHOD_PARAMS:
        return _message(first, second)
    return _message(_CUSTOM_METHOD, {_PAYLOAD_KEY: first})


@cython.final
cdef class JsonLineAppender:
    """Appends messages to an open (``O_APPEND``) file descriptor as JSON lines.

    Each line's value is what ``fallback(message)`` (bytes: one line of JSON) would write. Messages
    made of exact dicts with str keys, lists, tuples, str, int within 64 bits, finite floats,
    bools and None are written by an encoder of its own (``jsonline.pyx``) straight into a buffer
    it keeps (grown for a long line, given back after one longer than 1 MiB, or than twice
    ``buffer_bytes``); ``fallback`` writes the others, and raises for what JSON cannot hold.

    Unbuffered (``buffer_bytes=None``), each message is one ``write``, in the file when
    :meth:`append` returns. Buffered, lines gather in a buffer of ``buffer_bytes`` written with one
    ``write`` when the next line would not fit, on :meth:`flush` and on :meth:`close`; a line longer
    than the buffer is written whole after it. ``wake()`` is called when the buffer becomes
    non-empty (to schedule a flush). Threads appending at once never interleave partial lines, and
    each thread's lines stay in its order. A write that fails raises, and keeps what it did not write
    for the next one.
    """

    cdef int _fd
    cdef object _fallback, _wake
    cdef Py_ssize_t _limit  # buffer_bytes; 0: unbuffered
    cdef _Out _out  # lines are encoded here: buffered, after those it holds; unbuffered, one at a time
    cdef bint _writing  # unbuffered: a thread is writing _out's line, its GIL released
    cdef _Envelope _envelope
    cdef PyThread_type_lock _lock

    def __cinit__(self):
        self._fd = -1  # until __init__: appending refuses (EBADF)
        self._envelope = _Envelope()
        self._lock = PyThread_allocate_lock()
        if self._lock == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self._out.data)
        if self._lock != NULL:
            PyThread_free_lock(self._lock)

    def __init__(self, fd, fallback, buffer_bytes=None, wake=None):
        self._fd = file_descriptor("fd", fd)
        self._fallback = callable_argument("fallback", fallback)
        limit = 0 if buffer_bytes is None else positive_int("buffer_bytes", buffer_bytes)
        self._wake = None if wake is None else callable_argument("wake", wake)
        self._unbuffer()
        _reserve(&self._out, min(limit, _KEEP_UNBUFFERED))  # (grown as lines come, up to the limit)
        self._limit = limit

    def __reduce__(self):
        raise not_picklable(self)

    cdef void _unbuffer(self) noexcept:
        free(self._out.data)
        self._out.data = NULL
        self._out.used = self._out.allocated = self._limit = 0

    def append(self, message):
        """Write ``message`` as one line, or add it to the buffer."""
        self._append(_WHOLE, message, None)

    def append_message(self, method, params):
        """:meth:`append` ``make_message(method, params)``, without building it."""
        self._append(_METHOD_PARAMS, method, params)

    def append_custom_message(self, payload):
        """:meth:`append` ``make_message("report_custom_message", {"payload": payload})``, without
        building it."""
        self._append(_PAYLOAD, payload, None)

    cdef int _append(self, _Given given, object first, object second) except -1:
        cdef int added
        if self._limit == 0:
            return self._write_through(given, first, second)
        added = self._add(given, first, second, None)
        if added == _UNSUPPORTED:
            added = self._add(_WHOLE, None, None, self._fallback_line(given, first, second))
        if added == _WOKE and self._wake is not None:
            self._wake()
        return 0

    cdef int _write_through(self, _Given given, object first, object second) except -1:
        """Write the line (unbuffered), encoded in ``_out``, or in a buffer of its own while another
        thread writes from ``_out``."""
        cdef _Out own = _Out(NULL, 0, 0)
        cdef _Out* out = &own if self._writing else &self._out
        cdef bytes line
        if out != &own:
            self._writing = True
        try:
            if _encode(out, given, first, second, self._envelope) == 0:
                _write_all(self._fd, out.data, out.used)
            else:
                line = self._fallback_line(given, first, second)
                _write_all(self._fd, PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line))
        finally:
            out.used = 0
            if out == &own:
                free(own.data)
            else:
                _trim(out, _KEEP_UNBUFFERED)
                self._writing = False
        return 0

    cdef int _add(self, _Given given, object first, object second, bytes line) except -1:
        """Add ``line``, or the line encoded here if ``line`` is None, to the buffer: ``_WOKE`` if
        the buffer was empty; ``_UNSUPPORTED`` (nothing done) if the message needs the fallback."""
        cdef Py_ssize_t start, n
        self._acquire()
        try:
            if self._fd < 0:
                raise OSError(EBADF, os.strerror(EBADF))
            start = self._out.used
            if line is None:
                if _encode(&self._out, given, first, second, self._envelope) == _UNSUPPORTED:
                    return _UNSUPPORTED
            else:
                _put(&self._out, PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line))
            n = self._out.used - start
            self._out.used = start  # the new line lies past the buffered ones until it is kept
            if start + n > self._limit:
                self._drain()
                if n > self._limit:
                    try:
                        _write_all(self._fd, self._out.data + start, n)
                    finally:
                        _trim(&self._out, 2 * self._limit if self._limit <= PY_SSIZE_T_MAX // 2 else self._limit)  # (a line up to limit may take 2 * limit)
                    return 0
                memmove(self._out.data, self._out.data + start, n)
            self._out.used += n
            return _WOKE if self._out.used == n else 0
        finally:
            PyThread_release_lock(self._lock)

    cdef bytes _fallback_line(self, _Given given, object first, object second):
        line = self._fallback(_built(given, first, second))
        if type(line) is not bytes:
            raise TypeError(f"fallback must return bytes, got {type(line).__name__}")
        return line

    def flush(self):
        """Write what the buffer holds (nothing to do unbuffered or once closed)."""
        self._acquire()
        try:
            self._drain()
        finally:
            PyThread_release_lock(self._lock)

    def close(self):
        """Flush; from then on :meth:`append` raises ``OSError`` (EBADF). The descriptor stays open:
        its owner closes it."""
        self._acquire()
        try:
            self._drain()
        finally:
            self._fd = -1
            PyThread_release_lock(self._lock)

    def after_fork_in_child(self):
        """In a child process just forked: drop the buffer (the parent writes what it held) and
        write each message through from now on (a child may leave by ``os._exit``, which flushes
        nothing). The lock is made anew: a parent thread may have held it at the fork."""
        cdef PyThread_type_lock lock = PyThread_allocate_lock()
        if lock == NULL:
            raise MemoryError()
        self._lock = lock  # the old one may be held for good: left, not freed
        self._unbuffer()

    cdef int _acquire(self) except -1:
        """Take the lock, letting other threads run while it is held elsewhere."""
        if not PyThread_acquire_lock(self._lock, NOWAIT_LOCK):
            with nogil:
                PyThread_acquire_lock(self._lock, WAIT_LOCK)
        return 0

    cdef int _drain(self) except -1:
        """Write the buffer out (lock held; nothing unbuffered or once closed); what a failed write
        left stays at its front."""
        cdef Py_ssize_t done = 0
        if self._limit == 0 or self._fd < 0:
            return 0
        try:
            while done < self._out.used:
                done += _write_some(self._fd, self._out.data + done, self._out.used - done)
        finally:
            if done:
                memmove(self._out.data, self._out.data + done, self._out.used - done)
                self._out.used -= done
        return 0
