"""The state editor under a runner's dashboard (`runner.view(edit=True)`): a key, a JSON value,
and a button that writes them with the runner's `set_state` (an event with a `state_delta`,
through ADK's session service). The dashboard's lanes show the change as any other.

It is a form of its own, not part of the dashboard's widget: the dashboard's output becomes
its static snapshot after each cell (what a saved notebook keeps), and an edit control has to
outlive the cell that showed it."""
from __future__ import annotations

import asyncio
import json
from typing import Any

from ..core.render.escape import esc, show
from .widget import WIDGET_MIME

_writing: set[asyncio.Task[None]] = set()   # the loop keeps only a weak reference to a task
PLAIN = "(agentnb state editor: live in a running kernel)"


def parse_edit(key: str, value: str) -> dict[str, Any]:
    """`{key: value}` from the editor's fields, the value read as JSON; a clear one-line
    ValueError for what set_state would refuse or cannot read."""
    key = key.strip()
    if not key:
        raise ValueError("agentnb: type a key first (e.g. pref, user:name or app:theme)")
    if key.startswith("temp:"):
        raise ValueError(f"agentnb: cannot set {key!r}: temp: keys live only during one "
                         "invocation and ADK never stores them")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"agentnb: the value is not JSON ({exc.msg}, column {exc.colno}); "
                         'text goes in double quotes: "tea"') from None
    return {key: parsed}


def _small(text: str) -> str:
    return f"<small>{text}</small>"


def state_editor(owner: Any) -> Any:
    """The form: key and JSON value fields, a Set button, and a line saying what happened.
    Writes into the runner's current session, on the kernel's loop."""
    import ipywidgets as w
    key = w.Text(placeholder="key: pref, user:name, app:theme", layout=w.Layout(width="16em"))
    value = w.Text(placeholder='JSON value: "tea", 3, {"a": [1, 2]}', layout=w.Layout(width="24em"))
    send = w.Button(description="Set state")
    status = w.HTML("")
    title = w.HTML(_small(
        "<b>Edit state</b>: the runner's <code>set_state</code> writes it into the current "
        "session through ADK's session service (an event with a <code>state_delta</code>); "
        "<code>app:</code> and <code>user:</code> keys are shared as ADK shares them."))
    loop = asyncio.get_running_loop()

    def submit(_: object) -> None:
        try:
            delta = parse_edit(key.value, value.value)
        except ValueError as exc:
            status.value = _small(esc(str(exc)))
            return
        session_id = owner.session_id
        send.disabled = True
        status.value = _small("setting…")

        async def write() -> None:
            try:
                event_id = await owner.set_state(delta, session_id=session_id)
                name, new = next(iter(delta.items()))
                status.value = _small(f"Set <code>{esc(name)}</code> = {show(new, name)} in session "
                                      f"<code>{esc(session_id)}</code> (event "
                                      f"<code>{esc(event_id)}</code>).")
            except Exception as exc:   # shown in the form: a task's error would go nowhere
                said = str(exc)
                status.value = _small(esc(said if said.startswith("agentnb:")
                                          else f"agentnb: {type(exc).__name__}: {said}"))
            finally:
                send.disabled = False
        def start() -> None:
            task = loop.create_task(write())
            _writing.add(task)
            task.add_done_callback(_writing.discard)
        # ipykernel may call this from another thread than its loop's: wake the loop up
        loop.call_soon_threadsafe(start)
    send.on_click(submit)
    form = w.VBox([title, w.HBox([key, value, send]), status])
    form.add_class("anb-editor")
    return form


def show_state_editor(owner: Any) -> Any:
    """Display the editor under what was just shown. Its plain-text face is one line, so a
    viewer with no widgets (GitHub, nbconvert) shows that instead of the form's repr."""
    from IPython.display import display
    form = state_editor(owner)
    display({"text/plain": PLAIN, WIDGET_MIME: {"version_major": 2, "version_minor": 0,
                                                 "model_id": form.model_id}}, raw=True)
    return form
