"""What several test modules share: a comm that captures widget messages, IPython's shell with
agentnb loaded, and one Chromium per module for the browser tests. The real services (LiveKit
server, PostgreSQL) are in services.py."""
import pytest

from services import livekit_server, livekit_server_factory, postgres  # noqa: F401  fixtures


class CapturingComm:
    """Stands in for a kernel comm: keeps every message a widget sends."""

    def __init__(self):
        self.messages, self.comm_id = [], "capture"
        self.kernel = "capturing"   # ipywidgets sends nothing through a comm without a kernel

    def send(self, data=None, metadata=None, buffers=None):
        self.messages.append(data)

    def on_msg(self, callback):
        pass

    def on_close(self, callback):
        pass

    def close(self, *args, **kwargs):
        pass


def attach(view) -> CapturingComm:
    """Give a view's widget a capturing comm; returns it."""
    comm = CapturingComm()
    view.widget.comm = comm
    return comm


@pytest.fixture
def shell():
    """IPython's test shell with agentnb loaded, unloaded afterwards."""
    from IPython.testing.globalipapp import get_ipython
    ip = get_ipython()
    ip.run_line_magic("load_ext", "agentnb")
    yield ip
    ip.run_line_magic("unload_ext", "agentnb")


@pytest.fixture(scope="module")
def browser():
    from jupyterlab_browser import chromium_browser, require_chromium
    require_chromium()
    with chromium_browser() as b:
        yield b
