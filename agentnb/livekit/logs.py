"""Log capture: a job's log records, with LiveKit's `log_context_fields`, into its trace."""
from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable

from ..core.guard import Guard


class RootLevel:
    """Lowers the root logger's level while jobs run, so their INFO records are created at all
    (below a logger's effective level no record exists), and hides the records that exist only
    because of that from the other root handlers. Jobs overlap: the lowest requested level
    holds until the last job ends."""

    _lock = threading.Lock()
    _held: list[int] = []
    _saved = logging.WARNING

    @classmethod
    def hold(cls, level: int) -> None:
        root = logging.getLogger()
        with cls._lock:
            if not cls._held:
                cls._saved = root.level
                for handler in root.handlers:
                    if not isinstance(handler, JobLogCapture):
                        handler.addFilter(cls._existed_before)
            cls._held.append(level)
            root.setLevel(min([cls._saved, *cls._held]))

    @classmethod
    def release(cls, level: int) -> None:
        root = logging.getLogger()
        with cls._lock:
            if level not in cls._held:
                return
            cls._held.remove(level)
            root.setLevel(min([cls._saved, *cls._held]))
            if not cls._held:
                for handler in root.handlers:
                    handler.removeFilter(cls._existed_before)

    @classmethod
    def _existed_before(cls, record: logging.LogRecord) -> bool:
        """Whether `record` would have been created with the root level as it was."""
        if record.levelno >= cls._saved:
            return True
        logger: logging.Logger | None = (logging.getLogger(record.name) if record.name != "root"
                                          else logging.root)
        while logger is not None and logger.level == logging.NOTSET:
            logger = logger.parent
        return logger is not None and logger is not logging.root


class JobLogCapture(logging.Handler):
    """A root handler that hands one job's log records to `on_record`. It must be on the root
    logger before the job starts: LiveKit adds its `log_context_fields` filter only to the root
    handlers present then. A failure in `on_record` goes to `guard`, never to the logger."""

    def __init__(self, on_record: Callable[[logging.LogRecord], None], guard: Guard,
                 level: int) -> None:
        super().__init__(level)
        self.on_record, self.guard = on_record, guard

    def install(self) -> None:
        RootLevel.hold(self.level)
        logging.getLogger().addHandler(self)

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self)
        RootLevel.release(self.level)

    def handle(self, record: logging.LogRecord) -> bool:
        # Python prints WARNING and above to stderr only while the root logger has no
        # handler; this one must not silence that, so it passes them on when it stands alone,
        # in one line: the record's traceback is in the job's view.
        root = logging.getLogger()
        if record.levelno >= logging.WARNING and logging.lastResort is not None:
            others = [h for h in root.handlers if not isinstance(h, JobLogCapture)]
            captures = [h for h in root.handlers if isinstance(h, JobLogCapture)]
            if not others and captures and captures[0] is self:
                logging.lastResort.handle(one_line(record))
        return super().handle(record)

    def emit(self, record: logging.LogRecord) -> None:
        self.guard.call("a log record", self.on_record, record)

    def handleError(self, record: logging.LogRecord) -> None:
        self.guard.failed("a log record")


def one_line(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of `record` without its traceback, saying where that is."""
    if not (record.exc_info or record.exc_text or record.stack_info):
        return record
    short = copy.copy(record)
    short.msg, short.args = f"{record.getMessage()} (its traceback is in agentnb's view)", ()
    short.exc_info = short.exc_text = short.stack_info = None
    return short
