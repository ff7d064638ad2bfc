# Appending message lines: the external side's writer, one write per message or per buffer.
# Twin: src/pipes_fast/_fallback/appender.py

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_Next
from cpython.exc cimport PyErr_CheckSignals
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.object cimport PyObject
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
from libc.math cimport isfinite
from libc.stdlib cimport free, malloc
from libc.string cimport memchr, memcmp, memcpy, memmove
from posix.unistd cimport write as c_write

import os

from pipes_fast._contract import callable_argument, integer, positive_int


cdef Py_ssize_t _write_some(int fd, const char* p, Py_ssize_t n) except -1:
    """Write up to ``n`` bytes (GIL released while writing), retrying on EINTR; how many went out."""
    cdef Py_ssize_t written
    while True:
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


cdef bint _contains_null(bytes data) noexcept:
    """``b"null" in data``, without the generic containment protocol."""
    cdef const char* p = PyBytes_AS_STRING(data)
    cdef const char* end = p + PyBytes_GET_SIZE(data)
    cdef const char* hit
    while True:
        hit = <const char*>memchr(p, b"n", end - p)
        if hit == NULL or end - hit < 4:
            return False
        if memcmp(hit, b"null", 4) == 0:
            return True
        p = hit + 1


def has_non_finite_float(value):
    """Whether a NaN or an infinity hides in ``value`` (a structure orjson accepted): orjson writes
    them as ``null``, ``json.dumps`` as ``NaN`` and ``Infinity``."""
    cdef list pending = []
    cdef Py_ssize_t position
    cdef PyObject* key
    cdef PyObject* item
    if _non_finite_or_pending(value, pending):
        return True
    while pending:
        container = pending.pop()
        if type(container) is dict:
            position = 0
            while PyDict_Next(container, &position, &key, &item):
                if _non_finite_or_pending(<object>item, pending):
                    return True
        else:
            for element in container:
                if _non_finite_or_pending(element, pending):
                    return True
    return False


cdef inline bint _non_finite_or_pending(object value, list pending) except -1:
    """True if ``value`` is a NaN or an infinity; a container goes to ``pending``."""
    cdef object kind = type(value)
    if kind is float:
        return not isfinite(PyFloat_AS_DOUBLE(value))
    if kind is dict or kind is list or kind is tuple:
        pending.append(value)
    return False


@cython.final
cdef class JsonLineAppender:
    """Appends messages to an open (``O_APPEND``) file descriptor as JSON lines.

    Lines are orjson's (``options`` must include ``OPT_APPEND_NEWLINE``), except where orjson
    refuses the message (``TypeError``) or may have written a NaN or infinity as ``null``
    (``has_non_finite(message)`` says so): then ``fallback(message)`` makes the line.

    Unbuffered (``buffer_bytes=None``), each message is one ``write``, in the file when
    :meth:`append` returns. Buffered, lines gather in a buffer of ``buffer_bytes`` written with one
    ``write`` when the next line would not fit, on :meth:`flush` and on :meth:`close`; a line longer
    than the buffer is written whole after it. ``wake()`` is called when the buffer becomes
    non-empty (to schedule a flush). Threads appending at once never interleave partial lines, and
    each thread's lines stay in its order. A write that fails raises, and keeps what it did not write
    for the next one.
    """

    cdef int _fd
    cdef object _dumps, _options, _has_non_finite, _fallback, _wake
    cdef Py_ssize_t _capacity, _used
    cdef char* _buffer
    cdef PyThread_type_lock _lock

    def __cinit__(self):
        self._lock = PyThread_allocate_lock()
        if self._lock == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self._buffer)
        if self._lock != NULL:
            PyThread_free_lock(self._lock)

    def __init__(self, fd, options, has_non_finite, fallback, buffer_bytes=None, wake=None):
        import orjson  # here, not at import: loading the extension does not load orjson

        self._fd = integer("fd", fd)
        integer("options", options)
        self._options = options  # kept as an object: no int boxed per call
        self._has_non_finite = callable_argument("has_non_finite", has_non_finite)
        self._fallback = callable_argument("fallback", fallback)
        capacity = 0 if buffer_bytes is None else positive_int("buffer_bytes", buffer_bytes)
        self._wake = None if wake is None else callable_argument("wake", wake)
        self._dumps = orjson.dumps
        self._unbuffer()
        if capacity:
            self._buffer = <char*>malloc(capacity)
            if self._buffer == NULL:
                raise MemoryError()
            self._capacity = capacity

    cdef void _unbuffer(self) noexcept:
        free(self._buffer)
        self._buffer = NULL
        self._capacity = self._used = 0

    cdef bytes _line(self, message):
        cdef bytes data
        try:
            data = self._dumps(message, None, self._options)
        except TypeError:
            data = self._fallback(message)
        else:
            if _contains_null(data) and self._has_non_finite(message):
                data = self._fallback(message)
        return data

    def append(self, message):
        """Write ``message`` as one line, or add it to the buffer."""
        cdef bytes data = self._line(message)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
        cdef bint woke = False
        if self._capacity == 0:
            _write_all(self._fd, PyBytes_AS_STRING(data), n)
            return
        self._acquire()
        try:
            if self._fd < 0:
                raise OSError(EBADF, os.strerror(EBADF))
            if self._used + n > self._capacity:
                self._drain()
            if n > self._capacity:
                _write_all(self._fd, PyBytes_AS_STRING(data), n)
                return
            woke = self._used == 0
            memcpy(self._buffer + self._used, PyBytes_AS_STRING(data), n)
            self._used += n
        finally:
            PyThread_release_lock(self._lock)
        if woke and self._wake is not None:
            self._wake()

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
        """Write the buffer out (lock held; nothing once closed); what a failed write left stays at
        its front."""
        cdef Py_ssize_t done = 0
        if self._fd < 0:
            return 0
        try:
            while done < self._used:
                done += _write_some(self._fd, self._buffer + done, self._used - done)
        finally:
            if done:
                memmove(self._buffer, self._buffer + done, self._used - done)
                self._used -= done
        return 0
