# Appending message lines: the external side's writer, one write per message.
# Twin: src/pipes_fast/_fallback/appender.py

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals
from libc.errno cimport EINTR, errno
from libc.string cimport memchr, memcmp
from posix.unistd cimport write as c_write

import os

import orjson

from pipes_fast._contract import callable_argument, integer

cdef object _dumps = orjson.dumps


cdef void _write_all(int fd, bytes data) except *:
    cdef const char* p = PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t written
    while n > 0:
        with nogil:
            written = c_write(fd, p, n)
        if written < 0:
            if errno == EINTR:
                PyErr_CheckSignals()
                continue
            raise OSError(errno, os.strerror(errno))
        p += written
        n -= written


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


@cython.final
cdef class JsonLineAppender:
    """Appends messages to an open (``O_APPEND``) file descriptor as JSON lines, one write each.

    Lines are orjson's (``options`` must include ``OPT_APPEND_NEWLINE``), except where orjson
    refuses the message (``TypeError``) or may have written a NaN or infinity as ``null``
    (``has_non_finite(message)`` says so): then ``fallback(message)`` makes the line.
    """

    cdef int _fd
    cdef int _options
    cdef object _has_non_finite, _fallback

    def __init__(self, fd, options, has_non_finite, fallback):
        self._fd = integer("fd", fd)
        self._options = integer("options", options)
        self._has_non_finite = callable_argument("has_non_finite", has_non_finite)
        self._fallback = callable_argument("fallback", fallback)

    def append(self, message):
        """Write ``message`` as one line; it is in the file when this returns."""
        cdef bytes data
        try:
            data = _dumps(message, None, self._options)
        except TypeError:
            data = self._fallback(message)
        else:
            if _contains_null(data) and self._has_non_finite(message):
                data = self._fallback(message)
        _write_all(self._fd, data)
