"""``PipesContext.log`` sends what ``logging`` would have sent, whether a call takes the direct
path (no record built) or goes through ``logging``'s records because something could see them."""

from __future__ import annotations

import logging
from typing import Any, Callable

import pytest

from pipes_fast.external.logs import PipesLogger

CALLS: list[tuple[str, Callable[[logging.Logger], None]]] = [
    ("plain", lambda log: log.info("plain")),
    ("args", lambda log: log.warning("%s and %d%%", "text", 5)),
    ("mapping", lambda log: log.error("%(a)s-%(b)s", {"a": 1, "b": "two"})),
    ("not a str", lambda log: log.critical(["a", 1])),
    ("debug", lambda log: log.debug("low")),
    ("number", lambda log: log.log(25, "between")),
    ("unicode", lambda log: log.info("✗ \ud800 \n next")),
]


class Sent(list[tuple[str, Any]]):
    def __call__(self, method: str, params: Any) -> None:
        self.append((method, dict(params)))


def through_records(send: Sent) -> PipesLogger:
    """A logger whose calls all go through ``logging``'s records (a filter that passes all)."""
    logger = PipesLogger(send)
    logger.addFilter(lambda record: True)
    return logger


@pytest.mark.parametrize("call", [call for _, call in CALLS], ids=[name for name, _ in CALLS])
def test_the_direct_path_sends_what_logging_does(call: Callable[[logging.Logger], None]) -> None:
    direct, recorded = Sent(), Sent()
    call(PipesLogger(direct))
    call(through_records(recorded))
    assert direct == recorded
    assert len(direct) == 1


def test_a_bad_format_raises_on_both_paths() -> None:
    for logger in (PipesLogger(Sent()), through_records(Sent())):
        with pytest.raises(TypeError):
            logger.info("%d", "not a number")


class Lines(logging.Handler):
    """A handler of the user's, noting where each record says it was logged from."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(filename)s %(funcName)s:%(lineno)d %(message)s"))
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


def test_records_name_the_callers_line_as_a_plain_loggers_do() -> None:
    ours, plain = PipesLogger(Sent()), logging.Logger("plain")
    ours_lines, plain_lines = Lines(), Lines()
    ours.addHandler(ours_lines)
    plain.addHandler(plain_lines)

    def helper(logger: logging.Logger) -> None:
        logger.info("named by the caller", stacklevel=2)

    for logger in (ours, plain):
        logger.info("here")
        helper(logger)
    assert ours_lines.records == plain_lines.records
    assert plain_lines.records[0].startswith("test_external_logger.py test_records_name_the_callers_line")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda log: log.addFilter(lambda record: True), ["info", "error"]),
        (
            lambda log: log.handlers[0].setFormatter(logging.Formatter("[%(levelname)s] %(message)s")),
            ["[INFO] info", "[ERROR] error"],
        ),
        (lambda log: log.handlers[0].addFilter(lambda record: record.levelno >= logging.WARNING), ["error"]),
        (lambda log: log.handlers[0].setLevel(logging.ERROR), ["error"]),
        (lambda log: setattr(log, "disabled", True), []),
        (lambda log: log.setLevel(logging.ERROR), ["error"]),
    ],
    ids=["logger filter", "formatter", "handler filter", "handler level", "disabled", "logger level"],
)
def test_what_the_user_sets_on_the_logger_is_obeyed(
    change: Callable[[logging.Logger], None], expected: list[str]
) -> None:
    sent = Sent()
    logger = PipesLogger(sent)
    change(logger)
    logger.info("info")
    logger.error("error")
    assert [params["message"] for _, params in sent] == expected


def test_exceptions_extra_and_record_factories_go_through_records() -> None:
    sent = Sent()
    logger = PipesLogger(sent)
    try:
        raise RuntimeError("inside")
    except RuntimeError:
        logger.exception("failed")
    logger.info("with extra", extra={"key": 1})
    logger.info("with stack", stack_info=True)
    default = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = default(*args, **kwargs)
        record.msg = f"made: {record.msg}"
        return record

    logging.setLogRecordFactory(factory)
    try:
        logger.info("plain")
    finally:
        logging.setLogRecordFactory(default)
    messages = [params["message"] for _, params in sent]
    assert messages[0].startswith("failed\nTraceback") and messages[0].endswith("RuntimeError: inside")
    assert messages[1] == "with extra"
    assert messages[2].startswith("with stack\nStack (most recent call last):")
    assert messages[3] == "made: plain"
