"""The Jupyter layer's views: live widgets over a trace, with static HTML and text faces.

A view renders records with `_render.Sections`, follows the trace through a `Throttle`, and
sends only the fragments that are new, from the kernel's own loop (ipykernel 7 drops widget
messages sent from other threads).
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import time
import uuid
import weakref
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources

from ._render import LANE_TITLES, MAX_ROWS, SECTION_TITLES, Sections, esc, mermaid, sequence_svg, stylesheet
from ._throttle import Throttle

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
log = logging.getLogger("agentnb.views")
MESSAGE_BUDGET = 4_000      # bytes of rows per patch: at ~10 patches/s, under 50 kB/s
SNAPSHOT_EVERY_S = 2.0      # a dashboard re-saves its full snapshot at most this often
# Where a live card goes when not into the running cell's output: a run started from a widget
# (the credential form) has no cell, so the form hosts the card itself.
_card_host: "contextvars.ContextVar" = contextvars.ContextVar("agentnb_card_host", default=None)
_following: "weakref.WeakSet[LiveView]" = weakref.WeakSet()


def in_kernel() -> bool:
    """True inside a running Jupyter kernel (where widgets can be shown)."""
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


@lru_cache(maxsize=1)
def _widget_class():
    import anywidget
    import traitlets

    class AgentnbWidget(anywidget.AnyWidget):
        _esm = resources.files("agentnb").joinpath("static/view.js").read_text(encoding="utf-8")
        uid = traitlets.Unicode().tag(sync=True)   # the key view.js shares state under
        html = traitlets.Unicode("").tag(sync=True)
        shells = traitlets.Dict().tag(sync=True)
        status = traitlets.Unicode("").tag(sync=True)

    return AgentnbWidget


def _shells() -> dict:
    """Empty sections, for the live view to add when a first row arrives."""
    probe = Sections()
    shells = {name: probe._section(name, title, "anb-sec") for name, title in SECTION_TITLES.items()
              if name != "state"}
    shells.update({f"lane-{lane}": probe._section(f"lane-{lane}", title, "anb-lane")
                   for lane, title in LANE_TITLES.items()})
    shells["state"] = (f'<details class="anb-sec" open data-section="state"><summary>'
                       f'{esc(SECTION_TITLES["state"])}</summary><div class="anb-lanes"></div></details>')
    return shells


class LiveView:
    """A view of a trace (one invocation, or everything) that can follow it live."""

    def __init__(self, trace, invocation_id=None, title="agentnb", reveal=False):
        self.trace, self.invocation_id, self.reveal = trace, invocation_id, reveal
        self.sections = Sections(invocation_id, title, reveal)
        self.cursor = len(trace)
        self.sections.add(trace.snapshot()[: self.cursor])
        self._widget = None
        self._snapshot_due, self._snapshot_at = False, float("-inf")
        self._snapshot_timer = False
        self._schedule = None
        self._throttle = None
        self._unsubscribe = None
        self.messages_sent = 0

    # -- faces --
    def html(self) -> str:
        return self.sections.html()

    def text(self) -> str:
        return self.sections.text()

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": self.text(), "text/html": self.html()}
        if in_kernel():
            self.follow()
            bundle[WIDGET_MIME] = {"version_major": 2, "version_minor": 0,
                                   "model_id": self.widget.model_id}
        return bundle

    @property
    def widget(self):
        if self._widget is None:
            self._widget = _widget_class()(uid=uuid.uuid4().hex, html=self.sections.html(), shells=_shells(),
                                           status=self.sections.status())
        return self._widget

    # -- following the trace --
    def follow(self, loop=None, interval: float = 0.1):
        """Start sending new fragments as the trace grows, at most every `interval` s."""
        if self._throttle is not None:
            return self
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return self   # no loop, nothing to flush on: the view stays a snapshot

        def schedule(delay, fn):
            loop.call_soon_threadsafe(loop.call_later, delay, fn)
        self._schedule = schedule
        self._throttle = Throttle(self.flush, schedule, interval)
        self._unsubscribe = self.trace.subscribe(self._throttle.mark)
        _following.add(self)
        _save_after_each_cell()
        return self

    def flush(self):
        """Send what is new. A view that fails logs it and stays as it was: it is never allowed
        to reach the agent run it shows."""
        try:
            self._send_new()
        except Exception:
            log.warning("agentnb could not update a view", exc_info=True)

    def _send_new(self):
        new = self.trace.snapshot(self.cursor)
        if not new:
            return
        self.cursor += len(new)
        ops = self.sections.add(new)
        if not ops or self._widget is None:
            return
        self._widget.send({"kind": "agentnb-patch", "ops": within_budget(ops)})
        self.messages_sent += 1
        self._widget.status = self.sections.status()
        if self.invocation_id is None and any(r.kind == "invocation_end" for r in new):
            self._snapshot_due = True
        self._save_snapshot_when_due()

    def _save_snapshot_when_due(self):
        """Save a due snapshot now if the last is old enough, else once it is: a quiet trace
        sends no more marks, and the saved notebook must not keep the state of mid-run."""
        if not self._snapshot_due:
            return
        wait = self._snapshot_at + SNAPSHOT_EVERY_S - time.monotonic()
        if wait <= 0:
            self.save_snapshot()
        elif not self._snapshot_timer and self._schedule is not None:
            self._snapshot_timer = True
            self._schedule(wait, self._deferred_snapshot)

    def _deferred_snapshot(self):
        self._snapshot_timer = False
        self.flush()
        try:
            self._save_snapshot_when_due()
        except Exception:
            log.warning("agentnb could not update a view", exc_info=True)

    def catch_up(self):
        """Send what is new and save a due snapshot now, whatever the throttles say: a cell
        has ended, and a notebook saved (or a kernel shut down) now must show the run's end."""
        self.flush()
        try:
            if self._snapshot_due:
                self.save_snapshot()
        except Exception:
            log.warning("agentnb could not update a view", exc_info=True)

    def save_snapshot(self):
        """Make the widget's saved state the full snapshot (what a saved notebook shows)."""
        self._snapshot_due, self._snapshot_at = False, time.monotonic()
        if self._widget is not None:
            self._widget.html = self.sections.html()

    def finish(self):
        """Stop following; flush what is left and make the saved state the full snapshot."""
        _following.discard(self)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._throttle is not None:
            self._throttle.close()
        else:
            self.flush()
        if self._widget is not None:
            try:
                self.save_snapshot()
                self._widget.status = self.sections.status()
            except Exception:
                log.warning("agentnb could not finish a view", exc_info=True)


