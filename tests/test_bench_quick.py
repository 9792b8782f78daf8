"""The benchmark suite's quick mode runs and writes every key. Benchmarks are measurements, not
tests: nothing here looks at a number."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


@pytest.mark.timeout(1500)   # the suite's 600 s is less than quick mode's A/B rounds take here
def test_quick_mode_writes_every_key(tmp_path):
    from run import KEYS
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=1500)   # the page groups start JupyterLab
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    missing = [k for k in KEYS if k not in results]
    assert not missing, missing
    assert not results.get("errors"), results.get("errors")
    for key in KEYS:
        assert results[key] is None or isinstance(results[key], (bool, int, float)), key
    assert results["mode"] == "quick"
    assert {"cpu_count", "python", "packages"} <= set(results["machine"])
    report = (tmp_path / "BENCHMARKS.md").read_text()
    assert all(f"`{k}`" in report for k in KEYS)
    # --out leaves the committed results alone
    assert not (tmp_path / "bench").exists()


def test_the_spread_of_repeated_runs_lists_each_value_and_says_when_verdicts_differ():
    from report import spread
    runs = [{"adk_overhead_ratio": 1.02, "import_s": 0.05}, {"adk_overhead_ratio": 1.05, "import_s": 0.06}]
    text = spread({"mode": "full", "runs": runs})
    row = next(line for line in text.splitlines() if "`adk_overhead_ratio`" in line)
    assert "| 1.020 | 1.050 | 1.020–1.050 | differ: met, **missed** |" in row
    assert "| 0.05 | 0.06 | 0.05–0.06 | met |" in text
    assert spread({"mode": "full", "runs": runs[:1]}) == ""   # one run has no spread


def test_repeat_takes_a_number_of_runs():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--repeat", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--repeat takes a number of runs" in proc.stderr
