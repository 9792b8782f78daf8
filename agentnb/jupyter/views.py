"""The Jupyter layer's views: live widgets over a trace, with static HTML and text faces.

A view renders records with `core.render.sections.Sections`, follows the trace through a `Throttle`, and
sends only the fragments that are new, from the kernel's own loop (ipykernel 7 drops widget
messages sent from other threads).
"""
from __future__ import annotations

import asyncio
import logging
import sys
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..core.render.sections import Sections
from ..core.throttle import Schedule, Throttle
from ..core.trace import Trace
from .editor import show_state_editor
from .forms import card_host, confirmation_form, credential_form, pending_confirmations
from .frontends import front_end
from .widget import WIDGET_MIME, new_widget, offer, reset_widget, send_patch

log = logging.getLogger("agentnb.views")
SNAPSHOT_EVERY_S = 2.0      # a dashboard re-saves its full snapshot at most this often
_following: weakref.WeakSet[LiveView] = weakref.WeakSet()
_style_carried = False   # an output shown in this kernel already carries the stylesheet
_card_widgets: list[Any] = []   # widgets of finished cards, shown nowhere, for the next cards
_finished_cards: dict[tuple[int, str], LiveView] = {}   # (trace, invocation) -> its shown card
FINISHED_KEPT = 32              # finished cards that can still be drawn again (refresh_card)