_shells_watched: "weakref.WeakSet" = weakref.WeakSet()


def _save_after_each_cell():
    """Once per IPython shell: after every cell, each following view sends what is new and
    saves a due snapshot, on the kernel's thread, before the cell's reply (so nbclient and a
    saved notebook both get the run's end, even when the kernel shuts down right after)."""
    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython
    shell = get_ipython()
    if shell is None or shell in _shells_watched:
        return
    shell.events.register("post_run_cell", _catch_up_all)
    _shells_watched.add(shell)


def _catch_up_all(*_):
    for view in list(_following):
        view.catch_up()


def within_budget(ops, budget: int = MESSAGE_BUDGET) -> list:
    """A patch that stays small under a burst: each section sends its newest rows that fit its
    share of `budget` bytes (at least one, at most the MAX_ROWS the page keeps), and says how
    many it skipped, so the page's counts stay right. The saved snapshot has them all."""
    appends = [op for op in ops if op["op"] == "append"]
    share = budget // max(1, len(appends))
    for op in appends:
        rows, kept, size = op["html"], [], 0
        for row in reversed(rows[-MAX_ROWS:]):
            if kept and size + len(row) > share:
                break
            kept.append(row)
            size += len(row)
        if len(kept) < len(rows):
            op["skipped"] = len(rows) - len(kept)
            op["html"] = kept[::-1]
    return ops


class DashboardView(LiveView):
    """`runner.view()`: sessions, invocations, timeline, state lanes, artifacts, context."""

    def __init__(self, trace, title="agentnb", reveal=False):
        super().__init__(trace, None, title, reveal)


@contextmanager
def live_card(trace, invocation_id, enabled=True, owner=None):
    """Show a live card for `invocation_id` while the body runs; yields whether it was shown.
    When the run ends waiting for a credential the owner can take, a form asks for it."""
    if not enabled or not in_kernel():
        yield False
        return
    from IPython.display import display
    view = LiveView(trace, invocation_id)
    view.follow()
    (_card_host.get() or display)(view)
    try:
        yield True
    finally:
        view.finish()
        for request in getattr(owner, "pending_credentials", lambda: [])():
            if request["invocation_id"] == invocation_id:
                display(credential_form(owner, request))


