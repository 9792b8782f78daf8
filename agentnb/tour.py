"""Run the tour notebook headless in a real kernel and print what it showed:
`python -m agentnb.tour [NOTEBOOK]` (what `./dev tour` runs), for machines with no browser."""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent / "notebooks" / "00_tour.ipynb"


def run(path: Path) -> int:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        failed = None
    except CellExecutionError as exc:
        failed = f"{exc.ename}: {exc.evalue}"   # its str() ends in a colored traceback
    took = time.perf_counter() - started
    code = [c for c in notebook.cells if c.cell_type == "code"]
    ran = sum(1 for c in code if c.get("execution_count"))
    # What the saved notebook keeps of each view: its finished HTML, marked with its kind.
    found = (re.match(r'<div class="anb-root[^"]*" data-view="(\w+)" data-status="(\w*)"',
                      output.get("data", {}).get("text/html", ""))
             for cell in code for output in cell.outputs)
    views = [v for v in found if v is not None]
    cards = [v[2] for v in views if v[1] == "card"]
    print(f"{path.name}: {ran}/{len(code)} code cells ran in {took:.1f} s; {len(views)} agentnb "
          f"views: {len(views) - len(cards)} dashboard(s), {len(cards)} invocation card(s) "
          f"ended {', '.join(cards) or '-'}")
    for cell in code:
        for output in cell.outputs:
            if output.output_type == "stream":
                print("  |", output.text.strip()[:200])
    if failed:
        print(f"FAILED: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
