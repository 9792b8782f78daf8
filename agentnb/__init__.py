"""agentnb: watch ADK and LiveKit agents run, live, in a Jupyter notebook.

The package face. `import agentnb` stays light: frameworks, IPython and pandas load when
something uses them. Layers (imports point down only): `agentnb.jupyter` (widgets, magics) →
`agentnb.adk` / `agentnb.livekit` (adapters) → `agentnb.core` (pure). This module sits on top
and wires the Jupyter layer in as the core's front end.
"""
from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from .core import faces as _faces
from .core.trace import Trace

if TYPE_CHECKING:
    from .core.recorded import Comparison, LoadedTrace, Recorded

__version__ = "0.1.0"
__all__ = [
    "Trace",
    "compare",
    "compare_view",
    "load",
    "load_ipython_extension",
    "unload_ipython_extension",
]

_faces.register(lambda: importlib.import_module("agentnb.jupyter.views"))


def load(source: Any) -> LoadedTrace:
    """Read a trace saved with `save(path)`, or an ADK session (the JSON `adk run
    --save_session` writes or `adk web` exports, or a `Session` object): an object with the
    DataFrame methods and `view()`."""
    from .core import codec
    from .core.recorded import load as _load
    if isinstance(source, (str, os.PathLike)) and (codec.is_trace(source)
                                                  or not os.path.isfile(source)):
        return _load(source)   # a missing file: its own error
    try:
        from .adk.imported import load_session
    except ImportError:   # no ADK installed: this can only be meant as a trace
        return _load(source)
    return load_session(source)


def compare(a: Recorded, b: Recorded, *, reveal: bool = False) -> Any:
    """One row per state key whose final value differs between two runners, jobs or saved
    traces: columns `key, scope, a, b`."""
    from .core.recorded import compare as _compare
    return _compare(a, b, reveal=reveal)


def compare_view(a: Recorded, b: Recorded, *, reveal: bool = False) -> Comparison:
    """Two runners, jobs or saved traces side by side, turn by turn, differences highlighted."""
    from .core.recorded import compare_view as _compare_view
    return _compare_view(a, b, reveal=reveal)


def load_ipython_extension(ip: Any) -> None:
    from .jupyter.magics import load_ipython_extension as _load_ext
    _load_ext(ip)


def unload_ipython_extension(ip: Any) -> None:
    from .jupyter.magics import unload_ipython_extension as _unload_ext
    _unload_ext(ip)