def in_kernel() -> bool:
    """True inside a running Jupyter kernel (where widgets can be shown)."""
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveView:
    """A view of a trace (one invocation, or everything) that can follow it live."""

    def __init__(self, trace: Trace, invocation_id: str | None = None, title: str = "agentnb",
                 reveal: bool = False, clock: Callable[[], float] = time.monotonic,
                 session_id: str | None = None) -> None:
        self.trace, self.invocation_id, self.reveal, self.clock = trace, invocation_id, reveal, clock
        self.sections = Sections(invocation_id, title, reveal, session_id)
        self.cursor = len(trace)
        self.sections.add(trace.snapshot()[: self.cursor])
        self._widget: Any = None
        self._snapshot_due, self._snapshot_at = False, float("-inf")
        self._snapshot_timer = False
        self._schedule: Schedule | None = None
        self._throttle: Throttle | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._display: Any = None       # the output it is shown in (IPython's DisplayHandle)
        self._shows_live = False
        self._shown_at = -1             # the cursor when the output last became static
        self._styled: bool | None = None
        self.run_coming = False         # a run of its invocation is about to (re)start
        self.controls: dict[str, Callable[[], None]] = {}   # what the page may ask (e.g. stop)
        self.finished = False
        self.messages_sent = 0

    # -- faces --
    def html(self) -> str:
        return self.sections.html()

    def text(self) -> str:
        return self.sections.text()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The static faces, plus the live widget while the view can still change."""
        if in_kernel() and self.can_change():
            self.follow()
            return self._live_bundle()
        return self._static_bundle()

    def _ipython_display_(self) -> None:
        """Shown by IPython: in an output that is live while the view follows a run and becomes
        the static snapshot when the run (or the cell) has ended, so a saved notebook, a
        viewer or nbconvert shows the finished view with no kernel and no widget manager."""
        from IPython.display import display
        if not (in_kernel() and self.can_change()):
            display(self._static_bundle(), raw=True)
            return
        self.follow()
        self._display = display(self._live_bundle(), raw=True, display_id=True)
        self._shows_live = True

    def can_change(self) -> bool:
        """A dashboard follows every later run; a card only until its invocation ends (or, for
        the card of a run about to resume an invocation that ended waiting, until it ends again)."""
        return not self.finished and (self.invocation_id is None or self.run_coming
                                      or self.sections.status() in ("", "running"))

    def _static_bundle(self, hint: bool = False) -> dict[str, Any]:
        """The snapshot; with the front end's line on how to see it live when `hint`, or
        when it would have been live but the front end gets no widget at all (Colab without
        its widget manager)."""
        html = self.sections.html(style=self._carries_style())
        front = front_end()
        if hint or (not front.widgets and self._throttle is not None):
            html = front.hint() + html
        return {"text/plain": self.text(), "text/html": html}

    def _is_card(self) -> bool:
        """A card (of an invocation, or of one session: an eval case) ends; a dashboard goes on."""
        return self.invocation_id is not None or self.sections.session_id is not None

    def _carries_style(self) -> bool:
        """Whether this view's saved output carries agentnb's stylesheet: every dashboard, and
        the first view shown in this kernel; the page then styles every other card (the CSS
        is ~3 kB, paid once per notebook instead of once per card)."""
        global _style_carried
        if self._styled is None:
            self._styled = not self._is_card() or not _style_carried
            _style_carried = True
        return self._styled

    def _live_bundle(self) -> dict[str, Any]:
        """The widget, and for a front end that cannot draw it the snapshot with a line on
        how to see it live; where no widget can be drawn, only that."""
        if not front_end().widgets:
            return self._static_bundle()
        return {**self._static_bundle(hint=True), WIDGET_MIME: {
            "version_major": 2, "version_minor": 0, "model_id": self.widget.model_id}}

    def _show(self, live: bool) -> None:
        """Make the output this view was shown in live (the widget) or static (the snapshot)."""
        if self._display is None or (live == self._shows_live
                                     and (live or self._shown_at == self.cursor)):
            return
        if live:   # the page's new view draws the widget's snapshot, then the patches after it
            self.save_snapshot()
            self._display.update(self._live_bundle(), raw=True)
        else:      # the output holds the picture: the widget's saved state need not repeat it
            self._display.update(self._static_bundle(), raw=True)
            if self._widget is not None:
                self._widget.html = ""
        self._shows_live, self._shown_at = live, self.cursor

    @property
    def widget(self) -> Any:
        if self._widget is None:
            self._widget = (_card_widgets.pop() if self._is_card() and _card_widgets
                            else new_widget())
            reset_widget(self._widget, self.sections.html(style=False), self.sections.status())
            if self.controls:
                offer(self._widget, self.controls)
        return self._widget

    # -- following the trace --
    def follow(self, loop: Any = None, interval: float = 0.1,
               schedule: Schedule | None = None) -> LiveView:
        """Start sending new fragments as the trace grows, at most every `interval` s, through
        `schedule(delay, fn)` (default: on `loop`, the running one)."""
        if self._throttle is not None:
            return self
        if schedule is None:
            if loop is None:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    return self   # no loop, nothing to flush on: the view stays a snapshot
            schedule = _on_loop(loop)
        self._schedule = schedule
        self._throttle = Throttle(self.flush, schedule, interval, self.clock)
        self._unsubscribe = self.trace.subscribe(self._throttle.mark)
        _following.add(self)
        _save_after_each_cell()
        return self

    def flush(self) -> None:
        """Send what is new. A view that fails logs it and stays as it was: it is never allowed
        to reach the agent run it shows."""
        try:
            self._send_new()
        except Exception:
            log.warning("agentnb could not update a view", exc_info=True)

    def _send_new(self) -> None:
        new = self.trace.snapshot(self.cursor)
        if not new:
            return
        if self._widget is not None:
            # A dashboard made static after a cell comes alive again, from a snapshot taken
            # before the new rows: the patch adds them (once, and marked fresh).
            self._show(live=True)
        self.cursor += len(new)
        ops = self.sections.add(new)
        if not ops or self._widget is None:
            return
        send_patch(self._widget, ops)
        self.messages_sent += 1
        self._widget.status = self.sections.status()
        if self.invocation_id is None and self.sections.session_id is None \
                and any(r.kind == "invocation_end" for r in new):
            self._snapshot_due = True
        self._save_snapshot_when_due()

    def _save_snapshot_when_due(self) -> None:
        """Save a due snapshot now if the last is old enough, else once it is: a quiet trace
        sends no more marks, and the saved notebook must not keep the state of mid-run."""
        if not self._snapshot_due:
            return
        wait = self._snapshot_at + SNAPSHOT_EVERY_S - self.clock()
        if wait <= 0:
            self.save_snapshot()
        elif not self._snapshot_timer and self._schedule is not None:
            self._snapshot_timer = True
            self._schedule(wait, self._deferred_snapshot)

    def _deferred_snapshot(self) -> None:
        self._snapshot_timer = False
        self.flush()
        try:
            self._save_snapshot_when_due()
        except Exception:
            log.warning("agentnb could not update a view", exc_info=True)

    def catch_up(self) -> None:
        """Send what is new and save a due snapshot now, whatever the throttles say: a cell
        has ended, and a notebook saved (or a kernel shut down) now must show the run's end."""
        self.flush()
        try:
            if self._snapshot_due:
                self.save_snapshot()
            self._show(live=False)
        except Exception:
            log.warning("agentnb could not update a view", exc_info=True)

    def show_later_records(self) -> None:
        """A finished card draws its static output again with the records added since."""
        new = self.trace.snapshot(self.cursor)
        self.cursor += len(new)
        self.sections.add(new)
        if self._display is not None:
            self._display.update(self._static_bundle(), raw=True)
            self._shown_at = self.cursor

    def save_snapshot(self) -> None:
        """Make the widget's saved state the full snapshot (what a saved notebook shows)."""
        self._snapshot_due, self._snapshot_at = False, self.clock()
        if self._widget is not None:
            self._widget.html = self.sections.html(style=False)

    def finish(self) -> None:
        """Stop following; flush what is left and make the saved state the full snapshot."""
        _following.discard(self)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._throttle is not None:
            self._throttle.close()
        else:
            self.flush()
        self.finished = True
        try:
            if self._display is not None:
                # The output becomes the finished snapshot; the widget, shown nowhere now,
                # serves the next card (a saved notebook keeps every widget model it saw).
                self._show(live=False)
                if self._widget is not None and self._is_card():
                    _card_widgets.append(self._widget)
                    self._widget = None
            elif self._widget is not None:   # hosted by a form: the widget stays on the page
                self.save_snapshot()
                self._widget.status = self.sections.status()
        except Exception:
            log.warning("agentnb could not finish a view", exc_info=True)


