"""A fault-injection harness for the blob stores (issue 19): :class:`~faults.proxy.FaultProxy`,
an HTTP/1.1 proxy in front of the S3 test server, and :class:`~faults.directory.FaultyDirectory`,
a directory store, with the same faults (outage, reset of one chunk, black-hole, slow), on demand,
timed or triggered, and every thread stopped at close. ``tests/readers/test_fault_matrix.py`` runs the
matrix of writers, stores and faults over them."""

from support.faults.directory import FaultyDirectory, FaultyDirectoryMessageReader
from support.faults.proxy import FaultProxy

__all__ = ["FaultProxy", "FaultyDirectory", "FaultyDirectoryMessageReader"]
