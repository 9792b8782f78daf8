"""Which notebook front end the kernel serves, and what to tell its user when it may not draw
the live widget.

A view's output carries the widget and, beside it, the static snapshot as text/html: a front
end that cannot draw the widget shows that picture instead. Colab draws third-party widgets
only after `google.colab.output.enable_custom_widget_manager()` (which registers a display
hook, `google.colab.output._widgets._installed_url`); until then agentnb sends no widget there
at all, and the picture (brought up to date when the run ends) says how to get the live view.
VS Code draws widgets when its Jupyter extension's widget support works; where it does not,
the picture says so. Elsewhere (JupyterLab, Notebook 7) the widget is drawn and the line is
never seen while the view is live."""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

COLAB_LINE = ("Still picture: run <code>google.colab.output.enable_custom_widget_manager()</code> "
              "and run this cell again to see agentnb's view live in Colab.")
VSCODE_LINE = ("Still picture: this VS Code window draws no Jupyter widgets; with the Jupyter "
               "extension's widget support (ipywidgets 8) agentnb's view is live.")
OTHER_LINE = ("Still picture: this front end draws no Jupyter widgets; in JupyterLab, "
              "Notebook 7 or VS Code agentnb's view is live.")


@dataclass(frozen=True)
class FrontEnd:
    name: str        # colab | vscode | jupyter
    widgets: bool    # whether to send the live widget at all
    line: str        # what the picture says where the widget is not drawn (HTML, no data)

    def hint(self) -> str:
        return f"<div class=anb-hint><small>{self.line}</small></div>"


def front_end(environ: Mapping[str, str] | None = None,
              modules: Mapping[str, Any] | None = None) -> FrontEnd:
    """The front end this kernel serves, as far as the kernel can tell."""
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    if "google.colab" in modules or "COLAB_RELEASE_TAG" in environ:
        widgets = modules.get("google.colab.output._widgets")
        return FrontEnd("colab", bool(getattr(widgets, "_installed_url", None)), COLAB_LINE)
    if "VSCODE_PID" in environ or "VSCODE_CWD" in environ:
        return FrontEnd("vscode", True, VSCODE_LINE)
    return FrontEnd("jupyter", True, OTHER_LINE)
