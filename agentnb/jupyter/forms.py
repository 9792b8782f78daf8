"""Forms under a card that answer what a run waits for: a tool's credential request or its
confirmation request. Answered here or in code, a form is disabled and says so."""
from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any

from ..core.records import Event
from ..core.render.escape import esc, show
from ..core.trace import Trace
from .widget import WIDGET_MIME

# Where a live card goes when not into the running cell's output: a run started from a widget
# (a form) has no cell, so the form hosts the card itself.
card_host: contextvars.ContextVar[Callable[[Any], None] | None] = contextvars.ContextVar(
    "agentnb_card_host", default=None)
_resuming: set[asyncio.Task[None]] = set()
CONFIRMATION = "adk_request_confirmation"


def pending_confirmations(trace: Trace, invocation_id: str) -> list[dict[str, Any]]:
    """The confirmations an invocation's tools asked for (`tool_context.request_confirmation`,
    or a tool made with `require_confirmation=True`) that no answer has reached yet."""
    asked: dict[str, dict[str, Any]] = {}
    answered: set[str] = set()
    for event in trace.of("event"):
        for c in event.function_calls:
            if c["name"] == CONFIRMATION and event.invocation_id == invocation_id:
                original = c["args"].get("originalFunctionCall") or {}
                confirmation = c["args"].get("toolConfirmation") or {}
                asked[c["id"]] = {"id": c["id"], "invocation_id": invocation_id,
                                  "session_id": event.session_id,
                                  "tool": original.get("name", "?"), "args": original.get("args", {}),
                                  "hint": confirmation.get("hint", "")}
        answered.update(r["id"] for r in event.function_responses)
    return [request for call_id, request in asked.items() if call_id not in answered]


def _small(text: str) -> str:
    return f"<small>{text}</small>"