def _on_loop(loop: asyncio.AbstractEventLoop) -> Schedule:
    """A schedule that runs `fn` on `loop` after `delay` s, from any thread."""
    def schedule(delay: float, fn: Callable[[], None]) -> None:
        loop.call_soon_threadsafe(loop.call_later, delay, fn)
    return schedule


_shells_watched: weakref.WeakSet = weakref.WeakSet()


def _save_after_each_cell() -> None:
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


def _catch_up_all(*_: object) -> None:
    for view in list(_following):
        view.catch_up()


class DashboardView(LiveView):
    """`runner.view()`: sessions, invocations, timeline, state lanes, artifacts, context;
    shown in a kernel with a state editor under it when it has an owner (`view(edit=True)`)."""

    def __init__(self, trace: Trace, title: str = "agentnb", reveal: bool = False,
                 owner: Any = None) -> None:
        super().__init__(trace, None, title, reveal)
        self.owner = owner

    def _ipython_display_(self) -> None:
        super()._ipython_display_()
        if in_kernel() and hasattr(self.owner, "set_state"):
            show_state_editor(self.owner)


def view(trace: Trace, invocation_id: str | None = None, title: str = "agentnb",
         reveal: bool = False, owner: Any = None) -> LiveView:
    """A dashboard of the whole trace, or the card of one invocation (see `core.faces`)."""
    if invocation_id is None:
        return DashboardView(trace, title, reveal, owner)
    return LiveView(trace, invocation_id, title, reveal)


def refresh_card(trace: Trace, invocation_id: str) -> None:
    """Draw the finished card of `invocation_id` again, with what was recorded since."""
    card = _finished_cards.get((id(trace), invocation_id))
    if card is not None and card.trace is trace:
        try:
            card.show_later_records()
        except Exception:
            log.warning("agentnb could not update a view", exc_info=True)


@contextmanager
def live_session_card(trace: Trace, session_id: str, title: str,
                      enabled: bool = True) -> Iterator[bool]:
    """Show a live card of one session (an eval case's) while the body runs; it becomes its
    static snapshot when the body ends. Yields whether it was shown."""
    if not enabled or not in_kernel():
        yield False
        return
    from IPython.display import display
    card = LiveView(trace, None, title, session_id=session_id)
    card.follow()
    display(card)
    try:
        yield True
    finally:
        card.finish()


@contextmanager
def live_card(trace: Trace, invocation_id: str, enabled: bool = True,
              owner: Any = None) -> Iterator[bool]:
    """Show a live card for `invocation_id` while the body runs; yields whether it was shown.
    When the run ends waiting for a credential or a confirmation the owner can take, a form
    asks for it."""
    if not enabled or not in_kernel():
        yield False
        return
    from IPython.display import display
    card = LiveView(trace, invocation_id)
    card.run_coming = True    # live even when the invocation it resumes ended waiting
    if hasattr(owner, "stop"):   # the card's Stop button
        card.controls["stop"] = lambda: owner.stop(invocation_id)
    card.follow()
    (card_host.get() or display)(card)
    try:
        yield True
    finally:
        card.finish()
        _finished_cards[(id(trace), invocation_id)] = card
        while len(_finished_cards) > FINISHED_KEPT:
            del _finished_cards[next(iter(_finished_cards))]
        for request in getattr(owner, "pending_credentials", lambda: [])():
            if request["invocation_id"] == invocation_id:
                display(credential_form(owner, request))
        if hasattr(owner, "ask"):
            for request in pending_confirmations(trace, invocation_id):
                display(confirmation_form(owner, request))
