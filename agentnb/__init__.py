"""agentnb: watch ADK and LiveKit agents run, live, in a Jupyter notebook.

`import agentnb` stays light: frameworks, IPython and pandas load when something uses them.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["load", "compare", "compare_view", "Trace", "load_ipython_extension", "unload_ipython_extension"]

from ._trace import Trace


def load(path):
    """Read a trace saved with `save(path)`: an object with the DataFrame methods and `view()`."""
    from ._persist import load as _load
    return _load(path)


def compare(a, b, *, reveal=False):
    """One row per state key whose final value differs between two runners, jobs or saved
    traces: columns `key, scope, a, b`."""
    from ._recorded import compare as _compare
    return _compare(a, b, reveal=reveal)


def compare_view(a, b, *, reveal=False):
    """Two runners, jobs or saved traces side by side, turn by turn, differences highlighted."""
    from ._recorded import compare_view as _compare_view
    return _compare_view(a, b, reveal=reveal)


def load_ipython_extension(ip):
    from ._magics import load_ipython_extension as _load_ext
    _load_ext(ip)


def unload_ipython_extension(ip):
    from ._magics import unload_ipython_extension as _unload_ext
    _unload_ext(ip)
