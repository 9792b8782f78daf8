"""The page: a saved notebook of finished cards opened in real JupyterLab in Chromium.

A notebook of cells that each `await runner.ask("go")` ten times (a live card each, static
HTML once it ends) is run in a real kernel with nbclient and saved. Its copy keeps every cell but
replaces each card's output with plain HTML of the same size. Both are opened in JupyterLab
(windowing off, so every cell renders) in Debian's Chromium, alternately, timing from
navigation until every output is in the page; the key is the median of per-round ratios.
"""
from __future__ import annotations

import copy
import json
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, median, rnd

CARDS = 200
PER_CELL = 10   # asks per cell: nbclient's per-cell round trips made 200 cells take minutes
sys.path.insert(0, str(REPO / "tests"))


def _saved_cards(workdir: Path, cards: int) -> Path:
    import nbformat
    from b_notebook import SETUP
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    setup = SETUP.replace("* 125", f"* {cards}")
    nb.cells = [nbformat.v4.new_code_cell(setup),
                nbformat.v4.new_code_cell("runner = NotebookRunner(agent, app_name='bench')")]
    nb.cells += [nbformat.v4.new_code_cell(f"for _ in range({PER_CELL}):\n    await runner.ask('go')")
                 for _ in range(cards // PER_CELL)]
    NotebookClient(nb, timeout=900, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    path = workdir / "cards.ipynb"
    nbformat.write(nb, path)
    return path


def _plain_copy(cards_path: Path) -> tuple[Path, int, int]:
    """The same notebook, each output replaced by one <div> of plain text of the same size."""
    nb = json.loads(cards_path.read_text())
    plain = copy.deepcopy(nb)
    plain["metadata"].pop("widgets", None)
    outputs = 0
    for cell in plain["cells"][2:]:
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not data:
                continue
            size = len(json.dumps(data))
            data.clear()
            data["text/html"] = "<div>" + "x" * max(size - 11, 0) + "</div>"
            outputs += 1
    path = cards_path.with_name("plain.ipynb")
    path.write_text(json.dumps(plain))
    return path, outputs, len(json.dumps(nb)) - len(json.dumps(plain))


_RENDERED = """(n) => {
  const outs = [...document.querySelectorAll('.jp-Notebook .jp-Cell .jp-OutputArea-output')];
  return outs.filter(o => o.childElementCount > 0 || o.textContent.length > 0).length >= n;
}"""


def _open_s(browser, server, name: str, outputs: int, timeout_s: float) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    try:
        context.route(lambda u: not ("127.0.0.1" in u or "localhost" in u), lambda r: r.abort())
        page = context.new_page()
        t = time.perf_counter()
        page.goto(server.url_for(name), wait_until="domcontentloaded", timeout=timeout_s * 1000)
        page.wait_for_function(_RENDERED, arg=outputs, timeout=timeout_s * 1000, polling=50)
        return time.perf_counter() - t
    finally:
        context.close()
        server.shutdown_kernels_for(name)


def run_page(quick: bool) -> dict:
    from jupyterlab_browser import chromium_browser, jupyter_server
    rounds = 2 if quick else 4
    with tempfile.TemporaryDirectory(prefix="agentnb-bench-page-") as tmp:
        t = time.perf_counter()
        cards = _saved_cards(Path(tmp), CARDS)
        execute_s = time.perf_counter() - t
        plain, outputs, size_gap = _plain_copy(cards)
        notebook_kb = rnd(cards.stat().st_size / 1024, 1)
        windowing = {"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}
        with jupyter_server(notebooks=[cards, plain], clear_outputs=False,
                            lab_settings=windowing) as server, chromium_browser() as browser:
            _open_s(browser, server, plain.name, outputs, 180)   # JupyterLab's first load: not timed
            times: dict[str, list[float]] = {"cards": [], "plain": []}
            for r in range(rounds):
                for name in (["cards", "plain"] if r % 2 == 0 else ["plain", "cards"]):
                    path = cards if name == "cards" else plain
                    times[name].append(_open_s(browser, server, path.name, outputs, 180))
    ratios = [c / p for c, p in zip(times["cards"], times["plain"], strict=True)]
    return {
        "page_open_s": rnd(median(ratios), 3),
        "details": {"page": {
            "workload": f"{CARDS} finished cards ({PER_CELL} `ask`s per cell) saved by nbclient, opened "
                        "in JupyterLab (windowingMode none) in Chromium until every output is in "
                        "the page, against the same notebook with each output one plain <div> "
                        f"of the same size; {rounds} alternating rounds, median of per-round ratios",
            "cards_s_runs": [rnd(x, 2) for x in times["cards"]],
            "plain_s_runs": [rnd(x, 2) for x in times["plain"]],
            "ratios": [rnd(x, 3) for x in ratios],
            "outputs": outputs, "notebook_kb": notebook_kb,
            "bytes_the_plain_copy_drops": size_gap, "execute_s": rnd(execute_s, 1),
        }},
    }


LIVE_SECONDS = 10


def _live_cells(phases: Path) -> list[str]:
    """The kernel side: a dashboard shown, 3 s at rest, then the burst; it writes each phase's
    start to a file under `phases`, so the bench waits without touching the page."""
    mark = (f"def mark(name, **data):\n    (Path({str(phases)!r}) / name).write_text(json.dumps(data))\n")
    return [
        f"import sys, json, time, threading, asyncio\nfrom pathlib import Path\n"
        f"sys.path[:0] = [{str(REPO)!r}, {str(REPO / 'bench')!r}]\n"
        "from agentnb.core.trace import Trace\nfrom agentnb.jupyter.views import DashboardView\n"
        "from b_view import _source, RATE\n" + mark +
        "trace = Trace()\nview = DashboardView(trace, title='bench').follow()\nview",
        "stop, counter = threading.Event(), [0]\n"
        f"source = threading.Thread(target=_source, args=(trace, {LIVE_SECONDS}, RATE, stop, counter))\n"
        "mark('rest', t=time.time())\nawait asyncio.sleep(3)   # the page at rest, for comparison\n"
        "mark('burst', t=time.time())\nsource.start()\n"
        "while source.is_alive():\n    await asyncio.sleep(0.05)\n"
        "t1 = time.time()\nawait asyncio.sleep(0.5)\n"
        "mark('done', t=t1, records=counter[0])",
    ]


def _browser_cpu(root) -> float:
    """CPU seconds (user + system) of every Chromium process under `root` (this process)."""
    total = 0.0
    for p in root.children(recursive=True):
        try:
            if "chrom" in p.name().lower():
                t = p.cpu_times()
                total += t.user + t.system
        except Exception:
            pass
    return total


MAIN_THREAD = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")


def run_page_live(quick: bool) -> dict:
    """The browser's CPU share while a dashboard in JupyterLab follows 5,000 records/s.

    Only the page works during the measure: the notebook is started with one command and the
    bench then waits on files the kernel writes (the test harness's polling of the page every
    250 ms cost the browser ~0.1 of a core by itself). The renderer's main-thread split
    (DevTools' Performance metrics) is read at the burst's start and end."""
    import threading

    import psutil
    from jupyterlab_browser import _is_local, chromium_browser, jupyter_server, write_notebook
    me = psutil.Process()
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples.append((time.time(), _browser_cpu(me)))
            done.wait(0.2)
    with tempfile.TemporaryDirectory(prefix="agentnb-bench-live-") as tmp:
        phases = Path(tmp) / "phases"
        phases.mkdir()
        path = write_notebook(Path(tmp) / "live.ipynb", _live_cells(phases))
        with jupyter_server(notebooks=[path]) as server, chromium_browser() as browser:
            context = browser.new_context(viewport={"width": 1280, "height": 900},
                                          service_workers="block")
            context.route(lambda url: not _is_local(url), lambda route: route.abort())
            page = context.new_page()
            page.goto(server.url_for(path.name, "lab"), wait_until="domcontentloaded")
            page.wait_for_function(_KERNEL_IDLE_JS, polling=500, timeout=180_000)
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            sampler = threading.Thread(target=sample, name="bench-cpu-sampler")
            sampler.start()
            metrics: dict[str, dict[str, float]] = {}
            try:
                # not awaited: the command's promise settles only when every cell has run
                page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
                deadline = time.time() + 240
                while not (phases / "done").exists() and time.time() < deadline:
                    if (phases / "burst").exists() and "start" not in metrics:
                        metrics["start"] = _metrics(cdp)
                    page.wait_for_timeout(100)
                metrics["end"] = _metrics(cdp)
                rows = page.locator(".anb-root .anb-row").count()
            finally:
                done.set()
                sampler.join()
        if not (phases / "done").exists():
            raise RuntimeError("the live-page notebook did not finish in 240 s")
        at = {name: json.loads((phases / name).read_text()) for name in ("rest", "burst", "done")}

    def cores(start: float, end: float) -> float | None:
        inside = [(t, c) for t, c in samples if start <= t <= end]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return None
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])
    t0, t1 = at["burst"]["t"], at["done"]["t"]
    # A dashboard that never drew would cost the browser nothing: no rows, no number.
    share = cores(t0, t1) if rows else None
    split = ({k: rnd((metrics["end"][k] - metrics["start"][k]) / (t1 - t0), 3) for k in MAIN_THREAD}
             if "start" in metrics else None)
    return {
        "page_live_cpu": rnd(share, 3),
        "details": {"page_live": {
            "workload": f"a DashboardView in JupyterLab (Chromium) following {at['done']['records']:,} "
                        f"records appended at 5,000/s for {LIVE_SECONDS} s by a kernel thread; "
                        "CPU of every Chromium process, sampled every 0.2 s, over the burst; "
                        "nothing polls the page meanwhile",
            "rows_in_the_page_after": rows,
            # from 1 s into the rest: the dashboard's first drawing is over by then
            "browser_cpu_at_rest": rnd(cores(at["rest"]["t"] + 1.0, t0), 3), "burst_s": rnd(t1 - t0, 2),
            "renderer_main_thread_per_s": split,
        }},
    }


_KERNEL_IDLE_JS = """() => {
  const app = window.jupyterapp;
  if (!app) return false;
  for (const w of app.shell.widgets('main')) {
    const kernel = w.sessionContext?.session?.kernel;
    if (w.context?.isReady && kernel && kernel.status === 'idle') return true;
  }
  return false;
}"""


def _metrics(cdp) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
