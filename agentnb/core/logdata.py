"""A log record as a trace keeps it (a `log` fact): bounded text, the record's own fields."""
from __future__ import annotations

import logging
import traceback
from typing import Any

LOG_TEXT_CHARS = 4000


def log_data(record: logging.LogRecord, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"level": record.levelname, "logger": record.name,
                            "message": record.getMessage()[:LOG_TEXT_CHARS],
                            "fields": fields or {}, "thread": record.threadName}
    if record.exc_info:
        data["exception"] = "".join(traceback.format_exception(*record.exc_info))[-LOG_TEXT_CHARS:]
    return data


def print_as_python_would(record: logging.LogRecord) -> None:
    """Hand `record` to the root logger's handlers, or to Python's last resort when there are
    none (what would have happened had nobody taken it)."""
    root = logging.getLogger()
    handlers = [h for h in root.handlers if record.levelno >= h.level]
    for handler in handlers:
        handler.handle(record)
    if not root.handlers and logging.lastResort is not None \
            and record.levelno >= logging.lastResort.level:
        logging.lastResort.handle(record)
