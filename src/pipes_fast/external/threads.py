"""``ExcThread``: dagster-pipes' thread that keeps what its target raised for ``join`` to show."""

from __future__ import annotations

import sys
import threading
from queue import Queue

TYPE_CHECKING = False  # typing stays unimported at run time: see pipes_fast.external
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any

    ExcInfo = tuple[type[BaseException], BaseException, TracebackType]


class ExcThread(threading.Thread):
    """A thread that catches the exception its target raises (instead of ``threading.excepthook``)
    and writes its traceback to stderr when joined; ``exceptions`` holds it until then."""

    exceptions: Queue[ExcInfo]

    def run(self, *args: Any, **kwargs: Any) -> None:
        self.exceptions = Queue()
        try:
            super().run(*args, **kwargs)
        except Exception:  # noqa: BLE001 - kept for join
            self.exceptions.put(sys.exc_info())  # type: ignore[arg-type]

    def join(self, *args: Any, **kwargs: Any) -> None:
        super().join(*args, **kwargs)
        exceptions = getattr(self, "exceptions", None)  # unset if the thread has not run yet (a timeout)
        while exceptions is not None and not exceptions.empty():
            from traceback import format_exception

            sys.stderr.write("".join(format_exception(*exceptions.get())))
