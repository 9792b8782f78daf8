"""Real-browser test support: a throwaway JupyterLab server driven by Debian's Chromium.

Usage::

    from jupyterlab_browser import jupyter_server, run_notebook_in_browser

    with jupyter_server(notebooks=[path]) as server:
        result = run_notebook_in_browser(server, "00_tour.ipynb", ui="lab")
        assert not result.errors, result.errors
        assert "hello" in result.outputs_text
        assert not result.xss_hits and not result.dialogs

`ui="lab"` opens ``/lab/workspaces/<unique>/tree/<nb>``, `ui="notebook"` opens Notebook 7's
``/notebooks/<nb>``; one server serves both.  `inspect=callable(page)` runs custom Playwright
checks after every cell has finished and the screenshot is taken, before the page closes; its
return value lands in ``result.inspected``.

Everything is offline: the server listens on 127.0.0.1 only, and the browser context aborts
(and records in ``result.blocked_requests``) any request that is not for 127.0.0.1/localhost.

Isolation: JUPYTER_CONFIG_DIR, JUPYTER_DATA_DIR, JUPYTER_RUNTIME_DIR, IPYTHONDIR,
JUPYTERLAB_SETTINGS_DIR and JUPYTERLAB_WORKSPACES_DIR point into a temp dir.  The venv's
labextensions (anywidget, @jupyter-widgets/jupyterlab-manager) and kernelspec are still found
because Jupyter always searches ``sys.prefix/share/jupyter`` and ``sys.prefix/etc/jupyter``
(ENV paths come first inside a venv); only the *user* dirs are replaced.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
REPO_ROOT = Path(__file__).resolve().parent.parent

# Name of the page-global array that hostile payloads in tests push to if they ever execute.
XSS_GLOBAL = "__agentnb_xss"

# JupyterLab user settings written for every server (plugin id -> settings).
DEFAULT_LAB_SETTINGS: dict[str, dict[str, Any]] = {
    # No "Would you like to receive official Jupyter news?" toast, no update check, offline.
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    # The extension manager would query PyPI when its panel opens.
    "@jupyterlab/extensionmanager-extension:plugin": {"enabled": False},
}

# Page errors thrown by the frontends themselves, not by anything a notebook or agentnb does:
# (message regex, regex the stack must match).  Seen with notebook 7.6.5 on every page load
# (shortcuts-extension reads `.schema` of a plugin missing from the registry) and when Lab has
# opened a tree URL on the same server before (filebrowser restore in the notebook page).
KNOWN_PAGE_ERRORS: list[tuple[str, str]] = [
    (r"^Cannot read properties of undefined \(reading 'schema'\)", r"/static/notebook/notebook_core\."),
    (r"^Command 'filebrowser:open-path' not registered\.", r"/static/notebook/notebook_core\."),
]


def _known_page_error(message: str, stack: str) -> bool:
    return any(re.search(m, message) and re.search(s, stack or "") for m, s in KNOWN_PAGE_ERRORS)


_INIT_SCRIPT = """
(() => {
  if (!Array.isArray(window.%(g)s)) {
    Object.defineProperty(window, '%(g)s', {value: [], writable: false, configurable: false});
  }
})();
""" % {"g": XSS_GLOBAL}


def xss_js(tag: str) -> str:
    """JavaScript statement that records `tag` if it ever executes in the page."""
    return f"window.{XSS_GLOBAL}&&window.{XSS_GLOBAL}.push({json.dumps(str(tag))})"


# Kinds in hostile_strings() that execute without user interaction when inserted as live HTML.
SELF_FIRING_KINDS = ("script", "img", "attr", "svg", "details", "iframe")


def hostile_strings(tag: str) -> list[str]:
    """Classic script-injection payloads; each pushes ``"<tag>:<kind>"`` to the page's
    XSS_GLOBAL if it executes.  Inserted as live HTML (trusted HTML output), the SELF_FIRING_KINDS fire
    by themselves (verified in Lab and Notebook 7); href needs a click; the last one calls
    alert() (seen in ``result.dialogs``)."""
    t = lambda s: xss_js(f"{tag}:{s}").replace('"', "&quot;")  # noqa: E731  (attribute-safe)
    return [
        f"<script>{xss_js(f'{tag}:script')}</script>",
        f'<img src=x onerror="{t("img")}">',
        f'"><img src=x onerror="{t("attr")}">',
        f'<svg><animate onbegin="{t("svg")}" attributeName="x" dur="1s"/></svg>',
        f'<details open ontoggle="{t("details")}">x</details>',
        f'<iframe srcdoc="<script>parent.{t("iframe")}</script>"></iframe>',
        f'<a href="javascript:{t("href")}">click</a>',
        "<script>alert('agentnb-xss')</script>",
    ]


def require_chromium() -> str:
    """Return the Chromium path or FAIL (never skip) the calling test with a clear message."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Browser tests need Debian's Chromium at {CHROMIUM} (not found). Install it with "
            "`apt-get update && apt-get install -y chromium`; Playwright must not download a browser.",
            pytrace=False,
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:  # pragma: no cover
        pytest.fail(f"Browser tests need the playwright Python package: {exc}", pytrace=False)
    return CHROMIUM


