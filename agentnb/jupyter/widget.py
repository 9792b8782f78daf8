"""The one widget agentnb shows, and the one place that talks to the page.

Its traits are what a saved notebook keeps (`html`, the full snapshot, and `status`); patches
go as custom messages in the format of `agentnb.core.patch`, which `static/view.js` applies.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any

from ..core import patch
from ..core.render.escape import stylesheet
from ..core.render.sections import shells

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
ACTION = "agentnb-action"   # a message from the page: {"kind", "action", "uid"}
log = logging.getLogger("agentnb.views")


@lru_cache(maxsize=1)
def _widget_class() -> Any:
    import anywidget
    import traitlets

    class AgentnbWidget(anywidget.AnyWidget):
        _esm = resources.files("agentnb").joinpath("static/view.js").read_text(encoding="utf-8")
        _css = stylesheet()   # anywidget adds it to the page once, for every live view
        uid = traitlets.Unicode().tag(sync=True)   # the key view.js shares state under
        html = traitlets.Unicode("").tag(sync=True)
        shells = traitlets.Dict().tag(sync=True)
        limits = traitlets.Dict().tag(sync=True)
        status = traitlets.Unicode("").tag(sync=True)
        actions = traitlets.List(traitlets.Unicode()).tag(sync=True)   # controls the page offers

    return AgentnbWidget


def new_widget() -> Any:
    """A widget ready to show a view (`reset_widget`), take its patches and pass on what the
    page's controls ask for (`offer`)."""
    widget = _widget_class()(shells=shells(), limits=patch.limits())
    widget._agentnb_handlers = {}
    widget.on_msg(_received)
    return widget


def offer(widget: Any, handlers: dict[str, Callable[[], None]]) -> None:
    """The controls the page shows on this widget's view (e.g. `stop`), and what each does
    when used. A widget serving a new view offers nothing until told."""
    widget._agentnb_handlers = dict(handlers)
    widget.actions = sorted(handlers)


def _received(widget: Any, content: Any, buffers: Any) -> None:
    """A message from the page. A control used on a view this widget no longer shows (its
    uid is not the widget's now) does nothing."""
    if not isinstance(content, dict) or content.get("kind") != ACTION or content.get("uid") != widget.uid:
        return
    handler = widget._agentnb_handlers.get(content.get("action"))
    if handler is None:
        return
    try:
        handler()
    except Exception as exc:   # a run that ended meanwhile: nothing to do, say why in the log
        log.info("agentnb: %s did nothing: %s", content.get("action"), exc)


def reset_widget(widget: Any, html: str, status: str) -> None:
    """Make `widget` show `html` as a new view: a new uid, so the page keeps no patch of the
    view it showed before."""
    with widget.hold_sync():
        widget.uid, widget.html, widget.status = uuid.uuid4().hex, html, status
        widget.actions, widget._agentnb_handlers = [], {}


def send_patch(widget: Any, ops: list[patch.Op]) -> None:
    widget.send(patch.message(ops))
