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
LIVE_CELLS = [
    f"import sys, json, time, threading, asyncio\nsys.path[:0] = [{str(REPO)!r}, {str(REPO / 'bench')!r}]\n"
    "from agentnb.core.trace import Trace\nfrom agentnb.jupyter.views import DashboardView\n"
    "from b_view import _source, RATE\n"
    "trace = Trace()\nview = DashboardView(trace, title='bench').follow()\nview",
    "stop, counter = threading.Event(), [0]\n"
    f"source = threading.Thread(target=_source, args=(trace, {LIVE_SECONDS}, RATE, stop, counter))\n"
    "tq = time.time()\nawait asyncio.sleep(3)   # the page at rest, for comparison\n"
    "t0 = time.time()\nsource.start()\n"
    "while source.is_alive():\n    await asyncio.sleep(0.05)\n"
    "t1 = time.time()\nawait asyncio.sleep(0.5)\n"
    "print('BURST ' + json.dumps({'tq': tq, 't0': t0, 't1': t1, 'records': counter[0]}))",
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


def run_page_live(quick: bool) -> dict:
    """The browser's CPU share while a dashboard in JupyterLab follows 5,000 records/s."""
    import threading

    import psutil
    from jupyterlab_browser import jupyter_server, run_notebook_in_browser, write_notebook
    me = psutil.Process()
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples.append((time.time(), _browser_cpu(me)))
            done.wait(0.2)
    with tempfile.TemporaryDirectory(prefix="agentnb-bench-live-") as tmp:
        path = write_notebook(Path(tmp) / "live.ipynb", LIVE_CELLS)
        with jupyter_server(notebooks=[path]) as server:
            sampler = threading.Thread(target=sample, name="bench-cpu-sampler")
            sampler.start()
            try:
                result = run_notebook_in_browser(
                    server, path.name, timeout=240, expand_viewport=False,
                    inspect=lambda page: page.locator(".anb-root .anb-row").count())
            finally:
                done.set()
                sampler.join()
    line = next(x for x in result.outputs_text.splitlines() if x.startswith("BURST "))
    burst = json.loads(line[len("BURST "):])
    def cores(start: float, end: float) -> float | None:
        inside = [(t, c) for t, c in samples if start <= t <= end]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return None
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])
    # A dashboard that never drew would cost the browser nothing: no rows, no number.
    share = cores(burst["t0"], burst["t1"]) if result.inspected else None
    return {
        "page_live_cpu": rnd(share, 3),
        "details": {"page_live": {
            "workload": f"a DashboardView in JupyterLab (Chromium) following {burst['records']:,} "
                        f"records appended at 5,000/s for {LIVE_SECONDS} s by a kernel thread; "
                        "CPU of every Chromium process, sampled every 0.2 s, over the burst",
            "rows_in_the_page_after": result.inspected,
            "browser_cpu_at_rest": rnd(cores(burst["tq"], burst["t0"]), 3), "burst_s": rnd(burst["t1"] - burst["t0"], 2),
            "page_errors": result.page_errors[:3], "errors": result.errors[:3],
        }},
    }