# --------------------------------------------------------------------------------------------
# notebooks


def write_notebook(path: Path, cells: Iterable[str]) -> Path:
    """A notebook of `cells` (dedented; one starting "# " is Markdown) with a kernelspec."""
    import nbformat
    nb = nbformat.v4.new_notebook()
    for src in cells:
        src = textwrap.dedent(src).strip()
        new = nbformat.v4.new_markdown_cell if src.startswith("# ") else nbformat.v4.new_code_cell
        nb.cells.append(new(src))
    ensure_kernelspec(nb)
    nbformat.write(nb, path)
    return path


def ensure_kernelspec(nb: Any, name: str = "python3", display_name: str = "Python 3 (ipykernel)") -> Any:
    """Give a notebook (NotebookNode / dict / path) a kernelspec so no kernel picker appears.

    Paths are rewritten in place.  Returns the notebook node (or the path)."""
    if isinstance(nb, (str, os.PathLike)):
        import nbformat

        path = Path(nb)
        node = nbformat.read(path, as_version=4)
        ensure_kernelspec(node, name, display_name)
        nbformat.write(node, path)
        return path
    md = nb.setdefault("metadata", {})
    ks = md.get("kernelspec") or {}
    if not ks.get("name"):
        md["kernelspec"] = {"name": name, "display_name": display_name, "language": "python"}
    md.setdefault("language_info", {"name": "python"})
    return nb


def _prepare_notebook(src: Path, dst: Path, clear_outputs: bool) -> None:
    import nbformat

    node = nbformat.read(src, as_version=4)
    ensure_kernelspec(node)
    if clear_outputs:
        for cell in node.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        node.metadata.pop("widgets", None)
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(node, dst)


# --------------------------------------------------------------------------------------------
# server