class _Answer:
    """What every form shares: its inputs, its status line, and the watch for an answer to its
    request, which may come from the form itself or from code (`runner.answer_credential`,
    `runner.ask(<a function response>)`): either way the form is then disabled and says so."""

    def __init__(self, trace: Trace, request_id: str, inputs: list[Any], status: Any,
                 form: Form) -> None:
        self.request_id, self.inputs, self.status, self.form = request_id, inputs, status, form
        self.sent_here = False
        self.loop = asyncio.get_running_loop()
        self._cursor = len(trace)
        self._trace = trace
        self._stop = trace.subscribe(self._appended)
        self.done = False

    def _appended(self, length: int) -> None:
        """A trace listener (any thread, must be cheap): look for the answer's event."""
        new = self._trace.snapshot(self._cursor)
        self._cursor += len(new)
        if any(isinstance(r, Event) and any(a.get("id") == self.request_id
                                            for a in r.function_responses) for r in new):
            self._stop()
            self.loop.call_soon_threadsafe(self._answered)

    def _answered(self) -> None:
        self.close()
        if not self.sent_here:
            self.status.value = _small(
                "<b>Answered in code</b>: the invocation resumed under the cell that answered. "
                "This form is closed.")
            self.form.closed()

    def close(self) -> None:
        self.done = True
        for widget in self.inputs:
            widget.disabled = True

    def send(self, what: str, answer: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Disable the form and run `answer()` on the kernel's loop; the resumed run's live
        card goes into the form."""
        self.sent_here = True
        self.close()
        self.status.value = _small(f"<b>Answered here</b> ({esc(what)}): the invocation resumes "
                                   "below.")

        async def resume() -> None:
            card_host.set(self.form.host)
            try:
                await answer()
                self.status.value = _small(f"<b>Answered here</b> ({esc(what)}): the invocation "
                                           "resumed below. This form is closed.")
            except Exception as exc:   # shown in the form: a task's error would go nowhere
                self.status.value = _small(f"agentnb: {esc(type(exc).__name__)}: {esc(exc)}")
            self.form.closed()
        def start() -> None:
            task = self.loop.create_task(resume())
            _resuming.add(task)   # the loop keeps only a weak reference to a task
            task.add_done_callback(_resuming.discard)
        # ipykernel may call a click handler from another thread than its loop's: wake it up
        self.loop.call_soon_threadsafe(start)


class Form:
    """A form as an output: live (the widget) while it can be answered, then, once answered and
    the run it resumed has ended, a static picture: its question, what answered it, and the
    resumed run's card, so a saved notebook keeps the whole story with no widget state."""

    def __init__(self, question: str, inputs: list[Any], trace: Trace, request_id: str) -> None:
        import ipywidgets as w
        self.question = question
        self.status = w.HTML("")
        self.box = w.VBox()
        self.hosted: list[Any] = []   # the resumed run's card, when answered here
        self.answer = _Answer(trace, request_id, inputs, self.status, self)
        self._display: Any = None

    def host(self, view: Any) -> None:
        """Show the resumed run's live card inside the form."""
        self.hosted.append(view)
        self.box.children = (*self.box.children, view.widget)

    def _static_bundle(self) -> dict[str, Any]:
        cards = "".join(view.html() for view in self.hosted)
        text = self.status.value.replace("<small>", "").replace("</small>", "")
        return {"text/plain": "agentnb form: " + text,
                "text/html": f'<div class="anb-form mathjax_ignore" data-view="form">'
                             f'{_small(self.question)}<br>{self.status.value}</div>{cards}'}

    def _ipython_display_(self) -> None:
        from IPython.display import display
        bundle = {**self._static_bundle(), WIDGET_MIME: {
            "version_major": 2, "version_minor": 0, "model_id": self.box.model_id}}
        self._display = display(bundle, raw=True, display_id=True)

    def closed(self) -> None:
        """Answered, and the run it resumed (if any) has ended: the output becomes static."""
        if self._display is not None:
            self._display.update(self._static_bundle(), raw=True)


def credential_form(owner: Any, request: dict[str, Any]) -> Form:
    """A password field and a button that answer one credential request through the owner's
    `answer_credential`, on the kernel's loop; the resumed run gets its own live card."""
    import ipywidgets as w
    secret = w.Password(placeholder=f"{request['auth_type']} for call {request['tool_call_id']}",
                        layout=w.Layout(width="28em"))
    send = w.Button(description="Send credential", button_style="primary")
    question = (f"A tool asked for a credential ({esc(request['scheme'] or request['auth_type'])}): "
                "the invocation waits for it. Type it here (it stays masked in every view) or "
                "answer in code with <code>runner.answer_credential(...)</code>.")
    form = Form(question, [secret, send], owner.trace, request["id"])

    def submit(_: object) -> None:
        value = secret.value
        if form.answer.done:
            return
        if not value:
            form.status.value = _small("agentnb: type the credential first.")
            return
        send.description = "Sent"
        form.answer.send("a credential",
                         lambda: owner.answer_credential(value, request_id=request["id"]))
    send.on_click(submit)
    form.box.children = (w.HTML(_small(question)), w.HBox([secret, send]), form.status)
    return form


def confirmation_form(owner: Any, request: dict[str, Any]) -> Form:
    """Confirm and Decline buttons that answer a tool's confirmation request (ADK's
    `adk_request_confirmation`) with a function response, through the owner's `ask`."""
    import ipywidgets as w
    from google.genai import types
    yes = w.Button(description="Confirm", button_style="primary")
    no = w.Button(description="Decline")
    hint = f": {esc(request['hint'].rstrip('.'))}" if request.get("hint") else ""
    question = (f"The tool <code>{esc(request['tool'])}({show(request['args'])})</code> asks for a "
                f"confirmation{hint}. The invocation waits for it; answer here or in code with a "
                f"function response named <code>{CONFIRMATION}</code>.")
    form = Form(question, [yes, no], owner.trace, request["id"])

    def reply(confirmed: bool) -> Callable[[object], None]:
        def click(_: object) -> None:
            if form.answer.done:
                return
            content = types.Content(role="user", parts=[types.Part(
                function_response=types.FunctionResponse(
                    id=request["id"], name=CONFIRMATION, response={"confirmed": confirmed}))])
            form.answer.send("confirmed" if confirmed else "declined",
                             lambda: owner.ask(content, session_id=request["session_id"]))
        return click
    yes.on_click(reply(True))
    no.on_click(reply(False))
    form.box.children = (w.HTML(_small(question)), w.HBox([yes, no]), form.status)
    return form
