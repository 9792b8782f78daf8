"""agentnb: watch ADK and LiveKit agents run, live, in a Jupyter notebook.

The package face. `import agentnb` stays light: frameworks, IPython and pandas load when
something uses them. Layers (imports point down only): `agentnb.jupyter` (widgets, magics) →
`agentnb.adk` / `agentnb.livekit` (adapters) → `agentnb.core` (pure). This module sits on top
and wires the Jupyter layer in as the core's front end.
"""
from __future__ import annotations

import importlib
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


def load(path: Any) -> LoadedTrace:
    """Read a trace saved with `save(path)`: an object with the DataFrame methods and `view()`."""
    from .core.recorded import load as _load
    return _load(path)


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
