"""What every recorded thing offers: a runner, a job, or a trace loaded from a file."""
from __future__ import annotations

from . import _frames
from ._trace import Trace


class Recorded:
    """DataFrames, saving and a view over `self.trace`. Each DataFrame method takes an optional
    `session_id` (default: every session in the trace) and `reveal=True` to unmask secrets."""

    trace: Trace
    title = "agentnb"

    def history(self, session_id=None, *, reveal=False):
        return _frames.history(self.trace.snapshot(), session_id, reveal)

    def timeline(self, session_id=None, *, reveal=False):
        return _frames.timeline(self.trace.snapshot(), session_id, reveal)

    def events(self, session_id=None, *, reveal=False):
        return _frames.events(self.trace.snapshot(), session_id, reveal)

    def artifacts(self, session_id=None, *, reveal=False):
        return _frames.artifacts(self.trace.snapshot(), session_id, reveal)

    def invocations(self, session_id=None, *, reveal=False):
        return _frames.invocations(self.trace.snapshot(), session_id, reveal)

    def save(self, path, *, reveal=False):
        """Write the trace as JSON Lines; secrets masked unless `reveal=True`."""
        from ._persist import save
        save(self.trace, path, reveal=reveal)
        return path

    def view(self, *, reveal=False):
        """The dashboard: sessions, invocations, state lanes, artifacts, live while it runs.
        `reveal=True` shows secrets unmasked in this view only."""
        from ._views import DashboardView
        return DashboardView(self.trace, title=self.title, reveal=reveal)

    def _live(self, invocation_id: str):
        """A context manager around one invocation or turn: shows its live card in a notebook
        (when `self.display` is on and a kernel is running) and flushes it at the end."""
        from ._views import live_card
        return live_card(self.trace, invocation_id, enabled=getattr(self, "display", False),
                         owner=self)

    def _final_session_id(self):
        return getattr(self, "session_id", None)


def compare(a, b, *, reveal=False):
    for side in (a, b):
        if not isinstance(side, Recorded):
            raise TypeError(f"agentnb: compare() takes runners, jobs or loaded traces, "
                            f"not {type(side).__name__}")
    return _frames.compare(a.trace.snapshot(), b.trace.snapshot(), a._final_session_id(),
                           b._final_session_id(), reveal=reveal)


def compare_view(a, b, *, reveal=False):
    """Two runners, jobs or saved traces side by side: state after each turn, aligned by turn,
    differing values highlighted. HTML and text faces."""
    from ._render import comparison, states_by_turn
    for side in (a, b):
        if not isinstance(side, Recorded):
            raise TypeError(f"agentnb: compare_view() takes runners, jobs or loaded traces, "
                            f"not {type(side).__name__}")
    turns = []
    for side in (a, b):
        records = side.trace.snapshot()
        session_id = side._final_session_id() or next(
            (r.session_id for r in reversed(records) if r.kind == "session"), None)
        turns.append(states_by_turn(records, session_id))
    return Comparison(*comparison(*turns, names=(_name(a), _name(b)), reveal=reveal))


def _name(side) -> str:
    return getattr(side, "session_id", None) or getattr(side, "title", "trace")


class Comparison:
    """The picture `compare_view` returns."""

    def __init__(self, html: str, text: str):
        self.html, self.text = html, text

    def __repr__(self):
        return self.text

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": self.text, "text/html": self.html}
