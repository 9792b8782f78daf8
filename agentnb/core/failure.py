"""What a failed run shows: the user's own frames, not the framework's.

A tool or callback that raises inside ADK or LiveKit reaches the cell through dozens of the
framework's frames. `for_the_user` keeps the exception (its type, so `except` still works) and
cuts its traceback to the frames of the user's code; the full text is kept for the card.
"""
from __future__ import annotations

import sys
import sysconfig
import traceback
from pathlib import Path
from types import TracebackType

_PACKAGE = str(Path(__file__).resolve().parent.parent)
# Frames from these places are the framework's, Python's or agentnb's: not the user's code.
HIDDEN = tuple(sorted({p for p in (sysconfig.get_paths().get(k) for k in
                                    ("stdlib", "platstdlib", "purelib", "platlib")) if p}
                      | {_PACKAGE, sys.base_prefix + "/lib", "<frozen "}))

MARK = "__agentnb_invocation__"   # set on an exception agentnb has already recorded and cut
STOPPED_MARK = "__agentnb_stopped__"   # set on the CancelledError of a run the notebook stopped


def full_traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def user_frames(tb: TracebackType | None, hidden: tuple[str, ...] = HIDDEN) -> TracebackType | None:
    """`tb` with only the frames whose code is not in `hidden` places."""
    kept: list[TracebackType] = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(hidden):
            kept.append(tb)
        tb = tb.tb_next
    cut = None
    for frame in reversed(kept):
        cut = TracebackType(cut, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return cut


def for_the_user(exc: BaseException, invocation: str) -> BaseException:
    """`exc`, marked as recorded for `invocation`, with every traceback in its chain cut to
    the user's frames; a chained exception that happened only inside the framework is left
    out of what the cell prints."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = user_frames(current.__traceback__)
        context = current.__cause__ or current.__context__
        if context is not None and user_frames(context.__traceback__) is None:
            current.__suppress_context__ = True
            current.__cause__ = None
            break
        current = context
    setattr(exc, MARK, invocation)
    return exc
