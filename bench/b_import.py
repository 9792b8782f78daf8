"""Cold start: `import agentnb`, and `%load_ext agentnb` in a fresh IPython, each in a fresh
process, several times; the median of each. The bare baseline is the interpreter starting and
exiting (`python -c pass`), and the import of IPython/ipykernel a kernel has already done."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import os
import tempfile

from _common import SRC, median, rnd

HEAVY = ["pandas", "numpy", "ipywidgets", "anywidget", "google.adk", "google.genai",
         "livekit.agents", "nest_asyncio", "pyarrow", "opentelemetry.sdk"]

IMPORT = f"""
import json, sys, time
t = time.perf_counter()
import agentnb
dt = time.perf_counter() - t
print(json.dumps({{"s": dt, "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""

# What a kernel has imported before the user's first cell: IPython and ipykernel. The shell is
# a plain InteractiveShell (a kernel's ZMQ shell adds comms, not extension loading).
LOAD_EXT = f"""
import json, sys, time
import IPython, ipykernel.ipkernel, comm
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
before = set(sys.modules)
t = time.perf_counter()
error = None
try:
    ip.run_line_magic("load_ext", "agentnb")
except BaseException as exc:
    error = f"{{type(exc).__name__}}: {{exc}}"
dt = time.perf_counter() - t
if error is None and "agentnb" not in ip.extension_manager.loaded:
    error = "load_ext returned but agentnb is not a loaded extension"
print(json.dumps({{"s": dt, "error": error,
                  "heavy": [m for m in {HEAVY!r} if m in sys.modules and m not in before],
                  "magics": sorted(ip.magics_manager.magics["line"].keys() & {{"adk", "lk", "agentnb"}})}}))
"""


def _run(code):
    t = time.perf_counter()
    # cwd is an empty directory so `-c`'s sys.path[0] finds nothing; PYTHONPATH is the source.
    env = dict(os.environ, PYTHONPATH=str(SRC))
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=cwd, env=env, timeout=120)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def run_import(quick: bool) -> dict:
    rounds = 3 if quick else 7
    imp, ext, imp_wall, bare_wall, ext_err, heavy_imp, heavy_ext, magics = [], [], [], [], None, [], [], []
    for _ in range(rounds):   # interleaved, so load hits all three alike
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare_wall.append(time.perf_counter() - t)
        out, wall = _run(IMPORT)
        imp.append(out["s"])
        imp_wall.append(wall)
        heavy_imp = out["heavy"]
        out, _ = _run(LOAD_EXT)
        if out["error"]:
            ext_err = out["error"]
        else:
            ext.append(out["s"])
            heavy_ext, magics = out["heavy"], out["magics"]
    load_ext_s = median(ext) if ext and not ext_err else None
    # import_s: the slower of the two cold starts (each must fit the goal on its own).
    headline = max(median(imp), load_ext_s) if load_ext_s is not None else median(imp)
    return {
        "import_s": rnd(headline, 4),
        "details": {"import": {
            "import_agentnb_s": rnd(median(imp), 4),
            "load_ext_s": rnd(load_ext_s, 4),
            "load_ext_error": ext_err,
            "import_s_is": "max(import agentnb, %load_ext agentnb)" if load_ext_s is not None
                           else "import agentnb only (%load_ext unavailable)",
            "import_process_wall_s": rnd(median(imp_wall), 4),
            "baseline_python_c_pass_wall_s": rnd(median(bare_wall), 4),
            "heavy_modules_after_import": heavy_imp,
            "heavy_modules_added_by_load_ext": heavy_ext,
            "magics_registered": magics,
            "rounds": rounds,
        }},
    }
