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

    def __init__(self, trace: Trace, request_id: str, inputs: list[Any], status: Any) -> None:
        self.request_id, self.inputs, self.status = request_id, inputs, status
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

    def close(self) -> None:
        self.done = True
        for widget in self.inputs:
            widget.disabled = True

    def send(self, what: str, answer: Callable[[], Coroutine[Any, Any, Any]],
             form: Any) -> None:
        """Disable the form and run `answer()` on the kernel's loop; the resumed run's live
        card goes into the form."""
        self.sent_here = True
        self.close()
        self.status.value = _small(f"<b>Answered here</b> ({esc(what)}): the invocation resumes "
                                   "below.")

        async def resume() -> None:
            card_host.set(lambda view: setattr(form, "children", (*form.children, view.widget)))
            try:
                await answer()
                self.status.value = _small(f"<b>Answered here</b> ({esc(what)}): the invocation "
                                           "resumed below. This form is closed.")
            except Exception as exc:   # shown in the form: a task's error would go nowhere
                self.status.value = _small(f"agentnb: {esc(type(exc).__name__)}: {esc(exc)}")
        task = self.loop.create_task(resume())
        _resuming.add(task)   # the loop keeps only a weak reference to a task
        task.add_done_callback(_resuming.discard)


def credential_form(owner: Any, request: dict[str, Any]) -> Any:
    """A password field and a button that answer one credential request through the owner's
    `answer_credential`, on the kernel's loop; the resumed run gets its own live card."""
    import ipywidgets as w
    secret = w.Password(placeholder=f"{request['auth_type']} for call {request['tool_call_id']}",
                        layout=w.Layout(width="28em"))
    send = w.Button(description="Send credential", button_style="primary")
    question = w.HTML(_small(
        f"A tool asked for a credential ({esc(request['scheme'] or request['auth_type'])}): the "
        "invocation waits for it. Type it here (it stays masked in every view) or answer in "
        "code with <code>runner.answer_credential(...)</code>."))
    status = w.HTML("")
    form = w.VBox()
    answer = _Answer(owner.trace, request["id"], [secret, send], status)

    def submit(_: object) -> None:
        value = secret.value
        if answer.done:
            return
        if not value:
            status.value = _small("agentnb: type the credential first.")
            return
        send.description = "Sent"
        answer.send("a credential", lambda: owner.answer_credential(value, request_id=request["id"]),
                    form)
    send.on_click(submit)
    form.children = (question, w.HBox([secret, send]), status)
    return form


def confirmation_form(owner: Any, request: dict[str, Any]) -> Any:
    """Confirm and Decline buttons that answer a tool's confirmation request (ADK's
    `adk_request_confirmation`) with a function response, through the owner's `ask`."""
    import ipywidgets as w
    from google.genai import types
    yes = w.Button(description="Confirm", button_style="primary")
    no = w.Button(description="Decline")
    hint = f": {esc(request['hint'].rstrip('.'))}" if request.get("hint") else ""
    question = w.HTML(_small(
        f"The tool <code>{esc(request['tool'])}({show(request['args'])})</code> asks for a "
        f"confirmation{hint}. The invocation waits for it; answer here or in code with a "
        f"function response named <code>{CONFIRMATION}</code>."))
    status = w.HTML("")
    form = w.VBox()
    answer = _Answer(owner.trace, request["id"], [yes, no], status)

    def reply(confirmed: bool) -> Callable[[object], None]:
        def click(_: object) -> None:
            if answer.done:
                return
            content = types.Content(role="user", parts=[types.Part(
                function_response=types.FunctionResponse(
                    id=request["id"], name=CONFIRMATION, response={"confirmed": confirmed}))])
            answer.send("confirmed" if confirmed else "declined",
                        lambda: owner.ask(content, session_id=request["session_id"]), form)
        return click
    yes.on_click(reply(True))
    no.on_click(reply(False))
    form.children = (question, w.HBox([yes, no]), status)
    return form
