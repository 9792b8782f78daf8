"""Forms under a card that answer what a run waits for (a tool's credential request)."""
from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

from ..core.render.escape import esc

# Where a live card goes when not into the running cell's output: a run started from a widget
# (the credential form) has no cell, so the form hosts the card itself.
card_host: contextvars.ContextVar[Callable[[Any], None] | None] = contextvars.ContextVar(
    "agentnb_card_host", default=None)
_resuming: set[asyncio.Task[None]] = set()


def credential_form(owner: Any, request: dict[str, Any]) -> Any:
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

    def submit(_: object) -> None:
        value = secret.value
        if not value:
            status.value = "<small>agentnb: type the credential first.</small>"
            return
        secret.disabled = send.disabled = True
        status.value = "<small>Sent; the invocation resumes below.</small>"

        async def resume() -> None:
            card_host.set(lambda view: setattr(form, "children", (*form.children, view.widget)))
            try:
                await owner.answer_credential(value, request_id=request["id"])
                status.value = "<small>Credential sent; the invocation resumed.</small>"
            except Exception as exc:   # shown in the form: a task's error would go nowhere
                status.value = f"<small>agentnb: {esc(type(exc).__name__)}: {esc(exc)}</small>"
        task = loop.create_task(resume())
        _resuming.add(task)   # the loop keeps only a weak reference to a task
        task.add_done_callback(_resuming.discard)
    send.on_click(submit)
    form.children = (w.HBox([secret, send]), status)
    return form