@dataclasses.dataclass
class JupyterServer:
    base_url: str  # http://127.0.0.1:PORT
    token: str
    root_dir: Path
    home: Path  # isolated Jupyter/IPython dirs live here
    log_path: Path
    proc: subprocess.Popen
    _workspace_counter: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    def url_for(self, notebook: str, ui: str = "lab") -> str:
        nb = urllib.parse.quote(str(notebook))
        tok = urllib.parse.quote(self.token)
        if ui == "lab":
            ws = f"agentnb-test-{next(self._workspace_counter)}"  # fresh layout, no restored tabs
            return f"{self.base_url}/lab/workspaces/{ws}/tree/{nb}?token={tok}"
        if ui in ("notebook", "notebook7", "nb7"):
            return f"{self.base_url}/notebooks/{nb}?token={tok}"
        raise ValueError(f"ui must be 'lab' or 'notebook', not {ui!r}")

    def api(self, path: str, method: str = "GET", body: Any = None, timeout: float = 10) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.strip() else None

    def kernels(self) -> list[dict]:
        return self.api("/api/kernels")

    def sessions(self) -> list[dict]:
        return self.api("/api/sessions")

    def shutdown_kernels_for(self, notebook: str) -> None:
        """Shut down every session/kernel opened on `notebook` (frees CPU between runs)."""
        with contextlib.suppress(Exception):
            for s in self.sessions():
                if s.get("path") == str(notebook):
                    self.api(f"/api/sessions/{s['id']}", method="DELETE")

    def read_notebook(self, notebook: str) -> dict:
        """The notebook as saved on disk in the server root (JSON)."""
        return json.loads((self.root_dir / notebook).read_text())

    def log_tail(self, n: int = 60) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """All descendant pids of `pid` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{d}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _kill_groups(pgids: Iterable[int], sig: int) -> None:
    for g in set(pgids):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(g, sig)


@contextlib.contextmanager
def jupyter_server(
    notebooks: Iterable[str | os.PathLike] = (),
    *,
    files: Iterable[str | os.PathLike] = (),
    clear_outputs: bool = True,
    lab_settings: dict[str, dict[str, Any]] | None = None,
    extra_args: Iterable[str] = (),
    env: dict[str, str] | None = None,
    startup_timeout: float = 60.0,
    keep_dir: bool = False,
) -> Iterator[JupyterServer]:
    """Start a real JupyterLab server on 127.0.0.1 (random free port, random token).

    `notebooks` are copied into a temp root dir (kernelspec ensured, outputs cleared unless
    `clear_outputs=False`); `files` are copied verbatim.  `lab_settings` are merged over
    DEFAULT_LAB_SETTINGS (e.g. ``{"@jupyterlab/notebook-extension:tracker": {"windowingMode":
    "none"}}``).  The server's process group and its kernels' process groups are killed on exit.
    """
    home = Path(tempfile.mkdtemp(prefix="agentnb-jlab-"))
    root = home / "root"
    root.mkdir()
    for nb in notebooks:
        nb = Path(nb)
        _prepare_notebook(nb, root / nb.name, clear_outputs)
    for f in files:
        f = Path(f)
        (shutil.copytree if f.is_dir() else shutil.copy2)(f, root / f.name)

    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "IPYTHONDIR": home / "ipython",
        "JUPYTERLAB_SETTINGS_DIR": home / "lab-user-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "lab-workspaces",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)

    settings = copy.deepcopy(DEFAULT_LAB_SETTINGS)
    for plugin, values in (lab_settings or {}).items():
        settings.setdefault(plugin, {}).update(values)
    for plugin, values in settings.items():
        pkg, name = plugin.rsplit(":", 1)
        p = dirs["JUPYTERLAB_SETTINGS_DIR"] / pkg / f"{name}.jupyterlab-settings"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(values))

    port = _free_port()
    token = secrets.token_hex(24)
    config = {
        "ServerApp": {
            "ip": "127.0.0.1",
            "port": port,
            "port_retries": 0,
            "open_browser": False,
            "root_dir": str(root),
            "allow_remote_access": False,
            "terminals_enabled": False,
            "allow_root": hasattr(os, "geteuid") and os.geteuid() == 0,  # containers run as root
        },
        "IdentityProvider": {"token": token},
        # window.jupyterapp: lets the harness read cell models and run commands precisely.
        "LabApp": {"expose_app_in_browser": True, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"},
        "JupyterNotebookApp": {"expose_app_in_browser": True},
        "LanguageServerManager": {"autodetect": False},
    }
    (dirs["JUPYTER_CONFIG_DIR"] / "jupyter_server_config.json").write_text(json.dumps(config, indent=1))

    run_env = dict(os.environ)
    run_env.update({k: str(v) for k, v in dirs.items()})
    run_env.pop("JUPYTER_PATH", None)
    run_env.pop("JUPYTER_CONFIG_PATH", None)
    run_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    run_env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    run_env["NO_PROXY"] = run_env["no_proxy"] = "127.0.0.1,localhost"
    if env:
        run_env.update(env)

    log_path = home / "server.log"
    log = open(log_path, "wb")
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", *extra_args]
    proc = subprocess.Popen(
        cmd, cwd=root, env=run_env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    server = JupyterServer(f"http://127.0.0.1:{port}", token, root, home, log_path, proc)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                server.api("/api/status", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not answer in {startup_timeout}s:\n{server.log_tail()}")
                time.sleep(0.2)
        yield server
    finally:
        _stop_server(server)
        log.close()
        if not keep_dir:
            shutil.rmtree(home, ignore_errors=True)


def _stop_server(server: JupyterServer) -> None:
    proc = server.proc
    pgids = {proc.pid}
    for pid in _descendants(proc.pid):  # kernels run in their own sessions/process groups
        with contextlib.suppress(OSError):
            pgids.add(os.getpgid(pid))
    if proc.poll() is None:
        with contextlib.suppress(Exception):  # graceful: shuts kernels down too
            server.api("/api/shutdown", method="POST", timeout=5)
        try:
            proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            _kill_groups([proc.pid], signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    _kill_groups(pgids, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


# --------------------------------------------------------------------------------------------
# browser


@contextlib.contextmanager
def chromium_browser(headless: bool = True) -> Iterator[Any]:
    """Launch Debian's Chromium through Playwright (sync API); yields a playwright Browser."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=headless)
        try:
            yield browser
        finally:
            browser.close()


