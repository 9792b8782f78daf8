"""What every recorded thing offers (a runner, a job, or a trace loaded from a file), and what
`ask` returns: one invocation, read from the trace."""
from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import Any

from . import codec, frames, timing
from .faces import faces
from .fold import states_by_turn
from .records import ArtifactVersion, ContextSnapshot, Event, InvocationEnd, Session, StateChange
from .render.comparison import comparison
from .render.diagram import SequenceDiagram
from .render.escape import esc
from .render.sections import Sections
from .trace import Trace


class Recorded:
    """DataFrames, saving and a view over `self.trace`. Each DataFrame method takes an optional
    `session_id` (default: every session in the trace) and `reveal=True` to unmask secrets."""

    trace: Trace
    title = "agentnb"

    def history(self, session_id: str | None = None, *, reveal: bool = False) -> Any:
        return frames.history(self.trace.changes(), session_id, reveal)

    def timeline(self, session_id: str | None = None, *, reveal: bool = False) -> Any:
        return frames.timeline(self.trace.changes_and("invocation_end"), session_id, reveal)

    def events(self, session_id: str | None = None, *, reveal: bool = False) -> Any:
        return frames.events(self.trace.snapshot(), session_id, reveal)

    def artifacts(self, session_id: str | None = None, *, reveal: bool = False) -> Any:
        return frames.artifacts(self.trace.snapshot(), session_id, reveal)

    def invocations(self, session_id: str | None = None, *, reveal: bool = False) -> Any:
        return frames.invocations(self.trace.snapshot(), session_id, reveal)

    def spans(self, session_id: str | None = None) -> Any:
        """Where the time went: one row per recorded span (`session_id, span_id, parent_id,
        name, start, end, duration_s, invocation_id, event_id, call_id`); see
        `record_spans()`. Empty when no spans were recorded."""
        return timing.spans_frame(self.trace.snapshot(), session_id)

    def save(self, path: str | os.PathLike[str], *, reveal: bool = False) -> str | os.PathLike[str]:
        """Write the trace as JSON Lines; secrets masked unless `reveal=True`."""
        codec.save(self.trace.snapshot(), path, reveal=reveal)
        return path

    def view(self, *, reveal: bool = False, edit: bool = False) -> Any:
        """The dashboard: sessions, invocations, state lanes, artifacts, live while it runs.
        `reveal=True` shows secrets unmasked in this view only. `edit=True` (a runner with
        `set_state`) puts a state editor under it in a notebook: a live form, so the saved
        notebook keeps a widget output for it."""
        if edit and not hasattr(self, "set_state"):
            raise TypeError(f"agentnb: view(edit=True) needs a runner with set_state(), "
                            f"not {type(self).__name__}")
        return faces().view(self.trace, None, self.title, reveal, self if edit else None)

    def _live(self, invocation_id: str) -> AbstractContextManager[bool]:
        """A context manager around one invocation or turn: shows its live card in a notebook
        (when `self.display` is on and a kernel is running) and flushes it at the end."""
        return faces().live_card(self.trace, invocation_id, getattr(self, "display", False), self)

    def _final_session_id(self) -> str | None:
        return getattr(self, "session_id", None)


class LoadedTrace(Recorded):
    """A trace read back from a file: the same DataFrame methods and view as a live runner."""

    def __init__(self, trace: Trace, header: dict[str, Any], path: str | os.PathLike[str]) -> None:
        self.trace, self.header, self.path = trace, header, path
        self.title = f"agentnb trace {path}"

    def __repr__(self) -> str:
        return f"<LoadedTrace {self.path}: {len(self.trace)} records>"


def load(path: str | os.PathLike[str]) -> LoadedTrace:
    """Read a trace saved with `save(path)`."""
    header, records = codec.load(path)
    return LoadedTrace(Trace(records), header, path)


def _check(a: object, b: object, what: str) -> None:
    for side in (a, b):
        if not isinstance(side, Recorded):
            raise TypeError(f"agentnb: {what}() takes runners, jobs or loaded traces, "
                            f"not {type(side).__name__}")


def compare(a: Recorded, b: Recorded, *, reveal: bool = False) -> Any:
    _check(a, b, "compare")
    return frames.compare(a.trace.snapshot(), b.trace.snapshot(), a._final_session_id(),
                          b._final_session_id(), reveal=reveal)


def compare_view(a: Recorded, b: Recorded, *, reveal: bool = False) -> Comparison:
    """Two runners, jobs or saved traces side by side: state after each turn, aligned by turn,
    differing values highlighted. HTML and text faces."""
    _check(a, b, "compare_view")
    turns = []
    for side in (a, b):
        records = side.trace.snapshot()
        session_id = side._final_session_id() or next(
            (r.session_id for r in reversed(records) if isinstance(r, Session)), None)
        turns.append(states_by_turn(records, session_id))
    return Comparison(*comparison(turns[0], turns[1], names=(_name(a), _name(b)), reveal=reveal))


def _name(side: Recorded) -> str:
    return getattr(side, "session_id", None) or side.title


class Comparison:
    """The picture `compare_view` returns."""

    def __init__(self, html: str, text: str) -> None:
        self.html, self.text = html, text

    def __repr__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self.text, "text/html": self.html}


class Invocation:
    """What `ask` returns: one invocation, read from the trace (so it is always current)."""

    def __init__(self, trace: Trace, session_id: str, invocation_id: str) -> None:
        self.trace, self.session_id, self.invocation_id = trace, session_id, invocation_id
        self.shown_live = False

    def _records(self, kind: str) -> list[Any]:
        return [r for r in self.trace.of(kind, self.session_id)
                if getattr(r, "invocation_id", None) == self.invocation_id]

    @property
    def status(self) -> str:
        ends: list[InvocationEnd] = self._records("invocation_end")
        return ends[-1].status if ends else "running"

    @property
    def error(self) -> str | None:
        ends: list[InvocationEnd] = self._records("invocation_end")
        return ends[-1].error if ends else None

    @property
    def events(self) -> list[Event]:
        return self._records("event")

    @property
    def state_changes(self) -> list[StateChange]:
        return self._records("state_change")

    @property
    def artifacts(self) -> list[ArtifactVersion]:
        return self._records("artifact")

    @property
    def contexts(self) -> list[ContextSnapshot]:
        return self._records("context")

    @property
    def text(self) -> str:
        """The agent's last text answer."""
        texts = [e.text for e in self.events if e.author != "user" and e.text]
        return texts[-1] if texts else ""

    def view(self) -> Any:
        return faces().view(self.trace, self.invocation_id)

    def diagram(self) -> SequenceDiagram:
        """The invocation as a sequence diagram (user → runner → agent → model → tool → state):
        Mermaid in JupyterLab (its own bundled renderer), an SVG everywhere else."""
        view = Sections(self.invocation_id)
        view.add(self.trace.snapshot())
        return SequenceDiagram(view.steps)

    def mermaid(self) -> str:
        """The Mermaid source of `diagram()`."""
        return self.diagram().source

    def __repr__(self) -> str:
        return (f"<Invocation {self.invocation_id} {self.status}: {len(self.events)} events, "
                f"{len(self.state_changes)} state changes>")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        if self.shown_live:   # its live card is already on the page, just above
            summary = repr(self)
            return {"text/plain": summary,
                    "text/html": f'<code>{esc(summary)}</code> <small>(live card above)</small>'}
        return self.view()._repr_mimebundle_(include, exclude)

