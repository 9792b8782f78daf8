"""The one widget agentnb shows, and the one place that talks to the page.

Its traits are what a saved notebook keeps (`html`, the full snapshot, and `status`); patches
go as custom messages in the format of `agentnb.core.patch`, which `static/view.js` applies.
"""
from __future__ import annotations

import uuid
from functools import lru_cache
from importlib import resources
from typing import Any

from ..core import patch
from ..core.render.escape import stylesheet
from ..core.render.sections import shells

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


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

    return AgentnbWidget


def new_widget() -> Any:
    """A widget ready to show a view (`reset_widget`) and take its patches."""
    return _widget_class()(shells=shells(), limits=patch.limits())


def reset_widget(widget: Any, html: str, status: str) -> None:
    """Make `widget` show `html` as a new view: a new uid, so the page keeps no patch of the
    view it showed before."""
    with widget.hold_sync():
        widget.uid, widget.html, widget.status = uuid.uuid4().hex, html, status


def send_patch(widget: Any, ops: list[patch.Op]) -> None:
    widget.send(patch.message(ops))