class Invocation:
    """What `ask` returns: one invocation, read from the trace (so it is always current)."""

    def __init__(self, trace, session_id, invocation_id):
        self.trace, self.session_id, self.invocation_id = trace, session_id, invocation_id
        self.shown_live = False

    def _records(self, kind):
        return [r for r in self.trace.of(kind, self.session_id) if r.invocation_id == self.invocation_id]

    @property
    def status(self) -> str:
        ends = self._records("invocation_end")
        return ends[-1].status if ends else "running"

    @property
    def error(self):
        ends = self._records("invocation_end")
        return ends[-1].error if ends else None

    @property
    def events(self) -> list:
        return self._records("event")

    @property
    def state_changes(self) -> list:
        return self._records("state_change")

    @property
    def artifacts(self) -> list:
        return self._records("artifact")

    @property
    def contexts(self) -> list:
        return self._records("context")

    @property
    def text(self) -> str:
        """The agent's last text answer."""
        texts = [e.text for e in self.events if e.author != "user" and e.text]
        return texts[-1] if texts else ""

    def view(self) -> LiveView:
        return LiveView(self.trace, self.invocation_id)

    def diagram(self) -> "SequenceDiagram":
        """The invocation as a sequence diagram (user → runner → agent → model → tool → state):
        Mermaid in JupyterLab (its own bundled renderer), an SVG everywhere else."""
        view = Sections(self.invocation_id)
        view.add(self.trace.snapshot())
        return SequenceDiagram(view.steps)

    def mermaid(self) -> str:
        """The Mermaid source of `diagram()`."""
        return self.diagram().source

    def __repr__(self):
        return (f"<Invocation {self.invocation_id} {self.status}: {len(self.events)} events, "
                f"{len(self.state_changes)} state changes>")

    def _repr_mimebundle_(self, include=None, exclude=None):
        if self.shown_live:   # its live card is already on the page, just above
            summary = repr(self)
            return {"text/plain": summary,
                    "text/html": f'<code>{esc(summary)}</code> <small>(live card above)</small>'}
        return self.view()._repr_mimebundle_(include, exclude)


class SequenceDiagram:
    """A sequence diagram of one invocation, with a Mermaid face and an SVG face."""

    def __init__(self, steps):
        self.steps = steps
        self.source = mermaid(steps)

    def __repr__(self):
        return self.source

    def _repr_mimebundle_(self, include=None, exclude=None):
        svg = f'<div class="anb-root"><style>{stylesheet()}</style>{sequence_svg(self.steps)}</div>'
        return {"text/plain": self.source, "text/vnd.mermaid": self.source, "text/html": svg}


def credential_form(owner, request):
    """A password field and a button that answer one credential request through the owner's
    `answer_credential`, on the kernel's loop; the resumed run gets its own live card."""
    import ipywidgets as w
    secret = w.Password(placeholder=f"{request['auth_type']} for call {request['tool_call_id']}",
                        layout=w.Layout(width="28em"))
    send = w.Button(description="Send credential", button_style="primary")
    status = w.HTML(f"<small>A tool asked for a credential ({esc(request['scheme'] or request['auth_type'])})."
                    " It stays masked in every view.</small>")
    form = w.VBox()
    loop = asyncio.get_running_loop()

    def submit(_):
        value = secret.value
        if not value:
            status.value = "<small>agentnb: type the credential first.</small>"
            return
        secret.disabled = send.disabled = True
        status.value = "<small>Sent; the invocation resumes below.</small>"

        async def resume():
            _card_host.set(lambda view: setattr(form, "children", (*form.children, view.widget)))
            try:
                await owner.answer_credential(value, request_id=request["id"])
                status.value = "<small>Credential sent; the invocation resumed.</small>"
            except Exception as exc:   # shown in the form: a task's error would go nowhere
                status.value = f"<small>agentnb: {esc(type(exc).__name__)}: {esc(exc)}</small>"
        loop.create_task(resume())
    send.on_click(submit)
    form.children = (w.HBox([secret, send]), status)
    return form