@dataclasses.dataclass
class BrowserResult:
    ui: str
    notebook: str
    url: str
    outputs_text: str  # all visible output text, cells separated by blank lines
    cell_outputs: list[str]  # visible output text per cell (markdown cells included, as "")
    cells: list[dict]  # live cell models (nbformat JSON incl. outputs) read from the page
    errors: list[str]  # one entry per error output: "ename: evalue\n<traceback text>"
    stderr: list[str]  # visible stderr/traceback output blocks
    page_text: str
    screenshot: Path
    xss_hits: list[str]
    dialogs: list[dict]  # JS alert/confirm/prompt/beforeunload seen (and dismissed): {type, message}
    jupyter_dialogs: list[str]  # text of JupyterLab modal dialogs the harness had to accept
    console_errors: list[str]
    page_errors: list[str]  # uncaught page exceptions (message + stack), minus KNOWN_PAGE_ERRORS
    ignored_page_errors: list[str]  # the KNOWN_PAGE_ERRORS that did occur
    blocked_requests: list[str]
    run_method: str
    timings: dict[str, float]
    inspected: Any = None


class BrowserRunError(AssertionError):
    pass


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# Evaluated in the page: state of the notebook widget opened on `path`.
_STATE_JS = r"""
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return {app: false};
  let w = null;
  try {
    for (const x of app.shell.widgets('main')) {
      if (x && x.context && x.context.path === path) { w = x; break; }
    }
  } catch (e) { return {app: true, error: String(e)}; }
  if (!w || !w.content || !w.content.model) return {app: true, widget: false};
  const sc = w.sessionContext;
  const kernel = sc && sc.session ? sc.session.kernel : null;
  const cells = w.content.widgets.map((c, i) => {
    const m = c.model;
    const prompt = c.node.querySelector('.jp-InputArea-prompt');
    const src = m.sharedModel ? m.sharedModel.getSource() : '';
    const outs = m.type === 'code' ? m.outputs.toJSON() : [];
    return {
      index: i, type: m.type, source: src,
      execution_count: m.type === 'code' ? m.executionCount : null,
      prompt: prompt ? prompt.textContent.trim() : '',
      n_outputs: outs.length,
      errors: outs.filter(o => o.output_type === 'error').length,
    };
  });
  return {
    app: true, widget: true, ready: !!(w.context.isReady && sc && sc.isReady),
    kernel_status: kernel ? kernel.status : null,
    connection: kernel ? kernel.connectionStatus : null,
    dialog: !!document.querySelector('.jp-Dialog'),
    cells,
  };
}
"""

_COLLECT_JS = r"""
(path) => {
  const app = window.jupyterapp;
  let w = null;
  for (const x of app.shell.widgets('main')) {
    if (x && x.context && x.context.path === path) { w = x; break; }
  }
  const cells = w.content.widgets.map(c => c.model.toJSON());
  const visible = w.content.widgets.map(c => {
    const outs = c.node.querySelectorAll('.jp-OutputArea-output');
    // innerText is empty for cells skipped by `content-visibility: auto` (Lab's default
    // windowingMode "contentVisibility") that are off-screen: fall back to textContent.
    return Array.from(outs).map(o => (o.innerText.trim() || o.textContent.trim()))
      .filter(Boolean).join('\n');
  });
  const stderr = Array.from(w.content.node.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
    .map(o => o.innerText.trim() || o.textContent.trim());
  return {cells, visible, stderr};
}
"""


