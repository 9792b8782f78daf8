"""Helpers shared by the benchmark groups: A/B rounds, a headless widget comm, machine info."""
from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The agentnb being measured: the working tree, or a scratch copy (to measure a proposed fix)
# given as AGENTNB_BENCH_SRC=/path/to/dir-containing-agentnb.
SRC = Path(os.environ.get("AGENTNB_BENCH_SRC") or REPO).resolve()
if str(SRC) not in sys.path[:1]:
    sys.path.insert(0, str(SRC))

PACKAGES = ["agentnb", "google-adk", "google-genai", "livekit-agents", "livekit", "ipywidgets",
            "anywidget", "ipykernel", "ipython", "pandas", "opentelemetry-sdk",
            "openinference-instrumentation-google-adk", "nbclient",
            "nbformat", "traitlets", "comm"]


# --- statistics --------------------------------------------------------------------------------

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def quantiles(values):
    """(p10, p25, p50, p75, p90) of a list, for the spread of per-round ratios."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    def q(p):
        k = (len(values) - 1) * p
        lo, hi = int(k), min(int(k) + 1, len(values) - 1)
        return values[lo] + (values[hi] - values[lo]) * (k - lo)
    return [round(q(p), 4) for p in (0.10, 0.25, 0.50, 0.75, 0.90)]


def rnd(x, n=4):
    return None if x is None else round(x, n)


# --- A/B rounds ----------------------------------------------------------------------------------

def _q25(values):
    return quantiles(values)[1]


class Rounds:
    """Interleaved rounds: each round runs every variant once, in a rotating order (every
    rotation once, then each of them reversed), so each variant runs in each place and after
    each other as often as the rest; timing wall clock and process CPU; a ratio is taken per round against `base`,
    and the headline is the median over rounds.

    A round's ratio is of wall time (what a user waits for) when both runs were *clean* (had the
    CPU for at least CLEAN of their wall time), else of process CPU time: on a shared machine
    another process preempting ours inflates one run's wall time, and for this CPU-bound,
    in-process work the CPU time is what its wall time would have been. Pure-wall and pure-CPU
    medians are reported beside it."""

    CLEAN = 0.9

    def __init__(self, names, base):
        self.names, self.base = list(names), base
        self.wall = {n: [] for n in names}
        self.cpu = {n: [] for n in names}

    def order(self, r):
        # Rotating and reversing round by round would leave an even number of variants each in
        # places of one parity: two variants would run in the same order every round.
        n = len(self.names)
        names = self.names[r % n:] + self.names[: r % n]
        if (r // n) % 2:
            names.reverse()
        return names

    def record(self, name, wall, cpu):
        self.wall[name].append(wall)
        self.cpu[name].append(cpu)

    def clean(self, name):
        """Per round: did `name` and the base both have the CPU for CLEAN of their wall time?"""
        return [all(self.cpu[k][r] >= self.CLEAN * self.wall[k][r] for k in (name, self.base))
                for r in range(min(len(self.wall[name]), len(self.wall[self.base])))]

    def ratios(self, name, clock="best"):
        clean = self.clean(name)
        out = []
        for r, ok in enumerate(clean):
            use_wall = clock == "wall" or (clock == "best" and ok)
            data = self.wall if use_wall else self.cpu
            if clock == "wall_clean" and not ok:
                continue
            if clock == "wall_clean":
                data = self.wall
            if data[self.base][r] > 0:
                out.append(data[name][r] / data[self.base][r])
        return out

    def summary(self, name):
        return {"median": rnd(median(self.ratios(name, "best"))),
                "quantiles": quantiles(self.ratios(name, "best")),
                "wall_median_clean_rounds": rnd(median(self.ratios(name, "wall_clean"))),
                "wall_median_all_rounds": rnd(median(self.ratios(name, "wall"))),
                "cpu_median": rnd(median(self.ratios(name, "cpu"))),
                "cpu_quantiles": quantiles(self.ratios(name, "cpu")),
                # Interference only ever adds time: the ratio of the fastest quarter of each
                # variant's rounds is a check that needs no clean rounds at all.
                "cpu_p25_ratio": rnd(_q25(self.cpu[name]) / _q25(self.cpu[self.base])),
                "rounds": len(self.wall[name]), "clean_rounds": sum(self.clean(name))}


class Clock:
    """`with Clock() as c:` then `c.wall`, `c.cpu` (process CPU time, every thread)."""

    def __enter__(self):
        gc.collect()
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._w
        self.cpu = time.process_time() - self._c
        return False


# --- a headless comm for widgets -----------------------------------------------------------------

class CountingComm:
    """Stands in for ipykernel's comm: keeps every message a widget sends and its JSON size
    (the payload the kernel would serialise; the Jupyter envelope adds ~0.5 kB per message)."""

    kernel = "headless"   # ipywidgets only sends when `comm.kernel` is not None

    def __init__(self, target_name=None, data=None, **kwargs):
        self.comm_id = f"bench-{id(self):x}"
        self.target_name = target_name
        self.open_bytes = len(json.dumps(data, default=repr)) if data is not None else 0
        self.sent = []   # (perf_counter time, bytes, data)
        self._lock = threading.Lock()

    def open(self, *a, **k):
        pass

    def on_msg(self, *a, **k):
        pass

    def on_close(self, *a, **k):
        pass

    def close(self, *a, **k):
        pass

    def send(self, data=None, metadata=None, buffers=None):
        size = len(json.dumps(data, default=repr, separators=(",", ":")))
        size += sum(len(memoryview(b).cast("B")) for b in buffers or ())
        with self._lock:
            self.sent.append((time.perf_counter(), size, data))


COMMS: list[CountingComm] = []


def install_headless_comm():
    """Make every widget created from now on talk to a CountingComm (as ipywidgets' own tests
    replace `comm.create_comm`)."""
    import comm

    def create_comm(**kwargs):
        c = CountingComm(**kwargs)
        COMMS.append(c)
        return c
    comm.create_comm = create_comm
    try:
        import ipywidgets.widgets.widget as w
        w.comm.create_comm = create_comm
    except Exception:
        pass


# --- machine ---------------------------------------------------------------------------------

def versions():
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def machine():
    info = {"cpu_count": os.cpu_count(), "python": sys.version.split()[0],
            "implementation": platform.python_implementation(), "platform": platform.platform(),
            "packages": versions()}
    try:
        info["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "agentnb"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        info["git"] = rev + ("+dirty(agentnb)" if dirty else "")
        if SRC != REPO:
            info["agentnb_source"] = str(SRC)
    except Exception:
        pass
    return info


def quiet_logs():
    """ADK logs a deprecation or two on first use; keep the benchmark output readable."""
    import logging
    import warnings
    warnings.filterwarnings("ignore")
    for name in ("google_adk", "google.adk", "google_genai", "livekit", "livekit.agents", "asyncio",
                 "opentelemetry"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