def _is_local(url: str) -> bool:
    p = urllib.parse.urlsplit(url)
    if p.scheme in ("data", "blob", "about", "chrome-extension"):
        return True
    return p.hostname in ("127.0.0.1", "localhost", "::1")


def _widget_state(page, path: str) -> dict:
    return page.evaluate(_STATE_JS, path)


def _describe(state: dict) -> str:
    if not state.get("widget"):
        return json.dumps(state)[:800]
    cells = [
        f"  [{c['index']}] {c['type']} prompt={c['prompt']!r} count={c['execution_count']} "
        f"outputs={c['n_outputs']} errors={c['errors']} src={c['source'][:50]!r}"
        for c in state["cells"]
    ]
    return (f"kernel={state.get('kernel_status')} connection={state.get('connection')} "
            f"ready={state.get('ready')} dialog={state.get('dialog')}\n" + "\n".join(cells))


def _run_all(page, path: str, method: str) -> str:
    """Trigger Run All Cells.  method: 'menu' (click Run > Run All Cells), 'command'
    (app.commands.execute('notebook:run-all-cells')) or 'keyboard' (Escape, Ctrl+A selects all
    cells, Ctrl+Enter runs the selection)."""
    if method == "menu":
        try:
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^\s*Run\s*$")).first.click(timeout=5000)
            item = page.locator(".lm-Menu-item", has_text=re.compile(r"^\s*Run All Cells"))
            item.first.click(timeout=5000)
            return "menu"
        except Exception:  # noqa: BLE001 - fall back to the command registry
            page.keyboard.press("Escape")
            method = "command"
    if method == "command":
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        return "command"
    if method == "keyboard":
        page.locator(".jp-Notebook").first.click()
        page.keyboard.press("Escape")
        page.keyboard.press("Control+A")
        page.keyboard.press("Control+Enter")  # run the selection, no new cell at the end
        return "keyboard"
    raise ValueError(f"unknown run method {method!r}")


def _expand_viewport(page, max_height: int = 16000) -> None:
    """JupyterLab and Notebook 7 scroll inside panels, so a full_page screenshot is only the
    viewport and off-screen cells are skipped by `content-visibility: auto` (no innerText).
    Grow the viewport by the hidden height of the notebook's scroller and scroll it to the top."""
    js = """() => {
          let extra = 0;
          for (const el of document.querySelectorAll(
               '.jp-WindowedPanel-outer, .jp-NotebookPanel-notebook, #main-panel, .jp-Notebook')) {
            extra = Math.max(extra, el.scrollHeight - el.clientHeight);
          }
          return extra;
        }"""
    for _ in range(3):  # cells may grow once they are laid out
        extra = page.evaluate(js)
        vp = page.viewport_size
        if not vp or extra <= 2 or vp["height"] >= max_height:
            break
        page.set_viewport_size({"width": vp["width"], "height": min(max_height, vp["height"] + int(extra) + 40)})
        page.wait_for_timeout(200)
    page.evaluate(
        """() => { for (const el of document.querySelectorAll(
             '.jp-WindowedPanel-outer, .jp-NotebookPanel-notebook, #main-panel, .jp-Notebook'))
             el.scrollTop = 0; }"""
    )


OPEN_TIMEOUT_S = 120.0   # opening the page and starting its kernel


def run_notebook_in_browser(
    server: JupyterServer,
    notebook: str,
    *,
    ui: str = "lab",
    inspect: Callable[[Any], Any] | None = None,
    browser: Any = None,
    run: bool = True,
    method: str = "menu",
    timeout: float = 90.0,
    settle: float = 0.75,
    viewport: tuple[int, int] = (1280, 900),
    screenshot_name: str | None = None,
    shutdown_kernel: bool = True,
    expand_viewport: bool = True,
) -> BrowserResult:
    """Open `notebook` (path relative to the server root) in JupyterLab (`ui="lab"`) or
    Notebook 7 (`ui="notebook"`), wait for an idle kernel, Run All Cells, wait until every cell
    has finished (no `[*]`, kernel idle, page stable), collect outputs, screenshot, call
    `inspect(page)`, and close.  Raises BrowserRunError (with screenshot + diagnostics) when the
    page and its kernel are not ready within OPEN_TIMEOUT_S, or the notebook does not finish
    within `timeout` seconds after that (a loaded machine slows the start, not the cells).  Pass `browser` (from chromium_browser())
    to reuse one Chromium across runs."""
    if browser is None:
        with chromium_browser() as b:
            return run_notebook_in_browser(
                server, notebook, ui=ui, inspect=inspect, browser=b, run=run, method=method,
                timeout=timeout, settle=settle, viewport=viewport,
                screenshot_name=screenshot_name, shutdown_kernel=shutdown_kernel,
                expand_viewport=expand_viewport,
            )

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = screenshot_name or f"{Path(notebook).stem}-{ui}"
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)
    shot = ARTIFACTS / f"{stem}.png"
    t0 = time.monotonic()
    deadline = t0 + OPEN_TIMEOUT_S   # then `timeout` from the moment the kernel is idle
    timings: dict[str, float] = {}
    dialogs: list[dict] = []
    jupyter_dialogs: list[str] = []
    console_errors: list[str] = []
    page_errors: list[str] = []
    ignored_page_errors: list[str] = []
    blocked: list[str] = []
    url = server.url_for(notebook, ui)

    def remaining_ms() -> float:
        return max(1000.0, (deadline - time.monotonic()) * 1000)

    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, service_workers="block")
    try:
        def route(r):
            blocked.append(r.request.url)
            r.abort()

        context.route(lambda u: not _is_local(u), route)
        context.add_init_script(_INIT_SCRIPT)
        page = context.new_page()

        def on_dialog(d):
            dialogs.append({"type": d.type, "message": d.message})
            with contextlib.suppress(Exception):
                d.dismiss()

        page.on("dialog", on_dialog)
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        def on_pageerror(e):
            text = f"{e.message}\n{e.stack or ''}".strip()
            (ignored_page_errors if _known_page_error(e.message, e.stack or "") else page_errors).append(text)

        page.on("pageerror", on_pageerror)

        def fail(msg: str) -> None:
            state = {}
            with contextlib.suppress(Exception):
                state = _widget_state(page, notebook)
            with contextlib.suppress(Exception):
                page.screenshot(path=str(shot), full_page=True)
            raise BrowserRunError(
                f"{ui}: {msg} after {time.monotonic() - t0:.1f}s ({url.split('?')[0]})\n"
                f"{_describe(state)}\npage errors: {page_errors[-5:]}\nconsole errors: {console_errors[-5:]}\n"
                f"dialogs: {dialogs} {jupyter_dialogs}\nblocked requests: {blocked[:5]}\nscreenshot: {shot}\n"
                f"server log tail:\n{server.log_tail(25)}"
            )

        page.goto(url, wait_until="domcontentloaded", timeout=remaining_ms())
        timings["goto"] = time.monotonic() - t0

        # 1. notebook widget open, session ready, kernel idle
        state: dict = {}
        while True:
            with contextlib.suppress(Exception):
                state = _widget_state(page, notebook)
            if state.get("widget") and state.get("ready") and state.get("kernel_status") == "idle":
                break
            if state.get("dialog"):  # e.g. kernel picker: record it, accept the default choice
                with contextlib.suppress(Exception):
                    jupyter_dialogs.append(page.locator(".jp-Dialog").first.inner_text(timeout=1000))
                    page.locator(".jp-Dialog .jp-mod-accept").first.click(timeout=2000)
            if time.monotonic() > deadline:
                fail("kernel never became idle")
            page.wait_for_timeout(250)
        timings["kernel_idle"] = time.monotonic() - t0
        deadline = time.monotonic() + timeout

        # 2. run all cells and wait until all of them are done
        run_method = "none"
        if run:
            expected = [c["index"] for c in state["cells"] if c["type"] == "code" and c["source"].strip()]
            if any(c["execution_count"] is not None or c["n_outputs"] for c in state["cells"]):
                # stale counts would look like a finished run (jupyter_server(clear_outputs=False))
                page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
                while any(c["execution_count"] is not None for c in _widget_state(page, notebook)["cells"]):
                    if time.monotonic() > deadline:
                        fail("could not clear stale execution counts")
                    page.wait_for_timeout(100)
            run_method = _run_all(page, notebook, method)
            started_by = time.monotonic() + 8
            stable_since: float | None = None
            last_sig = None
            while True:
                page.wait_for_timeout(250)
                with contextlib.suppress(Exception):
                    state = _widget_state(page, notebook)
                cells = state.get("cells") or []
                running = any("*" in c["prompt"] for c in cells)
                counted = all(cells[i]["execution_count"] is not None for i in expected if i < len(cells))
                errored = any(c["errors"] for c in cells)
                started = running or any(c["execution_count"] is not None for c in cells) or not expected
                if not started and time.monotonic() > started_by and run_method != "command":
                    run_method = _run_all(page, notebook, "command")  # the click did nothing
                    started_by = time.monotonic() + 8
                done = (started and not running and (counted or errored)
                        and state.get("kernel_status") == "idle")
                sig = json.dumps([(c["prompt"], c["n_outputs"], c["execution_count"]) for c in cells])
                if done:
                    if sig != last_sig or stable_since is None:
                        stable_since, last_sig = time.monotonic(), sig
                    elif time.monotonic() - stable_since >= settle:
                        break
                else:
                    stable_since, last_sig = None, None
                if time.monotonic() > deadline:
                    fail("cells did not finish")
            timings["run"] = time.monotonic() - t0

        # 3. show the whole notebook, then let widget views render: wait until the visible
        #    output text stops changing
        if expand_viewport:
            _expand_viewport(page)
        last_text, since = None, time.monotonic()
        while time.monotonic() - since < settle and time.monotonic() < deadline:
            data = page.evaluate(_COLLECT_JS, notebook)
            text = json.dumps(data["visible"])
            if text != last_text:
                last_text, since = text, time.monotonic()
            page.wait_for_timeout(150)
        data = page.evaluate(_COLLECT_JS, notebook)
        page_text = page.evaluate("() => document.body.innerText")

        errors = []
        for cell in data["cells"]:
            for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
                if out.get("output_type") == "error":
                    tb = _ANSI.sub("", "\n".join(out.get("traceback") or []))
                    errors.append(f"{out.get('ename')}: {out.get('evalue')}\n{tb}".rstrip())

        page.screenshot(path=str(shot), full_page=True)
        timings["screenshot"] = time.monotonic() - t0

        xss: list[str] = []
        for frame in page.frames:
            with contextlib.suppress(Exception):
                xss.extend(frame.evaluate(f"() => Array.from(window.{XSS_GLOBAL} || [])"))

        result = BrowserResult(
            ui=ui, notebook=notebook, url=url.split("?")[0],
            outputs_text="\n\n".join(t for t in data["visible"] if t),
            cell_outputs=data["visible"], cells=data["cells"], errors=errors,
            stderr=data["stderr"], page_text=page_text, screenshot=shot,
            xss_hits=xss, dialogs=dialogs, jupyter_dialogs=jupyter_dialogs, console_errors=console_errors,
            page_errors=page_errors, ignored_page_errors=ignored_page_errors, blocked_requests=blocked, run_method=run_method,
            timings=timings,
        )
        if inspect is not None:
            result.inspected = inspect(page)
            for frame in page.frames:  # inspection may have triggered more
                with contextlib.suppress(Exception):
                    for hit in frame.evaluate(f"() => Array.from(window.{XSS_GLOBAL} || [])"):
                        if hit not in result.xss_hits:
                            result.xss_hits.append(hit)
        timings["total"] = time.monotonic() - t0
        return result
    finally:
        context.close()
        if shutdown_kernel:
            server.shutdown_kernels_for(notebook)
